"""Training checkpoints (written with ``pruning.storage.save_state``), read with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path

from pruning.storage import torch_load
from trainer.errors import TrainError


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint onto the CPU; a missing or corrupt file is a one-line TrainError."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"{path}: no checkpoint to resume from")
    state = torch_load(path, TrainError, "corrupt checkpoint")
    needed = {"model", "optimizer", "scheduler", "epoch", "history"}
    if not isinstance(state, dict) or not needed <= set(state):
        raise TrainError(f"{path}: not a topoprune training checkpoint (missing {', '.join(sorted(needed - set(state or {})))})")
    return state
