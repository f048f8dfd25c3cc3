"""Costs of the shared-basis ResNets, counted from the modules built, beside their dense ResNets.

For each model (32x32 inputs; 10 classes for ResNet-32/56, 100 for ResNet-34 as in the paper):
parameters with every shared basis counted once (what is stored and trained), parameters if every
use had its own copy, multiply-accumulates (MACs) per image counted at every call, the dense
ResNet's parameters and MACs, the paper's published parameter count where it gives one, and the
measured time of one training step (forward + backward, batch 32, CPU) relative to the dense
ResNet, their steps alternating in the same run. Prints a Markdown table (docs/shared-bases.md's).

A second table sets every model of the paper's tables (CIFAR-10, CIFAR-100, ILSVRC at 224x224)
against its published parameters and FLOPs: our FLOPs are 2 x the counted conv and linear MACs;
the public code counted with ptflops (its modelsize.py), which also counts BatchNorm (2 per
element), activation and pooling modules and biases, so that count is shown too.

Usage: python bench/shared_basis_costs.py [--no-timing]
"""

from __future__ import annotations

import sys
import time

import torch

from pruning.accounting import summarize
from trainer.models import build_model

SHAPE = (3, 32, 32)
#: (label, model, options, classes, the paper's parameter count in millions or None).
ROWS = [
    ("ResNet32-S8U1", "resnet32_shared", {"shared_rank": 8}, 10, 0.15),
    ("ResNet32-S16U1", "resnet32_shared", {"shared_rank": 16}, 10, 0.20),
    ("ResNet32-S16U1*", "resnet32_shared", {"shared_rank": 16, "bases": "double"}, 10, 0.24),
    ("ResNet56-S8U1", "resnet56_shared", {"shared_rank": 8}, 10, 0.20),
    ("ResNet56-S16U1", "resnet56_shared", {"shared_rank": 16}, 10, 0.22),
    ("ResNet56-S16U1*", "resnet56_shared", {"shared_rank": 16, "bases": "double"}, 10, 0.31),
    ("ResNet34-S8U1", "resnet34_shared", {"shared_rank": 8}, 100, None),
    ("ResNet34-S16U1", "resnet34_shared", {"shared_rank": 16}, 100, None),
    ("ResNet34-S32U1", "resnet34_shared", {"shared_rank": 32}, 100, None),
]
ILSVRC, IMAGENET, DOUBLE = (3, 224, 224), {"stem": "imagenet"}, {"bases": "double", "stem": "imagenet"}
#: (label, model, options, input shape, classes, the public README's params in M and FLOPs in G).
PAPER_ROWS = [
    ("ResNet32-S8U1", "resnet32_shared", {"shared_rank": 8}, SHAPE, 10, 0.15, 0.10),
    ("ResNet32-S16U1", "resnet32_shared", {"shared_rank": 16}, SHAPE, 10, 0.20, 0.16),
    ("ResNet56-S8U1", "resnet56_shared", {"shared_rank": 8}, SHAPE, 10, 0.20, 0.17),
    ("ResNet56-S16U1", "resnet56_shared", {"shared_rank": 16}, SHAPE, 10, 0.22, 0.30),
    ("ResNet32-S16U1*", "resnet32_shared", {"shared_rank": 16, "bases": "double"}, SHAPE, 10, 0.24, 0.30),
    ("ResNet56-S16U1*", "resnet56_shared", {"shared_rank": 16, "bases": "double"}, SHAPE, 10, 0.31, 0.30),
    ("ResNet34-S8U1", "resnet34_shared", {"shared_rank": 8}, SHAPE, 100, 5.87, 0.79),
    ("ResNet34-S16U1", "resnet34_shared", {"shared_rank": 16}, SHAPE, 100, 6.49, 1.05),
    ("ResNet34-S32U1", "resnet34_shared", {"shared_rank": 32}, SHAPE, 100, 7.73, 1.55),
    ("DenseNet121-S64U4", "densenet121_shared", {}, SHAPE, 100, 5.08, 1.43),
    ("ResNeXt50-S16U1 (built: S16U4)", "resnext50_shared", {}, SHAPE, 100, 19.3, 2.38),
    ("ResNet34-S32U1 (ILSVRC)", "resnet34_shared", {"shared_rank": 32, **IMAGENET}, ILSVRC, 1000, 8.20, 4.98),
    ("ResNet34-S48U1 (ILSVRC)", "resnet34_shared", {"shared_rank": 48, **IMAGENET}, ILSVRC, 1000, 9.44, 6.52),
    ("ResNet34-S32U1* (ILSVRC)", "resnet34_shared", {"shared_rank": 32, **DOUBLE}, ILSVRC, 1000, 9.76, 4.98),
    ("ResNet34-S48U1* (ILSVRC)", "resnet34_shared", {"shared_rank": 48, **DOUBLE}, ILSVRC, 1000, 11.79, 6.52),
    ("MobileNetV2-Shared (ILSVRC)", "mobilenetv2_shared", {}, ILSVRC, 1000, 3.24, 0.66),
]  # fmt: skip
#: The paper's dense counts (CIFAR-10): ResNet-32 0.46M, ResNet-56 0.85M.
PAPER_DENSE = {"resnet32": 0.46, "resnet56": 0.85}


