"""A loaded data set checked once, before any training: every split the run reads holds examples,
and every label names a class the data set has (docs/architecture.md, "Untrusted input")."""

from __future__ import annotations

import torch

from trainer.data.images import ImageFiles
from trainer.data.memory import TensorSplit
from trainer.errors import DataError


def check_bundle(bundle, config) -> None:
    """Raise one-line DataError for an empty train or test split or a label outside the classes."""
    limits = {
        "train": [f"--max-train {config.max_train}"] * (config.max_train is not None)
        + [f"--val-fraction {config.val_fraction}"] * bool(config.val_fraction),
        "test": [f"--max-test {config.max_test}"] * (config.max_test is not None),
    }
    for split, options in limits.items():
        if len(getattr(bundle, split)) == 0:
            cause = f"after {' and '.join(options)}" if options else "in its files"
            raise DataError(f"{bundle.source}: the {split} split holds no example {cause}")
    for split in ("train", "val", "test"):
        labels = _labels(getattr(bundle, split))
        if labels is not None and labels.numel():
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or high >= bundle.num_classes:
                bad = low if low < 0 else high
                raise DataError(
                    f"{bundle.source}: the {split} split has label {bad}, outside the "
                    f"{bundle.num_classes} classes 0..{bundle.num_classes - 1}"
                )


def _labels(data) -> torch.Tensor | None:
    if isinstance(data, TensorSplit):
        return data.labels
    if isinstance(data, ImageFiles):
        return torch.tensor([label for _path, label in data.items], dtype=torch.int64)
    return None
