"""Every damaged data layout is one DataError naming the file and what is wrong, raised when the
layout is listed, before any training (audit cases D26, D37, D39, D40, D46-D50, D62-D69, D77, D81,
D84, D87, D89): a good layout is made, one piece of it is damaged, and the message is checked."""

import gzip

import numpy as np
import pytest
import scipy.io
import torch

from tests.trainer.test_data_layouts import WNIDS, imagenet_train, jpeg
from trainer.data import DataConfig, load_dataset
from trainer.data.idx import read_idx, write_idx
from trainer.data.layouts import flowers102, image_folder, imagenet, tiny_imagenet
from trainer.data.registry import _worker_errors_surfaced
from trainer.errors import DataError


def flat_imagenet(root):
    imagenet_train(root)
    for index in range(3):
        jpeg(root / "val" / f"ILSVRC2012_val_{index + 1:08d}.JPEG", index)
    synsets = np.array([(i + 1, w) for i, w in enumerate(WNIDS)], dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O")])
    scipy.io.savemat(root / "meta.mat", {"synsets": synsets})
    (root / "ILSVRC2012_validation_ground_truth.txt").write_text("1\n2\n3\n")
    return root


def damage_truth(text):
    return lambda root: (root / "ILSVRC2012_validation_ground_truth.txt").write_text(text)


def kaggle(data: bytes):
    def write(root):
        (root / "ILSVRC2012_validation_ground_truth.txt").unlink()
        (root / "LOC_val_solution.csv").write_bytes(data)

    return write


IMAGENET = [
    (damage_truth("1\nabc\n3\n"), "ILSVRC2012_validation_ground_truth.txt: 'abc' is not an ILSVRC2012 id"),
    (damage_truth("1\n999\n3\n"), "ILSVRC2012_validation_ground_truth.txt: id 999 is not among the 3 synsets"),
    (
        lambda root: (root / "ILSVRC2012_validation_ground_truth.txt").write_bytes(b"1\n\xe9\n3\n"),
        "ILSVRC2012_validation_ground_truth.txt: not UTF-8 text",
    ),
    (
        lambda root: (root / "meta.mat").write_bytes((root / "meta.mat").read_bytes()[:200]),
        "meta.mat: not the devkit's meta.mat",
    ),
    (
        lambda root: scipy.io.savemat(root / "meta.mat", {"synsets": np.array([(1,)], dtype=[("WNID", "O")])}),
        "meta.mat: not the devkit's meta.mat (synsets without ILSVRC2012_ID or WNID",
    ),
    (
        lambda root: scipy.io.savemat(root / "meta.mat", {"other": 1}),
        "meta.mat: not the devkit's meta.mat (no synsets)",
    ),
    (kaggle(b"ImageId,PredictionString\nILSVRC2012_val_00000001,\n"), "line 2 has no ImageId or no wnid"),
    (kaggle("ImageId,PredictionString\nx,n0\xe9 1\n".encode("latin-1")), "LOC_val_solution.csv: not UTF-8 text"),
]


@pytest.mark.parametrize(("damage", "message"), IMAGENET, ids=range(len(IMAGENET)))
def test_a_damaged_imagenet_ground_truth_is_one_line(tmp_path, damage, message):
    root = flat_imagenet(tmp_path)
    assert [label for _, label in imagenet(root).test] == [0, 1, 2]
    damage(root)
    with pytest.raises(DataError) as error:
        imagenet(root)
    assert message in str(error.value) and "\n" not in str(error.value)


def tiny(root, annotations: bytes, wnids: bytes | None = None):
    (root / "wnids.txt").write_bytes(wnids if wnids is not None else "\n".join(WNIDS).encode())
    for wnid in WNIDS:
        jpeg(root / "train" / wnid / "images" / f"{wnid}_0.JPEG", 1, (64, 64))
    jpeg(root / "val" / "images" / "val_0.JPEG", 2, (64, 64))
    (root / "val" / "val_annotations.txt").write_bytes(annotations)
    return root


@pytest.mark.parametrize(
    ("annotations", "wnids", "message"),
    [
        (b"val_0.JPEG n01440764 0 0 1 1\n", None, "val_annotations.txt: line 1 is not 'file<TAB>wnid<TAB>...'"),
        (b"val_0.JPEG\tn0\xff\n", None, "val_annotations.txt: not UTF-8 text"),
        (b"val_0.JPEG\tn01440764\n", b"n01\xe9\n", "wnids.txt: not UTF-8 text"),
        (b"val_0.JPEG\tn01440764\n", b"\n", "wnids.txt: lists no wnids"),
    ],
    ids=["spaces", "annotations latin-1", "wnids latin-1", "no wnids"],
)
def test_a_damaged_tiny_imagenet_is_one_line(tmp_path, annotations, wnids, message):
    with pytest.raises(DataError) as error:
        tiny_imagenet(tiny(tmp_path, annotations, wnids))
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trnid": np.array([[0, 1]])}, "setid.mat: trnid names image 0, not one of the 4 labelled"),
        ({"tstid": np.array([[4, 5]])}, "setid.mat: tstid names image 5, not one of the 4 labelled"),
        ({"labels": np.array([[0, 1, 1, 2]])}, "imagelabels.mat: labels must be whole numbers from 1"),
        ({"truncate": True}, "setid.mat: not the official setid.mat"),
        ({"drop": "valid"}, "setid.mat: not the official setid.mat (no valid)"),
    ],
    ids=["id 0", "id beyond", "label 0", "truncated", "no valid"],
)
def test_a_damaged_flowers102_is_one_line(tmp_path, change, message):
    for i in range(4):
        jpeg(tmp_path / "jpg" / f"image_{i + 1:05d}.jpg", i)
    scipy.io.savemat(tmp_path / "imagelabels.mat", {"labels": change.get("labels", np.array([[1, 2, 1, 2]]))})
    split = {"trnid": np.array([[1, 2]]), "valid": np.array([[3]]), "tstid": np.array([[4]])}
    split.update({k: v for k, v in change.items() if k in split})
    split.pop(change.get("drop"), None)
    scipy.io.savemat(tmp_path / "setid.mat", split)
    if change.get("truncate"):
        (tmp_path / "setid.mat").write_bytes((tmp_path / "setid.mat").read_bytes()[:150])
    with pytest.raises(DataError) as error:
        flowers102(tmp_path)
    assert message in str(error.value)


