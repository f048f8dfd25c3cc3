"""The on-disk layouts of the image data sets, read as lists of (file, class index).

* ``imagefolder`` — ``train/<class>/*`` and ``val/<class>/*`` (any class names).
* ``imagenet`` (ILSVRC-2012) — ``train/<wnid>/*.JPEG``; ``val/<wnid>/*`` or the flat ``val/*.JPEG``
  with the official ground truth: the devkit's ``ILSVRC2012_validation_ground_truth.txt`` with
  its ``meta.mat`` (ILSVRC2012 ids to wnids), or Kaggle's ``LOC_val_solution.csv``, in the root
  or under ``ILSVRC2012_devkit_t12/data/``.
* ``tiny-imagenet`` — as distributed: ``wnids.txt``, ``train/<wnid>/images/*``, ``val/images/*``
  with ``val/val_annotations.txt``.
* ``flowers102`` — ``jpg/image_00001.jpg ...``, ``imagelabels.mat`` (labels 1..102) and
  ``setid.mat`` (``trnid``, ``valid``, ``tstid``: the official train/validation/test split).

Classes are indexed in sorted order of their folder names or wnids (as torchvision's
``ImageFolder``), Flowers-102 by its labels minus one. A missing or inconsistent piece is one
:class:`DataError` naming it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")
GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt"
DEVKIT_DATA = Path("ILSVRC2012_devkit_t12") / "data"
KAGGLE_SOLUTION = "LOC_val_solution.csv"

Items = list[tuple[Path, int]]


@dataclass
class Layout:
    """What a data set's files are: class names and the labelled files of each split (``val``
    None: the validation split is held out of ``train``)."""

    classes: list[str]
    train: Items
    test: Items
    val: Items | None = None


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _text(path: Path) -> str:
    """A layout's text file (labels, wnids, annotations), UTF-8; one DataError naming it otherwise."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror})") from None


def _loadmat(path: Path, fields: tuple[str, ...], what: str) -> dict:
    """The ``fields`` of a MATLAB file; one DataError naming it when unreadable or lacking one."""
    from scipy.io import loadmat

    try:
        content = loadmat(str(path), squeeze_me=True)
    except Exception as error:  # noqa: BLE001 - scipy raises many types for a damaged file
        raise DataError(
            f"{path}: not {what} ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
        ) from None
    missing = [name for name in fields if name not in content]
    if missing:
        raise DataError(f"{path}: not {what} (no {', '.join(missing)})")
    return content


def _need_dir(path: Path, name: str, what: str) -> Path:
    if not path.is_dir():
        raise DataError(f"{name}: {path} is missing ({what})")
    return path


