"""``tv:NAME`` and ``timm:NAME``: torchvision's and timm's models by name, without weights,
masked and counted like the zoo's."""

import pytest
import torch
import torchvision

from pruning import MaskConfig
from pruning.apply import prune_model
from tests.imports import hide_module
from trainer.models import build_model, checked_model_options
from trainer.models.errors import ModelError


@pytest.mark.parametrize("name", ["resnet18", "alexnet", "squeezenet1_1", "densenet121", "vgg11_bn"])
def test_torchvision_models_by_name_are_torchvisions_own(name):
    ours = build_model(f"tv:{name}", (3, 64, 64), 10)
    theirs = torchvision.models.get_model(name, weights=None, num_classes=10)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, 64, 64)
    ours.eval(), theirs.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


def test_a_torchvision_model_takes_the_data_sets_channels_and_is_masked_and_counted():
    model = build_model("tv:resnet18", (1, 28, 28), 10)
    assert model.conv1.in_channels == 1 and model.conv1.weight.shape == (64, 1, 7, 7)
    result = prune_model(model, MaskConfig("xnet", degree=4), (1, 28, 28))
    layers = {layer.name: layer for layer in result.summary.layers}
    # a masked 3x3 conv of 256 -> 256 channels keeps degree 4 inputs per output: 256 * 4 * 9 weights
    assert layers["layer3.1.conv1"].weights_kept == 256 * 4 * 9 and layers["layer3.1.conv1"].masked
    assert result.summary.params_total == sum(p.numel() for p in model.parameters())
    assert not layers["conv1"].masked and not layers["fc"].masked  # first and last stay dense by default


def test_grouped_convolutions_of_a_torchvision_model_are_masked_per_group_and_depthwise_ones_stay_dense():
    model = build_model("tv:resnext50_32x4d", (3, 32, 32), 10)
    result = prune_model(model, MaskConfig("xnet", degree=2), (3, 32, 32))
    mask = result.masks["layer1.0.conv2"]  # 128 -> 128 channels in 32 groups of 4
    assert mask.shape == (128, 4) and (mask.sum(dim=1) == 2).all()
    layer = next(layer for layer in result.summary.layers if layer.name == "layer1.0.conv2")
    assert (layer.weights_kept, layer.weights_total) == (128 * 2 * 9, 128 * 4 * 9)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.isfinite(model.eval()(x)).all()
    mobile = prune_model(
        build_model("tv:mobilenet_v3_small", (3, 32, 32), 10), MaskConfig("xnet", degree=4), (3, 32, 32)
    )
    assert any("features.1.block.0.0: depthwise convolution" in notice for notice in mobile.notices)
    assert "features.1.block.0.0" not in mobile.masks and "features.1.block.2.0" in mobile.masks


def test_unknown_names_options_and_a_missing_timm_are_one_line_errors(monkeypatch):
    with pytest.raises(ModelError, match="tv:resnet7 is not a torchvision classification model"):
        build_model("tv:resnet7", (3, 32, 32), 10)
    with pytest.raises(ModelError, match="does not take width"):
        checked_model_options("tv:resnet18", {"width": 3})
    hide_module(monkeypatch, "timm")
    with pytest.raises(ModelError, match=r"pip install 'topoprune\[timm\]'"):
        build_model("timm:resnet18", (3, 32, 32), 10)


def test_timm_models_by_name():
    timm = pytest.importorskip("timm", reason="the timm extra is not installed (pip install 'topoprune[timm]')")
    ours = build_model("timm:resnet18", (1, 32, 32), 7)
    assert ours.conv1.in_channels == 1 and ours.get_classifier().out_features == 7
    theirs = timm.create_model("resnet18", pretrained=False, num_classes=7, in_chans=1)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    with pytest.raises(ModelError, match="timm:nothing_like_this is not a timm model"):
        build_model("timm:nothing_like_this", (3, 32, 32), 10)
