"""Saving and loading masks (``masks.npz``) and masked models (state_dict ``.pt``), atomically."""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from common.atomic import atomic_open, atomic_write_bytes
from common.memory import require_memory
from pruning.errors import PruningError
from pruning.state_checks import check_state
from topology.graph import non_binary_entry
from topology.plans import require_zip


def save_masks(path: str | Path, masks: dict[str, torch.Tensor]) -> Path:
    """Write ``{layer name: bool array}`` to an ``.npz`` file (no pickles), atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: mask.cpu().numpy().astype(bool) for name, mask in masks.items()})
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def load_masks(path: str | Path) -> dict[str, torch.Tensor]:
    """Read masks written by :func:`save_masks` (``allow_pickle=False``); every array must have at
    least two dimensions and hold only 0 and 1 (the rule plan files follow too)."""
    path = Path(path)
    if not path.is_file():
        raise PruningError(f"{path}: no such file")
    require_zip(path, PruningError)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise PruningError(f"{path}: not a readable masks .npz ({error})") from None
    if not arrays:
        raise PruningError(f"{path}: holds no masks")
    for name, array in arrays.items():
        if array.ndim < 2:
            raise PruningError(
                f"{path}: {name!r} has shape {array.shape}, not a layer mask (C_out x C_in or a weight's shape)"
            )
        bad = non_binary_entry(array)
        if bad is not None:
            raise PruningError(f"{path}: mask {name!r} has value {bad[1]!r} at {bad[0]}; only 0 and 1 are allowed")
    return {name: torch.from_numpy(array.astype(bool)) for name, array in arrays.items()}


def save_state(path: str | Path, state: dict) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename; a write that fails (a full
    disk, a file size limit) leaves ``path`` as it was and is one line."""
    try:
        with atomic_open(path, "wb") as handle:
            torch.save(state, handle)
    except (OSError, RuntimeError) as error:  # torch's zip writer reports a failed write as RuntimeError
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PruningError(f"{path}: could not be written (is the disk full? {reason})") from None
    return Path(path)


def torch_load(
    path: str | Path, error: type[Exception] = PruningError, what: str = "not a readable PyTorch checkpoint"
) -> object:
    """``torch.load`` with ``weights_only=True`` onto the CPU; failures become one-line ``error``s."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    require_memory(path.stat().st_size, f"{path}: loading it")
    try:
        with warnings.catch_warnings():  # torch's note on checking a sparse tensor: the check names it
            warnings.filterwarnings("ignore", message="Validating sparse tensor")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as failure:  # torch raises many types for corrupt or foreign files
        message = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
        raise error(f"{path}: {what} ({message})") from None


def load_state(path: str | Path) -> dict:
    """Load a state_dict saved with ``torch.save``; unwraps ``{"model": state_dict}``."""
    state = torch_load(path)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PruningError(f"{path}: does not hold a state_dict of tensors")
    check_state(state, Path(path))
    return state


def masks_sha256(masks: dict[str, torch.Tensor]) -> str:
    """SHA-256 of masks in a canonical form: for each layer in name order, the UTF-8 name, a NUL,
    the shape as comma-separated integers, a NUL, and the mask's bits packed in C order.

    Trailing size-1 dimensions past the second are dropped first, so a channel mask (C_out, C_in)
    and the same mask shaped (C_out, C_in, 1, 1) to broadcast over a kernel hash alike. Equal
    masks give equal hashes whatever their dtype, device or dict order.
    """
    digest = hashlib.sha256()
    for name in sorted(masks):
        mask = masks[name].detach().to("cpu", torch.bool).numpy()
        while mask.ndim > 2 and mask.shape[-1] == 1:
            mask = mask[..., 0]
        digest.update(name.encode() + b"\0" + ",".join(map(str, mask.shape)).encode() + b"\0")
        digest.update(np.packbits(mask, axis=None).tobytes())
    return digest.hexdigest()
