"""Checkpoints saved elsewhere: torchvision's weight files, the usual training-script wrappers,
DataParallel/DDP prefixes, renamed modules, and masked formats, read into a zoo model.

Always ``torch.load(weights_only=True)``: a pickle that carries code is refused. A checkpoint is
unwrapped (``{"state_dict": ...}``, ``{"model": ...}``, ``{"net": ...}``, ``{"model_state_dict":
...}``, ``{"net_state_dict": ...}``, nested), a ``module.`` prefix on every key is dropped,
``key_map`` prefix renames (``OLD=NEW``) are applied, and masks come along: ours (parametrized
names), ``torch.nn.utils.prune``'s ``weight_orig`` / ``weight_mask``, and a mask kept beside the
weight as ``X.mask`` (a buffer or a frozen parameter, as the X-Nets code stores it, its weight
named ``X.fpWeight`` or ``X.weight``). Then, if the keys still do not fit, a DataParallel wrapper
inside the model (``features.module.0.weight``) is unwrapped, and a zoo model that knows its
paper's public names renames them (``adapt_foreign_state_dict``). A key or shape mismatch is one
line naming the first missing, unexpected and mis-shaped keys.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from pruning.errors import PruningError
from pruning.masking import (
    MASK_SUFFIX,
    ORIGINAL_SUFFIX,
    load_masked_state_dict,
    masks_in_state_dict,
    to_plain_state_dict,
)
from pruning.state_checks import check_state
from pruning.storage import torch_load

#: Keys under which training scripts store the state_dict, tried in this order (and nested).
WRAPPERS = ("state_dict", "model_state_dict", "net_state_dict", "model", "net", "network", "module")
#: How many keys of each kind a mismatch error names.
SHOWN = 3


def _is_state(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(v, torch.Tensor) for v in value.values())


def unwrap(loaded, path: Path) -> dict[str, torch.Tensor]:
    """The state_dict inside what ``torch.load`` returned (see module doc)."""
    seen = set()
    while isinstance(loaded, dict) and not _is_state(loaded) and id(loaded) not in seen:
        seen.add(id(loaded))  # a dict that holds itself (a crafted file) is unwrapped once
        inner = next((loaded[key] for key in WRAPPERS if isinstance(loaded.get(key), dict)), None)
        if inner is None:
            break
        loaded = inner
    if not _is_state(loaded):
        keys = ", ".join(sorted(map(str, loaded))[:6]) if isinstance(loaded, dict) else type(loaded).__name__
        raise PruningError(
            f"{path}: no state_dict of tensors found (top-level keys: {keys}; looked under {', '.join(WRAPPERS)})"
        )
    return dict(loaded)


def rename(state: dict[str, torch.Tensor], key_map: tuple[tuple[str, str], ...] = ()) -> dict[str, torch.Tensor]:
    """Drop a ``module.`` prefix every key has (DataParallel, DDP), then apply prefix renames."""
    if state and all(key.startswith("module.") for key in state):
        state = {key[len("module.") :]: value for key, value in state.items()}
    for old, new in key_map:
        state = {(new + key[len(old) :] if key.startswith(old) else key): value for key, value in state.items()}
    return state


def masks_beside_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``X.mask`` kept beside ``X.weight`` (or the X-Nets code's ``X.fpWeight``) rewritten in our
    masked format; other entries unchanged. A ``.mask`` that does not fit its weight is left as
    it is (the mismatch check then names it)."""
    converted = dict(state)
    for key in [key for key in state if key.endswith(".mask") and not key.endswith(MASK_SUFFIX)]:
        layer = key[: -len(".mask")]
        weight_key = next((f"{layer}.{name}" for name in ("fpWeight", "weight") if f"{layer}.{name}" in state), None)
        if weight_key is None:
            continue
        weight, mask = state[weight_key], state[key]
        if mask.dim() != weight.dim() or any(m not in (1, w) for m, w in zip(mask.shape, weight.shape)):
            continue
        converted.pop(key), converted.pop(weight_key)
        converted[layer + ORIGINAL_SUFFIX] = weight
        converted[layer + MASK_SUFFIX] = mask != 0
    return converted


