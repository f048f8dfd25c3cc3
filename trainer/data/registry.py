"""The data set registry and what a loaded data set looks like."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from common.errors import TopopruneError
from common.memory import require_memory
from common.registry import Registry
from trainer.data.augment import NONE, batch_augmentation, resolved_policy
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
    augment: str | None = None  # an --augment policy (trainer.data.augment); None: the data set's own
    image_size: int | None = None  # square side: the crop for image files, a resize for in-memory sets
    workers: int = 2  # image files: DataLoader worker processes (never changes a batch)


@dataclass
class DataBundle:
    """A loaded data set: train / validation / test splits and their shape.

    ``train``, ``val``, ``test`` are :class:`TensorSplit` (in memory; :meth:`to_device` moves them
    to the training device once) or :class:`~trainer.data.images.ImageFiles` (read by a DataLoader
    as uint8 batches, normalised with ``normalise`` = (mean, std) on the training device).
    ``augment`` is the policy's batch-level function, applied to normalised training batches;
    ``policy`` its text, as recorded.
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
    normalise: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    policy: str = "none"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _loaders: dict = field(default_factory=dict, repr=False)

    def to_device(self, device: torch.device) -> DataBundle:
        """Hold in-memory splits on ``device`` (once: a sweep of small models is not bound by the
        host) and deliver file batches there; returns self."""
        self.device = torch.device(device)
        for split in ("train", "val", "test"):
            data = getattr(self, split)
            if isinstance(data, TensorSplit):
                setattr(self, split, TensorSplit(data.images.to(self.device), data.labels.to(self.device)))
        return self

    def steps(self, split: str, batch_size: int, world: int = 1) -> int:
        """Batches per process in one pass over ``split`` (see :meth:`batches`)."""
        data = getattr(self, split)
        if isinstance(data, TensorSplit):  # whole batches are dealt out; the last unshared ones dropped
            batches = -(-len(data) // batch_size)
            return (batches - batches % world) // world if world > 1 else batches
        return -(-(len(data) // world) // batch_size)  # examples are dealt out (SeededSampler)

    def batches(
        self,
        split: str,
        batch_size: int,
        shuffle_seed: int | None = None,
        rank: int = 0,
        world: int = 1,
        reuse_buffers: bool = False,
    ) -> Iterable:
        """(images, labels) batches of ``split`` ("train", "val" or "test"), on the device.

        ``reuse_buffers`` (the trainer's loop, which holds one batch at a time): image-file batches
        normalised on the CPU are written into two alternating buffers instead of fresh memory, so
        a batch stays valid until two batches later; leave it off to keep batches.
        """
        data = getattr(self, split)
        augment = self.augment if split == "train" else None
        if isinstance(data, TensorSplit):
            return tensor_batches(data, batch_size, shuffle_seed, augment, rank, world)
        return self._file_batches(split, batch_size, shuffle_seed, rank, world, augment, reuse_buffers)

    def _file_batches(self, split, batch_size, shuffle_seed, rank, world, augment, reuse_buffers) -> Iterable:
        loader = self._loader(split, batch_size, rank, world)
        loader.sampler.shuffle_seed = shuffle_seed
        generator = torch.Generator().manual_seed(shuffle_seed) if shuffle_seed is not None else None
        buffers: dict[tuple, list[torch.Tensor]] = {}
        for step, (images, labels) in enumerate(_worker_errors_surfaced(loader)):
            images = images.to(self.device, non_blocking=True)  # uint8: a quarter of the bytes of float
            out = None
            if reuse_buffers and self.device.type == "cpu":  # a fresh 38 MB tensor costs more than the arithmetic
                pair = buffers.setdefault(tuple(images.shape), [torch.empty(images.shape) for _ in range(2)])
                out = pair[step % 2]
            images = normalised(images, self.normalise, out)
            if augment is not None:
                images = augment(images, generator)
            yield images, labels.to(self.device, non_blocking=True)

    def _loader(self, split: str, batch_size: int, rank: int, world: int):
        """One DataLoader per split and batch size, kept: its workers persist across epochs. Workers
        send uint8 batches (pinned for a GPU), normalised by :meth:`_file_batches`."""
        from trainer.data.images import SeededSampler

        key = (split, batch_size, rank, world)
        if key not in self._loaders:
            dataset = getattr(self, split)
            self._loaders[key] = torch.utils.data.DataLoader(
                dataset,
                batch_size=batch_size,
                sampler=SeededSampler(len(dataset), None, rank, world),
                num_workers=self.workers,
                pin_memory=self.device.type == "cuda",
                persistent_workers=self.workers > 0,
                prefetch_factor=4 if self.workers > 0 else None,
            )
        return self._loaders[key]


def _worker_errors_surfaced(loader) -> Iterable:
    """``loader``'s batches; an error of ours raised in a loader worker reaches the caller as the
    one line the worker raised, not inside torch's "Caught ... in DataLoader worker" traceback."""
    batches = iter(loader)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except TopopruneError as error:
            raise type(error)(_worker_line(str(error))) from None
        yield batch


def _worker_line(message: str) -> str:
    """The worker's own message from torch's re-raised text (its last line, less the class name)."""
    if "DataLoader worker" not in message:
        return message
    last = [line for line in message.splitlines() if line.strip()][-1]
    name, separator, text = last.partition(": ")
    return text if separator and "." in name and " " not in name else last


def normalised(
    images: torch.Tensor, statistics: tuple[tuple[float, ...], tuple[float, ...]], out: torch.Tensor | None = None
) -> torch.Tensor:
    """uint8 (N, C, H, W) pixels as float ``(x / 255 - mean) / std`` per channel, on their device
    (written into ``out`` when given)."""
    mean, std = (torch.tensor(v, device=images.device).view(1, -1, 1, 1) for v in statistics)
    floats = images.float() if out is None else out.copy_(images)
    return floats.sub_(mean * 255).mul_(1 / (std * 255))


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
    default_policy: str = NONE,
) -> DataBundle:
    """Split, normalise and wrap uint8 image arrays of shape (N, C, H, W) as a DataBundle.

    With ``config.image_size`` every split is resized to that square side first (bilinear,
    antialiased: EDropout's 28 -> 32 upscaling). The per-channel mean and standard deviation are
    computed on the training split only and applied to all three splits. ``default_policy`` is the
    data set's augmentation when ``config.augment`` is None.
    """
    if config.max_train is not None:
        train_images, train_labels = train_images[: config.max_train], train_labels[: config.max_train]
    if config.max_test is not None:
        test_images, test_labels = test_images[: config.max_test], test_labels[: config.max_test]
    train_index, val_index = split_indices(len(train_labels), config.val_fraction, config.split_seed)
    images = _scaled(torch.from_numpy(np.ascontiguousarray(train_images)), config.image_size, name)
    test = _scaled(torch.from_numpy(np.ascontiguousarray(test_images)), config.image_size, name)
    labels = torch.from_numpy(np.ascontiguousarray(train_labels).astype(np.int64))
    test_labels = torch.from_numpy(np.ascontiguousarray(test_labels).astype(np.int64))
    train = images[train_index]
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    policy = resolved_policy(config.augment, default_policy)
    return DataBundle(
        name=name,
        input_shape=tuple(images.shape[1:]),
        num_classes=num_classes,
        train=TensorSplit(train.sub_(mean).div_(std), labels[train_index]),
        val=TensorSplit((images[val_index] - mean).div_(std), labels[val_index]),
        test=TensorSplit(
            test.sub_(mean).div_(std), torch.from_numpy(np.ascontiguousarray(test_labels).astype(np.int64))
        ),
        source=source,
        augment=batch_augmentation(policy, in_memory_standard=True, statistics=(mean, std)),
        extra={"mean": mean.flatten().tolist(), "std": std.flatten().tolist()},
        policy=str(policy),
    )


def _scaled(images: torch.Tensor, size: int | None, name: str) -> torch.Tensor:
    """uint8 (N, C, H, W) as float in [0, 1], resized to size x size when ``size`` is given."""
    if size is None or tuple(images.shape[-2:]) == (size, size):
        return images.float().div_(255)
    require_memory(images.shape[0] * images.shape[1] * size * size * 4, f"{name} resized to {size}x{size} in memory")
    chunks = [
        torch.nn.functional.interpolate(chunk.float().div_(255), size=(size, size), mode="bilinear", antialias=True)
        for chunk in images.split(4096)
    ]
    return torch.cat(chunks).clamp_(0, 1)
