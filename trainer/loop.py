"""One training epoch and one evaluation pass."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm


@dataclass
class PassStats:
    """Mean loss, top-1 accuracy in percent, examples seen and wall time in seconds of one pass;
    top-5 accuracy in percent for evaluation passes (NaN for training passes); for training
    passes of a model with an extra loss term, its mean over the steps (NaN otherwise). ``loss``
    is the data loss alone."""

    loss: float
    accuracy: float
    examples: int
    seconds: float
    top5: float = float("nan")
    extra_loss: float = float("nan")


def _autocast(device: torch.device, enabled: bool):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.float16 if device.type == "cuda" else torch.bfloat16)


def _reduce(
    loss_sum: float, correct: int, count: int, device: torch.device, across_processes: bool
) -> tuple[float, int, int]:
    if across_processes and dist.is_available() and dist.is_initialized():
        totals = torch.tensor([loss_sum, correct, count], dtype=torch.float64, device=device)
        dist.all_reduce(totals)
        return float(totals[0]), int(totals[1]), int(totals[2])
    return loss_sum, correct, count


@dataclass
class StepRule:
    """How each SGD step of :func:`train_epoch` is taken.

    ``after_step`` runs after every optimiser step (e.g. re-zeroing masked weights, checking for a
    stop request); ``extra_loss`` returns a term added to the data loss at every step (a model's
    regulariser); ``step_context(images, labels)`` wraps each step from forward to optimiser step
    (EDropout's state search and gating). The scheduler steps once per batch.
    """

    optimizer: torch.optim.Optimizer
    scheduler: object
    loss_fn: nn.Module
    device: torch.device
    amp: bool = False
    scaler: torch.amp.GradScaler | None = None
    after_step: Callable[[], None] | None = None
    extra_loss: Callable[[], torch.Tensor | None] | None = None
    step_context: Callable[[torch.Tensor, torch.Tensor], contextlib.AbstractContextManager] | None = None


def train_epoch(
    model: nn.Module, batches: Iterable, rule: StepRule, progress: str | None = None, total: int | None = None
) -> PassStats:
    """One pass of SGD steps over ``batches`` taken by ``rule``; statistics summed over processes under DDP.

    ``progress`` is a progress-bar label (None: no bar) and ``total`` the batches expected.
    """
    optimizer, device = rule.optimizer, rule.device
    model.train()
    start, loss_sum, correct, count = time.perf_counter(), 0.0, 0, 0
    extra_sum, extra_steps = 0.0, 0
    for images, labels in tqdm(
        batches, desc=progress, total=total, disable=progress is None, leave=False, unit="batch"
    ):
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with rule.step_context(images, labels) if rule.step_context is not None else contextlib.nullcontext():
            with _autocast(device, rule.amp):
                logits = model(images)
                loss = rule.loss_fn(logits, labels)
                extra = rule.extra_loss() if rule.extra_loss is not None else None
            total_loss = loss if extra is None else loss + extra
            if extra is not None:
                extra_sum, extra_steps = extra_sum + float(extra.detach()), extra_steps + 1
            if rule.scaler is not None:
                rule.scaler.scale(total_loss).backward()
                rule.scaler.step(optimizer)
                rule.scaler.update()
            else:
                total_loss.backward()
                optimizer.step()
        rule.scheduler.step()
        if rule.after_step is not None:
            rule.after_step()
        loss_sum += float(loss.detach()) * len(labels)
        correct += int((logits.argmax(dim=1) == labels).sum())
        count += len(labels)
    loss_sum, correct, count = _reduce(loss_sum, correct, count, device, across_processes=True)
    extra_mean = extra_sum / extra_steps if extra_steps else float("nan")
    return PassStats(
        loss_sum / max(count, 1),
        100.0 * correct / max(count, 1),
        count,
        time.perf_counter() - start,
        extra_loss=extra_mean,
    )


def top_k_correct(logits: torch.Tensor, labels: torch.Tensor, k: int) -> int:
    """Examples whose label is among the ``k`` largest logits (all of them when k >= classes)."""
    k = min(k, logits.shape[1])
    return int((logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).sum())


@torch.no_grad()
def evaluate(
    model: nn.Module, batches: Iterable, loss_fn: nn.Module, device: torch.device, amp: bool = False
) -> PassStats:
    """Mean loss, top-1 and top-5 accuracy of ``model`` (in eval mode) over ``batches``."""
    model.eval()
    start, loss_sum, correct, correct5, count = time.perf_counter(), 0.0, 0, 0, 0
    for images, labels in batches:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        with _autocast(device, amp):
            logits = model(images)
            loss_sum += float(loss_fn(logits, labels)) * len(labels)
        correct += top_k_correct(logits, labels, 1)
        correct5 += top_k_correct(logits, labels, 5)
        count += len(labels)
    return PassStats(
        loss_sum / max(count, 1),
        100.0 * correct / max(count, 1),
        count,
        time.perf_counter() - start,
        100.0 * correct5 / max(count, 1),
    )
