"""EDropout's state search: binary keep/drop states of filters, evolved by binary differential
evolution on an energy, evaluated for the whole population in one batched forward.

Salehinejad & Valaee, "EDropout: Energy-Based Dropout and Pruning of Deep Neural Networks",
IEEE TNNLS (2022). A state holds one bit per covered unit: the output filters of every
convolution and the input units of the classifier (by default). A dropped filter's output is
zero, so its weights get zero gradient and keep their values; a frozen state becomes a pruning
mask (:func:`state_masks`).

Everything is a tensor operation on the population (NS states x bits); the random draws of a
step are made by :func:`draw_step` from one ``torch.Generator`` and passed to the pure
:func:`de_trials`, so a step can be checked by hand.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from common.seeding import derive_seed
from pruning.errors import PruningError

FILTERS, INPUTS = "filters", "inputs"


@dataclass(frozen=True)
class EDropoutConfig:
    """EDropout's search, with the public code's defaults."""

    population: int = 8  # NS candidate states
    keep_probability: float = 0.5  # p0: initial bits are Bernoulli(p0)
    mutation: float = 0.9  # F: probability that a mutant bit copies x1
    crossover: float = 0.9  # CR: probability that a trial bit comes from the mutant
    energy_scale: float = 10.0  # E = -scale x mean logit margin
    patience: int = 10  # steps without a better best energy before the state freezes
    candidates_per_forward: int = 0  # states per batched forward; 0: automatic (see EDropoutSearch.chunk)
    include: tuple[str, ...] = ()  # glob patterns on layer names; empty means the defaults
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
        if self.candidates_per_forward < 0:
            raise PruningError(
                f"candidates per forward must be 0 (automatic) or more, got {self.candidates_per_forward}"
            )
        if self.patience < 1:
            raise PruningError(f"EDropout patience must be at least 1 step, got {self.patience}")
        return self


@dataclass(frozen=True)
class CoveredLayer:
    """A layer whose units a state gates: bits ``offset .. offset + units - 1``.

    ``kind`` is ``"filters"`` (a convolution's output channels) or ``"inputs"`` (a Linear
    layer's input units).
    """

    name: str
    kind: str
    offset: int
    units: int


@dataclass(frozen=True)
class StateLayout:
    """Which bit of a state gates which unit of which layer."""

    layers: tuple[CoveredLayer, ...]

    @property
    def bits(self) -> int:
        return sum(layer.units for layer in self.layers)

    def split(self, states: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{layer: states[..., its bits]}`` for states of shape (..., bits)."""
        return {layer.name: states[..., layer.offset : layer.offset + layer.units] for layer in self.layers}


def state_layout(model: nn.Module, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> StateLayout:
    """The units EDropout gates in ``model``.

    By default every Conv1d/Conv2d (stem and downsample included; output filters) and the
    classifier, the last Linear layer (its input units). ``include`` globs replace the default
    set (a matching Linear layer is gated on its inputs, a matching conv on its filters);
    ``exclude`` globs remove layers.

    Raises
    ------
    PruningError
        If no layer is covered.
    """
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if include:
        chosen = [
            (n, m)
            for n, m in model.named_modules()
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)) and any(fnmatch.fnmatchcase(n, p) for p in include)
        ]
    else:
        chosen = convs + linears[-1:]
    chosen = [(n, m) for n, m in chosen if not any(fnmatch.fnmatchcase(n, p) for p in exclude)]
    if not chosen:
        raise PruningError("EDropout covers no layer (no convolution or Linear layer matches)")
    layers, offset = [], 0
    for name, module in chosen:
        if isinstance(module, nn.Linear):
            layer = CoveredLayer(name, INPUTS, offset, module.in_features)
        else:
            layer = CoveredLayer(name, FILTERS, offset, module.out_channels)
        layers.append(layer)
        offset += layer.units
    return StateLayout(tuple(layers))


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


