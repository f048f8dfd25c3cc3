"""Every shipped experiment file (configs/<paper>/*.yaml) reads, builds its model and masks, and
counts what its comment says; its plan files are what `topo gen` makes from the comment's command."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli.train import config_from_options, run_command
from topology.plans import load_plan
from trainer.data.registry import DataBundle
from trainer.identity import identify
from trainer.run import build_masked_model

pytest.importorskip("yaml", reason="the yaml extra is not installed (pip install 'topoprune[yaml]')")

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*/*.yaml"))
#: (input shape, classes) of each data set at the papers' sizes; nothing is loaded.
SHAPES = {
    "cifar10": ((3, 32, 32), 10),
    "cifar100": ((3, 32, 32), 100),
    "fashion-mnist": ((1, 28, 28), 10),
    "imagenet": ((3, 224, 224), 1000),
}
#: What the counts must be: parameters rounded as the paper (or our docs) rounds them.
EXPECTED_PARAMS = {
    "rgp/resnet18-cifar100-dense.yaml": (11_220_132, None),
    "xnets/xvgg16-cifar10.yaml": (None, 1.280e6),
    "shared-bases/resnet32-s16u1-double-cifar10.yaml": (245_642, None),
    "shared-bases/resnet34-s32u1-double-ilsvrc.yaml": (9_762_776, None),
    "xnets/xdensenet-bc-40-24-2-cifar100.yaml": (None, 0.400e6),  # 399,700 kept at 100 classes
}


def resolved(path: Path):
    context = run_command.make_context("run", ["--config", str(path)])
    options = dict(context.params)
    for command_only in ("resume", "eval_only", "ddp", "print_config"):
        options.pop(command_only)
    with context:
        return config_from_options(options, plan=options.pop("plan"), masks=options.pop("masks"))


def shaped_data(dataset: str, image_size: int | None) -> DataBundle:
    shape, classes = SHAPES[dataset]
    if image_size is not None:
        shape = (shape[0], image_size, image_size)
    return DataBundle(dataset, shape, classes, train=[], val=[], test=[], source="(not loaded)")


def test_every_paper_has_its_configs():
    assert {path.parent.name for path in CONFIGS} == {
        "rgp",
        "xnets",
        "shared-bases",
        "expanders",
        "edropout",
        "graph2nn",
    }
    assert len(CONFIGS) == 10


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_shipped_config_builds_its_model_and_masks(path):
    config = resolved(path)
    inputs, _ = identify(config)
    built = build_masked_model(config, inputs, shaped_data(config.dataset, config.image_size), announce=False)
    summary = built.pruned.summary
    assert summary.params_total == sum(p.numel() for p in built.model.parameters()) > 0
    assert summary.macs_total > 0
    text = path.read_text(encoding="utf-8")
    assert "Paper's number" in text  # each file says what it targets
    key = f"{path.parent.name}/{path.name}"
    exact, rounded = EXPECTED_PARAMS.get(key, (None, None))
    if exact is not None:
        assert summary.params_total == exact
    if rounded is not None:
        assert round(summary.params_kept / 1e3) == round(rounded / 1e3)
    if config.recipe == "relational" and not config.self_loops:
        degree = int(load_plan(config.plan).matrix.sum(axis=1).max())
        for layer in summary.layers:
            shape = [int(v) for v in layer.shape.split("x")]
            if layer.masked and shape[0] % 64 == 0 and shape[1] % 64 == 0:
                assert layer.density == pytest.approx(degree / 64)  # RGP: d / n on every divisible layer


@pytest.mark.parametrize(
    "plan, command",
    [
        ("rgp/plans/swap-chain_n64_d4_s0_06.edges", ["-g", "swap-chain", "-n", "64", "-d", "4", "--count", "7"]),
        ("rgp/plans/swap-chain_n64_d16_s0_01.edges", ["-g", "swap-chain", "-n", "64", "-d", "16", "--count", "2"]),
        ("graph2nn/plans/ws-flex_n64_d8_p0.3_s0.edges", ["-g", "ws-flex", "-n", "64", "-d", "8", "--p", "0.3"]),
    ],
)
def test_shipped_plans_are_what_their_command_makes(plan, command, tmp_path):
    from cli.topo import topo

    result = CliRunner().invoke(topo, ["gen", *command, "--out", str(tmp_path), "-q", "--save", "edges,json"])
    assert result.exit_code == 0, result.output
    shipped = load_plan(Path(__file__).parents[1] / "configs" / plan).matrix
    made = load_plan(tmp_path / Path(plan).name).matrix
    assert np.array_equal(np.asarray(shipped.todense() if hasattr(shipped, "todense") else shipped),
                          np.asarray(made.todense() if hasattr(made, "todense") else made))  # fmt: skip
