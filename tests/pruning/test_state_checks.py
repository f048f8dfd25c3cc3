"""A checkpoint from elsewhere is checked before anything loads it: string keys, dense finite
tensors of a real dtype, masks that are exactly 0/1 and shaped as their weights; a dict that holds
itself is unwrapped once (audit cases K09, K10, K20-K24, K33, K37, K38, K42)."""

import pytest
import torch

from pruning.checkpoints import load_checkpoint, read_checkpoint
from pruning.errors import PruningError
from pruning.state_checks import check_state
from pruning.storage import load_state
from trainer.models import build_model

LAYER = "hidden1"  # the mlp's first hidden Linear
TORCH_PRUNE = (".weight_orig", ".weight_mask")  # torch.nn.utils.prune's names


@pytest.fixture
def mlp_state():
    torch.manual_seed(0)
    return build_model("mlp", (1, 28, 28), 10, width=16, depth=2).state_dict()


def masked(state, mask, suffix=(".parametrizations.weight.original", ".parametrizations.weight.0.mask")):
    state = dict(state)
    weight = state.pop(f"{LAYER}.weight")
    state[LAYER + suffix[0]], state[LAYER + suffix[1]] = weight, mask
    return state


def saved(tmp_path, value, name="c.pt"):
    torch.save(value, tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: {i: v for i, v in enumerate(s.values())}, "key 0 is not a parameter name"),
        (
            lambda s: {**s, "hidden1.weight": s["hidden1.weight"].to_sparse()},
            "hidden1.weight is a torch.sparse_coo tensor",
        ),
        (lambda s: {**s, "hidden1.bias": torch.full((16,), float("nan"))}, "hidden1.bias holds NaN or infinite values"),
        (lambda s: {**s, "hidden1.bias": torch.full((16,), float("inf"))}, "hidden1.bias holds NaN or infinite values"),
        (
            lambda s: {**s, "hidden1.bias": torch.zeros(16, dtype=torch.complex64)},
            "hidden1.bias has dtype torch.complex64",
        ),
        (lambda s: masked(s, torch.full((16, 16), 2.0)), "mask hidden1.parametrizations.weight.0.mask holds 2;"),
        (lambda s: masked(s, torch.full((16, 16), 0.5)), "mask hidden1.parametrizations.weight.0.mask holds 0.5;"),
        (lambda s: masked(s, -torch.ones(16, 16)), "mask hidden1.parametrizations.weight.0.mask holds -1;"),
        (lambda s: masked(s, torch.ones(3, 5, dtype=torch.bool)), "mask hidden1.parametrizations.weight.0.mask is 3x5"),
        (lambda s: masked(s, torch.full((16, 16), 3.0), TORCH_PRUNE), "mask hidden1.weight_mask holds 3"),
    ],
    ids=["int keys", "sparse", "nan", "inf", "complex", "mask 2", "mask 0.5", "mask -1", "mask shape", "tprune 3"],
)
def test_a_state_unfit_to_load_is_one_line_naming_the_key(tmp_path, mlp_state, change, message):
    path = saved(tmp_path, change(mlp_state))
    for read in (read_checkpoint, load_state):
        with pytest.raises(PruningError, match="^" + str(path)) as error:
            read(path)
        assert message in str(error.value) and "\n" not in str(error.value)


def test_masks_that_are_binary_and_broadcast_load_entry_by_entry(tmp_path, mlp_state):
    mask = torch.zeros(16, 16)
    mask[:, :8] = 1.0  # a float 0/1 mask, as torch.nn.utils.prune stores it
    path = saved(tmp_path, masked(mlp_state, mask, TORCH_PRUNE))
    model = build_model("mlp", (1, 28, 28), 10, width=16, depth=2)
    masks = load_checkpoint(model, path)
    assert torch.equal(masks[LAYER], mask.bool())
    effective = model.get_submodule(LAYER).weight
    assert torch.equal(effective[:, 8:], torch.zeros(16, 8))
    assert torch.equal(effective[:, :8], mlp_state["hidden1.weight"][:, :8])
    check_state(masked(mlp_state, torch.ones(16, 1, dtype=torch.bool)), tmp_path)  # broadcasts: accepted


def test_a_dict_that_holds_itself_is_refused_at_once(tmp_path):
    recursive = {}
    recursive["state_dict"] = recursive
    with pytest.raises(PruningError, match="no state_dict of tensors found"):
        read_checkpoint(saved(tmp_path, recursive))
