"""The one place that seeds global random state and picks the device, before anything is built."""

from __future__ import annotations

import random

import numpy as np
import torch

from pruning.devices import resolve_device
from trainer.errors import TrainError


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else is checked."""
    return resolve_device(name, TrainError)


def setup_environment(train_seed: int, threads: int | None, device_name: str) -> torch.device:
    """Seed torch, numpy and random from ``train_seed``, set the thread count, return the device.

    Called once per run, before the model is built, so initialisation is reproducible.
    """
    if threads is not None:
        if threads < 1:
            raise TrainError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    random.seed(train_seed)
    np.random.seed(train_seed % 2**32)
    torch.manual_seed(train_seed)
    return pick_device(device_name)
