"""Apply masks with ``torch.nn.utils.parametrize``; read them back; bake them into the weights.

A masked layer's ``weight`` is computed as ``where(mask, original, 0)`` on every access, so
masked weights are exactly zero at every forward and their gradients are zero. The mask is a
buffer of a small parametrization module: it is in the state_dict
(``<layer>.parametrizations.weight.0.mask``), ``copy.deepcopy`` works, and
:func:`load_masked_state_dict` re-creates the masks before loading the weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize

from pruning.errors import PruningError

MASK_SUFFIX = ".parametrizations.weight.0.mask"
ORIGINAL_SUFFIX = ".parametrizations.weight.original"


class WeightMask(nn.Module):
    """Parametrization ``weight -> where(mask, weight, 0)`` holding a boolean mask buffer.

    Parameters
    ----------
    mask : torch.BoolTensor
        The weight's full shape, or (C_out, C_in, 1, ...) broadcast over the kernel.
    """

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.to(torch.bool))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return torch.where(self.mask, weight, torch.zeros((), dtype=weight.dtype, device=weight.device))


def weight_of(module: nn.Module) -> torch.Tensor:
    """The stored (unmasked) weight tensor of a module, parametrized or not."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original
    return module.weight


def broadcastable_mask(name: str, mask: torch.Tensor, weight_shape: torch.Size) -> torch.Tensor:
    """``mask`` reshaped to broadcast over ``weight_shape``: full shape, or (C_out, C_in) + 1s."""
    mask = torch.as_tensor(mask).to(torch.bool)
    if tuple(mask.shape) == tuple(weight_shape):
        return mask
    if tuple(mask.shape[:2]) == tuple(weight_shape[:2]) and all(s == 1 for s in mask.shape[2:]):
        return mask.reshape(*weight_shape[:2], *([1] * (len(weight_shape) - 2)))
    raise PruningError(
        f"layer {name}: mask of shape {tuple(mask.shape)} does not fit weight of shape {tuple(weight_shape)}"
    )


def _mask_module(module: nn.Module) -> WeightMask | None:
    if not parametrize.is_parametrized(module, "weight"):
        return None
    for item in module.parametrizations.weight:
        if isinstance(item, WeightMask):
            return item
    return None


def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """Attach each mask to the ``weight`` of the module it names (in place); returns ``model``.

    A module that already carries a mask gets the new one in its place, not a second one.
    """
    for name, mask in masks.items():
        try:
            module = model.get_submodule(name)
        except AttributeError:
            raise PruningError(f"mask names layer {name!r}, which the model does not have") from None
        if not isinstance(getattr(module, "weight", None), torch.Tensor):
            raise PruningError(f"layer {name} has no weight to mask")
        shaped = broadcastable_mask(name, mask, weight_of(module).shape).to(weight_of(module).device)
        existing = _mask_module(module)
        if existing is not None:
            existing.mask = shaped
        else:
            parametrize.register_parametrization(module, "weight", WeightMask(shaped))
    return model


def current_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """``{module name: mask buffer}`` of every masked module of ``model``."""
    return {name: mask.mask for name, module in model.named_modules() if (mask := _mask_module(module)) is not None}


def bake(model: nn.Module) -> nn.Module:
    """Remove the mask parametrizations, leaving plain weights with exact zeros (in place)."""
    for _, module in model.named_modules():
        if _mask_module(module) is not None:
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return model


def baked_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with the masks baked into plain weights; ``model`` is untouched.

    ``bake(copy.deepcopy(model))`` would break ``model``: a parametrized module's class is made
    per module by ``register_parametrization``, a deep copy shares it, and removing the
    parametrization deletes the ``weight`` property from that shared class.
    """
    baked = copy.deepcopy(model)
    for _, module in baked.named_modules():
        if _mask_module(module) is None:
            continue
        if len(module.parametrizations) != 1 or len(module.parametrizations.weight) != 1:
            raise PruningError(f"{type(module).__name__}: only a lone weight mask can be baked into a copy")
        weight = module.weight.detach().clone()
        del module.parametrizations
        module.__class__ = module.__class__.__bases__[0]
        module.register_parameter("weight", nn.Parameter(weight, requires_grad=weight.requires_grad))
    return baked


def masks_from_torch_prune(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rewrite ``torch.nn.utils.prune`` entries (``X.weight_orig`` + ``X.weight_mask``) in ours.

    Returns a new state_dict in which every such pair became ``X.parametrizations.weight.original``
    and ``X.parametrizations.weight.0.mask``; other entries are unchanged.
    """
    converted = {}
    for key, value in state_dict.items():
        if key.endswith(".weight_orig"):
            converted[key[: -len(".weight_orig")] + ORIGINAL_SUFFIX] = value
        elif key.endswith(".weight_mask"):
            converted[key[: -len(".weight_mask")] + MASK_SUFFIX] = value.to(torch.bool)
        else:
            converted[key] = value
    return converted


def masks_in_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{module name: mask}`` stored in a state_dict (ours, or torch.nn.utils.prune's)."""
    state_dict = masks_from_torch_prune(state_dict)
    return {
        key[: -len(MASK_SUFFIX)]: value.to(torch.bool) for key, value in state_dict.items() if key.endswith(MASK_SUFFIX)
    }


def load_masked_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Re-create the masks a state_dict holds on ``model``, then load its weights (in place)."""
    state_dict = masks_from_torch_prune(state_dict)
    apply_masks(model, masks_in_state_dict(state_dict))
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        raise PruningError(f"weights do not fit the model: {' '.join(line.strip() for line in first[:3])}") from None
    return model


def to_masked_state_dict(
    state_dict: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """A plain state_dict (``X.weight``) rewritten in the masked format, with the masks added.

    The result is what a model with :func:`apply_masks` applied would return from
    ``state_dict()``, so :func:`load_masked_state_dict` reads it.
    """
    converted = dict(state_dict)
    for name, mask in masks.items():
        converted[name + ORIGINAL_SUFFIX] = converted.pop(f"{name}.weight")
        converted[name + MASK_SUFFIX] = mask
    return converted


def to_plain_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`to_masked_state_dict`: ``X.weight = where(mask, original, 0)``, masks dropped."""
    state_dict = masks_from_torch_prune(state_dict)
    masks = masks_in_state_dict(state_dict)
    plain = {k: v for k, v in state_dict.items() if not k.endswith(MASK_SUFFIX) and not k.endswith(ORIGINAL_SUFFIX)}
    for name, mask in masks.items():
        original = state_dict[name + ORIGINAL_SUFFIX]
        plain[f"{name}.weight"] = torch.where(mask, original, torch.zeros((), dtype=original.dtype))
    return plain
