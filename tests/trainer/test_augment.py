"""--augment policies: parsed, seeded, exact where a hand computation can say, and in the identity;
in-memory data on the training device gives the host's batches; --val-fraction 0."""

import pytest
import torch

from tests.trainer.synthetic import write_cifar_like, write_fashion_like
from trainer.config import TrainConfig
from trainer.data import DataConfig, load_dataset
from trainer.data.augment import batch_augmentation, crop_and_flip, cutout, parse_policy, rotate
from trainer.data.memory import TensorSplit, tensor_batches
from trainer.errors import DataError, TrainError
from trainer.identity import config_hash, identify
from trainer.run import run_training


def test_policies_parse_to_their_steps_and_bad_ones_are_one_line():
    policy = parse_policy("standard,cutout:8,rotate")
    assert [str(step) for step in policy.steps] == ["standard", "cutout:8", "rotate:15"]
    assert str(parse_policy("none")) == "none" and parse_policy("none").steps == ()
    for bad, message in [
        ("flip", "unknown step 'flip'"),
        ("cutout:x", "'x' is not a number"),
        ("cutout:-2", "must be a positive finite number"),
        ("cutout:nan", "must be a positive finite number"),
        ("rotate:inf", "must be a positive finite number"),
        ("cutout:2.5", "cutout takes a whole number of pixels"),
        ("none,cutout", "none cannot be combined"),
        ("autoaugment:3", "autoaugment takes no value"),
    ]:
        with pytest.raises(DataError, match=message):
            parse_policy(bad)


def test_cutout_zeroes_exactly_one_square_clipped_at_the_border():
    images = torch.ones(64, 1, 10, 10)
    out = cutout(images, torch.Generator().manual_seed(0), 4)
    holes = (out == 0).sum(dim=(1, 2, 3))
    assert holes.max() == 16 and holes.min() >= 4  # a 4x4 square, at worst its corner quarter inside
    for image in out[:, 0]:
        rows, cols = torch.nonzero(image == 0, as_tuple=True)
        assert (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1) == len(rows)  # one rectangle
    again = cutout(images, torch.Generator().manual_seed(0), 4)
    assert torch.equal(out, again) and not torch.equal(out, cutout(images, torch.Generator().manual_seed(1), 4))


