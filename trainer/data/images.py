"""Image files read for training: decoded to uint8, cropped before anything becomes float.

Each example is decoded with ``torchvision.io.decode_image`` (libjpeg-turbo for JPEGs), cropped
and resized while still uint8, and returned as a uint8 (3, N, N) tensor; a batch is normalised
as a whole on the training device (:class:`trainer.data.registry.DataBundle`). Training
examples get a random resized crop (scale 0.08-1, ratio 3/4-4/3) and a horizontal flip;
evaluation examples the standard protocol: the shorter side resized to round(N / 0.875) (256 for
224) and an N x N centre crop. Random draws come from a generator seeded per example by the
sampler (:class:`SeededSampler`), so the same seed gives the same crops whatever the number of
loader workers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms.v2 import functional as F

from trainer.data.augment import Policy, image_policy_step
from trainer.errors import DataError

# torchvision 0.29 deprecated its decoders in favour of TorchCodec (not a dependency here); they
# still decode with libjpeg-turbo, and the warning would repeat in every loader worker.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision are deprecated")

#: Evaluation resizes the shorter side to size / CROP_FRACTION, then centre-crops size.
CROP_FRACTION = 0.875
SCALE, RATIO = (0.08, 1.0), (3 / 4, 4 / 3)
#: Per-channel statistics of ImageNet, the usual normalisation for photographs.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def eval_resize(size: int) -> int:
    """The shorter side before the evaluation centre crop: round(size / 0.875) (256 for 224)."""
    return int(round(size / CROP_FRACTION))


def read_image(path: Path) -> torch.Tensor:
    """(3, H, W) uint8 RGB pixels of an image file (JPEG, PNG, ...)."""
    try:
        return decode_image(read_file(str(path)), ImageReadMode.RGB)
    except (OSError, RuntimeError) as error:
        raise DataError(f"{path}: not a readable image ({str(error).splitlines()[0]})") from None


def random_crop_box(height: int, width: int, generator: torch.Generator) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random resized crop (torchvision's rule, with our generator)."""
    area = height * width
    log_ratio = (math.log(RATIO[0]), math.log(RATIO[1]))
    for _ in range(10):
        target = area * (SCALE[0] + (SCALE[1] - SCALE[0]) * float(torch.rand((), generator=generator)))
        aspect = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * float(torch.rand((), generator=generator)))
        w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            return top, left, h, w
    ratio = width / height  # fallback: the centre crop of the whole image within the ratio range
    if ratio < RATIO[0]:
        w, h = width, int(round(width / RATIO[0]))
    elif ratio > RATIO[1]:
        h, w = height, int(round(height * RATIO[1]))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def train_view(image: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Random resized crop to size x size and a random horizontal flip (uint8 in, uint8 out)."""
    top, left, h, w = random_crop_box(image.shape[-2], image.shape[-1], generator)
    view = F.resized_crop(image, top, left, h, w, [size, size], antialias=True)
    return view.flip(-1) if float(torch.rand((), generator=generator)) < 0.5 else view


def eval_view(image: torch.Tensor, size: int) -> torch.Tensor:
    """The shorter side resized to round(size / 0.875), then the size x size centre crop."""
    return F.center_crop(F.resize(image, [eval_resize(size)], antialias=True), [size, size])


class ImageFiles(torch.utils.data.Dataset):
    """Labelled image files, each read as a uint8 (3, size, size) tensor.

    Parameters
    ----------
    items : list of (Path, int)
        The files and their class indices.
    size : int
        The square side of every example.
    train : bool
        Random resized crop and flip (and ``policy``'s per-image steps) instead of the
        evaluation view; indexed by ``(index, seed)`` pairs from :class:`SeededSampler`.
    """

    def __init__(self, items: list[tuple[Path, int]], size: int, train: bool, policy: Policy | None = None) -> None:
        self.items, self.size, self.train = list(items), size, train
        self.standard = train and (policy is None or policy.standard)
        self.steps = [image_policy_step(step.name) for step in policy.image_steps] if train and policy else []

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key) -> tuple[torch.Tensor, int]:
        index, seed = key if isinstance(key, tuple) else (key, 0)
        path, label = self.items[index]
        image = read_image(path)
        if not self.train:
            return eval_view(image, self.size), label
        generator = torch.Generator().manual_seed(seed)
        view = train_view(image, self.size, generator) if self.standard else eval_view(image, self.size)
        if self.steps:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                for step in self.steps:
                    view = step(view)
        return view, label


class SeededSampler(torch.utils.data.Sampler):
    """Yields ``(index, seed)``: a seeded permutation of the examples (or their order), each with
    its own augmentation seed derived from the pass's seed, so workers do not matter; under DDP
    every process takes every ``world``-th example of the same permutation."""

    def __init__(self, count: int, shuffle_seed: int | None, rank: int = 0, world: int = 1) -> None:
        self.count, self.shuffle_seed, self.rank, self.world = count, shuffle_seed, rank, world

    def __len__(self) -> int:
        return self.count // self.world if self.world > 1 else self.count

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle_seed is None:
            order = torch.arange(self.count)
            seeds = torch.zeros(self.count, dtype=torch.int64)
        else:
            generator = torch.Generator().manual_seed(self.shuffle_seed)
            order = torch.randperm(self.count, generator=generator)
            seeds = torch.randint(0, 2**62, (self.count,), generator=generator)
        if self.world > 1:
            usable = self.count - self.count % self.world
            order, seeds = order[:usable][self.rank :: self.world], seeds[:usable][self.rank :: self.world]
        return iter(zip(order.tolist(), seeds.tolist()))
