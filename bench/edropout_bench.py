"""EDropout's cost per training step against a plain step, measured in the same run.

A plain step: forward, backward and SGD on one minibatch. An EDropout step: one generation of
the state search with the defaults (the NS = 8 trial states and the incumbent best re-scored for
the log, in batched forwards of the minibatch stacked; batch-statistics energies; evolution on
tensors), then the same SGD step with the best state gating the units; and, for the mlp, the
``rescore`` freeze rule (the population re-scored too: 2 NS forwards).
Models: the mlp and the CIFAR-style ResNet-18 (cresnet18) at Fashion-MNIST's 1x28x28,
batch 128. Steps alternate (plain, EDropout, plain, ...) and medians are compared; the mlp's
steps take milliseconds, so it gets ten times as many. The public
NumPy code is 17x to 29x a plain step (ResNet-18/34/50 on Flowers, 8 states); the arithmetic
floor is about 1 + (NS + 1) x forward/step (1 + 2 NS for rescore).

Usage: python bench/edropout_bench.py [--steps N]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from goals import Measured, record
from torch import nn

from pruning.edropout import RESCORE_FREEZE, EDropoutConfig, EDropoutSearch
from pruning.edropout_units import gated
from trainer.models import build_model


def measure(name: str, config: EDropoutConfig, steps: int, batch: int = 128) -> tuple[float, float, float]:
    torch.manual_seed(0)
    model = build_model(name, (1, 28, 28), 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    search = EDropoutSearch(model, config, seed=0)
    images, labels = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def sgd_step(state=None):
        model.train()
        optimizer.zero_grad(set_to_none=True)
        if state is None:
            loss_fn(model(images), labels).backward()
        else:
            with gated(model, search.layout, state):
                loss_fn(model(images), labels).backward()
        optimizer.step()

    def plain():
        sgd_step()

    def edropout():
        sgd_step(search.step(model, images, labels))

    def forward_only():
        with torch.no_grad():
            model(images)

    for call in (plain, edropout, forward_only):
        call()
    times = {"plain": [], "edropout": [], "forward": []}
    for _ in range(steps):
        for key, call in (("plain", plain), ("edropout", edropout), ("forward", forward_only)):
            start = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - start)
    return tuple(statistics.median(times[k]) for k in ("plain", "edropout", "forward"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=8, help="timed steps of each kind (ResNet-18; the mlp runs ten times as many)"
    )
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, NS = 8, batch 128, 1x28x28\n")
    print("| model | freeze rule | states per forward | plain step ms | EDropout step ms | ratio | floor |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rows = (
        ("mlp (4 hidden, 512)", "mlp", 10 * args.steps, 0, "public"),
        ("mlp (4 hidden, 512)", "mlp", 10 * args.steps, 1, "public"),
        ("mlp (4 hidden, 512)", "mlp", 10 * args.steps, 0, RESCORE_FREEZE),
        ("ResNet-18 (CIFAR-style)", "cresnet18", args.steps, 1, "public"),
        ("ResNet-18 (CIFAR-style)", "cresnet18", args.steps, 0, "public"),
    )
    for label, name, steps, chunk, rule in rows:
        config = EDropoutConfig(candidates_per_forward=chunk, freeze=rule)
        plain, edropout, forward = measure(name, config, steps)
        forwards = 2 * config.population if rule == RESCORE_FREEZE else config.population + 1
        print(
            f"| {label} | {rule} | {chunk or 'all'} | {1e3 * plain:.1f} | {1e3 * edropout:.1f} | "
            f"**{edropout / plain:.2f}x** | {1 + forwards * forward / plain:.2f}x |"
        )
        record(
            Measured(
                "edropout", f"{label}, {rule}, states per forward {chunk or 'all'}: step / plain", edropout / plain
            )
        )
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
