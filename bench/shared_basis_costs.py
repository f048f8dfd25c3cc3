"""Costs of the shared-basis ResNets, counted from the modules built, beside their dense ResNets.

For each model (32x32 inputs; 10 classes for ResNet-32/56, 100 for ResNet-34 as in the paper):
parameters with every shared basis counted once (what is stored and trained), parameters if every
use had its own copy, multiply-accumulates (MACs) per image counted at every call, the dense
ResNet's parameters and MACs, the paper's published parameter count where it gives one, and the
measured time of one training step (forward + backward, batch 32, CPU) relative to the dense
ResNet, their steps alternating in the same run. Prints a Markdown table (docs/shared-bases.md's).

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


if __name__ == "__main__":
    main(timing="--no-timing" not in sys.argv[1:])
