"""Small data sets written in the real on-disk formats, with a pattern a model can learn."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from trainer.data.idx import write_idx


def patterned_images(count: int, classes: int, size: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, C, size, size): noise plus a bright patch whose position encodes the class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, count)
    images = rng.integers(0, 60, (count, channels, size, size)).astype(np.uint8)
    patch = max(2, size // 5)
    for index, label in enumerate(labels):
        row, col = divmod(int(label) % 16, 4)
        top, left = row * size // 4, col * size // 4
        images[index, :, top : top + patch, left : left + patch] = 230
    return images, labels.astype(np.uint8)


def write_fashion_like(folder: Path, train: int = 900, test: int = 300, seed: int = 0, gz: bool = True) -> Path:
    """The four IDX files of (Fashion-)MNIST with learnable 28x28 images."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for split, count, offset in (("train", train, 0), ("t10k", test, 1)):
        images, labels = patterned_images(count, 10, 28, 1, seed + offset)
        write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images[:, 0])
        write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels)
    return folder


def write_cifar_like(folder: Path, classes: int = 10, per_batch: int = 100, seed: int = 0) -> Path:
    """CIFAR python batches (pickled dicts with bytes keys), as the real archives hold them."""
    folder.mkdir(parents=True, exist_ok=True)
    label_key = b"labels" if classes == 10 else b"fine_labels"
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"] if classes == 10 else ["train", "test"]
    for index, name in enumerate(names):
        count = per_batch * (5 if classes == 100 and name == "train" else 1)
        images, labels = patterned_images(count, classes, 32, 3, seed + index)
        with (folder / name).open("wb") as handle:
            pickle.dump(
                {
                    b"data": images.reshape(count, -1),
                    label_key: labels.astype(int).tolist(),
                    b"batch_label": name.encode(),
                },
                handle,
            )
    return folder
