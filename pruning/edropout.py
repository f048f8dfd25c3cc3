"""EDropout's state search: binary keep/drop states of units, evolved by binary differential
evolution on an energy, with the public code's freezing rule or one that tests convergence.

Salehinejad & Valaee, "EDropout: Energy-Based Dropout and Pruning of Deep Neural Networks",
IEEE TNNLS (2022); public code: github.com/sparsifai/epruning (docs/edropout.md says where we
follow it and where we depart). Which units a state gates is :mod:`pruning.edropout_units`; the
energies are :mod:`pruning.edropout_energy`.

Everything is a tensor operation on the population (NS states x bits); the random draws of a
step are made by :func:`draw_step` from one ``torch.Generator`` and passed to the pure
:func:`de_trials`, so a step can be checked by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from pruning.edropout_energy import BATCH_STATISTICS, ENERGY_BN_MODES, population_energies
from pruning.edropout_units import COVERAGES, FILTERS, PUBLISHED, state_layout
from pruning.errors import PruningError

#: ``--edropout-freeze`` rules (the first is the default); see :meth:`EDropoutSearch.maybe_freeze`.
PUBLIC_FREEZE, RESCORE_FREEZE = "public", "rescore"
FREEZE_RULES = (PUBLIC_FREEZE, RESCORE_FREEZE)
#: The public rule looks back this many recorded best energies (its ``[-10:-1]`` slice)...
PUBLIC_WINDOW = 10
#: ...and is only tested from this 0-based step of an epoch on (its ``batch_idx > 10``).
PUBLIC_FIRST_STEP = 11


@dataclass(frozen=True)
class EDropoutConfig:
    """EDropout's search, with the public code's defaults."""

    population: int = 8  # NS candidate states
    keep_probability: float = 0.5  # p0: initial bits are Bernoulli(p0)
    mutation: float = 0.9  # F: probability that a mutant bit copies x1
    crossover: float = 0.9  # CR: probability that a trial bit comes from the mutant
    energy_scale: float = 10.0  # E = -scale x mean logit margin
    patience: int = 10  # rescore rule: steps the best state must stay unchanged before it freezes
    coverage: str = PUBLISHED  # which layers a state gates (pruning.edropout_units.COVERAGES)
    energy_bn: str = BATCH_STATISTICS  # batch norm during energies: "batch" statistics or "eval" (running)
    freeze: str = PUBLIC_FREEZE  # "public" (the public code's test) or "rescore"
    candidates_per_forward: int = 0  # states per batched forward; 0: automatic (see EDropoutSearch.chunk)
    include: tuple[str, ...] = ()  # glob patterns on layer names; empty means the coverage preset
    exclude: tuple[str, ...] = ()  # glob patterns on layer names left uncovered

    def validate(self) -> EDropoutConfig:
        if self.population < 4:
            raise PruningError(
                f"EDropout needs a population of at least 4 (each candidate picks three others), got {self.population}"
            )
        for name, value in (
            ("keep probability", self.keep_probability),
            ("mutation", self.mutation),
            ("crossover", self.crossover),
        ):
            if not 0.0 <= value <= 1.0:
                raise PruningError(f"EDropout {name} must be in [0, 1], got {value}")
        for name, value, choices in (
            ("coverage", self.coverage, COVERAGES),
            ("energy batch norm", self.energy_bn, ENERGY_BN_MODES),
            ("freeze rule", self.freeze, FREEZE_RULES),
        ):
            if value not in choices:
                raise PruningError(f"EDropout {name} must be one of {', '.join(choices)}, got {value!r}")
        if not self.energy_scale > 0:
            raise PruningError(f"EDropout energy scale must be positive, got {self.energy_scale}")
        if self.candidates_per_forward < 0:
            raise PruningError(
                f"candidates per forward must be 0 (automatic) or more, got {self.candidates_per_forward}"
            )
        if self.patience < 1:
            raise PruningError(f"EDropout patience must be at least 1 step, got {self.patience}")
        return self


def initial_population(bits: int, config: EDropoutConfig, generator: torch.Generator) -> torch.Tensor:
    """(NS, bits) bool: every bit kept with probability p0."""
    return torch.rand((config.population, bits), generator=generator) < config.keep_probability


@dataclass(frozen=True)
class StepDraws:
    """The random numbers of one evolution step.

    Attributes
    ----------
    partners : LongTensor, shape (NS, 3)
        x1, x2, x3 for each candidate: three distinct other candidates.
    mutate : Tensor, shape (NS, bits)
        Uniform draws; a mutant bit copies x1 where ``mutate < F``.
    cross : Tensor, shape (NS, bits)
        Uniform draws; a trial bit comes from the mutant where ``cross < CR``.
    """

    partners: torch.Tensor
    mutate: torch.Tensor
    cross: torch.Tensor


def draw_step(population: int, bits: int, generator: torch.Generator) -> StepDraws:
    """One step's random numbers: per candidate, three distinct others in random order."""
    scores = torch.rand((population, population), generator=generator)
    scores.fill_diagonal_(float("inf"))  # never oneself
    partners = scores.argsort(dim=1)[:, :3]
    return StepDraws(
        partners,
        torch.rand((population, bits), generator=generator),
        torch.rand((population, bits), generator=generator),
    )


