"""Re-zeroing after each step follows the same trajectory as masking inside every forward."""

import copy

import pytest
import torch
from torch import nn

from pruning import apply_masks, current_masks
from pruning.masking import to_masked_state_dict, to_plain_state_dict
from trainer.stepmask import StepMasker


def model_and_masks():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Conv1d(1, 4, 3), nn.Flatten(), nn.Linear(56, 3)
    )
    generator = torch.Generator().manual_seed(1)
    masks = {"2": torch.rand(16, 16, generator=generator) < 0.3, "4": torch.rand(4, 1, 3, generator=generator) < 0.5}
    return model, masks


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.05, nesterov=True),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
        lambda p: torch.optim.Adadelta(p, lr=1.0, weight_decay=0.01),
    ],
)
def test_same_kept_weights_as_the_parametrization(make_optimizer):
    model, masks = model_and_masks()
    parametrized = apply_masks(copy.deepcopy(model), masks)
    stepped = apply_masks(copy.deepcopy(model), masks)
    masker = StepMasker(stepped)
    assert current_masks(stepped) == {}
    optimizers = [make_optimizer(parametrized.parameters()), make_optimizer(stepped.parameters())]
    generator = torch.Generator().manual_seed(2)
    for _ in range(6):
        x, y = torch.randn(8, 1, 12, generator=generator), torch.randint(0, 3, (8,), generator=generator)
        for net, optimizer in zip((parametrized, stepped), optimizers):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
        masker.after_step()
        for name in masks:
            a, b = parametrized.get_submodule(name).weight, stepped.get_submodule(name).weight
            assert torch.allclose(a, b, atol=1e-6), name
            assert (b[~masks[name].expand_as(b)] == 0).all()


def test_checkpoint_format_round_trip():
    model, masks = model_and_masks()
    apply_masks(model, masks)
    masker = StepMasker(model)
    saved = masker.state_dict()
    assert "2.parametrizations.weight.0.mask" in saved and "2.weight" not in saved
    plain = to_plain_state_dict(saved)
    assert torch.equal(to_masked_state_dict(plain, masks)["2.parametrizations.weight.0.mask"], masks["2"])
    other, _ = model_and_masks()
    other_masker = StepMasker(apply_masks(other, masks))
    other_masker.load_state_dict(saved)
    x = torch.randn(4, 1, 12)
    assert torch.equal(model(x), other(x))
