"""EDropout's energy of a state on a minibatch, for a whole population of states at once.

E = -scale x the mean over examples of (true-class logit - largest other logit). How batch norm
normalises during these trial forwards is a choice (docs/edropout.md): ``batch`` (the public
code's, which never calls ``eval()``) uses each state's own batch statistics; ``eval`` uses the
running statistics. Either way the running statistics are left exactly as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from pruning.edropout_units import StateLayout, gated

#: ``--edropout-energy-bn`` modes (the first is the default).
BATCH_STATISTICS, RUNNING_STATISTICS = "batch", "eval"
ENERGY_BN_MODES = (BATCH_STATISTICS, RUNNING_STATISTICS)


def energy(logits: torch.Tensor, labels: torch.Tensor, scale: float) -> torch.Tensor:
    """E = -scale x mean over examples of (true-class logit - largest other logit).

    ``logits`` (..., B, classes), ``labels`` (B,); returns shape (...). Lower is better.
    """
    true = logits.gather(-1, labels.expand(*logits.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    others = logits.scatter(-1, labels.expand(*logits.shape[:-1]).unsqueeze(-1), float("-inf"))
    return -scale * (true - others.amax(dim=-1)).mean(dim=-1)


def grouped_batch_norm(module: nn.modules.batchnorm._BatchNorm, groups: int, x: torch.Tensor) -> torch.Tensor:
    """``module`` applied in training mode to each of ``groups`` equal slices of the batch
    separately (each slice normalised by its own mean and biased variance), without touching its
    running statistics. The slices become channels of one ``F.batch_norm`` call, so the cost is
    one normalisation whatever the number of groups."""
    rows, channels = x.shape[0] // groups, x.shape[1]
    grouped = x.reshape(groups, rows, channels, -1).transpose(0, 1).reshape(rows, groups * channels, -1)
    weight = module.weight.repeat(groups) if module.weight is not None else None
    bias = module.bias.repeat(groups) if module.bias is not None else None
    out = F.batch_norm(grouped, None, None, weight, bias, training=True, momentum=0.0, eps=module.eps)
    return out.reshape(rows, groups, channels, -1).transpose(0, 1).reshape(x.shape)


@contextmanager
def batch_statistics(model: nn.Module, groups: int) -> Iterator[None]:
    """Within the block, every batch-norm layer of ``model`` normalises each of ``groups`` equal
    slices of its input with that slice's own batch statistics (as a separate training-mode
    forward of each slice would), and leaves its running buffers untouched."""
    patched = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for module in patched:
        module.forward = lambda x, module=module: grouped_batch_norm(module, groups, x)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


def population_energies(
    model: nn.Module,
    layout: StateLayout,
    states: torch.Tensor,
    images: torch.Tensor,
    labels: torch.Tensor,
    scale: float,
    chunk: int = 0,
    bn_mode: str = BATCH_STATISTICS,
) -> torch.Tensor:
    """Energies (M,) of M states on one minibatch, without gradients.

    ``chunk`` states share one batched forward (the minibatch stacked ``chunk`` times, each copy
    gated by its state); 0 means all M at once. The model runs in eval mode (dropout off); with
    ``bn_mode="batch"`` its batch-norm layers use each state's own batch statistics, so every
    energy equals a separate training-mode forward of that state, and with ``"eval"`` the running
    statistics. Running statistics are never updated.
    """
    chunk = chunk or states.shape[0]
    was_training = model.training
    model.eval()
    energies = []
    try:
        with torch.no_grad():
            for start in range(0, states.shape[0], chunk):
                part = states[start : start + chunk].to(images.device)
                stacked = images.repeat(part.shape[0], *([1] * (images.dim() - 1)))
                norm = batch_statistics(model, part.shape[0]) if bn_mode == BATCH_STATISTICS else nullcontext()
                with gated(model, layout, part, repeat=images.shape[0]), norm:
                    logits = model(stacked)
                energies.append(energy(logits.reshape(part.shape[0], images.shape[0], -1), labels, scale))
    finally:
        model.train(was_training)
    return torch.cat(energies)
