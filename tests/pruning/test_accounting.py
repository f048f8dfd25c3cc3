"""Params and MACs counted from the masks, checked against hand counts."""

import pytest
import torch
from torch import nn

from pruning import MaskConfig, apply_masks, compute_masks, summarize
from pruning.accounting import summarize_state_dict
from pruning.errors import PruningError
from pruning.masking import masks_in_state_dict
from topology.generators import generate
from topology.plans import Plan
from trainer.models import build_model


def test_hand_counted_small_model():
    # conv 3->8 k3 on 10x10 (pad 1, dense first layer), conv 8->4 k3 stride 2 (masked), linear 100->5 (dense last)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.Conv2d(8, 4, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.Flatten(),
        nn.Linear(4 * 5 * 5, 5),
    )
    mask = torch.zeros(4, 8, dtype=torch.bool)
    mask[0, :3] = True  # 3 connections for output 0
    mask[2, 7] = True  # 1 connection for output 2; outputs 1 and 3 dead; inputs 3..6 dead
    apply_masks(model, {"1": mask})
    summary = summarize(model, (3, 10, 10))
    first, second, last = summary.layers
    assert (first.weights_kept, first.macs_kept) == (3 * 8 * 9, 3 * 8 * 9 * 100)
    assert (second.weights_kept, second.weights_total) == (4 * 9, 8 * 4 * 9)
    assert (second.macs_kept, second.macs_total) == (4 * 9 * 25, 8 * 4 * 9 * 25)
    assert (second.isolated_outputs, second.isolated_inputs) == (2, 4)
    assert second.graph["out_degree_max"] == 3 and second.graph["in_degree_min"] == 0
    assert (last.weights_kept, last.macs_kept) == (500, 500)
    all_params = (216 + 8) + 288 + (4 + 4) + (500 + 5)
    assert summary.params_total == all_params
    assert summary.params_kept == all_params - (288 - 36)
    assert summary.macs_kept == 216 * 100 + 36 * 25 + 500
    assert summary.macs_total == 216 * 100 + 288 * 25 + 500
    # FLOPs as the papers that count them do: a multiply and an add per MAC
    assert (summary.flops_kept, summary.flops_total) == (2 * (21_600 + 900 + 500), 2 * (21_600 + 7_200 + 500))
    assert summary.to_dict()["flops_total"] == 2 * 29_300


def test_cifar_resnet18_under_a_64_node_4_regular_plan():
    """Every conv masked but the first, shortcuts included, classifier dense: 713,802 kept, not 6.25%."""
    model = build_model("cresnet18", (3, 32, 32), 10)
    masks, _ = compute_masks(model, MaskConfig(plan=Plan(generate("rreg", nodes=64, degree=4, seed=0))))
    apply_masks(model, masks)
    summary = summarize(model, (3, 32, 32))
    assert summary.params_total == 11_173_962
    assert summary.params_kept == 713_802
    assert round(100 * summary.params_fraction, 2) == 6.39
    assert {layer.name for layer in summary.layers if not layer.masked} == {"conv1", "linear"}
    assert all(layer.density == 4 / 64 for layer in summary.layers if layer.masked)
    assert summary.macs_total == 555_422_720  # the well-known 0.56 GMACs of CIFAR ResNet-18
    # The state_dict alone gives the same parameter count.
    state = model.state_dict()
    assert summarize_state_dict(state, masks_in_state_dict(state)).params_kept == 713_802


def test_dense_model_summary_and_wrong_input_size():
    model = build_model("mlp", (1, 28, 28), 10)
    summary = summarize(model, (1, 28, 28))
    assert summary.params_kept == summary.params_total == sum(p.numel() for p in model.parameters())
    assert summary.macs_total == 784 * 512 + 3 * 512 * 512 + 512 * 10
    with pytest.raises(PruningError, match="the model rejects input size 3x32x32"):
        summarize(model, (3, 32, 32))


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "vgg16_bn", "mobilenet_v2"])
def test_torchvision_models_prune_and_run(name):
    """Any nn.Module: torchvision's own constructors, pruned through the library API."""
    import torchvision

    model = getattr(torchvision.models, name)(weights=None, num_classes=10)
    masks, notices = compute_masks(
        model, MaskConfig(plan=Plan(generate("rreg", nodes=16, degree=4, seed=0)), nodes_policy="shrink")
    )
    apply_masks(model, masks)
    summary = summarize(model, (3, 32, 32))
    assert summary.params_kept < summary.params_total
    assert all(layer.density <= 0.25 + 1e-9 for layer in summary.layers if layer.masked and layer.weights_total >= 256)
    assert any("depthwise convolution" in n for n in notices) == (name == "mobilenet_v2")
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
