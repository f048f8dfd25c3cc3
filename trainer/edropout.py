"""Training with EDropout: the state search runs before every SGD step, its best state gates the
step, and once the search freezes the best state becomes the run's pruning mask.

The search itself (:mod:`pruning.edropout`) knows nothing of the training loop; this controller
wraps each step (:meth:`EDropoutTraining.step`), evaluations (:meth:`pruned` and
:meth:`unpruned`) and the freeze.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
from torch import nn

from pruning.accounting import summarize
from pruning.apply import PruneResult
from pruning.edropout import FILTERS, EDropoutConfig, EDropoutSearch, gated, state_masks
from pruning.masking import apply_masks
from trainer.hooks import RunHooks
from trainer.stepmask import StepMasker


def paper_keep_ratio(model: nn.Module, search: EDropoutSearch, state: torch.Tensor) -> float:
    """The paper's R: kept units weighted by kernel area only (k x k for a conv filter, 1 for a
    Linear input), over all covered units; not a parameter ratio."""
    kept = total = 0.0
    for layer in search.layout.layers:
        module = model.get_submodule(layer.name)
        area = float(torch.tensor(module.weight.shape[2:]).prod()) if layer.kind == FILTERS else 1.0
        bits = state[layer.offset : layer.offset + layer.units]
        kept += area * float(bits.sum())
        total += area * layer.units
    return kept / total


class EDropoutTraining(RunHooks):
    """EDropout around a training run: the run hooks of ``--recipe edropout``.

    Parameters
    ----------
    model : nn.Module
        The (unmasked) model being trained, already on its device.
    masker : StepMasker
        The run's masker; the frozen state's masks are added to it.
    config : EDropoutConfig
    seed : int
        Seeds the search (the run's mask seed).
    warmup_epochs : int
        Epochs before the state may freeze.
    """

    def __init__(
        self, model: nn.Module, masker: StepMasker, config: EDropoutConfig, seed: int, warmup_epochs: int
    ) -> None:
        self.model, self.masker = model, masker
        self.search = EDropoutSearch(model, config, seed)
        self.warmup_epochs = warmup_epochs
        self.epoch = 0
        self.frozen_at: tuple[int, int] | None = None  # (epoch, step) of the freeze, 1-based epoch
        self.steps = 0
        self._dropped_values: dict[str, torch.Tensor] = {}  # weights the frozen mask zeroed, for unpruned evaluation

    @property
    def frozen(self) -> bool:
        return self.search.frozen

    def masks(self) -> dict[str, torch.Tensor]:
        """Pruning masks of the best state (the frozen one once frozen)."""
        return state_masks(self.model, self.search.layout, self.search.best.to(torch.bool))

    def _dropped_weights(self, state: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``{layer: (weight, bool index of dropped rows or columns)}`` under ``state``."""
        dropped = {}
        for layer in self.search.layout.layers:
            bits = state[layer.offset : layer.offset + layer.units].to(torch.bool)
            if bool(bits.all()):
                continue
            dropped[layer.name] = (self.model.get_submodule(layer.name).weight, ~bits)
        return dropped

    def _freeze(self) -> None:
        masks = self.masks()
        self._dropped_values = {name: self.model.get_submodule(name).weight.detach().clone() for name in masks}
        self.masker.add_masks(masks)
        self.frozen_at = (self.epoch + 1, self.steps)

    @contextmanager
    def step(self, images: torch.Tensor, labels: torch.Tensor) -> Iterator[None]:
        """Wrap one SGD step: evolve the population on this minibatch, gate the step with the best
        state and give the dropped units' weights back their values after the optimiser step
        (momentum and weight decay would otherwise move them); once frozen, do nothing (the
        masker keeps the pruned weights at zero)."""
        self.steps += 1
        if not self.frozen and self.search.maybe_freeze(self.epoch, self.warmup_epochs):
            self._freeze()
        if self.frozen:
            yield
            return
        state = self.search.step(self.model, images, labels).to(images.device)
        kept = {
            name: (
                weight,
                index,
                weight.detach()[index].clone() if self._is_rows(name) else weight.detach()[:, index].clone(),
            )
            for name, (weight, index) in self._dropped_weights(state).items()
        }
        with gated(self.model, self.search.layout, state):
            yield
        with torch.no_grad():
            for name, (weight, index, values) in kept.items():
                if self._is_rows(name):
                    weight[index] = values
                else:
                    weight[:, index] = values

    def _is_rows(self, name: str) -> bool:
        return next(layer.kind for layer in self.search.layout.layers if layer.name == name) == FILTERS

    def pruned(self):
        """Context for evaluating the pruned network: the best state gates the model."""
        if self.frozen:
            return nullcontext()
        return gated(self.model, self.search.layout, self.search.best.to(next(self.model.parameters()).device))

    @contextmanager
    def unpruned(self) -> Iterator[None]:
        """Context for evaluating the same weights with every bit on (the paper's "no pruning"):
        before the freeze the model as it is; after it, with the zeroed weights' values restored."""
        if not self.frozen:
            yield
            return
        saved = {name: self.model.get_submodule(name).weight.detach().clone() for name in self._dropped_values}
        with torch.no_grad():
            for name, values in self._dropped_values.items():
                weight = self.model.get_submodule(name).weight
                mask = self.masker.masks[name].to(weight.device)
                weight.copy_(torch.where(mask, weight, values))
        try:
            yield
        finally:
            with torch.no_grad():
                for name, values in saved.items():
                    self.model.get_submodule(name).weight.copy_(values)

    # --- the run hooks (trainer.hooks) -------------------------------------------------------

    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def step_context(self):
        return self.step

    def evaluation(self):
        return self.pruned()

    def extra_evaluation(self, evaluate_test) -> dict:
        with self.unpruned():
            unpruned = evaluate_test()
        return {
            "test_acc_unpruned": unpruned.accuracy,
            "edropout_frozen": self.frozen,
            "edropout_best_energy": self.search.best_energy,
            "edropout_units_kept": int(self.search.best.sum()),
        }

    def best_masks(self) -> dict[str, torch.Tensor] | None:
        """Before the freeze, the best state's masks (so ``best.pt`` holds the evaluated network)."""
        return None if self.frozen else self.masks()

    def finish(self, run_dir, model: nn.Module, input_shape: tuple[int, ...], best: dict) -> tuple[PruneResult, dict]:
        """The final state's masks with their counted costs, and the EDropout columns of the row."""
        masks = {name: mask.cpu() for name, mask in self.masks().items()}
        summary = summarize(apply_masks(copy.deepcopy(model).cpu(), masks), input_shape)
        return PruneResult(masks, summary, []), {**self.summary(), "best_acc_unpruned": best["test_acc_unpruned"]}

    def summary(self) -> dict:
        """Columns for the results row."""
        best = self.search.best
        return {
            "edropout_paper_r": paper_keep_ratio(self.model, self.search, best),
            "edropout_units_kept": int(best.sum()),
            "edropout_units": int(best.numel()),
            "edropout_frozen_epoch": self.frozen_at[0] if self.frozen_at else None,
            "edropout_frozen_step": self.frozen_at[1] if self.frozen_at else None,
            "edropout_best_energy": self.search.best_energy,
        }