def read_checkpoint(path: str | Path, key_map: tuple[tuple[str, str], ...] = ()) -> dict[str, torch.Tensor]:
    """The state_dict of a checkpoint file, unwrapped and renamed, with its masks in our format."""
    path = Path(path)
    state = unwrap(torch_load(path), path)
    check_state(state, path)
    return masks_beside_weights(rename(state, key_map))


def without_inner_wrappers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every ``.module.`` path segment dropped: a DataParallel around a submodule, as the X-Nets
    code wraps ``features`` (``features.module.0.weight`` -> ``features.0.weight``)."""
    return {".".join(part for part in key.split(".") if part != "module"): value for key, value in state.items()}


def fitted_state(model: nn.Module, state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str | None]:
    """``state`` as it fits ``model``: as read, without inner DataParallel wrappers, or renamed by
    the model's ``adapt_foreign_state_dict`` (its paper's public names); and the first attempt's
    mismatch when none fits (None when one does)."""
    problem = mismatches(model, state)
    if problem is None:
        return state, None
    candidates = [without_inner_wrappers(state)]
    adapt = getattr(model, "adapt_foreign_state_dict", None)
    if adapt is not None:
        candidates += [adapted for source in (state, candidates[0]) if (adapted := adapt(source)) is not None]
    for candidate in candidates:
        if mismatches(model, candidate) is None:
            return candidate, None
    return state, problem


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state_dict's content: each key (sorted), dtype, shape and bytes. Files that
    hold the same tensors under the same names hash alike, whatever their wrapper or file name
    (``torch.save`` writes the file's name into it)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def _shape(tensor: torch.Tensor) -> str:
    return "x".join(map(str, tensor.shape)) or "scalar"


def mismatches(model: nn.Module, state: dict[str, torch.Tensor]) -> str | None:
    """What keeps ``state`` (plain or masked) from loading into the unmasked ``model``, or None."""
    plain = to_plain_state_dict(state)
    expected = model.state_dict()  # (batch norm fills a missing num_batches_tracked, as older files lack it)
    missing = [key for key in expected if key not in plain and not key.endswith("num_batches_tracked")]
    unexpected = [key for key in plain if key not in expected]
    misshaped = [key for key in plain if key in expected and plain[key].shape != expected[key].shape]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({', '.join(missing[:SHOWN])}{', ...' if len(missing) > SHOWN else ''})")
    if unexpected:
        shown = ", ".join(f"{key} {_shape(plain[key])}" for key in unexpected[:SHOWN])
        parts.append(f"{len(unexpected)} unexpected ({shown}{', ...' if len(unexpected) > SHOWN else ''})")
    if misshaped:
        shown = ", ".join(f"{key} {_shape(plain[key])} vs {_shape(expected[key])}" for key in misshaped[:SHOWN])
        parts.append(f"{len(misshaped)} mis-shaped ({shown}{', ...' if len(misshaped) > SHOWN else ''})")
    return "; ".join(parts) or None


def load_checkpoint(
    model: nn.Module, path: str | Path, key_map: tuple[tuple[str, str], ...] = (), with_masks: bool = True
) -> dict[str, torch.Tensor]:
    """Load the checkpoint at ``path`` into ``model`` (in place); returns the masks it held.

    With ``with_masks`` the checkpoint's masks are applied to the model; without, its weights are
    loaded plain (masked entries as zeros) and the masks only returned.

    Raises
    ------
    PruningError
        One line naming the file and the first missing, unexpected and mis-shaped keys; add
        ``key_map`` renames (``--key-map OLD=NEW``) for modules named differently.
    """
    state, problem = fitted_state(model, read_checkpoint(path, key_map))
    if problem is not None:
        raise PruningError(f"{path}: the weights do not fit the model: {problem} (rename with --key-map OLD=NEW)")
    masks = masks_in_state_dict(state)
    if with_masks:
        load_masked_state_dict(model, state)
    else:
        model.load_state_dict(to_plain_state_dict(state))
    return masks
