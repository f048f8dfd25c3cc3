"""Sizes from untrusted input are checked before memory is used: a model is measured on the meta
device first, the memory budget honours ``ulimit -v``, and a JSON document read back from a
folder is bounded in size and depth (audit cases M16-M18, K33, S37, T55, T69)."""

import json
import subprocess
import sys

import pytest
import torch

from common.jsonio import MAX_JSON_BYTES, read_json
from common.memory import MemoryBudgetError, set_memory_budget
from trainer.errors import TrainError
from trainer.models import build_model


@pytest.fixture
def budget():
    yield set_memory_budget
    set_memory_budget(None)


def test_a_model_over_the_budget_is_refused_before_it_is_built(budget):
    # mlp width 100, depth 2 on 1x28x28: a 784->100 stem, two 100->100 hidden layers, a 100->10 head,
    # a BatchNorm (weight, bias, running mean and variance) after each of the three 100-wide layers
    model = build_model("mlp", (1, 28, 28), 10, width=100, depth=2)
    floats = (784 * 100 + 100) + 2 * (100 * 100 + 100) + (100 * 10 + 10) + 3 * (4 * 100)
    tensors = list(model.parameters()) + list(model.buffers())
    assert sum(t.numel() * t.element_size() for t in tensors if t.is_floating_point()) == 4 * floats
    needed = sum(t.numel() * t.element_size() for t in tensors)
    budget(needed)
    build_model("mlp", (1, 28, 28), 10, width=100, depth=2)  # exactly at the budget: built
    budget(needed - 1)
    with pytest.raises(MemoryBudgetError, match=r"model mlp on 1x28x28 inputs with \{'width': 100, 'depth': 2\}"):
        build_model("mlp", (1, 28, 28), 10, width=100, depth=2)


def test_the_budget_honours_an_address_space_limit():
    script = (
        "import resource; from common.memory import memory_budget, _address_space_left;"
        "mapped = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize();"
        "resource.setrlimit(resource.RLIMIT_AS, (mapped + 2**30, resource.RLIM_INFINITY));"
        "print(memory_budget())"
    )
    budget = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert 0 < budget <= 2**30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "not a run configuration (nested too deeply)"),
        ('{"a": 1', "not a run configuration (Expecting"),
        (b"\xff\xfe{}", "not a run configuration ('utf-8' codec can't decode"),
    ],
)
def test_a_json_document_read_back_is_bounded(tmp_path, text, message):
    path = tmp_path / "config.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(TrainError, match=".*") as error:
        read_json(path, TrainError, "a run configuration")
    assert message in str(error.value) and str(error.value).startswith(str(path))
    with open(path, "wb") as handle:
        handle.truncate(MAX_JSON_BYTES + 1)
    with pytest.raises(TrainError, match="more than the 67,108,864 allowed"):
        read_json(path, TrainError, "a run configuration")
    path.write_text(json.dumps({"a": [1, 2]}))
    assert read_json(path, TrainError, "a run configuration") == {"a": [1, 2]}


def test_the_meta_build_leaves_no_hook_behind(budget):
    # compared with what was there before: torch 2.11's torch.export leaves a buffer hook of its own behind
    module = torch.nn.modules.module
    before = (dict(module._global_parameter_registration_hooks), dict(module._global_buffer_registration_hooks))
    budget(10**12)
    build_model("mlp", (1, 28, 28), 10, width=8, depth=1)
    after = (dict(module._global_parameter_registration_hooks), dict(module._global_buffer_registration_hooks))
    assert after == before
