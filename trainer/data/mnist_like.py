"""Fashion-MNIST, MNIST and Kuzushiji-MNIST from their IDX files (never downloaded at run time)."""

from __future__ import annotations

from pathlib import Path

from trainer.data.idx import read_idx
from trainer.data.registry import DATASETS, DataBundle, DataConfig, bundle_from_arrays
from trainer.errors import DataError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Where the Debian package dataset-fashion-mnist puts the files.
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def locate(candidates: list[Path], name: str, how_to_install: str) -> dict[str, Path]:
    """The four IDX files from the first folder that has all of them.

    Raises
    ------
    DataError
        Listing every folder tried and how to install the files.
    """
    for folder in candidates:
        found = {key: _find(folder, stem) for key, stem in FILES.items()}
        if all(found.values()):
            return found
    tried = ", ".join(str(c) for c in candidates)
    raise DataError(f"{name}: IDX files ({FILES['train_images']}[.gz], ...) not found in {tried}; {how_to_install}")


def _candidates(config: DataConfig, folder_names: list[str], system: list[Path]) -> list[Path]:
    roots = [config.data_dir] if config.data_dir else []
    roots.append(Path("data"))
    candidates = []
    for root in roots:
        candidates.append(root)
        candidates += [root / name for name in folder_names]
    if config.data_dir is None:
        candidates = system + candidates
    seen, unique = set(), []
    for candidate in candidates:
        if candidate not in seen:
            seen.add(candidate)
            unique.append(candidate)
    return unique


def _load(name: str, files: dict[str, Path], config: DataConfig) -> DataBundle:
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"{files[f'{split}_images']}: {len(images)} images of shape {images.shape[1:]} do not match "
                f"{len(labels)} labels"
            )
    source = str(files["train_images"].parent)
    return bundle_from_arrays(
        name,
        arrays["train_images"][:, None],
        arrays["train_labels"],
        arrays["test_images"][:, None],
        arrays["test_labels"],
        num_classes=10,
        config=config,
        source=source,
    )


@DATASETS.register("fashion-mnist")
def fashion_mnist(config: DataConfig) -> DataBundle:
    """Fashion-MNIST (Xiao et al., 2017): 60k train (split into train/validation), 10k test, 1x28x28.

    Looked for in ``--data-dir`` (and its ``fashion-mnist/`` or ``FashionMNIST/raw/``), else
    ``/usr/share/datasets/fashion-mnist`` (Debian's dataset-fashion-mnist), else ``./data``.
    """
    candidates = _candidates(config, ["fashion-mnist", "FashionMNIST/raw"], [SYSTEM_FASHION_MNIST])
    files = locate(
        candidates,
        "fashion-mnist",
        "install them with 'apt-get install dataset-fashion-mnist' or 'make data' (torchvision download), or pass "
        "--data-dir",
    )
    return _load("fashion-mnist", files, config)


@DATASETS.register("mnist")
def mnist(config: DataConfig) -> DataBundle:
    """MNIST (LeCun et al., 1998) from IDX files in ``--data-dir`` (or its ``MNIST/raw/``)."""
    candidates = _candidates(config, ["mnist", "MNIST/raw"], [])
    files = locate(candidates, "mnist", "put the four MNIST IDX files there and pass --data-dir")
    return _load("mnist", files, config)


@DATASETS.register("kmnist")
def kmnist(config: DataConfig) -> DataBundle:
    """Kuzushiji-MNIST (Clanuwat et al., 2018): the IDX files of its MNIST-format release
    (``train-images-idx3-ubyte.gz`` ...) in ``--data-dir`` (or its ``kmnist/`` or ``KMNIST/raw/``)."""
    candidates = _candidates(config, ["kmnist", "KMNIST/raw"], [])
    files = locate(candidates, "kmnist", "put Kuzushiji-MNIST's four MNIST-format IDX files there and pass --data-dir")
    return _load("kmnist", files, config)
