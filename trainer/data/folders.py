"""Image data sets read from their files: ``imagefolder``, ``imagenet``, ``tiny-imagenet``,
``flowers102`` (layouts in :mod:`trainer.data.layouts`, reading in :mod:`trainer.data.images`).

The test split is the data set's labelled evaluation set (ImageNet's and Tiny ImageNet's ``val``,
Flowers-102's ``tstid``). Model selection uses the data set's own validation split where it has
one (Flowers-102's ``valid``), else a seeded ``--val-fraction`` of the training files, evaluated
with the evaluation view. Images are ``--image-size`` squares (defaults below), normalised with
ImageNet's statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainer.data import layouts
from trainer.data.augment import STANDARD, batch_augmentation, resolved_policy
from trainer.data.images import IMAGENET_MEAN, IMAGENET_STD, ImageFiles
from trainer.data.layouts import Layout
from trainer.data.memory import split_indices
from trainer.data.registry import DATASETS, DataBundle, DataConfig
from trainer.errors import DataError

#: Each data set's layout reader and default square side.
FOLDER_SETS: dict[str, tuple[Callable[[Path], Layout], int]] = {
    "imagefolder": (layouts.image_folder, 224),
    "imagenet": (layouts.imagenet, 224),
    "tiny-imagenet": (layouts.tiny_imagenet, 64),
    "flowers102": (layouts.flowers102, 224),
}


def folder_bundle(name: str, config: DataConfig) -> DataBundle:
    """Read data set ``name`` from ``config.data_dir`` as a DataBundle of image files."""
    reader, default_size = FOLDER_SETS[name]
    if config.data_dir is None or not Path(config.data_dir).is_dir():
        raise DataError(f"{name}: pass --data-dir with the data set's folder ({config.data_dir or 'none given'})")
    layout = reader(Path(config.data_dir))
    size = config.image_size or default_size
    policy = resolved_policy(config.augment, STANDARD)
    train = layout.train[: config.max_train] if config.max_train is not None else layout.train
    if layout.val is None:
        train_index, val_index = split_indices(len(train), config.val_fraction, config.split_seed)
        val, train = [train[i] for i in val_index.tolist()], [train[i] for i in train_index.tolist()]
    else:
        val = layout.val
    test = layout.test[: config.max_test] if config.max_test is not None else layout.test
    return DataBundle(
        name=name,
        input_shape=(3, size, size),
        num_classes=len(layout.classes),
        train=ImageFiles(train, size, train=True, policy=policy),
        val=ImageFiles(val, size, train=False),
        test=ImageFiles(test, size, train=False),
        source=str(Path(config.data_dir)),
        augment=batch_augmentation(policy, in_memory_standard=False),
        workers=config.workers,
        normalise=(IMAGENET_MEAN, IMAGENET_STD),
        policy=str(policy),
        extra={"classes": layout.classes},
    )


def _register(name: str) -> None:
    reader, size = FOLDER_SETS[name]

    def load(config: DataConfig) -> DataBundle:
        return folder_bundle(name, config)

    load.__doc__ = f"{name}: {(reader.__doc__ or '').strip()} Default image size {size}."
    DATASETS.register(name)(load)


for _name in FOLDER_SETS:
    _register(_name)
