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


def _read(totals: torch.Tensor, across_processes: bool) -> list[float]:
    """The accumulated sums, summed over processes under DDP, read from the device once."""
    if across_processes and dist.is_available() and dist.is_initialized():
        dist.all_reduce(totals)
    return totals.tolist()


def _mean(total: float, count: float) -> float:
    return total / count if count else float("nan")


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
    channels_last: bool = False


def train_epoch(
    model: nn.Module, batches: Iterable, rule: StepRule, progress: str | None = None, total: int | None = None
) -> PassStats:
    """One pass of SGD steps over ``batches`` taken by ``rule``; statistics summed over processes under DDP.

    ``progress`` is a progress-bar label (None: no bar) and ``total`` the batches expected. Loss,
    correct answers and the extra loss are summed on the device and read once at the end, so no
    step waits for the device.
    """
    optimizer, device = rule.optimizer, rule.device
    model.train()
    start = time.perf_counter()
    totals = torch.zeros(5, dtype=torch.float64, device=device)  # loss sum, correct, count, extra sum, extra steps
    for images, labels in tqdm(
        batches, desc=progress, total=total, disable=progress is None, leave=False, unit="batch"
    ):
        images, labels = _on_device(images, labels, device, rule.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with rule.step_context(images, labels) if rule.step_context is not None else contextlib.nullcontext():
            with _autocast(device, rule.amp):
                logits = model(images)
                loss = rule.loss_fn(logits, labels)
                extra = rule.extra_loss() if rule.extra_loss is not None else None
            total_loss = loss if extra is None else loss + extra
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
        with torch.no_grad():
            totals[0] += loss.detach().double() * len(labels)
            totals[1] += (logits.argmax(dim=1) == labels).sum()
            totals[2] += len(labels)
            if extra is not None:
                totals[3] += extra.detach().double()
                totals[4] += 1
    loss_sum, correct, count, extra_sum, extra_steps = _read(totals, across_processes=True)
    return PassStats(
        _mean(loss_sum, count),
        100.0 * _mean(correct, count),
        int(count),
        time.perf_counter() - start,
        extra_loss=_mean(extra_sum, extra_steps),
    )


def _on_device(
    images: torch.Tensor, labels: torch.Tensor, device: torch.device, channels_last: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
    if channels_last and images.dim() == 4:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, labels


def top_k_correct(logits: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """Examples whose label is among the ``k`` largest logits (all of them when k >= classes), as a
    0-d tensor on the logits' device."""
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).sum()


@contextlib.contextmanager
def norms_on_batch_statistics(model: nn.Module):
    """Within the block, every BatchNorm normalises with each batch's own statistics and leaves
    its running statistics as they are (train mode without tracking); the rest stays as it is."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    kept = [(m.training, m.track_running_stats) for m in norms]
    for m in norms:
        m.train()
        m.track_running_stats = False
    try:
        yield
    finally:
        for m, (training, tracking) in zip(norms, kept):
            m.train(training)
            m.track_running_stats = tracking


def evaluate(
    model: nn.Module,
    batches: Iterable,
    loss_fn: nn.Module,
    device: torch.device,
    amp: bool = False,
    channels_last: bool = False,
    batch_statistics: bool = False,
) -> PassStats:
    """Mean loss, top-1 and top-5 accuracy of ``model`` (in eval mode; with ``batch_statistics``
    its BatchNorms on each batch's statistics) over ``batches``; NaN for an empty split
    (``--val-fraction 0``). Sums stay on the device until the end; no autograd graph is built
    (a sum that kept one would hold every batch's activations until the pass ends)."""
    model.eval()
    with torch.no_grad(), norms_on_batch_statistics(model) if batch_statistics else contextlib.nullcontext():
        return _evaluate_batches(model, batches, loss_fn, device, amp, channels_last)


def _evaluate_batches(model, batches, loss_fn, device, amp, channels_last) -> PassStats:
    start = time.perf_counter()
    totals = torch.zeros(4, dtype=torch.float64, device=device)  # loss sum, top-1, top-5, count
    for images, labels in batches:
        images, labels = _on_device(images, labels, device, channels_last)
        with _autocast(device, amp):
            logits = model(images)
            totals[0] += loss_fn(logits, labels).double() * len(labels)
        totals[1] += top_k_correct(logits, labels, 1)
        totals[2] += top_k_correct(logits, labels, 5)
        totals[3] += len(labels)
    loss_sum, correct, correct5, count = _read(totals, across_processes=False)
    return PassStats(
        _mean(loss_sum, count),
        100.0 * _mean(correct, count),
        int(count),
        time.perf_counter() - start,
        100.0 * _mean(correct5, count),
    )
