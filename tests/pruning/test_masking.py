"""Applying masks: outputs equal hand-zeroed layers; zeros survive training; state, copies, baking."""

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from pruning import apply_masks, bake, current_masks, load_masked_state_dict
from pruning.errors import PruningError
from pruning.masking import masks_in_state_dict


def random_mask(shape, seed=0, keep=0.3):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=generator) < keep


LAYERS = [
    (lambda: nn.Conv2d(6, 10, 3, padding=1), (2, 6, 9, 9)),
    (lambda: nn.Conv2d(6, 10, (3, 5), stride=2, dilation=2, padding=2), (2, 6, 15, 13)),
    (lambda: nn.Conv2d(6, 10, 1), (2, 6, 5, 5)),
    (lambda: nn.Conv1d(6, 10, 5, stride=2), (2, 6, 21)),
    (lambda: nn.Linear(6, 10), (4, 6)),
]


@pytest.mark.parametrize("make, input_shape", LAYERS)
@pytest.mark.parametrize("full_shape", [False, True])
def test_masked_layer_equals_hand_zeroed_layer(make, input_shape, full_shape):
    torch.manual_seed(0)
    masked, plain = make(), make()
    plain.load_state_dict(masked.state_dict())
    shape = masked.weight.shape if full_shape else masked.weight.shape[:2]
    mask = random_mask(shape)
    wrapper = nn.Sequential(masked)
    apply_masks(wrapper, {"0": mask})
    with torch.no_grad():
        broadcast = mask.reshape(*mask.shape, *([1] * (plain.weight.dim() - mask.dim())))
        plain.weight.mul_(broadcast.expand_as(plain.weight).float())
    x = torch.randn(input_shape)
    assert torch.equal(wrapper(x), plain(x))
    assert (masked.weight[~broadcast.expand_as(masked.weight)] == 0).all()


def small_model():
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 6 * 6, 10),
    )


def masked_small_model():
    model = small_model()
    return apply_masks(model, {"2": random_mask((8, 8), 2), "6": random_mask((10, 288), 3)})


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9, weight_decay=0.1, nesterov=True),
        lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.5),
    ],
)
def test_masked_weights_stay_exactly_zero_through_training(optimizer):
    model = masked_small_model()
    masks = {k: v.clone() for k, v in current_masks(model).items()}
    opt = optimizer(model.parameters())
    for step in range(5):
        x, y = torch.randn(4, 3, 6, 6), torch.randint(0, 10, (4,))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        for name, mask in masks.items():
            weight = model.get_submodule(name).weight
            assert (weight[~mask.expand_as(weight)] == 0).all(), (name, step)
            assert (weight[mask.expand_as(weight)] != 0).any()


def test_state_dict_round_trip_recreates_masks():
    model = masked_small_model()
    state = model.state_dict()
    assert "2.parametrizations.weight.0.mask" in state
    fresh = load_masked_state_dict(small_model(), state)
    x = torch.randn(3, 3, 6, 6)
    model.eval(), fresh.eval()
    assert torch.equal(model(x), fresh(x))
    assert set(current_masks(fresh)) == {"2", "6"}


def test_deepcopy_of_a_masked_model():
    model = masked_small_model().eval()
    clone = copy.deepcopy(model)
    x = torch.randn(2, 3, 6, 6)
    assert torch.equal(model(x), clone(x))
    clone.get_submodule("2").parametrizations.weight.original.data.fill_(1.0)
    assert not torch.equal(model(x), clone(x))  # independent copy


def test_bake_leaves_exact_zeros_and_the_same_function():
    model = masked_small_model().eval()
    mask = current_masks(model)["2"].clone()
    x = torch.randn(2, 3, 6, 6)
    before = model(x)
    bake(model)
    assert current_masks(model) == {}
    assert "2.weight" in model.state_dict()
    weight = model.get_submodule("2").weight
    assert (weight[~mask.expand_as(weight)] == 0).all()
    assert torch.equal(model(x), before)


def test_reapplying_replaces_the_mask():
    model = masked_small_model()
    apply_masks(model, {"2": torch.ones(8, 8, dtype=torch.bool)})
    assert len(model.get_submodule("2").parametrizations.weight) == 1
    assert current_masks(model)["2"].all()


def test_torch_prune_checkpoints_are_read():
    model = small_model()
    torch_prune.l1_unstructured(model.get_submodule("2"), "weight", amount=0.7)
    state = model.state_dict()
    assert "2.weight_mask" in state
    masks = masks_in_state_dict(state)
    assert set(masks) == {"2"} and masks["2"].shape == (8, 8, 3, 3)
    ours = load_masked_state_dict(small_model(), state).eval()
    model.eval()
    x = torch.randn(2, 3, 6, 6)
    assert torch.allclose(ours(x), model(x))


def test_mask_errors_name_the_layer():
    with pytest.raises(PruningError, match="mask names layer 'nope'"):
        apply_masks(small_model(), {"nope": torch.ones(1, 1, dtype=torch.bool)})
    with pytest.raises(
        PruningError, match="layer 2: mask of shape \\(4, 8\\) does not fit weight of shape \\(8, 8, 3, 3\\)"
    ):
        apply_masks(small_model(), {"2": torch.ones(4, 8, dtype=torch.bool)})
    with pytest.raises(PruningError, match="mask names layer '2', which the model does not have"):
        load_masked_state_dict(nn.Sequential(nn.Linear(3, 3)), masked_small_model().state_dict())
    state = masked_small_model().state_dict()
    state["0.bias"] = torch.zeros(5)
    with pytest.raises(PruningError, match="weights do not fit the model: .*0.bias"):
        load_masked_state_dict(small_model(), state)