def _step(model: torch.nn.Module, optimizer, images: torch.Tensor, labels: torch.Tensor) -> float:
    start = time.perf_counter()
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    return time.perf_counter() - start


def step_time_ratio(
    model: torch.nn.Module, dense: torch.nn.Module, classes: int, steps: int = 5, batch: int = 32
) -> float:
    """Median step time (forward, loss, backward, SGD update) of ``model`` over that of ``dense``.

    The two models' steps alternate, after one warm-up step each, so both see the same machine load.
    """
    torch.manual_seed(0)
    images, labels = torch.randn(batch, *SHAPE), torch.randint(0, classes, (batch,))
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.01) for m in (model, dense)]
    times: list[list[float]] = [[], []]
    for index in range(steps + 1):
        for which, net in enumerate((model, dense)):
            seconds = _step(net, optimizers[which], images, labels)
            if index:
                times[which].append(seconds)
    median = [sorted(t)[len(t) // 2] for t in times]
    return median[0] / median[1]


def ptflops_style_macs(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """Operations per image as ptflops counts them: conv and linear multiply-accumulates plus
    biases, BatchNorm 2 per output element, activation modules 1 per element, pooling modules 1 per
    input element (functional calls, such as ``F.relu``, are not counted, as ptflops does not)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output.numel() * k + (output.numel() if module.bias is not None else 0)
        elif isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features + (module.out_features if module.bias is not None else 0)
        elif isinstance(module, torch.nn.BatchNorm2d):
            total += 2 * output.numel()
        elif isinstance(module, (torch.nn.ReLU, torch.nn.ReLU6)):
            total += output.numel()
        elif isinstance(module, (torch.nn.MaxPool2d, torch.nn.AvgPool2d, torch.nn.AdaptiveAvgPool2d)):
            total += inputs[0].numel()

    handles = [module.register_forward_hook(hook) for module in model.modules()]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *shape))
    finally:
        for handle in handles:
            handle.remove()
    return total


def paper_table() -> None:
    """Every model of the paper's tables beside the public README's parameters and FLOPs."""
    print("\n| model | input | params (counted) | paper params | FLOPs = 2 x MACs | 2 x ptflops count | paper FLOPs |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, name, options, shape, classes, params, flops in PAPER_ROWS:
        model = build_model(name, shape, classes, **options)
        summary = summarize(model, shape)
        print(
            f"| {label} | {shape[1]}x{shape[2]}, {classes} classes | {summary.params_total / 1e6:.2f} M | "
            f"{params:.2f} M | {summary.flops_total / 1e9:.3f} G | {2 * ptflops_style_macs(model, shape) / 1e9:.3f} G "
            f"| {flops:.2f} G |"
        )


def main(timing: bool = True) -> None:
    print(
        "| model | params (shared once) | params, a copy per use | MACs (every use) | dense ResNet: params / MACs | "
        "MACs vs dense | step time vs dense | paper params |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, name, options, classes, paper in ROWS:
        model = build_model(name, SHAPE, classes, **options)
        dense = build_model(model.dense_equivalent[0], SHAPE, classes)
        summary, dense_summary = summarize(model, SHAPE), summarize(dense, SHAPE)
        ratio = f"{step_time_ratio(model, dense, classes):.2f}x" if timing else "—"
        paper_text = f"{paper:.2f} M" if paper else "—"
        print(
            f"| {label} | {summary.params_total:,} | {summary.params_unshared:,} | {summary.macs_total / 1e6:.1f} M | "
            f"{dense_summary.params_total:,} / {dense_summary.macs_total / 1e6:.1f} M | "
            f"{summary.macs_total / dense_summary.macs_total:.2f}x | "
            f"{ratio} | {paper_text} |"
        )
    print(f"\nThe paper's dense counts: ResNet-32 {PAPER_DENSE['resnet32']} M, ResNet-56 {PAPER_DENSE['resnet56']} M.")
    paper_table()


if __name__ == "__main__":
    main(timing="--no-timing" not in sys.argv[1:])
