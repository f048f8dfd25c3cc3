"""Masks made elsewhere: every source form reads back, and misfits are one-line errors."""

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from pruning import LayerSelection, MaskConfig
from pruning.apply import prune_model, write_outputs
from pruning.errors import PruningError
from pruning.sources import fit_masks, load_mask_source
from pruning.storage import masks_sha256, save_masks
from topology.build import PlanDraft, save_drafts


def model():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 16, 3), nn.Conv2d(16, 16, 1), nn.Flatten(), nn.LazyLinear(10))


def pruned(tmp_path):
    net = model()
    net(torch.zeros(1, 3, 12, 12))
    result = prune_model(net, MaskConfig("xnet", degree=4, selection=LayerSelection(prune_first=False)), (3, 12, 12))
    write_outputs(tmp_path / "applied", net, result, {})
    return result


def test_every_source_gives_the_same_masks(tmp_path):
    result = pruned(tmp_path)
    expected = masks_sha256(result.masks)
    assert masks_sha256(load_mask_source(tmp_path / "applied" / "masks.npz")) == expected
    assert masks_sha256(load_mask_source(tmp_path / "applied")) == expected  # the directory
    assert masks_sha256(load_mask_source(tmp_path / "applied" / "model.pt")) == expected  # the checkpoint
    drafts = [
        PlanDraft(name.replace(".", "_"), mask.numpy().astype("uint8"), "mask", {"layer": name})
        for name, mask in result.masks.items()
    ]
    save_drafts(drafts, tmp_path / "exported", kind="bipartite")
    assert masks_sha256(load_mask_source(tmp_path / "exported")) == expected


def test_hash_ignores_kernel_broadcast_dims_and_order():
    mask = torch.rand(6, 4) > 0.5
    assert masks_sha256({"a": mask, "b": ~mask}) == masks_sha256(
        {"b": (~mask)[:, :, None, None], "a": mask.to(torch.uint8)}
    )
    assert masks_sha256({"a": mask}) != masks_sha256({"a": ~mask})
    assert masks_sha256({"a": mask}) != masks_sha256({"c": mask})


def test_torch_prune_masks_are_read(tmp_path):
    net = model()
    net(torch.zeros(1, 3, 12, 12))
    torch_prune.random_unstructured(net[1], "weight", amount=0.5)
    torch.save(net.state_dict(), tmp_path / "tp.pt")
    masks = load_mask_source(tmp_path / "tp.pt")
    assert list(masks) == ["1"] and masks["1"].shape == (16, 8, 3, 3)
    assert torch.equal(masks["1"], net[1].weight_mask.bool())


def test_misfits_and_bad_sources_name_the_file(tmp_path):
    net = model()
    net(torch.zeros(1, 3, 12, 12))
    with pytest.raises(
        PruningError, match=r"src\.npz: mask for layer 'missing', which the model has no prunable layer of"
    ):
        fit_masks(net, {"missing": torch.ones(8, 3, dtype=torch.bool)}, "src.npz")
    with pytest.raises(
        PruningError, match=r"src\.npz: layer 1: mask of shape \(4, 8\) does not fit weight of shape \(16, 8, 3, 3\)"
    ):
        fit_masks(net, {"1": torch.ones(4, 8, dtype=torch.bool)}, "src.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PruningError, match="empty: holds neither masks.npz nor exported layer plans"):
        load_mask_source(tmp_path / "empty")
    with pytest.raises(PruningError, match="nothing: no such file or directory"):
        load_mask_source(tmp_path / "nothing")
    (tmp_path / "x.txt").write_text("1 2\n")
    with pytest.raises(PruningError, match="x.txt: not a mask source"):
        load_mask_source(tmp_path / "x.txt")
    save_masks(tmp_path / "m.npz", {"1": torch.ones(16, 8, dtype=torch.bool)})
    fitted = fit_masks(net, load_mask_source(tmp_path / "m.npz"), tmp_path / "m.npz")
    assert fitted["1"].shape == (16, 8, 1, 1)
