"""The seeds' data sets in their own layouts, made small here: class mapping, split sizes and labels
checked exactly; the evaluation view; every bad layout one clear line."""

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image
from torchvision import transforms

from tests.trainer.synthetic import write_fashion_like
from trainer.data import DataConfig, load_dataset
from trainer.data.images import ImageFiles, eval_resize, eval_view, read_image
from trainer.data.layouts import flowers102, imagenet, tiny_imagenet
from trainer.errors import DataError

WNIDS = ["n01440764", "n01443537", "n01484850"]


def jpeg(path, seed: int, size=(40, 30)) -> None:
    """A small JPEG whose mean colour encodes ``seed`` (so files can be told apart)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((size[1], size[0], 3), (seed * 37) % 256, dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=95)


def imagenet_train(root, per_class=3):
    for c, wnid in enumerate(WNIDS):
        for i in range(per_class):
            jpeg(root / "train" / wnid / f"{wnid}_{i}.JPEG", 10 * c + i)


def test_imagenet_with_wnid_folders_and_with_the_flat_val_and_devkit_ground_truth(tmp_path):
    sorted_root = tmp_path / "sorted"
    imagenet_train(sorted_root)
    for c, wnid in enumerate(WNIDS):
        jpeg(sorted_root / "val" / wnid / f"ILSVRC2012_val_0000000{c + 1}.JPEG", 100 + c)
    layout = imagenet(sorted_root)
    assert layout.classes == WNIDS and len(layout.train) == 9 and [label for _, label in layout.test] == [0, 1, 2]

    flat = tmp_path / "flat"
    imagenet_train(flat)
    truth_wnids = [WNIDS[2], WNIDS[0], WNIDS[1], WNIDS[2]]  # image 1..4
    for index in range(4):
        jpeg(flat / "val" / f"ILSVRC2012_val_{index + 1:08d}.JPEG", 200 + index)
    devkit = flat / "ILSVRC2012_devkit_t12" / "data"
    devkit.mkdir(parents=True)
    # the devkit's ILSVRC2012 ids are not the sorted-wnid order: 1 -> n01484850, 2 -> n01440764, 3 -> n01443537
    ids = {WNIDS[2]: 1, WNIDS[0]: 2, WNIDS[1]: 3}
    synsets = np.array(
        [(ids[w], w) for w in WNIDS], dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O")]
    )  # a struct array, as meta.mat holds it
    scipy.io.savemat(devkit / "meta.mat", {"synsets": synsets})
    (devkit / "ILSVRC2012_validation_ground_truth.txt").write_text("\n".join(str(ids[w]) for w in truth_wnids) + "\n")
    layout = imagenet(flat)
    assert [label for _, label in layout.test] == [2, 0, 1, 2]
    assert [path.name for path, _ in layout.test] == [f"ILSVRC2012_val_{i:08d}.JPEG" for i in range(1, 5)]

    (devkit / "ILSVRC2012_validation_ground_truth.txt").unlink()
    (flat / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\n"
        + "".join(f"ILSVRC2012_val_{i + 1:08d},{w} 1 2 3 4\n" for i, w in enumerate(truth_wnids))
    )
    assert [label for _, label in imagenet(flat).test] == [2, 0, 1, 2]  # Kaggle's solution file instead


def test_bad_imagenet_layouts_are_one_line(tmp_path):
    with pytest.raises(DataError, match=r"imagenet: .*train is missing"):
        imagenet(tmp_path)
    imagenet_train(tmp_path)
    with pytest.raises(DataError, match=r"imagenet: .*val is missing"):
        imagenet(tmp_path)
    jpeg(tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG", 1)
    with pytest.raises(
        DataError, match="is flat but no ground truth was found: put ILSVRC2012_validation_ground_truth"
    ):
        imagenet(tmp_path)
    (tmp_path / "LOC_val_solution.csv").write_text("ImageId,PredictionString\nILSVRC2012_val_00000001,n09999999 1\n")
    with pytest.raises(DataError, match=r"wnids with no train/ folder \(\['n09999999'\]\)"):
        imagenet(tmp_path)


def test_tiny_imagenet_as_distributed(tmp_path):
    (tmp_path / "wnids.txt").write_text("\n".join(reversed(WNIDS)) + "\n")  # the file's order is not the index
    for c, wnid in enumerate(WNIDS):
        for i in range(2):
            jpeg(tmp_path / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", c, (64, 64))
    lines = []
    for i, wnid in enumerate([WNIDS[1], WNIDS[1], WNIDS[0]]):
        jpeg(tmp_path / "val" / "images" / f"val_{i}.JPEG", i, (64, 64))
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (tmp_path / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    layout = tiny_imagenet(tmp_path)
    assert layout.classes == WNIDS and len(layout.train) == 6 and [label for _, label in layout.test] == [1, 1, 0]
    bundle = load_dataset(DataConfig("tiny-imagenet", tmp_path, val_fraction=1 / 3, workers=0))
    assert bundle.input_shape == (3, 64, 64) and bundle.num_classes == 3  # its native size by default
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (4, 2, 3)
    (tmp_path / "val" / "val_annotations.txt").unlink()
    with pytest.raises(DataError, match="val_annotations.txt is missing"):
        tiny_imagenet(tmp_path)


def test_flowers102_with_its_official_split(tmp_path):
    labels = np.array([3, 1, 2, 3, 1, 2, 1, 3, 2])  # 1-based, image i+1
    for i in range(len(labels)):
        jpeg(tmp_path / "jpg" / f"image_{i + 1:05d}.jpg", i)
    scipy.io.savemat(tmp_path / "imagelabels.mat", {"labels": labels[None, :]})
    scipy.io.savemat(
        tmp_path / "setid.mat",
        {"trnid": np.array([[1, 2, 3]]), "valid": np.array([[4, 5]]), "tstid": np.array([[6, 7, 8, 9]])},
    )
    layout = flowers102(tmp_path)
    assert [label for _, label in layout.train] == [2, 0, 1] and [label for _, label in layout.val] == [2, 0]
    assert [path.name for path, _ in layout.test] == [
        "image_00006.jpg",
        "image_00007.jpg",
        "image_00008.jpg",
        "image_00009.jpg",
    ]
    bundle = load_dataset(DataConfig("flowers102", tmp_path, workers=0, image_size=16))
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (3, 2, 4)  # its own validation split
    assert bundle.num_classes == 3
    (tmp_path / "jpg" / "image_00007.jpg").unlink()
    with pytest.raises(DataError, match=r"image_00007.jpg is missing \(tstid"):
        flowers102(tmp_path)
    (tmp_path / "setid.mat").unlink()
    with pytest.raises(DataError, match="setid.mat is missing"):
        flowers102(tmp_path)


def test_kmnist_is_its_own_name(tmp_path):
    write_fashion_like(tmp_path / "kmnist", train=120, test=40)
    bundle = load_dataset(DataConfig("kmnist", tmp_path))
    assert bundle.name == "kmnist" and bundle.input_shape == (1, 28, 28) and len(bundle.test) == 40
    with pytest.raises(DataError, match="kmnist: IDX files"):
        load_dataset(DataConfig("kmnist", tmp_path / "nothing"))


def test_the_evaluation_view_resizes_the_shorter_side_to_n_over_0875_then_centre_crops(tmp_path):
    assert eval_resize(224) == 256 and eval_resize(64) == 73
    path = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (375, 500, 3), dtype=np.uint8)).save(path)
    image = read_image(path)
    view = eval_view(image, 224)
    assert view.shape == (3, 224, 224) and view.dtype == torch.uint8
    reference = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])(image)
    assert (view.int() - reference.int()).abs().max() <= 1  # torchvision's Resize(256) + CenterCrop(224), to rounding
    assert (view.int() - reference.int()).abs().float().mean() < 0.25  # v1 and v2 resizes round differently
    train = ImageFiles([(path, 0)], 224, train=True)
    a, b = train[(0, 7)][0], train[(0, 7)][0]
    assert a.shape == (3, 224, 224) and torch.equal(a, b) and not torch.equal(a, train[(0, 8)][0])


def test_image_batches_do_not_depend_on_the_number_of_workers(tmp_path):
    for c in range(2):
        for split in ("train", "val"):
            for i in range(5):
                jpeg(tmp_path / split / f"class{c}" / f"{i}.jpg", 7 * c + i, (30, 26))
    batches = {}
    for workers in (0, 2):
        bundle = load_dataset(DataConfig("imagefolder", tmp_path, image_size=16, workers=workers, val_fraction=0.2))
        batches[workers] = [(x.clone(), y.clone()) for x, y in bundle.batches("train", 3, shuffle_seed=11)]
    assert len(batches[0]) == 3
    for (x0, y0), (x2, y2) in zip(batches[0], batches[2]):
        assert torch.equal(x0, x2) and torch.equal(y0, y2)
    again = load_dataset(DataConfig("imagefolder", tmp_path, image_size=16, workers=0, val_fraction=0.2))
    other = [x for x, _ in again.batches("train", 3, shuffle_seed=12)]
    assert not all(torch.equal(a, b) for a, b in zip(other, [x for x, _ in batches[0]]))


def test_reused_buffers_give_the_same_batches_read_one_at_a_time(tmp_path):
    for c in range(2):
        for split in ("train", "val"):
            for i in range(5):
                jpeg(tmp_path / split / f"class{c}" / f"{i}.jpg", 3 * c + i, (30, 26))
    bundle = load_dataset(DataConfig("imagefolder", tmp_path, image_size=16, workers=0, val_fraction=0.0))
    fresh = [x for x, _ in bundle.batches("train", 3, shuffle_seed=2)]
    reused = [x.clone() for x, _ in bundle.batches("train", 3, shuffle_seed=2, reuse_buffers=True)]
    assert len(fresh) == 4 and all(torch.equal(a, b) for a, b in zip(fresh, reused))
    kept = [x for x, _ in bundle.batches("train", 3, shuffle_seed=2, reuse_buffers=True)]
    assert kept[0].data_ptr() == kept[2].data_ptr()  # two alternating buffers: clone a batch to keep it
