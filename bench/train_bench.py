"""Training speed: masked vs dense, and topoprune's loop vs a plain PyTorch loop, in one run.

For the mlp and the cnn: one epoch (or ``--examples`` training examples) of
  * a plain PyTorch loop (index the tensors, forward, backward, SGD step),
  * topoprune's training loop on the dense model,
  * topoprune's training loop on the model masked by a 64-node 8-regular plan.
Data: Fashion-MNIST when installed, else random tensors of its shape.

Times are medians of interleaved rounds and ratios are per-round ratios (median and range), as
the compile bench does: a best-of-3 once showed the loop at 1.20x a plain loop where five
interleaved rounds gave 1.03x.

Usage: python bench/train_bench.py [--examples N] [--cnn-examples N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from goals import Measured, record
from torch import nn

from pruning.apply import prune_model
from pruning.mask_rules import MaskConfig
from topology.generators import generate
from topology.plans import Plan
from trainer.config import TrainConfig
from trainer.data import DataConfig, load_dataset
from trainer.data.memory import TensorSplit, tensor_batches
from trainer.errors import DataError
from trainer.loop import StepRule, train_epoch
from trainer.models import build_model
from trainer.optim import build_optimizer, build_scheduler
from trainer.stepmask import StepMasker


def training_split(examples: int) -> tuple[TensorSplit, str]:
    try:
        bundle = load_dataset(DataConfig("fashion-mnist"))
        train = bundle.train
        return TensorSplit(train.images[:examples], train.labels[:examples]), "Fashion-MNIST"
    except DataError:
        generator = torch.Generator().manual_seed(0)
        return TensorSplit(
            torch.randn(examples, 1, 28, 28, generator=generator),
            torch.randint(0, 10, (examples,), generator=generator),
        ), "random tensors"


def plain_loop(model: nn.Module, split: TensorSplit, batch_size: int) -> float:
    """The reference: what a user would write by hand."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(0))
    model.train()
    start = time.perf_counter()
    for i in range(0, len(split), batch_size):
        index = order[i : i + batch_size]
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(split.images[index]), split.labels[index]).backward()
        optimizer.step()
    return time.perf_counter() - start


def topoprune_loop(model: nn.Module, split: TensorSplit, batch_size: int, step_masks: bool = True) -> float:
    """The trainer's path: masks baked and re-applied after each step (trainer.stepmask);
    ``step_masks=False`` keeps the parametrization (masking inside every forward) instead."""
    config = TrainConfig(lr=0.05, epochs=1, batch_size=batch_size)
    after_step = StepMasker(model).after_step if step_masks else None
    optimizer = build_optimizer(model, config)
    steps = -(-len(split) // batch_size)
    scheduler = build_scheduler(optimizer, config, steps)
    rule = StepRule(optimizer, scheduler, nn.CrossEntropyLoss(), torch.device("cpu"), after_step=after_step)
    stats = train_epoch(model, tensor_batches(split, batch_size, shuffle_seed=0), rule)
    return stats.seconds


def fresh(name: str, masked: bool) -> nn.Module:
    torch.manual_seed(0)
    model = build_model(name, (1, 28, 28), 10)
    if masked:
        plan = Plan(generate("rreg", nodes=64, degree=8, seed=0))
        prune_model(model, MaskConfig(plan=plan), (1, 28, 28))
    return model


def _ratios(numerator: list[float], denominator: list[float]) -> tuple[float, str]:
    """The median of the per-round ratios and their range: rounds are paired, so drifts cancel."""
    ratios = sorted(a / b for a, b in zip(numerator, denominator))
    return statistics.median(ratios), f"rounds {ratios[0]:.3f}-{ratios[-1]:.3f}"


def _ratio_text(numerator: list[float], denominator: list[float]) -> str:
    median, spread = _ratios(numerator, denominator)
    return f"{median:.3f}x ({spread})"


def compare(name: str, split: TensorSplit, batch_size: int, repeats: int) -> None:
    """Medians over ``repeats`` rounds, each round running every variant once (interleaved, so a
    drift in the machine's speed hits all alike); ratios are taken round by round."""
    times: dict[str, list[float]] = {"plain": [], "dense": [], "masked": [], "parametrized": []}
    for round_number in range(1, repeats + 1):
        print(f"    [{name}] round {round_number}/{repeats}", flush=True)
        models = {
            "plain": fresh(name, False),
            "dense": fresh(name, False),
            "masked": fresh(name, True),
            "parametrized": fresh(name, True),
        }
        times["plain"].append(plain_loop(models["plain"], split, batch_size))
        times["dense"].append(topoprune_loop(models["dense"], split, batch_size))
        times["masked"].append(topoprune_loop(models["masked"], split, batch_size))
        times["parametrized"].append(topoprune_loop(models["parametrized"], split, batch_size, step_masks=False))
    median = {key: statistics.median(values) for key, values in times.items()}
    print(f"[{name}] {len(split)} examples, batch {batch_size}, medians of {repeats} interleaved rounds")
    print(f"    plain PyTorch loop, dense     {median['plain']:7.2f} s")
    print(
        f"    topoprune loop, dense         {median['dense']:7.2f} s   ratio to plain loop = "
        f"{_ratio_text(times['dense'], times['plain'])}"
    )
    masked, spread = _ratios(times["masked"], times["dense"])
    goal = record(
        Measured("train", f"{name}: masked / dense epoch", masked, goal=1.1, higher_is_better=False, spread=spread)
    )
    print(
        f"    topoprune loop, masked (1/8)  {median['masked']:7.2f} s   masked / dense {masked:.3f}x ({spread}; {goal})"
    )
    print(
        f"    (masking in every forward     {median['parametrized']:7.2f} s   ratio to dense = "
        f"{_ratio_text(times['parametrized'], times['dense'])}: why the trainer re-zeroes after steps)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=54_000, help="mlp: training examples (one Fashion-MNIST epoch)")
    parser.add_argument("--cnn-examples", type=int, default=6_000, help="cnn: training examples")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (medians are reported)")
    args = parser.parse_args()
    split, source = training_split(max(args.examples, args.cnn_examples))
    print(f"data: {source}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    compare("mlp", TensorSplit(split.images[: args.examples], split.labels[: args.examples]), 128, args.repeats)
    compare("cnn", TensorSplit(split.images[: args.cnn_examples], split.labels[: args.cnn_examples]), 128, args.repeats)


if __name__ == "__main__":
    main()
