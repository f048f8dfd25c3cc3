"""What a recipe may add to a training run (docs/architecture.md, "Recipes"): the default adds nothing.

The training loop calls these at fixed points: :meth:`RunHooks.begin_epoch` before an epoch's
steps, :attr:`RunHooks.step_context` around every SGD step, :meth:`RunHooks.evaluation` around
the validation and test passes that select the model, :meth:`RunHooks.extra_evaluation` after
them, :meth:`RunHooks.best_masks` when a new best epoch is saved and :meth:`RunHooks.finish` once
the epochs are done.
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

    def begin_epoch(self, epoch: int) -> None:
        """Called before epoch ``epoch`` (0-based) starts."""

    def evaluation(self) -> contextlib.AbstractContextManager:
        """Context for the validation and test passes that select the model."""
        return contextlib.nullcontext()

    def extra_evaluation(self, evaluate_test: Callable[[], PassStats]) -> dict:
        """Further columns of the epoch's log line; ``evaluate_test()`` runs one test pass."""
        return {}

    def best_masks(self) -> dict[str, torch.Tensor] | None:
        """Masks to store in ``best.pt`` beside the masker's own (None: the masker's alone)."""
        return None

    def finish(
        self, run_dir: Path, model: nn.Module, input_shape: tuple[int, ...], best: dict
    ) -> tuple[PruneResult | None, dict]:
        """After the last epoch: the masks the row reports (None: those the run started with) and
        extra row columns (declared in :data:`common.columns.RECIPE_OUTCOMES`)."""
        return None, {}
