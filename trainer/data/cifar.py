"""CIFAR-10 / CIFAR-100 from the python-pickle batches folder, read with a restricted unpickler."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from trainer.data.augment import STANDARD
from trainer.data.registry import DATASETS, DataBundle, DataConfig, bundle_from_arrays
from trainer.errors import DataError

#: The only globals a CIFAR batch may reference: numpy array reconstruction.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, numbers and numpy arrays; refuses any other global."""

    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def read_batch(path: Path) -> dict:
    """One CIFAR python batch as a dict with str keys."""
    try:
        with path.open("rb") as handle:
            batch = _RestrictedUnpickler(handle, encoding="bytes").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise DataError(f"{path}: not a readable CIFAR batch ({error})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR batch (expected a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _images_labels(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    batch = read_batch(path)
    if "data" not in batch or label_key not in batch:
        raise DataError(f"{path}: CIFAR batch lacks 'data' or '{label_key}'")
    data = np.asarray(batch["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: CIFAR data has shape {data.shape}, expected (N, 3072)")
    return data.reshape(-1, 3, 32, 32), np.asarray(batch[label_key], dtype=np.int64)


def _folder(config: DataConfig, name: str, marker: str, subfolder: str) -> Path:
    root = config.data_dir or Path("data")
    for folder in (root, root / subfolder):
        if (folder / marker).is_file():
            return folder
    raise DataError(
        f"{name}: {marker} not found in {root} or {root / subfolder}; pass --data-dir with the python-version batches"
    )


@DATASETS.register("cifar10")
def cifar10(config: DataConfig) -> DataBundle:
    """CIFAR-10 (Krizhevsky, 2009): data_batch_1..5 and test_batch, 3x32x32, 10 classes."""
    folder = _folder(config, "cifar10", "test_batch", "cifar-10-batches-py")
    parts = [
        _images_labels(folder / f"data_batch_{i}", "labels")
        for i in range(1, 6)
        if (folder / f"data_batch_{i}").is_file()
    ]
    if not parts:
        raise DataError(f"{folder}: no data_batch_* files")
    test_images, test_labels = _images_labels(folder / "test_batch", "labels")
    images, labels = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return bundle_from_arrays("cifar10", images, labels, test_images, test_labels, 10, config, str(folder), STANDARD)


@DATASETS.register("cifar100")
def cifar100(config: DataConfig) -> DataBundle:
    """CIFAR-100 (Krizhevsky, 2009): ``train`` and ``test`` batches, fine labels, 100 classes."""
    folder = _folder(config, "cifar100", "test", "cifar-100-python")
    images, labels = _images_labels(folder / "train", "fine_labels")
    test_images, test_labels = _images_labels(folder / "test", "fine_labels")
    return bundle_from_arrays("cifar100", images, labels, test_images, test_labels, 100, config, str(folder), STANDARD)