def class_folders(folder: Path, name: str) -> tuple[list[str], Items]:
    """``folder/<class>/*`` -> (sorted class names, labelled files)."""
    classes = sorted(p.name for p in _need_dir(folder, name, "class folders").iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{name}: {folder} has no class folders")
    files = {label: _images(folder / label) for label in classes}
    empty = [label for label in classes if not files[label]]
    if len(empty) == len(classes):
        raise DataError(f"{name}: no image files under {folder}")
    if empty:
        raise DataError(f"{name}: class folder {folder / empty[0]} holds no image files ({len(empty)} such)")
    return classes, [(path, index) for index, label in enumerate(classes) for path in files[label]]


def image_folder(root: Path) -> Layout:
    """train/<class>/* and val/<class>/*."""
    classes, train = class_folders(root / "train", "imagefolder")
    test_classes, test = class_folders(root / "val", "imagefolder")
    if test_classes != classes:
        missing = sorted(set(classes) ^ set(test_classes))[:3]
        raise DataError(f"imagefolder: {root / 'train'} and {root / 'val'} have different class folders ({missing})")
    return Layout(classes, train, test)


def imagenet(root: Path) -> Layout:
    """ILSVRC-2012: train/<wnid>/*.JPEG; val/<wnid>/* or the flat val/ with the official ground truth."""
    classes, train = class_folders(root / "train", "imagenet")
    val = _need_dir(root / "val", "imagenet", "val/<wnid>/ folders or the flat val/ images")
    if any(p.is_dir() for p in val.iterdir()):
        val_classes, test = class_folders(val, "imagenet")
        if val_classes != classes:
            raise DataError(f"imagenet: {root / 'train'} and {val} have different wnid folders")
        return Layout(classes, train, test)
    return Layout(classes, train, _flat_validation(root, val, classes))


def _flat_validation(root: Path, val: Path, classes: list[str]) -> Items:
    files = {path.name: path for path in _images(val)}
    wnids = _kaggle_wnids(root) or _devkit_wnids(root, sorted(files))
    index = {wnid: i for i, wnid in enumerate(classes)}
    unknown = sorted({wnid for wnid in wnids.values() if wnid not in index})
    if unknown:
        raise DataError(f"imagenet: the validation ground truth names wnids with no train/ folder ({unknown[:3]})")
    missing = sorted(set(wnids) - set(files))
    if missing:
        raise DataError(f"imagenet: {len(missing)} validation images named by the ground truth are not in {val}")
    return [(files[name], index[wnid]) for name, wnid in sorted(wnids.items())]


def _find(root: Path, name: str) -> Path | None:
    return next((path for path in (root / name, root / DEVKIT_DATA / name) if path.is_file()), None)


def _kaggle_wnids(root: Path) -> dict[str, str] | None:
    """ImageId -> wnid from LOC_val_solution.csv (``ImageId,PredictionString`` = ``wnid x y x y ...``)."""
    path = _find(root, KAGGLE_SOLUTION)
    if path is None:
        return None
    try:
        rows = list(csv.DictReader(io.StringIO(_text(path), newline="")))
    except csv.Error as error:
        raise DataError(f"{path}: not a CSV table ({error})") from None
    if not rows or "ImageId" not in rows[0] or "PredictionString" not in rows[0]:
        raise DataError(f"{path}: expected columns ImageId,PredictionString")
    wnids = {}
    for line, row in enumerate(rows, start=2):
        if not (row["ImageId"] or "").strip() or not (row["PredictionString"] or "").split():
            raise DataError(f"{path}: line {line} has no ImageId or no wnid in its PredictionString")
        wnids[f"{row['ImageId']}.JPEG"] = row["PredictionString"].split()[0]
    return wnids


def _devkit_wnids(root: Path, names: list[str]) -> dict[str, str]:
    """File name -> wnid from the devkit: the ground truth's ILSVRC2012 ids (one per line, in file
    name order) mapped to wnids by meta.mat."""
    truth, meta = _find(root, GROUND_TRUTH), _find(root, "meta.mat")
    if truth is None or meta is None:
        raise DataError(
            f"imagenet: {root / 'val'} is flat but no ground truth was found: put {GROUND_TRUTH} and meta.mat (the "
            f"devkit's, in the root or {DEVKIT_DATA}) or {KAGGLE_SOLUTION} there, or sort val/ into wnid folders"
        )
    words = _text(truth).split()
    bad = next((word for word in words if not word.isdigit()), None)
    if bad is not None:
        raise DataError(f"{truth}: {bad[:40]!r} is not an ILSVRC2012 id (a whole number per line)")
    ids = [int(word) for word in words]
    if len(ids) != len(names):
        raise DataError(f"{truth}: {len(ids)} labels for {len(names)} images in {root / 'val'}")
    wnid_of = _meta_wnids(meta)
    unknown = next((label for label in ids if label not in wnid_of), None)
    if unknown is not None:
        raise DataError(f"{truth}: id {unknown} is not among the {len(wnid_of)} synsets of {meta}")
    return {name: wnid_of[label] for name, label in zip(names, ids)}


def _meta_wnids(path: Path) -> dict[int, str]:
    synsets = _loadmat(path, ("synsets",), "the devkit's meta.mat")["synsets"]
    try:
        return {int(entry["ILSVRC2012_ID"]): str(entry["WNID"]) for entry in synsets.reshape(-1)}
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as error:
        raise DataError(f"{path}: not the devkit's meta.mat (synsets without ILSVRC2012_ID or WNID: {error})") from None


def tiny_imagenet(root: Path) -> Layout:
    """Tiny ImageNet as distributed: wnids.txt, train/<wnid>/images/*, val/images/* + val_annotations.txt."""
    wnids_file = root / "wnids.txt"
    if not wnids_file.is_file():
        raise DataError(f"tiny-imagenet: {wnids_file} is missing (the distribution's list of 200 wnids)")
    classes = sorted(_text(wnids_file).split())
    if not classes:
        raise DataError(f"{wnids_file}: lists no wnids")
    index = {wnid: i for i, wnid in enumerate(classes)}
    train = []
    for wnid in classes:
        folder = _need_dir(root / "train" / wnid / "images", "tiny-imagenet", f"the training images of {wnid}")
        train += [(path, index[wnid]) for path in _images(folder)]
    annotations = root / "val" / "val_annotations.txt"
    images = _need_dir(root / "val" / "images", "tiny-imagenet", "the validation images")
    if not annotations.is_file():
        raise DataError(f"tiny-imagenet: {annotations} is missing (validation labels)")
    test = []
    for number, line in enumerate(_text(annotations).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"{annotations}: line {number} is not 'file<TAB>wnid<TAB>...'")
        name, wnid = fields[:2]
        if wnid not in index:
            raise DataError(f"{annotations}: {name} has wnid {wnid}, which is not in {wnids_file}")
        if not (images / name).is_file():
            raise DataError(f"{annotations}: {images / name} is missing")
        test.append((images / name, index[wnid]))
    return Layout(classes, train, test)


def flowers102(root: Path) -> Layout:
    """Flowers-102: jpg/, imagelabels.mat, setid.mat (the official train/val/test split)."""
    labels_file, split_file, images = root / "imagelabels.mat", root / "setid.mat", root / "jpg"
    for path in (labels_file, split_file):
        if not path.is_file():
            raise DataError(f"flowers102: {path} is missing (the official labels and train/val/test split)")
    _need_dir(images, "flowers102", "the images, jpg/image_00001.jpg ...")
    labels = np.asarray(_loadmat(labels_file, ("labels",), "the official imagelabels.mat")["labels"]).reshape(-1)
    split = _loadmat(split_file, ("trnid", "valid", "tstid"), "the official setid.mat")
    ids = {key: np.asarray(split[key]).reshape(-1) for key in ("trnid", "valid", "tstid")}
    if not labels.size or not np.issubdtype(labels.dtype, np.number) or labels.min() < 1:
        raise DataError(f"{labels_file}: labels must be whole numbers from 1 (the official file's 1..102)")

    def items(key: str) -> Items:
        chosen = []
        for image_id in ids[key].tolist():
            if not isinstance(image_id, (int, float)) or not 1 <= image_id <= len(labels) or image_id != int(image_id):
                raise DataError(f"{split_file}: {key} names image {image_id!r}, not one of the {len(labels)} labelled")
            path = images / f"image_{int(image_id):05d}.jpg"
            if not path.is_file():
                raise DataError(f"flowers102: {path} is missing ({key} of {split_file})")
            chosen.append((path, int(labels[int(image_id) - 1]) - 1))
        return chosen

    classes = [str(i) for i in range(1, int(labels.max()) + 1)]
    return Layout(classes, items("trnid"), items("tstid"), items("valid"))
