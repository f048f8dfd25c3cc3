"""``prune compile`` against the masked and the baked dense model, measured in the same run.

1. One Linear 4096x4096 under a 64-node 4-regular relational plan, batch 256: the masked layer
   (parametrized weight, as training runs it), the baked dense layer, and every kernel.
2. The mlp with 8 masked 4096-wide layers under the same plan, batch 256, end to end; again with
   its BatchNorms kept (``prune compile --keep-batchnorm``), to show what folding them adds.
3. X-MobileNet-0.5 (expand 8) at 224x224, batch 32, and cResNet18 under the 64/4 plan at
   32x32, batch 32: the compiled model against the baked dense one (the per-layer fallback keeps
   it at >= 1.0x as measured).

Times are medians of interleaved calls (pruning.compile.interleaved_medians) on this machine's
threads; ratios are what docs/compile.md quotes. Each model is compiled in the memory format
``auto`` picks, and where that is channels_last the baked dense model is timed in it too, so the
kernels' own share shows beside the goal's ratio. Inference BatchNorms are folded into the layers
feeding them in the compiled and the baked dense model alike (pruning/fold.py). Peak RSS is the
process's high-water mark so far.

Usage: python bench/compile_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch
from goals import Measured, record

from pruning.apply import prune_model
from pruning.blocks import relational_mask
from pruning.compile import CompileConfig, compile_model, interleaved_medians
from pruning.kernels import KERNELS, KernelUnsuitable
from pruning.mask_rules import MaskConfig
from pruning.masking import apply_masks, baked_copy
from topology.generators import generate
from topology.plans import Plan
from trainer.models import build_model


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def single_layer(repeats: int) -> None:
    plan = generate("rreg", nodes=64, degree=4, seed=0)
    mask = torch.from_numpy(relational_mask(plan, 4096, 4096, seed=0))
    torch.manual_seed(0)
    masked = apply_masks(torch.nn.Sequential(torch.nn.Linear(4096, 4096)), {"0": mask}).eval()
    dense = baked_copy(masked)[0]
    x = torch.randn(256, 4096)
    candidates = {"masked (parametrized)": masked, "dense (baked)": dense}
    for name in ("block", "gather", "csr", "bsr"):
        try:
            candidates[name] = KERNELS.get(name).build(dense, mask)[0]
        except KernelUnsuitable as reason:
            print(f"  {name}: not timed ({reason})")
    with torch.inference_mode():
        seconds = interleaved_medians(
            {name: (lambda m=m: m(x)) for name, m in candidates.items()}, repeats, 2, drop_factor=100.0
        )
    print("\n1. Linear 4096x4096, 64-node 4-regular relational mask (density 1/16), batch 256\n")
    print("| implementation | ms per forward | vs masked | vs baked dense |")
    print("|---|---:|---:|---:|")
    for name, value in seconds.items():
        print(
            f"| {name} | {1e3 * value:.2f} | {seconds['masked (parametrized)'] / value:.2f}x | "
            f"{seconds['dense (baked)'] / value:.2f}x |"
        )
    kernels = {name: value for name, value in seconds.items() if name not in ("masked (parametrized)", "dense (baked)")}
    if kernels:
        best = min(kernels, key=kernels.get)
        ratio = seconds["dense (baked)"] / kernels[best]
        goal = record(Measured("compile", f"Linear 4096, 64/4 plan: baked dense / {best}", ratio, goal=8))
        print(f"\nbest kernel {best}: {ratio:.2f}x baked dense ({goal})")


def compiled_model(
    label: str,
    name: str,
    options: dict,
    input_shape: tuple[int, ...],
    classes: int,
    batch: int,
    plan: Plan | None,
    repeats: int,
    goal: float | None,
    fold_batchnorm: bool = True,
):
    torch.manual_seed(0)
    model = build_model(name, input_shape, classes, **options)
    recipe = MaskConfig("relational", plan) if plan is not None else MaskConfig("model")
    prune_model(model, recipe, input_shape)
    start = time.perf_counter()
    config = CompileConfig(batch_size=batch, repeats=repeats, fold_batchnorm=fold_batchnorm)
    result = compile_model(model.eval(), input_shape, config)
    took = time.perf_counter() - start
    counts: dict[str, int] = {}
    for layer in result.layers:
        counts[layer.kernel] = counts.get(layer.kernel, 0) + 1
    kernels = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
    same = result.dense_same_format_seconds or result.dense_seconds
    print(
        f"| {label} | {batch} | {result.memory_format} | {kernels} | {1e3 * result.masked_seconds:.1f} | "
        f"{1e3 * result.dense_seconds:.1f} | {1e3 * same:.1f} | {1e3 * result.compiled_seconds:.1f} | "
        f"**{result.ratio:.2f}x** | {result.kernel_ratio:.2f}x | "
        f"{result.masked_seconds / result.compiled_seconds:.2f}x | {took:.0f} s |"
    )
    for notice in result.notices:
        print(f"  notice: {notice}", file=sys.stderr)
    record(Measured("compile", f"{label}: baked dense / compiled", result.ratio, goal=goal))
    if result.dense_same_format_seconds:  # what the kernels add to the layout, beside the goal's ratio
        record(Measured("compile", f"{label}: baked dense {result.memory_format} / compiled", result.kernel_ratio))
    return result


def per_layer(label: str, result) -> None:
    """Each layer's best structured candidate against dense (what docs/compile.md's reading cites)."""
    print(f"\n{label}: per layer, dense ms and the best structured candidate (time relative to dense)\n")
    for layer in result.layers:
        others = {name: value for name, value in layer.seconds.items() if name != "dense"}
        best = min(others, key=others.get) if others else None
        shown = (
            f"{best} {1e3 * others[best]:.2f} ms = {layer.seconds['dense'] / others[best]:.2f}x"
            if best
            else "no structured candidate fits"
        )
        print(
            f"  {layer.name:24s} {'x'.join(map(str, layer.shape)):12s} dense {1e3 * layer.seconds['dense']:7.2f} ms; "
            f"{shown}; chosen {layer.kernel}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and only the first two cases")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    single_layer(repeats)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")
    plan = Plan(generate("rreg", nodes=64, degree=4, seed=0))
    print("\n2-3. Whole models, compiled by prune compile's per-layer timing\n")
    print(
        "| model | batch | layout | kernels chosen | masked ms | baked dense ms | baked dense ms, same layout | "
        "compiled ms | vs baked dense | vs baked dense, same layout | vs masked | compile time |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    mlp = ("mlp", {"width": 4096, "depth": 8}, (1, 28, 28), 10, 256, plan, repeats)
    compiled_model("mlp, 8 masked 4096-wide layers, 64/4 plan", *mlp, goal=8)
    # the same with --keep-batchnorm: what folding BatchNorm adds (docs/compile.md)
    compiled_model("mlp, as above, BatchNorm kept", *mlp, goal=None, fold_batchnorm=False)
    if not args.quick:
        mobilenet = compiled_model(
            "X-MobileNet-0.5 (expand 8), 224x224",
            "xmobilenet",
            {"expand": 8},
            (3, 224, 224),
            1000,
            32,
            None,
            5,
            goal=1.2,
        )
        resnet = compiled_model("cResNet18, 64/4 plan, 32x32", "cresnet18", {}, (3, 32, 32), 10, 32, plan, 10, goal=2)
        per_layer("X-MobileNet-0.5 (expand 8)", mobilenet)
        per_layer("cResNet18, 64/4 plan", resnet)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
