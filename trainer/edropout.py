"""Training with EDropout: the state search runs before every SGD step, its best state gates the
step, and once the search freezes the best state becomes the run's pruning mask.

The search itself (:mod:`pruning.edropout`) knows nothing of the training loop; this controller
wraps each step (:meth:`EDropoutTraining.step`), the evaluations, the freeze, the per-step search
log and the search's part of a checkpoint (docs/edropout.md).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass

import torch
from torch import nn

from common.schema import RECIPE_OWN, setting
from pruning.accounting import summarize
from pruning.apply import PruneResult
from pruning.edropout import FREEZE_RULES, PUBLIC_FREEZE, EDropoutConfig, EDropoutSearch
from pruning.edropout_energy import BATCH_STATISTICS, ENERGY_BN_MODES
from pruning.edropout_units import (
    COVERAGES,
    FILTERS,
    PUBLISHED,
    SCALES,
    gated,
    paper_keep_ratio,
    state_masks,
)
from pruning.masking import apply_masks
from trainer.hooks import RunHooks
from trainer.stepmask import StepMasker

#: ``edropout_selection`` values: which epochs model selection chose among.
AFTER_FREEZE, NEVER_FROZE = "after-freeze", "final-epoch (never froze)"
#: ``--edropout-after-freeze``: what the gated layers do once the state is frozen.
PUBLIC_RESTORE, FINE_TUNE = "public", "fine-tune"
AFTER_FREEZE_MODES = (PUBLIC_RESTORE, FINE_TUNE)

#: The recipe's name, which is also the name of its settings' section of the configuration.
EDROPOUT = "edropout"
SECTION = EDROPOUT


@dataclass(frozen=True)
class EDropoutSettings:
    """EDropout's own settings: declared here, with the recipe (docs/architecture.md, "Adding
    things"); they reach a run as ``TrainConfig.recipe_settings`` and its identity as the one
    ``edropout`` key the recipe makes of them."""

    edropout_population: int = setting(8, SECTION, "EDropout: candidate states.", identity=RECIPE_OWN, minimum=4)
    edropout_warmup: int | None = setting(
        None,
        SECTION,
        "EDropout: the epoch (counted from 1) from which the state may freeze, the public code's early "
        "convergence threshold (default: half the epochs).",
        identity=RECIPE_OWN,
        minimum=0,
    )
    edropout_patience: int = setting(
        10,
        SECTION,
        "EDropout, --edropout-freeze rescore: steps the best state must stay unchanged before it freezes.",
        identity=RECIPE_OWN,
        minimum=1,
    )
    edropout_coverage: str = setting(
        PUBLISHED,
        SECTION,
        "EDropout: which layers a state gates. published: the public code behind the published runs (every "
        "conv's filters, the shortcuts' BatchNorm channels and the classifier's inputs: 6,208 bits on ResNet-18); "
        "paper: its later snapshot (each residual block's conv2 but the first, and the classifier's inputs); "
        "all-convs: every conv and the classifier's inputs; hidden: every conv and every Linear's inputs but the "
        "first layer's. Models without convolutions: hidden.",
        identity=RECIPE_OWN,
        choices=COVERAGES,
    )
    edropout_energy_bn: str = setting(
        BATCH_STATISTICS,
        SECTION,
        "EDropout: batch norm while scoring states: each state's own batch statistics (the public code) or eval "
        "mode (running statistics). Running statistics are never updated by these forwards.",
        identity=RECIPE_OWN,
        choices=ENERGY_BN_MODES,
    )
    edropout_freeze: str = setting(
        PUBLIC_FREEZE,
        SECTION,
        "EDropout: when the state freezes after the warm-up. public: the public code's test (one step without a "
        "new best energy); rescore: re-score the population on each minibatch (2 x population forwards) and "
        "freeze when the best state is unchanged for --edropout-patience steps.",
        identity=RECIPE_OWN,
        choices=FREEZE_RULES,
    )
    edropout_after_freeze: str = setting(
        PUBLIC_RESTORE,
        SECTION,
        "EDropout, once the state is frozen: public (the public code: every gated layer is put back to the weights "
        "it had at the freeze before each update, so the gated layers stop learning) or fine-tune (ours: they "
        "train on under the frozen masks).",
        identity=RECIPE_OWN,
        choices=AFTER_FREEZE_MODES,
    )
    edropout_keep_probability: float = setting(
        0.5,
        SECTION,
        "EDropout: p0, the probability that a bit of an initial state is on (the paper sweeps 0.2-0.8).",
        identity=RECIPE_OWN,
        minimum=0,
        maximum=1,
    )
    edropout_mutation: float = setting(
        0.9,
        SECTION,
        "EDropout: F, the probability that a mutant bit copies x1.",
        identity=RECIPE_OWN,
        minimum=0,
        maximum=1,
    )
    edropout_crossover: float = setting(
        0.9,
        SECTION,
        "EDropout: CR, the probability that a trial bit comes from the mutant.",
        identity=RECIPE_OWN,
        minimum=0,
        maximum=1,
    )
    edropout_energy_scale: float = setting(
        10.0,
        SECTION,
        "EDropout: the energy is -scale x the mean logit margin.",
        identity=RECIPE_OWN,
        minimum=0,
        open_minimum=True,
    )


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
        self,
        model: nn.Module,
        masker: StepMasker,
        config: EDropoutConfig,
        seed: int,
        warmup_epochs: int,
        after_freeze: str = PUBLIC_RESTORE,
    ) -> None:
        self.model, self.masker = model, masker
        self.search = EDropoutSearch(model, config, seed)
        self.warmup_epochs = warmup_epochs
        self.after_freeze = after_freeze
        self.backup: list[torch.Tensor] = []  # public mode: the gated layers' weights at the freeze
        self.masks()  # a state that masks cannot express is refused before training, not at the freeze
        self.epoch = 0
        self.step_in_epoch = 0
        self.frozen_at: tuple[int, int] | None = None  # (1-based epoch, 1-based search step) of the freeze
        self.epoch_of_step: list[int] = []  # 1-based epoch of each search step, for the log
        self._notes: list[str] = []  # said to the user after the epoch (trainer.hooks.RunHooks.notes)

    @property
    def frozen(self) -> bool:
        return self.search.frozen

    def masks(self) -> dict[str, torch.Tensor]:
        """Pruning masks of the best state (the frozen one once frozen)."""
        return state_masks(self.model, self.search.layout, self.search.best.to(torch.bool))

    def _freeze(self) -> None:
        self.masker.add_masks(self.masks())
        self.frozen_at = (self.epoch + 1, self.search.steps)
        kept, units = int(self.search.best.sum()), int(self.search.best.numel())
        self._notes.append(
            f"EDropout: the state froze in epoch {self.epoch + 1} at search step {self.search.steps}: "
            f"{kept:,} of {units:,} units kept ({self.after_freeze} after the freeze)"
        )
        if self.after_freeze == PUBLIC_RESTORE:
            self.backup = [weight.detach().clone() for weight in self._backed_up()]

    def _backed_up(self) -> list[torch.Tensor]:
        """The weights the public code backs up and restores: every gated layer's, and the scale of
        the BatchNorm that follows a gated conv (``convK`` -> ``bnK``)."""
        weights = []
        for layer in self.search.layout.layers:
            weights.append(self.model.get_submodule(layer.name).weight)
            parent, _, leaf = layer.name.rpartition(".")
            if layer.kind == FILTERS and leaf.startswith("conv"):
                norm_name = f"{parent}.bn{leaf[4:]}" if parent else f"bn{leaf[4:]}"
                norm = dict(self.model.named_modules()).get(norm_name)
                if isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)) and norm.weight is not None:
                    weights.append(norm.weight)
        return weights

    @contextmanager
    def _restoring(self) -> Iterator[None]:
        """Public mode after the freeze: each step's update lands on the weights of the freeze
        (the public code restores its stale backup before every optimiser step), so the gated
        layers never move further than one step from them (docs/edropout.md)."""
        weights = self._backed_up()
        before = [weight.detach().clone() for weight in weights]
        yield
        with torch.no_grad():
            for weight, start, backup in zip(weights, before, self.backup):
                weight.copy_(backup.to(weight.device) + (weight - start))

    def _dropped_weights(self, state: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
        """``(weight, bool index of dropped units, whether they are rows)`` of every layer ``state`` gates."""
        dropped = []
        for layer in self.search.layout.layers:
            bits = state[layer.offset : layer.offset + layer.units].to(torch.bool)
            if not bool(bits.all()):
                weight = self.model.get_submodule(layer.name).weight
                dropped.append((weight, ~bits.to(weight.device), layer.kind in (FILTERS, SCALES)))
        return dropped

    @contextmanager
    def step(self, images: torch.Tensor, labels: torch.Tensor) -> Iterator[None]:
        """Wrap one SGD step: evolve the population on this minibatch, gate the step with the best
        state and give the dropped units' weights back their values after the optimiser step
        (momentum and weight decay would otherwise move them); once frozen, do nothing (the
        masker keeps the pruned weights at zero)."""
        step_in_epoch = self.step_in_epoch
        self.step_in_epoch += 1
        if not self.frozen and self.search.maybe_freeze(self.epoch, step_in_epoch, self.warmup_epochs):
            self._freeze()
        if self.frozen:
            with self._restoring() if self.backup else nullcontext():
                yield
            return
        state = self.search.step(self.model, images, labels).to(images.device)
        self.epoch_of_step.append(self.epoch + 1)
        kept = [
            (weight, index, rows, (weight.detach()[index] if rows else weight.detach()[:, index]).clone())
            for weight, index, rows in self._dropped_weights(state)
        ]
        with gated(self.model, self.search.layout, state):
            yield
        with torch.no_grad():
            for weight, index, rows, values in kept:
                if rows:
                    weight[index] = values
                else:
                    weight[:, index] = values

    def pruned(self):
        """Context for evaluating the pruned network: the best state gates the model."""
        if self.frozen:
            return nullcontext()
        return gated(self.model, self.search.layout, self.search.best.to(next(self.model.parameters()).device))

    # --- the run hooks (trainer.hooks) -------------------------------------------------------

    def describe(self) -> str:
        config, layout = self.search.config, self.search.layout
        covered = "the --include layers" if config.include else f"coverage {config.coverage}"
        return (
            f"EDropout: {layout.bits:,} bits over {len(layout.layers)} layers ({covered}); batch norm in the "
            f"energies: {config.energy_bn}; freeze rule {config.freeze} from epoch {self.warmup_epochs}; after the "
            f"freeze: {self.after_freeze}"
        )

    def begin_epoch(self, epoch: int) -> None:
        self.epoch, self.step_in_epoch = epoch, 0

    def notes(self, last_epoch: bool) -> list[str]:
        notes, self._notes = self._notes, []
        if last_epoch and not self.frozen:
            notes.append(
                f"EDropout: the state never froze in {self.epoch + 1} epoch(s) (freeze rule "
                f"{self.search.config.freeze} from epoch {self.warmup_epochs}); the row reports the final epoch"
            )
        return notes

    @property
    def step_context(self):
        return self.step

    def evaluation(self):
        return self.pruned()

    def extra_evaluation(self, evaluate_test) -> dict:
        """The paper's "no pruning" evaluation: every gate on, the weights as they are (after the
        freeze the pruned weights are zero, so it equals the pruned network by construction)."""
        return {
            "test_acc_no_pruning": evaluate_test().accuracy,
            "edropout_frozen": self.frozen,
            "edropout_best_energy": self.search.best_energy,
            "edropout_units_kept": int(self.search.best.sum()),
        }

    def selectable(self) -> bool:
        """Only an epoch evaluated with the frozen state, the network the row's costs describe, may
        be selected."""
        return self.frozen

    def best_masks(self) -> dict[str, torch.Tensor] | None:
        """Before the freeze, the best state's masks (so ``best.pt`` holds the evaluated network)."""
        return None if self.frozen else self.masks()

    def step_log(self) -> list[dict]:
        """One line per search step: epoch, step, best and re-scored incumbent energies, Hamming
        distance of the population, whether the best state changed, whether it froze after it."""
        frozen_step = self.frozen_at[1] if self.frozen_at else None
        return [
            {"epoch": epoch, **asdict(record), "frozen_after": record.step == frozen_step}
            for epoch, record in zip(self.epoch_of_step, self.search.records)
        ]

    def state_dict(self) -> dict:
        return {
            "search": self.search.state_dict(),
            "frozen_at": self.frozen_at,
            "epoch_of_step": self.epoch_of_step,
            "backup": [weight.cpu() for weight in self.backup],
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a checkpoint; a frozen state's masks go back into the masker."""
        self.search.load_state_dict(state["search"])
        self.frozen_at = tuple(state["frozen_at"]) if state["frozen_at"] is not None else None
        self.epoch_of_step = list(state["epoch_of_step"])
        self.backup = [weight.clone() for weight in state.get("backup", [])]
        if self.frozen:
            self.masker.add_masks(self.masks())

    def finish(
        self, run_dir, model: nn.Module, input_shape: tuple[int, ...], best: dict, final: dict
    ) -> tuple[PruneResult, dict]:
        """The final state's masks with their counted costs, and the EDropout columns of the row."""
        masks = {name: mask.cpu() for name, mask in self.masks().items()}
        summary = summarize(apply_masks(copy.deepcopy(model).cpu(), masks), input_shape)
        return PruneResult(masks, summary, []), {
            **self.summary(),
            "best_acc_no_pruning": best["test_acc_no_pruning"],
            "final_acc_no_pruning": final["test_acc_no_pruning"],
            "edropout_selection": AFTER_FREEZE if best["selectable"] else NEVER_FROZE,
        }

    def summary(self) -> dict:
        """Columns for the results row."""
        best = self.search.best
        return {
            "edropout_paper_r": paper_keep_ratio(self.model, self.search.layout, best, self.search.config.coverage),
            "edropout_units_kept": int(best.sum()),
            "edropout_units": int(best.numel()),
            "edropout_frozen_epoch": self.frozen_at[0] if self.frozen_at else None,
            "edropout_frozen_step": self.frozen_at[1] if self.frozen_at else None,
            "edropout_best_energy": self.search.best_energy,
        }
