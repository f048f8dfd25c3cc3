"""Every registered model: built for the data set's shape, runs forward, accepts masks."""

import pytest
import torch

from common.errors import ParameterError, RegistryError
from pruning import MaskConfig, apply_masks, compute_masks
from topology.generators import generate
from topology.plans import Plan
from trainer.models import MODELS, build_model


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape, classes", [((1, 28, 28), 10), ((3, 32, 32), 100)])
def test_every_model_builds_runs_and_masks(name, shape, classes):
    torch.manual_seed(0)
    model = build_model(name, shape, classes)
    masks, _ = compute_masks(
        model, MaskConfig(plan=Plan(generate("rreg", nodes=8, degree=3, seed=0)), nodes_policy="shrink")
    )
    assert masks  # every model has maskable layers between its first and last
    apply_masks(model, masks)
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, *shape)).shape == (2, classes)


def test_cifar_resnet18_size_and_mlp_options():
    assert sum(p.numel() for p in build_model("cresnet18", (3, 32, 32), 10).parameters()) == 11_173_962
    assert sum(p.numel() for p in build_model("resnet20", (3, 32, 32), 10).parameters()) == 269_722
    mlp = build_model("mlp", (1, 28, 28), 10, width=64, depth=5)
    assert sum(isinstance(m, torch.nn.Linear) for m in mlp.modules()) == 7


def test_model_errors():
    with pytest.raises(RegistryError, match="unknown model 'nope'; valid: .*mlp"):
        build_model("nope", (1, 28, 28), 10)
    with pytest.raises(ParameterError, match="model 'cnn' does not take depth"):
        build_model("cnn", (1, 28, 28), 10, depth=3)


def _wrn_parameters_by_hand(depth: int, widen: int, classes: int, in_channels: int = 3) -> int:
    """Stem, three stages of (depth - 4) / 6 pre-activation blocks, final BN and classifier."""
    blocks, count, c_in = (depth - 4) // 6, in_channels * 16 * 9, 16
    for width in (16 * widen, 32 * widen, 64 * widen):
        for _ in range(blocks):
            count += 2 * c_in + c_in * width * 9 + 2 * width + width * width * 9  # bn1, conv1, bn2, conv2
            count += c_in * width if c_in != width else 0  # 1x1 shortcut where the channels change
            c_in = width
    return count + 2 * c_in + c_in * classes + classes


@pytest.mark.parametrize("depth, widen, published", [(28, 10, 36.5e6), (16, 8, 11.0e6)])
def test_wide_resnets_against_a_hand_count_and_the_papers_sizes(depth, widen, published):
    model = build_model("wrn", (3, 32, 32), 10, depth=depth, widen=widen)
    counted = sum(p.numel() for p in model.parameters())
    assert counted == _wrn_parameters_by_hand(depth, widen, 10)
    assert round(counted / 1e5) == round(published / 1e5)  # the paper's table, to its 0.1M
    with pytest.raises(ParameterError, match="6n \\+ 4"):
        build_model("wrn", (3, 32, 32), 10, depth=20)
