"""Compiling masked models: per-layer choice by (injected) timings, fallbacks, exactness."""

import pytest
import torch

from pruning.apply import prune_model
from pruning.compile import (
    CompileConfig,
    assemble,
    compile_model,
    interleaved_medians,
    relative_error,
)
from pruning.errors import PruningError
from pruning.kernels import GatheredConv, GatheredLinear
from pruning.mask_rules import MaskConfig
from pruning.masking import apply_masks, current_masks
from topology.generators import generate
from topology.plans import Plan
from trainer.models import build_model

QUICK = CompileConfig(batch_size=4, repeats=1, warmup=0)


def masked(name="mlp", recipe="relational", **options):
    torch.manual_seed(0)
    input_shape = (1, 12, 12)
    model = build_model(name, input_shape, 10, **options)
    plan = Plan(generate("rreg", nodes=8, degree=3, seed=0)) if recipe == "relational" else None
    prune_model(model, MaskConfig(recipe, plan, degree=4 if plan is None else None, seed=1), input_shape)
    return model.eval(), input_shape


def timer_favouring(winner, factor=10.0):
    """A fake timer: ``winner`` (and, end to end, the compiled model) takes 1/factor of the
    others' time (dense is 1 s)."""

    def timer(candidates, repeats, warmup):
        for call in candidates.values():
            call()
        return {name: (1.0 / factor if name in (winner, "compiled") else 1.0) for name in candidates}

    return timer


def test_structured_kernels_win_where_timed_faster_and_outputs_stay_exact():
    model, size = masked(width=48, depth=2)
    result = compile_model(model, size, QUICK, timer=timer_favouring("block"))
    layers = {layer.name: layer for layer in result.layers}
    assert set(layers) == set(current_masks(model))
    assert all(layer.kernel == "block" and layer.speedup == pytest.approx(10.0) for layer in layers.values())
    assert all(isinstance(result.model.get_submodule(name), GatheredLinear) for name in layers)
    assert result.max_relative_error <= 1e-5
    x = torch.randn(7, *size)
    with torch.no_grad():
        assert relative_error(result.model(x), model(x)) <= 1e-5


def test_a_layer_stays_dense_when_every_kernel_is_forced_slower():
    model, size = masked(width=48, depth=2)
    result = compile_model(model, size, QUICK, timer=timer_favouring("dense"))
    assert {layer.kernel for layer in result.layers} == {"dense"}
    assert not any(isinstance(m, (GatheredLinear, GatheredConv)) for m in result.model.modules())
    assert result.ratio == 1.0


def test_a_kernel_must_beat_dense_by_the_minimum_speedup():
    model, size = masked(width=48, depth=2)
    config = CompileConfig(batch_size=4, repeats=1, warmup=0, min_speedup=1.5)
    result = compile_model(model, size, config, timer=timer_favouring("block", factor=1.2))
    assert {layer.kernel for layer in result.layers} == {"dense"}


def test_everything_goes_back_to_dense_when_compiled_loses_end_to_end():
    def timer(candidates, repeats, warmup):
        if "compiled" in candidates:  # the whole-model round: compiled is slower than dense
            return {"masked": 3.0, "dense": 1.0, "compiled": 2.0}
        return {name: (0.1 if name == "gather" else 1.0) for name in candidates}

    model, size = masked("cnn", recipe="random-bipartite", width=8)
    result = compile_model(model, size, QUICK, timer=timer)
    assert {layer.kernel for layer in result.layers} == {"dense"}
    assert result.ratio == 1.0 and "lost end to end" in result.notices[0]


def test_x_net_style_convs_get_the_gather_kernel_and_are_rebuilt_by_assemble():
    model, size = masked("cnn", recipe="random-bipartite", width=8)
    result = compile_model(model, size, QUICK, timer=timer_favouring("gather"))
    assert {layer.kernel for layer in result.layers} == {"gather"}
    assert result.batchnorm_folds  # the cnn's convolutions each feed a BatchNorm
    assert_rebuilt_by_assemble(model, size, result)