def test_rotation_by_a_drawn_angle_matches_a_hand_rotation_and_is_seeded():
    image = torch.zeros(1, 1, 9, 9)
    image[0, 0, 4, 6] = 1.0  # two pixels right of the centre
    generator = torch.Generator().manual_seed(3)
    angle = (torch.rand(1, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2 - 1) * 90
    out = rotate(image, generator, 90)
    moved = torch.nonzero(out[0, 0] == out[0, 0].max())[0].tolist()
    radians = float(angle) * torch.pi / 180
    # affine_grid samples the input at R(angle) (x, y) for output (x, y): the dot at (+2, 0) from the
    # centre appears at R(-angle) (2, 0) = (2 cos, -2 sin), rows growing with y
    expected = [
        round(4 - 2 * float(torch.sin(torch.tensor(radians)))),
        round(4 + 2 * float(torch.cos(torch.tensor(radians)))),
    ]
    assert abs(moved[0] - expected[0]) <= 1 and abs(moved[1] - expected[1]) <= 1
    assert torch.equal(out, rotate(image, torch.Generator().manual_seed(3), 90))


def test_crop_and_flip_is_the_same_on_any_device_for_the_same_seed():
    images = torch.randn(16, 3, 8, 8)
    host = crop_and_flip(images, torch.Generator().manual_seed(5))
    assert torch.equal(host, crop_and_flip(images.clone(), torch.Generator().manual_seed(5)))
    # hand check of one example: its padded crop offsets and flip come from the generator in this order
    generator = torch.Generator().manual_seed(5)
    dy, dx = torch.randint(0, 9, (16,), generator=generator), torch.randint(0, 9, (16,), generator=generator)
    flip = torch.rand(16, generator=generator) < 0.5
    padded = torch.nn.functional.pad(images, (4,) * 4)
    first = padded[0, :, dy[0] : dy[0] + 8, dx[0] : dx[0] + 8]
    assert torch.equal(host[0], first.flip(-1) if flip[0] else first)


def test_in_memory_batches_on_the_device_equal_the_hosts(tmp_path):
    write_cifar_like(tmp_path, 10)
    host = load_dataset(DataConfig("cifar10", tmp_path, augment="standard,cutout:8"))
    moved = load_dataset(DataConfig("cifar10", tmp_path, augment="standard,cutout:8")).to_device(torch.device("cpu"))
    for (a, la), (b, lb) in zip(host.batches("train", 32, shuffle_seed=4), moved.batches("train", 32, shuffle_seed=4)):
        assert torch.equal(a, b) and torch.equal(la, lb)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (the CPU test above runs everywhere)")
def test_in_memory_batches_on_cuda_equal_the_hosts(tmp_path):
    write_cifar_like(tmp_path, 10)
    host = load_dataset(DataConfig("cifar10", tmp_path, augment="standard,cutout:8,rotate:10"))
    cuda = load_dataset(DataConfig("cifar10", tmp_path, augment="standard,cutout:8,rotate:10")).to_device(
        torch.device("cuda")
    )
    for (a, la), (b, lb) in zip(host.batches("train", 32, shuffle_seed=4), cuda.batches("train", 32, shuffle_seed=4)):
        assert b.device.type == "cuda" and torch.equal(la, lb.cpu())
        torch.testing.assert_close(a, b.cpu(), rtol=1e-5, atol=1e-5)  # rotation's interpolation may round apart


def test_image_policies_on_in_memory_batches_are_seeded(tmp_path):
    write_cifar_like(tmp_path, 10)
    bundle = load_dataset(DataConfig("cifar10", tmp_path, augment="trivialaugment"))
    a = next(iter(bundle.batches("train", 8, shuffle_seed=1)))[0]
    b = next(iter(bundle.batches("train", 8, shuffle_seed=1)))[0]
    plain = next(iter(load_dataset(DataConfig("cifar10", tmp_path, augment="none")).batches("train", 8, 1)))[0]
    assert torch.equal(a, b) and not torch.equal(a, plain)
    assert bundle.policy == "trivialaugment"


def test_defaults_per_data_set_and_the_upscaled_fashion(tmp_path):
    write_fashion_like(tmp_path, train=120, test=40)
    fashion = load_dataset(DataConfig("fashion-mnist", tmp_path))
    assert fashion.augment is None and fashion.policy == "none"
    up = load_dataset(DataConfig("fashion-mnist", tmp_path, image_size=32))
    assert up.input_shape == (1, 32, 32) and up.train.images.shape[-2:] == (32, 32)
    assert batch_augmentation(parse_policy("standard"), in_memory_standard=False) is None  # folders crop per image


def test_augmentation_and_image_size_are_in_the_identity_and_checked():
    base = TrainConfig(model="mlp", dataset="cifar10")
    hashes = {
        config_hash(identify(TrainConfig(model="mlp", dataset="cifar10", **options))[1])
        for options in ({}, {"augment": "standard"}, {"augment": "standard,cutout:16"}, {"image_size": 40})
    }
    assert len(hashes) == 4
    assert config_hash(identify(base)[1]) == config_hash(
        identify(TrainConfig(model="mlp", dataset="cifar10", workers=7))[1]
    )
    with pytest.raises(TrainError, match="unknown step 'blur'"):
        TrainConfig(model="mlp", augment="blur").validate()
    assert TrainConfig.from_dict({**TrainConfig(model="mlp").to_dict(), "augment": False}).augment == "none"


def test_val_fraction_zero_trains_on_everything_and_reports_the_final_epoch(tmp_path):
    write_fashion_like(tmp_path / "data", train=200, test=60)
    config = TrainConfig(
        model="mlp", model_options={"width": 16}, data_dir=tmp_path / "data", epochs=2, val_fraction=0.0,
        out=tmp_path / "runs", quiet=True, batch_size=50,
    )  # fmt: skip
    outcome = run_training(config.validate())
    row = outcome.row
    assert row["model_selection"] == "final epoch (no validation split)"
    assert row["best_epoch"] == 2 and row["best_acc"] == row["final_acc"]
    log = (outcome.run_dir / "log.csv").read_text().splitlines()
    assert log[1].split(",")[log[0].split(",").index("val_acc")] in ("", "nan")  # no validation accuracy
    everything = load_dataset(DataConfig("fashion-mnist", tmp_path / "data", val_fraction=0.0))
    assert (len(everything.train), len(everything.val)) == (200, 0)
    split = TensorSplit(torch.zeros(4, 1, 1, 1), torch.zeros(4, dtype=torch.int64))
    assert sum(len(y) for _, y in tensor_batches(split, 3)) == 4
    with pytest.raises(TrainError, match="--val-fraction: 1.0 is out of range: it must be >= 0 and < 1"):
        TrainConfig(model="mlp", val_fraction=1.0).validate()