def de_trials(states: torch.Tensor, draws: StepDraws, mutation: float, crossover: float) -> torch.Tensor:
    """Binary differential evolution: a trial state per candidate.

    Per bit, the mutant copies x1 with probability F; otherwise it is ``1 - x1`` where x2 and
    x3 agree and 0 where they differ. Binomial crossover then takes the mutant's bit with
    probability CR and the candidate's own bit otherwise.

    Parameters
    ----------
    states : BoolTensor, shape (NS, bits)
    draws : StepDraws
    mutation, crossover : float
        F and CR.

    Returns
    -------
    BoolTensor, shape (NS, bits)
    """
    x1, x2, x3 = (states[draws.partners[:, k]] for k in range(3))
    mutant = torch.where(draws.mutate < mutation, x1, ~x1 & (x2 == x3))
    return torch.where(draws.cross < crossover, mutant, states)


def select(
    states: torch.Tensor, energies: torch.Tensor, trials: torch.Tensor, trial_energies: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy one-to-one selection: a trial replaces its candidate when its energy is lower."""
    better = trial_energies < energies
    return torch.where(better[:, None], trials, states), torch.where(better, trial_energies, energies)


def mean_hamming(states: torch.Tensor) -> float:
    """Mean Hamming distance between two distinct states of the population, as a share of the bits."""
    count = states.shape[0]
    differ = (states[:, None, :] != states[None, :, :]).sum(dim=-1).to(torch.float64)
    return float(differ.sum() / (count * (count - 1) * states.shape[1]))


def public_rule_converged(best_energies: list[float]) -> bool:
    """The public code's freezing test, read literally: true when any of the 9 best energies
    before the last equals the last (``np.mean(collect[-10:-1] == collect[-1])`` is non-zero).
    The stored energies only change when a trial beats its candidate, so one step without a new
    best suffices."""
    if len(best_energies) < 2:
        return False
    last = best_energies[-1]
    return any(value == last for value in best_energies[-PUBLIC_WINDOW:-1])


@dataclass(frozen=True)
class StepRecord:
    """One search step, a line of the run's search log."""

    step: int  # 1-based step of the search
    best_energy: float  # lowest energy of the population after selection (as stored)
    incumbent_energy: float  # the best state before this step, re-scored on this step's minibatch
    hamming: float  # mean pairwise Hamming distance of the population, share of the bits
    best_changed: bool  # whether the best state's bits differ from the previous step's


class EDropoutSearch:
    """The population of states, evolved one step per training minibatch until it freezes.

    With the public freeze rule each step evaluates the NS trial states and compares them with
    the energies their candidates had when accepted, on earlier minibatches (as the public code
    does); with ``rescore`` the candidates are re-scored on the same minibatch as the trials (2 NS
    forwards), so selection compares like with like. Either way the incumbent best state is
    re-scored on the minibatch for the log. :attr:`best` is the state that gates the SGD step.

    Parameters
    ----------
    model : nn.Module
    config : EDropoutConfig
    seed : int
        Seeds the initial population and every step's draws.
    """

    def __init__(self, model: nn.Module, config: EDropoutConfig, seed: int) -> None:
        self.config = config.validate()
        self.layout = state_layout(model, config.coverage, config.include, config.exclude)
        self.generator = torch.Generator().manual_seed(seed)
        self.states = initial_population(self.layout.bits, config, self.generator)
        self.energies: torch.Tensor | None = None
        self.best_energies: list[float] = []  # after each step, the lowest stored energy
        self.records: list[StepRecord] = []
        self.unchanged_steps = 0
        self.frozen = False

    @property
    def steps(self) -> int:
        return len(self.records)

    @property
    def best_energy(self) -> float:
        return self.best_energies[-1] if self.best_energies else float("inf")

    def chunk(self, device: torch.device) -> int:
        """States per forward: the configured number, else all of them on a GPU or for a model
        without convolutions, and one at a time for convolutional models on a CPU, where the
        stacked feature maps outgrow the caches (bench/edropout_bench.py). A rule, not a timing,
        so that the same seed gives the same run everywhere."""
        if self.config.candidates_per_forward:
            return self.config.candidates_per_forward
        convolutional = any(layer.kind == FILTERS for layer in self.layout.layers)
        return 1 if device.type == "cpu" and convolutional else 0

    @property
    def best(self) -> torch.Tensor:
        """(bits,) bool: the state with the lowest energy (the first state before any step)."""
        if self.energies is None:
            return self.states[0]
        return self.states[int(self.energies.argmin())]

    def _energies(self, model: nn.Module, states: torch.Tensor, images: torch.Tensor, labels: torch.Tensor):
        config = self.config
        chunk = self.chunk(images.device)
        return population_energies(
            model, self.layout, states, images, labels, config.energy_scale, chunk, config.energy_bn
        ).cpu()

    def step(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Evolve one generation on this minibatch (nothing once frozen); returns :attr:`best`."""
        if self.frozen:
            return self.best
        size, rescore = self.config.population, self.config.freeze == RESCORE_FREEZE
        incumbent = self.best.clone()
        if self.energies is None and not rescore:
            self.energies = self._energies(model, self.states, images, labels)
        draws = draw_step(size, self.layout.bits, self.generator)
        trials = de_trials(self.states, draws, self.config.mutation, self.config.crossover)
        if rescore:
            scored = self._energies(model, torch.cat([self.states, trials]), images, labels)
            current, trial_energies = scored[:size], scored[size:]
            incumbent_energy = float(current[0 if self.energies is None else int(self.energies.argmin())])
        else:
            scored = self._energies(model, torch.cat([trials, incumbent[None]]), images, labels)
            current, trial_energies, incumbent_energy = self.energies, scored[:size], float(scored[size])
        self.states, self.energies = select(self.states, current, trials, trial_energies)
        changed = not torch.equal(self.best, incumbent)
        self.unchanged_steps = 0 if changed else self.unchanged_steps + 1
        self.best_energies.append(float(self.energies.min()))
        self.records.append(
            StepRecord(self.steps + 1, self.best_energy, incumbent_energy, mean_hamming(self.states), changed)
        )
        return self.best

    def maybe_freeze(self, epoch: int, step_in_epoch: int, warmup_epochs: int) -> bool:
        """Before the step ``step_in_epoch`` (0-based) of ``epoch`` (0-based): freeze from the
        1-based epoch ``warmup_epochs`` on (the public code's ``epoch >= threshold_early_state``
        over epochs counted from 1) when the rule says the search has converged; returns whether
        it is frozen.

        * ``public``: from the 12th step of an epoch on, when :func:`public_rule_converged`.
        * ``rescore``: when the best state's bits have not changed for ``patience`` steps.
        """
        if self.frozen or epoch + 1 < warmup_epochs:
            return self.frozen
        if self.config.freeze == PUBLIC_FREEZE:
            self.frozen = step_in_epoch >= PUBLIC_FIRST_STEP and public_rule_converged(self.best_energies)
        else:
            self.frozen = self.steps > 0 and self.unchanged_steps >= self.config.patience
        return self.frozen

    def state_dict(self) -> dict:
        return {
            "states": self.states.clone(),
            "energies": self.energies,
            "best_energies": list(self.best_energies),
            "records": [asdict(record) for record in self.records],
            "unchanged_steps": self.unchanged_steps,
            "frozen": self.frozen,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.states, self.energies = state["states"], state["energies"]
        self.best_energies = [float(value) for value in state["best_energies"]]
        self.records = [StepRecord(**record) for record in state["records"]]
        self.unchanged_steps, self.frozen = int(state["unchanged_steps"]), bool(state["frozen"])
        self.generator.set_state(state["generator"])
