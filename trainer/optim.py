"""Optimisers and per-batch learning-rate schedules (with linear warm-up)."""

from __future__ import annotations

import math

import torch
from torch import nn

from trainer.config import ALL_PARAMETERS, TrainConfig


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov), AdamW or Adadelta over the model's parameters.

    BatchNorm and bias parameters (1-D) get no weight decay, as is usual, unless
    ``weight_decay_on`` is ``all`` (every parameter, as the papers' public codes decay them).
    """
    everything = config.weight_decay_on == ALL_PARAMETERS
    decay = [p for p in model.parameters() if everything or p.ndim > 1]
    no_decay = [p for p in model.parameters() if not everything and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov and config.momentum > 0
        )
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.Adadelta(groups, lr=config.lr)


def lr_factor(step: int, steps_per_epoch: int, config: TrainConfig) -> float:
    """Multiplier of the peak learning rate at optimisation step ``step`` (0-based)."""
    epoch = step / steps_per_epoch
    warmup = config.warmup_epochs
    if warmup > 0 and epoch < warmup:
        return (step + 1) / (warmup * steps_per_epoch)
    if config.schedule == "cosine":
        total = config.epochs - warmup
        progress = min(1.0, (epoch - warmup) / total) if total > 0 else 1.0
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if config.schedule in ("step", "multistep"):
        decays = (
            int(epoch // config.step_size)
            if config.schedule == "step"
            else sum(1 for m in config.milestones if epoch >= m)
        )
        return max(config.gamma**decays, (config.min_lr or 0.0) / config.lr)
    return 1.0


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR stepped once per batch following :func:`lr_factor`."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, steps_per_epoch, config))