def assert_rebuilt_by_assemble(model, size, result):
    """``assemble`` re-creates the compiled model from the masks, folds and kernel names; with the
    compiled weights loaded it gives the compiled model's outputs, and the masked model's to 1e-5."""
    rebuilt = assemble(model, current_masks(model), result.choices, result.batchnorm_folds)
    rebuilt.load_state_dict(result.model.state_dict())
    x = torch.randn(3, *size)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), result.model(x))
        assert relative_error(rebuilt(x), model(x)) <= 1e-5


def test_compiling_leaves_the_masked_model_usable():
    model, size = masked(width=48, depth=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    compile_model(model, size, QUICK, timer=timer_favouring("csr"))
    x = torch.randn(2, *size)
    with torch.no_grad():
        model(x)  # a deep copy's baking must not reach the original's parametrized class
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_real_timer_and_errors():
    times = interleaved_medians({"fast": lambda: None, "slow": lambda: sum(range(20000))}, repeats=3, warmup=1)
    assert times["fast"] < times["slow"]
    with pytest.raises(PruningError, match="no masks"):
        compile_model(build_model("mlp", (1, 4, 4), 10), (1, 4, 4), QUICK)
    with pytest.raises(PruningError, match="min speedup"):
        CompileConfig(min_speedup=0.9).validate()
    with pytest.raises(ValueError, match="unknown kernel"):
        CompileConfig(kernels=("blocks",)).validate()


def test_a_masked_layer_the_forward_never_calls_stays_dense_with_a_notice():
    class WithSpareHead(torch.nn.Module):
        def __init__(self, body):
            super().__init__()
            self.body, self.unused = body, torch.nn.Linear(48, 48)

        def forward(self, x):
            return self.body(x)

    body, size = masked(width=48, depth=2)
    model = apply_masks(WithSpareHead(body), {"unused": torch.eye(48, dtype=torch.bool)}).eval()
    result = compile_model(model, size, QUICK, timer=timer_favouring("block"))
    assert "unused" not in result.choices and any("unused: masked but not called" in n for n in result.notices)


def test_progress_covers_the_layers_and_every_call_of_the_whole_model_timing():
    model, size = masked(width=48, depth=2)
    shown = {}

    def progress(items, what):
        shown[what] = 0
        for item in items:
            shown[what] += 1
            yield item

    config = CompileConfig(batch_size=4, repeats=3, warmup=1)
    calls = []

    def timer(candidates, repeats, warmup):  # counts the whole model's calls the bar follows
        for _ in range(warmup + repeats):
            for name, call in candidates.items():
                if "compiled" in candidates:
                    calls.append(name)
                call()
        return {name: 1.0 for name in candidates}

    compile_model(model, size, config, timer=timer, progress=progress)
    assert shown["timing layers"] == len(current_masks(model))
    assert shown["timing the whole model"] == 3 * (1 + 3) == len(calls)


def timer_with(times, default=1.0):
    """A fake timer calling each candidate once and returning ``times`` (``default`` for others)."""

    def timer(candidates, repeats, warmup):
        for call in candidates.values():
            call()
        return {name: times.get(name, default) for name in candidates}

    return timer


def laid_out(model, kind=torch.nn.Conv2d):
    """The layouts of the weights of a model's ``kind`` modules (its own convolutions, or a
    kernel's) where the two differ: more than one input channel per group, a kernel wider than 1."""
    weights = [m.weight for m in model.modules() if isinstance(m, kind)]
    shown = [w for w in weights if w.shape[1] > 1 and w.shape[-1] > 1]
    assert shown
    return {"channels_last" if w.is_contiguous(memory_format=torch.channels_last) else "contiguous" for w in shown}


def test_auto_lays_an_image_model_out_channels_last_where_its_dense_model_ran_faster_so():
    model, size = masked("cnn", recipe="random-bipartite", width=8)
    times = {"channels_last": 0.5, "contiguous": 1.0, "dense_same_format": 0.5, "gather": 0.1, "compiled": 0.25}
    result = compile_model(model, size, QUICK, timer=timer_with(times))
    assert result.memory_format == "channels_last"
    assert {layer.kernel for layer in result.layers} == {"gather"}
    assert result.ratio == 4.0 and result.kernel_ratio == 2.0  # 1.0 / 0.25 and 0.5 / 0.25
    record = result.to_dict()
    assert record["memory_format"] == "channels_last"
    assert record["end_to_end"]["dense_same_format_seconds"] == 0.5
    assert laid_out(result.model, GatheredConv) == {"contiguous"}  # kernels keep their weights as built
    rebuilt = assemble(model, current_masks(model), result.choices, result.batchnorm_folds, "channels_last")
    rebuilt.load_state_dict(result.model.state_dict())
    x = torch.randn(3, *size)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), result.model(x))
        assert relative_error(result.model(x), model(x)) <= 1e-5
    assert laid_out(rebuilt, GatheredConv) == {"contiguous"}
    times["gather"] = 1.0  # now no kernel wins: the model's own convolutions, laid out channels_last
    result = compile_model(model, size, QUICK, timer=timer_with(times))
    assert result.memory_format == "channels_last" and laid_out(result.model) == {"channels_last"}
    rebuilt = assemble(model, current_masks(model), result.choices, result.batchnorm_folds, "channels_last")
    assert laid_out(rebuilt) == {"channels_last"}