def energy(logits: torch.Tensor, labels: torch.Tensor, scale: float) -> torch.Tensor:
    """E = -scale x mean over examples of (true-class logit - largest other logit).

    ``logits`` (..., B, classes), ``labels`` (B,); returns shape (...). Lower is better.
    """
    true = logits.gather(-1, labels.expand(*logits.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    others = logits.scatter(-1, labels.expand(*logits.shape[:-1]).unsqueeze(-1), float("-inf"))
    return -scale * (true - others.amax(dim=-1)).mean(dim=-1)


def _unit_gate(gate: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``gate`` (rows, units) shaped to multiply a (rows, units, *spatial) or (rows, units) tensor."""
    return gate.reshape(gate.shape[0], gate.shape[1], *([1] * (len(shape) - 2)))


@contextmanager
def gated(model: nn.Module, layout: StateLayout, states: torch.Tensor, repeat: int = 1) -> Iterator[None]:
    """Within the block, ``model`` runs with ``states`` applied: filters' outputs or Linear
    inputs of dropped units are zero.

    ``states`` is (bits,) for one state (any batch), or (M, bits) for M states applied to a
    batch of M stacked copies of a minibatch of ``repeat`` examples each (candidate m gates
    rows m*repeat .. (m+1)*repeat - 1).
    """
    states = states.reshape(-1, layout.bits)
    handles = []
    for layer in layout.layers:
        bits = states[:, layer.offset : layer.offset + layer.units]

        def gate(tensor: torch.Tensor, bits: torch.Tensor = bits) -> torch.Tensor:
            rows = bits.to(tensor.dtype)
            if rows.shape[0] > 1:
                rows = rows.repeat_interleave(repeat, dim=0)
            return tensor * _unit_gate(rows, tensor.shape)

        module = model.get_submodule(layer.name)
        if layer.kind == FILTERS:
            handles.append(module.register_forward_hook(lambda _m, _args, output, gate=gate: gate(output)))
        else:
            handles.append(module.register_forward_pre_hook(lambda _m, args, gate=gate: (gate(args[0]), *args[1:])))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def population_energies(
    model: nn.Module,
    layout: StateLayout,
    states: torch.Tensor,
    images: torch.Tensor,
    labels: torch.Tensor,
    scale: float,
    chunk: int = 0,
) -> torch.Tensor:
    """Energies (M,) of M states on one minibatch, without gradients.

    ``chunk`` states share one batched forward (the minibatch stacked ``chunk`` times, each
    copy gated by its state); 0 means all M at once. On a 2-core CPU one state per forward
    measured faster than one forward of all 8 (``bench/edropout_bench.py``): the stacked
    activations no longer fit the caches. BatchNorm layers run on their running statistics
    (the model is put in eval mode for the call), so one candidate's units cannot change
    another's normalisation and each energy equals a separate forward of that state.
    """
    chunk = chunk or states.shape[0]
    was_training = model.training
    model.eval()
    energies = []
    try:
        with torch.no_grad():
            for start in range(0, states.shape[0], chunk):
                part = states[start : start + chunk].to(images.device)
                with gated(model, layout, part, repeat=images.shape[0]):
                    logits = model(images.repeat(part.shape[0], *([1] * (images.dim() - 1))))
                energies.append(energy(logits.reshape(part.shape[0], images.shape[0], -1), labels, scale))
    finally:
        model.train(was_training)
    return torch.cat(energies)


def state_masks(model: nn.Module, layout: StateLayout, state: torch.Tensor) -> dict[str, torch.Tensor]:
    """The pruning masks of one state: a conv's dropped filters lose all their weights (mask
    rows, shape (C_out, C_in, 1, ...)), a Linear layer's dropped inputs their columns (C_out, C_in)."""
    masks = {}
    for layer in layout.layers:
        bits = state[layer.offset : layer.offset + layer.units].to(torch.bool)
        weight = model.get_submodule(layer.name).weight
        if layer.kind == FILTERS:
            mask = bits[:, None].expand(weight.shape[0], weight.shape[1])
        else:
            mask = bits[None, :].expand(weight.shape[0], weight.shape[1])
        masks[layer.name] = mask.reshape(*mask.shape, *([1] * (weight.dim() - 2))).clone()
    return masks


class EDropoutSearch:
    """The population of states, evolved one step per training minibatch until it freezes.

    Each step evaluates the NS trial states in one batched forward and compares them with the
    energies their candidates had when accepted (as the public code does: NS forwards per step,
    not 2 NS). :attr:`best` is the state that masks the SGD step.

    Parameters
    ----------
    model : nn.Module
    config : EDropoutConfig
    seed : int
        Seeds the initial population and every step's draws.
    """

    def __init__(self, model: nn.Module, config: EDropoutConfig, seed: int) -> None:
        self.config = config.validate()
        self.layout = state_layout(model, config.include, config.exclude)
        self.generator = torch.Generator().manual_seed(seed)
        self.states = initial_population(self.layout.bits, config, self.generator)
        self.energies: torch.Tensor | None = None
        self.best_energy = float("inf")
        self.steps = 0
        self.steps_since_improvement = 0
        self.frozen = False

    def chunk(self, device: torch.device) -> int:
        """States per forward: the configured number, else all of them on a GPU or for a model
        without convolutions, and one at a time for convolutional models on a CPU, where the
        stacked feature maps outgrow the caches (bench/edropout_bench.py: ResNet-18 3.5x a
        plain step one at a time, the mlp 3.3x all at once). A rule, not a timing, so that the
        same seed gives the same run everywhere."""
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

    def step(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Evolve one generation on this minibatch (nothing once frozen); returns :attr:`best`."""
        if self.frozen:
            return self.best
        scale = self.config.energy_scale
        chunk = self.chunk(images.device)
        if self.energies is None:
            self.energies = population_energies(model, self.layout, self.states, images, labels, scale, chunk).cpu()
        draws = draw_step(self.config.population, self.layout.bits, self.generator)
        trials = de_trials(self.states, draws, self.config.mutation, self.config.crossover)
        trial_energies = population_energies(model, self.layout, trials, images, labels, scale, chunk).cpu()
        self.states, self.energies = select(self.states, self.energies, trials, trial_energies)
        self.steps += 1
        best = float(self.energies.min())
        if best < self.best_energy:
            self.best_energy, self.steps_since_improvement = best, 0
        else:
            self.steps_since_improvement += 1
        return self.best

    def maybe_freeze(self, epoch: int, warmup_epochs: int) -> bool:
        """Freeze once ``epoch`` (0-based) is past the warm-up and the best energy has not
        improved for ``patience`` steps; returns whether it is frozen."""
        if not self.frozen and epoch >= warmup_epochs and self.steps_since_improvement >= self.config.patience:
            self.frozen = True
        return self.frozen

    def state_dict(self) -> dict:
        return {
            "states": self.states.clone(),
            "energies": self.energies,
            "best_energy": self.best_energy,
            "steps": self.steps,
            "steps_since_improvement": self.steps_since_improvement,
            "frozen": self.frozen,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.states, self.energies = state["states"], state["energies"]
        self.best_energy, self.steps = float(state["best_energy"]), int(state["steps"])
        self.steps_since_improvement, self.frozen = int(state["steps_since_improvement"]), bool(state["frozen"])
        self.generator.set_state(state["generator"])


def unit_structure(name: str, mask: torch.Tensor) -> str:
    """Whether a layer mask drops whole output filters (``"filters"``: every row of its
    (C_out, C_in) channel view all kept or all dropped) or whole inputs (``"inputs"``: columns).

    Raises
    ------
    PruningError
        If it does neither (the mask is not an EDropout-style unit mask).
    """
    channels = mask.to(torch.bool).reshape(mask.shape[0], mask.shape[1], -1).any(dim=2)
    rows_whole = bool((channels.all(dim=1) | ~channels.any(dim=1)).all())
    if rows_whole:
        return FILTERS
    if bool((channels.all(dim=0) | ~channels.any(dim=0)).all()):
        return INPUTS
    raise PruningError(f"layer {name}: the mask drops neither whole filters nor whole inputs")


def random_unit_masks(reference: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """The control EDropout's paper never ran: per layer, as many whole filters (or inputs) kept
    as in ``reference``, chosen uniformly at random from a seed derived from (seed, layer name).

    Returns masks of the same shapes as ``reference``.
    """
    masks = {}
    for name, mask in reference.items():
        kind = unit_structure(name, mask)
        channels = mask.to(torch.bool).reshape(mask.shape[0], mask.shape[1], -1).any(dim=2)
        kept = channels.any(dim=1) if kind == FILTERS else channels.any(dim=0)
        generator = torch.Generator().manual_seed(derive_seed(seed, "random-filters", name))
        chosen = torch.zeros(kept.numel(), dtype=torch.bool)
        chosen[torch.randperm(kept.numel(), generator=generator)[: int(kept.sum())]] = True
        unit = chosen[:, None] if kind == FILTERS else chosen[None, :]
        masks[name] = (
            unit.expand(mask.shape[0], mask.shape[1])
            .reshape(mask.shape[0], mask.shape[1], *([1] * (mask.dim() - 2)))
            .clone()
        )
    return masks
