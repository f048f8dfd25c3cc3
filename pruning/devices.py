"""Devices by name, checked before anything runs on them (``prune compile --device``, ``train --device``)."""

from __future__ import annotations

import torch

from common.errors import TopopruneError


def resolve_device(name: str, error: type[TopopruneError]) -> torch.device:
    """``auto`` -> CUDA when available, else the CPU; any other name is checked: a CUDA device on
    a machine without one (or an index past the last GPU) raises ``error`` with one line."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise error(f"device {name!r} is not valid (expected auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise error(f"device {name!r} requested but CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise error(f"device {name!r} requested but this machine has {torch.cuda.device_count()} GPU(s)")
    elif device.type != "cpu":
        raise error(f"device {name!r} is not supported (expected auto, cpu, cuda or cuda:N)")
    return device
