"""Training checkpoints: written atomically, read with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path

import torch

from topology.atomic import atomic_open
from trainer.errors import TrainError


def save_checkpoint(path: str | Path, state: dict) -> None:
    """``torch.save`` through a temporary file and a rename."""
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint onto the CPU; a missing or corrupt file is a one-line TrainError."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"{path}: no checkpoint to resume from")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt files raise many different types
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrainError(f"{path}: corrupt checkpoint ({message})") from None
    needed = {"model", "optimizer", "scheduler", "epoch", "history"}
    if not isinstance(state, dict) or not needed <= set(state):
        raise TrainError(f"{path}: not a topoprune training checkpoint (missing {', '.join(sorted(needed - set(state or {})))})")
    return state
