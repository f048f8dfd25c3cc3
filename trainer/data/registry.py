"""The data set registry and what a loaded data set looks like."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from common.registry import Registry
from trainer.data.memory import TensorSplit, split_indices, tensor_batches


@dataclass(frozen=True)
class DataConfig:
    """Where and how a data set is loaded."""

    name: str = "fashion-mnist"  # registry name
    data_dir: Path | None = None  # where the files are (default: the data set's usual places)
    val_fraction: float = 0.1  # share of the training files held out for model selection
    split_seed: int = 0  # seed of the train/validation split (fixed across training seeds)
    max_train: int | None = None  # use only the first N training examples (quick runs)
    max_test: int | None = None  # use only the first N test examples (quick checks)
    augment: bool | None = None  # crop+flip for training batches (default: on for CIFAR)
    image_size: int = 64  # imagefolder: images are resized to this square size
    workers: int = 2  # imagefolder: DataLoader worker processes


@dataclass
class DataBundle:
    """A loaded data set: train / validation / test splits and their shape.

    ``train``, ``val``, ``test`` are :class:`TensorSplit` (in memory) or torch Datasets (large
    image folders, read by a DataLoader).
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    train: object
    val: object
    test: object
    source: str  # where the files came from
    augment: Callable | None = None
    workers: int = 0
    extra: dict = field(default_factory=dict)

    def steps(self, split: str, batch_size: int, world: int = 1) -> int:
        """Batches per process in one pass over ``split`` (see :meth:`batches`)."""
        batches = -(-len(getattr(self, split)) // batch_size)
        return (batches - batches % world) // world if world > 1 else batches

    def batches(
        self, split: str, batch_size: int, shuffle_seed: int | None = None, rank: int = 0, world: int = 1
    ) -> Iterable:
        """(images, labels) batches of ``split`` ("train", "val" or "test")."""
        data = getattr(self, split)
        augment = self.augment if split == "train" else None
        if isinstance(data, TensorSplit):
            return tensor_batches(data, batch_size, shuffle_seed, augment, rank, world)
        return _loader(data, batch_size, shuffle_seed, rank, world, self.workers)


def _loader(dataset, batch_size: int, shuffle_seed: int | None, rank: int, world: int, workers: int):
    sampler = None
    if world > 1:
        sampler = torch.utils.data.DistributedSampler(
            dataset, world, rank, shuffle=shuffle_seed is not None, seed=shuffle_seed or 0, drop_last=True
        )
    elif shuffle_seed is not None:
        sampler = torch.utils.data.RandomSampler(dataset, generator=torch.Generator().manual_seed(shuffle_seed))
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, persistent_workers=False
    )


DatasetLoader = Callable[[DataConfig], DataBundle]
DATASETS: Registry[DatasetLoader] = Registry("data set")


def bundle_from_arrays(
    name: str,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    num_classes: int,
    config: DataConfig,
    source: str,
    augment: Callable | None = None,
) -> DataBundle:
    """Split, normalise and wrap uint8 image arrays of shape (N, C, H, W) as a DataBundle.

    The per-channel mean and standard deviation are computed on the training split only and
    applied to all three splits.
    """
    if config.max_train is not None:
        train_images, train_labels = train_images[: config.max_train], train_labels[: config.max_train]
    train_index, val_index = split_indices(len(train_labels), config.val_fraction, config.split_seed)
    images = torch.from_numpy(np.ascontiguousarray(train_images))
    labels = torch.from_numpy(np.ascontiguousarray(train_labels).astype(np.int64))
    train = images[train_index].float().div_(255)
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

    def normalise(array: torch.Tensor) -> torch.Tensor:
        return (array.float().div_(255) - mean).div_(std)

    if config.max_test is not None:
        test_images, test_labels = test_images[: config.max_test], test_labels[: config.max_test]
    test = torch.from_numpy(np.ascontiguousarray(test_images))
    return DataBundle(
        name=name,
        input_shape=tuple(train_images.shape[1:]),
        num_classes=num_classes,
        train=TensorSplit((train - mean).div_(std), labels[train_index]),
        val=TensorSplit(normalise(images[val_index]), labels[val_index]),
        test=TensorSplit(normalise(test), torch.from_numpy(np.ascontiguousarray(test_labels).astype(np.int64))),
        source=source,
        augment=augment,
        extra={"mean": mean.flatten().tolist(), "std": std.flatten().tolist()},
    )
