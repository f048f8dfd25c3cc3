"""EDropout's cost per training step against a plain step, measured in the same run.

A plain step: forward, backward and SGD on one minibatch. An EDropout step: one generation of
the state search (the NS = 8 trial states evaluated in one batched forward of the minibatch
stacked NS times, evolution on tensors), then the same SGD step with the best state gating the
filters. Models: the mlp and the CIFAR-style ResNet-18 (cresnet18) at Fashion-MNIST's 1x28x28,
batch 128. Steps alternate (plain, EDropout, plain, ...) and medians are compared; the mlp's
steps take milliseconds, so it gets ten times as many. The public
NumPy code is 17x to 29x a plain step (ResNet-18/34/50 on Flowers, 8 states); the arithmetic
floor is about 1 + NS x forward/step.

Usage: python bench/edropout_bench.py [--steps N]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from torch import nn

from pruning.edropout import EDropoutConfig, EDropoutSearch, gated
from trainer.models import build_model


def measure(name: str, options: dict, steps: int, chunk: int, batch: int = 128) -> tuple[float, float, float]:
    torch.manual_seed(0)
    model = build_model(name, (1, 28, 28), 10, **options)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    search = EDropoutSearch(model, EDropoutConfig(candidates_per_forward=chunk), seed=0)
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
    print("| model | states per forward | plain step ms | EDropout step ms | ratio | floor 1 + 8 x forward/step |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, name, steps in (
        ("mlp (4 hidden, 512)", "mlp", 10 * args.steps),
        ("ResNet-18 (CIFAR-style)", "cresnet18", args.steps),
    ):
        for chunk in (1, 8):
            plain, edropout, forward = measure(name, {}, steps, chunk)
            print(
                f"| {label} | {chunk} | {1e3 * plain:.1f} | {1e3 * edropout:.1f} | **{edropout / plain:.2f}x** | "
                f"{1 + 8 * forward / plain:.2f}x |"
            )
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
