"""What a recipe may add to a training run (docs/architecture.md, "Recipes"): the default adds nothing.

The training loop calls these at fixed points: :meth:`RunHooks.begin_epoch` before an epoch's
steps, :attr:`RunHooks.step_context` around every SGD step, :meth:`RunHooks.evaluation` around
the validation and test passes that select the model, :meth:`RunHooks.extra_evaluation` after
them, :meth:`RunHooks.selectable` to ask whether the epoch may be selected,
:meth:`RunHooks.notes` once the epoch is logged, :meth:`RunHooks.best_masks` when a new best
epoch is saved, :meth:`RunHooks.state_dict` and :meth:`RunHooks.step_log` at every checkpoint
(:meth:`RunHooks.load_state_dict` when resuming) and :meth:`RunHooks.finish` once the epochs are
done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from pruning.apply import PruneResult
from trainer.loop import PassStats

StepContext = Callable[[torch.Tensor, torch.Tensor], contextlib.AbstractContextManager]


class RunHooks:
    """A run's recipe-specific behaviour; every method of the base class leaves the run as it is."""

    #: Wraps each SGD step from forward to optimiser step, or None.
    step_context: StepContext | None = None

    def describe(self) -> str | None:
        """A line for the user when the run starts (None: nothing to say)."""
        return None

    def begin_epoch(self, epoch: int) -> None:
        """Called before epoch ``epoch`` (0-based) starts."""

    def notes(self, last_epoch: bool) -> list[str]:
        """Lines for the user after an epoch (what changed in it; ``last_epoch``: the run's last)."""
        return []

    def evaluation(self) -> contextlib.AbstractContextManager:
        """Context for the validation and test passes that select the model."""
        return contextlib.nullcontext()

    def extra_evaluation(self, evaluate_test: Callable[[], PassStats]) -> dict:
        """Further columns of the epoch's log line; ``evaluate_test()`` runs one test pass."""
        return {}

    def selectable(self) -> bool:
        """Whether the epoch just evaluated may be chosen by model selection (when no epoch may, the
        final one is reported)."""
        return True

    def best_masks(self) -> dict[str, torch.Tensor] | None:
        """Masks to store in ``best.pt`` beside the masker's own (None: the masker's alone)."""
        return None

    def step_log(self) -> list[dict] | None:
        """Lines of a per-step log written beside ``log.csv`` (None: no such log)."""
        return None

    def state_dict(self) -> dict:
        """What a checkpoint must hold to resume the hooks exactly (tensors and plain values)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""

    def finish(
        self, run_dir: Path, model: nn.Module, input_shape: tuple[int, ...], best: dict, final: dict
    ) -> tuple[PruneResult | None, dict]:
        """After the last epoch (``best`` and ``final`` are the selected and the last epoch's log
        lines): the masks the row reports (None: those the run started with) and extra row columns
        (declared as the recipe's ``outcomes``)."""
        return None, {}
