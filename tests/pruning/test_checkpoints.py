"""Checkpoints from elsewhere: wrappers, prefixes, renames, masked formats, torchvision's files,
and the one-line mismatch error."""

import pytest
import torch
import torchvision
from torch import nn
from torch.nn.utils import prune

from pruning.checkpoints import load_checkpoint, read_checkpoint
from pruning.errors import PruningError
from pruning.masking import apply_masks, current_masks
from trainer.models import build_model


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))


def logits(model, x):
    model.eval()
    with torch.no_grad():
        return model(x)


X = torch.randn(2, 3, 8, 8)


def trained():
    model = net()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))  # differs from a fresh net()
        model[1].running_mean.add_(0.5)
    return model


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"model_state_dict": sd, "optimizer_state_dict": {}},
        lambda sd: {"net": sd, "acc": 91.2},
        lambda sd: {"model": {"state_dict": sd}},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},  # DataParallel / DDP
        lambda sd: {"net_state_dict": sd, "optimizer_state_dict": {}, "acc": torch.tensor(93.1), "epoch": 4},
    ],
    ids=["plain", "state_dict", "model_state_dict", "net", "nested", "module-prefix", "net_state_dict"],
)
def test_every_wrapper_loads_to_the_same_logits(wrap, tmp_path):
    source = trained()
    path = tmp_path / "c.pt"
    torch.save(wrap(source.state_dict()), path)
    target = net()
    assert load_checkpoint(target, path) == {}
    torch.testing.assert_close(logits(target, X), logits(source, X), rtol=0, atol=0)


def test_torchvisions_resnet18_file_loads_into_the_zoo_model(tmp_path):
    torch.manual_seed(1)
    source = torchvision.models.resnet18(weights=None, num_classes=10)
    torch.save(source.state_dict(), tmp_path / "resnet18.pth")  # also the layout EDropout's public code saves
    target = build_model("resnet18", (3, 32, 32), 10)
    load_checkpoint(target, tmp_path / "resnet18.pth")
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(logits(target, x), logits(source, x), rtol=0, atol=0)


def test_masked_checkpoints_bring_their_masks(tmp_path):
    source = trained()
    prune.l1_unstructured(source[4], "weight", amount=0.5)  # torch.nn.utils.prune: weight_orig + weight_mask
    torch.save(source.state_dict(), tmp_path / "pruned.pt")
    target = net()
    masks = load_checkpoint(target, tmp_path / "pruned.pt")
    assert set(masks) == {"4"} and torch.equal(current_masks(target)["4"], source[4].weight_mask.bool())
    torch.testing.assert_close(logits(target, X), logits(source, X), rtol=0, atol=0)

    ours = trained()
    apply_masks(ours, {"0": torch.rand(4, 3, 1, 1) < 0.5})
    torch.save(ours.state_dict(), tmp_path / "ours.pt")
    plain = net()
    masks = load_checkpoint(plain, tmp_path / "ours.pt", with_masks=False)  # --init-from: weights, masks returned
    assert set(masks) == {"0"} and current_masks(plain) == {}
    torch.testing.assert_close(logits(plain, X), logits(ours, X), rtol=0, atol=0)


def test_renames_and_the_one_line_mismatch_error(tmp_path):
    source = trained()
    torch.save({f"backbone.{k}": v for k, v in source.state_dict().items()}, tmp_path / "b.pt")
    expected = r"b.pt: the weights do not fit the model: 8 missing \(0.weight, 0.bias, 1.weight, ...\); 9 unexpected"
    with pytest.raises(PruningError, match=expected + r" \(backbone.0.weight 4x3x3x3, backbone.0.bias 4"):
        load_checkpoint(net(), tmp_path / "b.pt")
    target = net()
    load_checkpoint(target, tmp_path / "b.pt", key_map=(("backbone.", ""),))
    torch.testing.assert_close(logits(target, X), logits(source, X), rtol=0, atol=0)

    wide = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 7))
    torch.save(wide.state_dict(), tmp_path / "w.pt")
    with pytest.raises(PruningError, match=r"2 mis-shaped \(4.weight 7x144 vs 5x144, 4.bias 7 vs 5\)"):
        load_checkpoint(net(), tmp_path / "w.pt")
    torch.save({**source.state_dict(), "extra.weight": torch.zeros(2, 2)}, tmp_path / "x.pt")
    with pytest.raises(PruningError, match=r"1 unexpected \(extra.weight 2x2\)"):
        load_checkpoint(net(), tmp_path / "x.pt")


class Payload:
    """Not a tensor: unpickling it would run code, so weights_only refuses it."""


def test_pickles_with_code_and_files_without_weights_are_refused(tmp_path):
    torch.save({"state_dict": Payload()}, tmp_path / "code.pt")
    with pytest.raises(PruningError, match="code.pt: not a readable PyTorch checkpoint"):
        read_checkpoint(tmp_path / "code.pt")
    torch.save({"epoch": 3, "acc": torch.tensor(1.0), "notes": "x"}, tmp_path / "none.pt")
    with pytest.raises(PruningError, match="no state_dict of tensors found"):
        read_checkpoint(tmp_path / "none.pt")
    with pytest.raises(PruningError, match="missing.pt: no such file"):
        read_checkpoint(tmp_path / "missing.pt")
