"""Data loading throughput, measured against torchvision's plain loader in the same run.

1. Image files: an ImageNet-layout folder of JPEGs written here (``--images`` of 500 x 375),
   read at 224 x 224 with training augmentation (random resized crop, flip) by
   * torchvision's ``ImageFolder`` + ``DataLoader`` (PIL decode, transforms on PIL, ``ToTensor``,
     ``Normalize`` per image), and
   * topoprune's ``imagefolder`` (``torchvision.io`` decode, crop and resize while uint8,
     normalisation per batch into reused buffers, as the trainer reads them), with the same
     ``--workers``;
   images per second of each, medians of interleaved ``--repeats`` passes, and their ratio.
2. In memory: batches per second of a CIFAR-shaped split (50,000 x 3 x 32 x 32) with crop and
   flip, through ``DataBundle.batches`` against the per-image reference (a torchvision
   ``RandomCrop`` + ``RandomHorizontalFlip`` on each image of the batch), on the CPU.

Usage: python bench/data_bench.py [--images N] [--workers W] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from goals import Measured, record
from PIL import Image
from torchvision import datasets, transforms

from trainer.data import DataConfig, load_dataset
from trainer.data.augment import crop_and_flip
from trainer.data.images import IMAGENET_MEAN, IMAGENET_STD
from trainer.data.memory import TensorSplit, tensor_batches

SIZE, BATCH = 224, 64


def write_jpegs(root: Path, count: int, classes: int = 10) -> None:
    """``root/train/<class>/*.JPEG`` and a small ``val/``: smooth random photos of 500 x 375."""
    rng = np.random.default_rng(0)
    for index in range(count):
        pixels = np.cumsum(rng.normal(size=(375, 500, 3)), axis=1) * 3 + 128
        folder = root / "train" / f"n{index % classes:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"{index}.JPEG", quality=90)
    for label in range(classes):
        (root / "val" / f"n{label:08d}").mkdir(parents=True, exist_ok=True)
        (root / "val" / f"n{label:08d}" / "0.JPEG").hardlink_to(root / "train" / f"n{label:08d}" / f"{label}.JPEG")


def torchvision_pass(root: Path, workers: int) -> tuple[int, float]:
    transform = transforms.Compose(
        [
            transforms.RandomResizedCrop(SIZE),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    loader = torch.utils.data.DataLoader(
        datasets.ImageFolder(str(root / "train"), transform), batch_size=BATCH, shuffle=True, num_workers=workers
    )
    start, count = time.perf_counter(), 0
    for images, _ in loader:
        count += len(images)
    return count, time.perf_counter() - start


def topoprune_pass(root: Path, workers: int, seed: int) -> tuple[int, float]:
    bundle = load_dataset(DataConfig("imagefolder", root, val_fraction=0.0, image_size=SIZE, workers=workers))
    start, count = time.perf_counter(), 0
    for images, _ in bundle.batches("train", BATCH, shuffle_seed=seed, reuse_buffers=True):  # as the trainer reads
        count += len(images)
    return count, time.perf_counter() - start


def image_files(count: int, workers: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_jpegs(root, count)
        rates: dict[str, list[float]] = {"torchvision": [], "topoprune": []}
        for round_index in range(repeats):
            seen, seconds = torchvision_pass(root, workers)
            rates["torchvision"].append(seen / seconds)
            seen, seconds = topoprune_pass(root, workers, round_index)
            rates["topoprune"].append(seen / seconds)
    ratios = sorted(a / b for a, b in zip(rates["topoprune"], rates["torchvision"]))
    print(f"[image files] {count} JPEGs of 500x375 at {SIZE}, batch {BATCH}, {workers} workers, {repeats} rounds")
    for name, values in rates.items():
        print(f"    {name:12s} {statistics.median(values):8.1f} images/s")
    spread = f"rounds {ratios[0]:.2f}-{ratios[-1]:.2f}"
    goal = record(
        Measured(
            "data",
            "image files: topoprune / torchvision images per s",
            statistics.median(ratios),
            goal=1,
            spread=spread,
        )
    )
    print(f"    ratio topoprune / torchvision = {statistics.median(ratios):.2f}x ({spread}; {goal})")


def per_image_reference(split: TensorSplit, generator_seed: int) -> int:
    crop, flip = transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()
    torch.manual_seed(generator_seed)
    order = torch.randperm(len(split))
    batches = 0
    for start in range(0, len(split), 128):
        index = order[start : start + 128]
        torch.stack([flip(crop(image)) for image in split.images[index]])
        batches += 1
    return batches


def in_memory(repeats: int) -> None:
    generator = torch.Generator().manual_seed(0)
    split = TensorSplit(torch.randn(50_000, 3, 32, 32, generator=generator), torch.randint(0, 10, (50_000,)))
    times: dict[str, list[float]] = {"per-image": [], "topoprune": []}
    batches = 0
    for round_index in range(repeats):
        start = time.perf_counter()
        batches = per_image_reference(split, round_index)
        times["per-image"].append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in tensor_batches(split, 128, shuffle_seed=round_index, augment=crop_and_flip):
            pass
        times["topoprune"].append(time.perf_counter() - start)
    ratios = sorted(b / a for a, b in zip(times["topoprune"], times["per-image"]))
    print(f"[in memory] 50,000 x 3x32x32, batch 128, crop + flip, CPU, {repeats} rounds")
    for name, values in times.items():
        print(f"    {name:12s} {batches / statistics.median(values):8.1f} batches/s")
    spread = f"rounds {ratios[0]:.1f}-{ratios[-1]:.1f}"
    goal = record(
        Measured(
            "data", "in memory: topoprune / per-image transforms", statistics.median(ratios), goal=1, spread=spread
        )
    )
    print(f"    ratio topoprune / per-image = {statistics.median(ratios):.1f}x ({spread}; {goal})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    image_files(args.images, args.workers, args.repeats)
    in_memory(args.repeats)


if __name__ == "__main__":
    main()
