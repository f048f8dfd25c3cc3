"""Data sets held as tensors in memory (on the training device once moved there), with a fast seeded
batch iterator: no DataLoader, no worker processes, no copies per step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch


@dataclass
class TensorSplit:
    """One split: ``images`` (N, C, H, W) float32, normalised; ``labels`` (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def split_indices(count: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random split of range(count) into (train, validation) index tensors."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    val_count = int(round(count * val_fraction))
    return order[val_count:].sort().values, order[:val_count].sort().values


def tensor_batches(
    split: TensorSplit,
    batch_size: int,
    shuffle_seed: int | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    rank: int = 0,
    world: int = 1,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (images, labels) batches of ``split``.

    Parameters
    ----------
    batch_size : int
        Examples per batch and per process.
    shuffle_seed : int, optional
        Seed of this pass's permutation (None: keep the stored order).
    augment : callable, optional
        ``augment(batch, generator) -> batch`` applied to training batches, where the split's
        tensors are (on the training device, when :meth:`DataBundle.to_device` moved them).
    rank, world : int
        Process rank and count under DDP: every process uses the same permutation and takes
        every ``world``-th batch starting at ``rank``; trailing batches that not every process
        would get are dropped so all processes take the same number of steps.
    """
    count = len(split)
    generator = torch.Generator().manual_seed(shuffle_seed) if shuffle_seed is not None else None
    order = torch.randperm(count, generator=generator) if generator is not None else None
    if order is not None:
        order = order.to(split.images.device)  # drawn on the CPU: the same order on every device
    starts = list(range(0, count, batch_size))
    if world > 1:
        starts = starts[: len(starts) - len(starts) % world][rank::world]
    for start in starts:
        index = order[start : start + batch_size] if order is not None else slice(start, start + batch_size)
        images = split.images[index]
        if augment is not None:
            images = augment(images, generator)
        yield images, split.labels[index]