def test_an_empty_class_folder_is_refused_as_torchvision_does(tmp_path):
    for split in ("train", "val"):
        for c in ("a", "b"):
            jpeg(tmp_path / split / c / "x.jpg", 1)
        (tmp_path / split / "c").mkdir()
    with pytest.raises(DataError, match=r"class folder .*train/c holds no image files \(1 such\)"):
        image_folder(tmp_path)


def test_an_idx_header_of_absurd_size_is_refused_before_reading(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + (2**31).to_bytes(4, "big") * 2 + (4).to_bytes(4, "big")))
    with pytest.raises(MemoryError, match=r"an IDX array of shape \(2147483648, 2147483648, 4\) would need"):
        read_idx(path)
    write_idx(tmp_path / "ok.gz", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    assert np.array_equal(read_idx(tmp_path / "ok.gz"), np.arange(24).reshape(2, 3, 4))


def kmnist(root, n, labels):
    root.mkdir()
    rng = np.random.default_rng(0)
    write_idx(root / "train-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 28, 28)))
    write_idx(root / "train-labels-idx1-ubyte.gz", labels)
    write_idx(root / "t10k-images-idx3-ubyte.gz", rng.integers(0, 255, (4, 28, 28)))
    write_idx(root / "t10k-labels-idx1-ubyte.gz", np.arange(4))
    return root


def test_labels_outside_the_classes_and_empty_splits_are_refused_when_loaded(tmp_path):
    root = kmnist(tmp_path / "oob", 20, np.arange(20) % 10 + 100)
    with pytest.raises(DataError, match=r"the train split has label 109, outside the 10 classes 0..9"):
        load_dataset(DataConfig("kmnist", root, val_fraction=0.0))
    root = kmnist(tmp_path / "ok", 20, np.arange(20) % 10)
    with pytest.raises(DataError, match=r"the train split holds no example after --max-train 10 and --val-fraction"):
        load_dataset(DataConfig("kmnist", root, val_fraction=0.99, max_train=10))
    with pytest.raises(DataError, match=r"the test split holds no example after --max-test 0"):
        load_dataset(DataConfig("kmnist", root, max_test=0))
    assert len(load_dataset(DataConfig("kmnist", root, val_fraction=0.5)).train) == 10


def test_an_error_raised_in_a_loader_worker_reaches_the_user_as_its_own_line():
    class Broken(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            raise DataError(f"images/{index}.jpg: not an image file")

    loader = torch.utils.data.DataLoader(Broken(), batch_size=2, num_workers=1)
    with pytest.raises(DataError) as error:
        list(_worker_errors_surfaced(loader))
    assert str(error.value) == "images/0.jpg: not an image file"