def test_auto_keeps_the_contiguous_layout_unless_channels_last_wins_by_the_minimum_speedup():
    model, size = masked("cnn", recipe="random-bipartite", width=8)
    result = compile_model(model, size, QUICK, timer=timer_with({"channels_last": 0.97, "contiguous": 1.0}))
    assert result.memory_format == "contiguous" and result.dense_same_format_seconds is None
    assert result.to_dict()["end_to_end"]["ratio_vs_dense_same_format"] == result.ratio


def test_channels_last_is_dropped_for_a_model_without_image_convolutions_and_where_auto_saw_it_lose():
    model, size = masked(width=48, depth=2)
    config = CompileConfig(batch_size=4, repeats=1, warmup=0, memory_format="channels_last")
    result = compile_model(model, size, config, timer=timer_with({}))
    assert result.memory_format == "contiguous"
    assert any("applies to image inputs" in notice for notice in result.notices)
    model, size = masked("cnn", recipe="random-bipartite", width=8)
    slower = {"channels_last": 0.5, "dense": 1.0, "dense_same_format": 1.5, "compiled": 1.2, "gather": 0.1}
    forced = compile_model(model, size, config, timer=timer_with(slower))  # asked for: kept
    assert forced.memory_format == "channels_last" and forced.ratio == 1.0 / 1.2
    result = compile_model(model, size, QUICK, timer=timer_with(slower))  # auto: the first timing misled
    assert result.memory_format == "contiguous" and result.ratio == 1.0
    assert {layer.kernel for layer in result.layers} == {"dense"}
    assert any("channels_last lost end to end" in notice for notice in result.notices)
    assert laid_out(result.model) == {"contiguous"}
    with pytest.raises(PruningError, match="memory format must be one of"):
        CompileConfig(memory_format="nhwc").validate()


def test_every_kernel_stays_exact_on_channels_last_inputs():
    """Timed for real: whatever each layer gets, on inputs laid out channels_last, the compiled
    model gives the masked model's outputs."""
    for recipe in ("random-bipartite", "relational"):
        model, size = masked("cnn", recipe=recipe, width=16)
        config = CompileConfig(batch_size=4, repeats=1, warmup=0, memory_format="channels_last", min_speedup=1.0)
        winner = "block" if recipe == "relational" else "gather"
        forced = compile_model(model, size, config, timer=timer_favouring(winner))
        assert forced.memory_format == "channels_last"
        assert {layer.kernel for layer in forced.layers} - {"dense"}
        x = torch.randn(5, *size)
        with torch.no_grad():
            assert relative_error(forced.model(x), model(x)) <= 1e-5
