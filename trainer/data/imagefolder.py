"""Image folders in the ImageNet / Tiny ImageNet layout: ``train/<class>/*`` and ``val/<class>/*``."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision import datasets, transforms

from trainer.data.memory import split_indices
from trainer.data.registry import DATASETS, DataBundle, DataConfig
from trainer.errors import DataError

#: Per-channel statistics of ImageNet, the usual normalisation for photographs.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@DATASETS.register("imagefolder")
def imagefolder(config: DataConfig) -> DataBundle:
    """Read ``--data-dir`` with ``train/`` and ``val/`` class folders through a DataLoader.

    The validation split for model selection is held out of ``train/``; ``val/`` serves as the
    test set (ImageNet's test labels are not public). Images are resized to ``image_size``;
    training images get a random resized crop and horizontal flip.
    """
    root = config.data_dir
    if root is None or not (root / "train").is_dir() or not (root / "val").is_dir():
        raise DataError(f"imagefolder: {root or '--data-dir'} must contain train/ and val/ class folders")
    size = config.image_size
    normalise = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train_tf = transforms.Compose(
        [transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(), transforms.ToTensor(), normalise]
    )
    eval_tf = transforms.Compose(
        [transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor(), normalise]
    )
    try:
        train_full = datasets.ImageFolder(
            str(root / "train"), transform=train_tf if config.augment is not False else eval_tf
        )
        held_out = datasets.ImageFolder(str(root / "train"), transform=eval_tf)
        test = datasets.ImageFolder(str(root / "val"), transform=eval_tf)
    except (FileNotFoundError, OSError) as error:
        raise DataError(f"imagefolder: {error}") from None
    if train_full.classes != test.classes:
        raise DataError(f"imagefolder: {root / 'train'} and {root / 'val'} have different class folders")
    count = len(train_full) if config.max_train is None else min(len(train_full), config.max_train)
    train_index, val_index = split_indices(count, config.val_fraction, config.split_seed)
    return DataBundle(
        name="imagefolder",
        input_shape=(3, size, size),
        num_classes=len(train_full.classes),
        train=torch.utils.data.Subset(train_full, train_index.tolist()),
        val=torch.utils.data.Subset(held_out, val_index.tolist()),
        test=test if config.max_test is None else torch.utils.data.Subset(test, range(min(len(test), config.max_test))),
        source=str(Path(root)),
        workers=config.workers,
    )
