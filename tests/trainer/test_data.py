"""Data loaders on small files generated in the real formats; none downloads anything."""

import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from tests.trainer.synthetic import write_cifar_like, write_fashion_like
from trainer.data import DataConfig, load_dataset
from trainer.data.augment import crop_and_flip
from trainer.data.idx import read_idx, write_idx
from trainer.data.memory import TensorSplit, tensor_batches
from trainer.errors import DataError


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    assert (read_idx(path) == array).all()


def test_idx_errors_name_the_file(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="bad: not an IDX file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", np.zeros((4, 4), np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(DataError, match="short: IDX body has 13 bytes, expected 16"):
        read_idx(tmp_path / "short")


def test_fashion_mnist_from_a_data_dir(tmp_path):
    write_fashion_like(tmp_path / "fm", train=1000, test=200)
    bundle = load_dataset(DataConfig("fashion-mnist", tmp_path / "fm", val_fraction=0.1, split_seed=3))
    assert bundle.input_shape == (1, 28, 28) and bundle.num_classes == 10
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (900, 100, 200)
    assert abs(float(bundle.train.images.mean())) < 1e-4 and abs(float(bundle.train.images.std()) - 1) < 1e-3
    again = load_dataset(DataConfig("fashion-mnist", tmp_path / "fm", val_fraction=0.1, split_seed=3))
    assert torch.equal(bundle.val.labels, again.val.labels)
    other = load_dataset(DataConfig("fashion-mnist", tmp_path / "fm", val_fraction=0.1, split_seed=4))
    assert not torch.equal(bundle.val.images, other.val.images)


def test_torchvision_raw_layout_and_uncompressed_files(tmp_path):
    write_fashion_like(tmp_path / "FashionMNIST" / "raw", train=200, test=50, gz=False)
    assert len(load_dataset(DataConfig("fashion-mnist", tmp_path)).test) == 50
    limited = load_dataset(DataConfig("fashion-mnist", tmp_path, max_test=20))
    assert len(limited.test) == 20 and len(limited.train) == len(
        load_dataset(DataConfig("fashion-mnist", tmp_path)).train
    )
    write_fashion_like(tmp_path / "MNIST" / "raw", train=200, test=50)
    assert load_dataset(DataConfig("mnist", tmp_path)).input_shape == (1, 28, 28)


def test_missing_files_say_where_and_how(tmp_path):
    with pytest.raises(DataError) as error:
        load_dataset(DataConfig("fashion-mnist", tmp_path / "nothing"))
    message = str(error.value)
    assert str(tmp_path / "nothing") in message and "apt-get install dataset-fashion-mnist" in message


@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_pickle_batches(tmp_path, classes):
    folder = write_cifar_like(tmp_path / ("cifar-10-batches-py" if classes == 10 else "cifar-100-python"), classes)
    bundle = load_dataset(DataConfig(f"cifar{classes}", tmp_path))
    assert bundle.input_shape == (3, 32, 32) and bundle.num_classes == classes
    assert len(bundle.test) == 100 and len(bundle.train) + len(bundle.val) == 500
    assert bundle.augment is not None
    assert bundle.source == str(folder)


def test_cifar_loader_refuses_pickled_code(tmp_path):
    write_cifar_like(tmp_path, 10)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with (tmp_path / "test_batch").open("wb") as handle:
        pickle.dump({b"data": Evil()}, handle)
    with pytest.raises(DataError, match="global .*system is not allowed"):
        load_dataset(DataConfig("cifar10", tmp_path))


def test_imagefolder(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for label in ("cat", "dog"):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(6):
                Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    bundle = load_dataset(DataConfig("imagefolder", tmp_path, image_size=16, workers=0, val_fraction=0.25))
    assert bundle.num_classes == 2 and bundle.input_shape == (3, 16, 16)
    images, labels = next(iter(bundle.batches("train", 4, shuffle_seed=1)))
    assert images.shape == (4, 3, 16, 16) and labels.dtype == torch.int64
    assert len(bundle.train) == 9 and len(bundle.val) == 3 and len(bundle.test) == 12


def test_batches_are_seeded_and_shards_partition_the_data():
    split = TensorSplit(torch.arange(100, dtype=torch.float32).reshape(100, 1, 1, 1), torch.arange(100))
    first = torch.cat([y for _, y in tensor_batches(split, 10, shuffle_seed=5)])
    again = torch.cat([y for _, y in tensor_batches(split, 10, shuffle_seed=5)])
    assert torch.equal(first, again) and sorted(first.tolist()) == list(range(100))
    shards = [torch.cat([y for _, y in tensor_batches(split, 10, 5, rank=r, world=3)]) for r in range(3)]
    seen = torch.cat(shards).tolist()
    assert len(seen) == len(set(seen)) == 90  # 10 batches: 9 shared out evenly, the 10th dropped
    assert all(len(s) == 30 for s in shards)


def test_crop_and_flip_keeps_shape_and_is_seeded():
    images = torch.randn(8, 3, 32, 32)
    a = crop_and_flip(images, torch.Generator().manual_seed(1))
    b = crop_and_flip(images, torch.Generator().manual_seed(1))
    assert a.shape == images.shape and torch.equal(a, b)
    assert not torch.equal(a, images)
