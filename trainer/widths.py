"""Equal-cost widths: the width at which a masked model's counted MACs meet a budget.

graph2nn compares relational graphs at equal compute: each network is widened (or narrowed) until
its multiply-accumulates match the dense baseline's. Here the width is searched over the model's
width option (:class:`trainer.models.WidthOption`) in steps of ``width_step`` width channels,
and the MACs of each candidate are *counted* from the masks the run will train under (the plan
or recipe applied at that width, the model's own X-layers included), never estimated.

Which widths grow is ``match_layers``: graph2nn's rule (``relational``, the default for
relational plans on the mlp) holds the stem at its default width and widens only the relational
layers (the stem -> W, W -> W layers and the head's inputs), and takes the narrowest width whose
MACs reach the budget, as graph2nn's auto-match does (``RGRAPH.UPPER: true`` in its configs);
``all`` scales every width the width option sets, stem included, and takes the nearer of the two
bracketing widths.

The budget is ``"dense"`` (the same model, unmasked, at its default width) or a number of MACs
per example. The chosen width is the one whose counted MACs are closest to the budget among
the two widths that bracket it (graph2nn's rule: the wider one unless the narrower meets it
exactly), so the error is at most one step's change in MACs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from common.memory import MemoryBudgetError, require_memory
from pruning.apply import counted_macs
from pruning.errors import PruningError
from pruning.mask_rules import DENSE
from topology.plans import Plan
from trainer.config import DENSE_BUDGET, RELATIONAL_WIDTHS, TrainConfig, parse_mac_budget  # noqa: F401  (re-exported)
from trainer.errors import TrainError
from trainer.identity import resolved_model_options
from trainer.models import WIDTH_OPTIONS, build_model
from trainer.recipes import recipe_of

#: The widest model a search will build: this many times the default width.
MAX_GROWTH = 64


@dataclass(frozen=True)
class WidthChoice:
    """The width a MAC budget chose.

    Attributes
    ----------
    option, width : str, int or float
        The model option and its chosen value (``width=986``; a multiplier for MobileNet).
    channels : int
        The chosen width in width channels.
    macs : int
        Counted MACs per example at that width, masks included.
    budget : int
        The budget in MACs per example.
    step_macs : int
        How much one width step changes the MACs there: the resolution of the match.
    """

    option: str
    width: int | float
    channels: int
    macs: int
    budget: int
    step_macs: int

    @property
    def error(self) -> float:
        """(macs - budget) / budget."""
        return (self.macs - self.budget) / self.budget

    def describe(self) -> str:
        return (
            f"{self.option}={self.width:g}: {self.macs:,} MACs for a budget of {self.budget:,} "
            f"({100 * self.error:+.2f}%; "
            f"one width step changes them by {self.step_macs:,})"
        )

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "error": self.error}


def _width_option(config: TrainConfig):
    option = WIDTH_OPTIONS.get(config.model)
    if option is None:
        raise TrainError(
            f"model {config.model} has no width option, so --match-macs cannot scale it "
            f"(models that have one: {', '.join(sorted(WIDTH_OPTIONS))})"
        )
    if option.name in config.model_options:
        raise TrainError(f"--match-macs chooses {option.name}; do not also give --model-option {option.name}=...")
    return option


def budget_macs(config: TrainConfig, input_shape: tuple[int, int, int], num_classes: int) -> int:
    """The budget of ``config.match_macs`` in MACs per example (``dense``: the unmasked model at its default width)."""
    if config.match_macs != DENSE_BUDGET:
        return int(round(float(config.match_macs)))
    model = build_model(config.model, input_shape, num_classes, **config.model_options)
    return counted_macs(
        model, dataclasses.replace(recipe_of(config).mask_config(config, None), rule=DENSE), input_shape
    )[1]


def fixed_stem(config: TrainConfig) -> dict:
    """The model option that holds the stem at its default width under graph2nn's rule, else {}."""
    option = WIDTH_OPTIONS[config.model]
    if config.resolved_match_layers != RELATIONAL_WIDTHS or option.stem in config.model_options:
        return {}
    if option.stem is None:
        raise TrainError(f"--match-layers {RELATIONAL_WIDTHS}: model {config.model} has no separate stem width")
    return {option.stem: resolved_model_options(config.model, {})[option.name]}


def options_at(config: TrainConfig, channels: int) -> dict:
    """The model options of ``config`` at ``channels`` width channels (the stem held under graph2nn's rule)."""
    option = WIDTH_OPTIONS[config.model]
    return {**config.model_options, **fixed_stem(config), option.name: option.value(channels)}


def macs_at(
    config: TrainConfig, plan: Plan | None, input_shape: tuple[int, int, int], num_classes: int, channels: int
) -> int:
    """Counted MACs per example of ``config``'s masked model at ``channels`` width channels."""
    model = build_model(config.model, input_shape, num_classes, **options_at(config, channels))
    return counted_macs(model, recipe_of(config).mask_config(config, plan), input_shape)[0]


def _narrowest(config: TrainConfig, plan: Plan | None) -> int:
    """Fewest width steps worth trying: a relational plan needs a channel per node, a per-layer
    recipe ``degree`` channels on each side."""
    needed = max(
        config.width_step, plan.nodes if plan is not None and config.nodes_policy != "shrink" else 1, config.degree or 1
    )
    return -(-needed // config.width_step)


def _lowest_maskable(config: TrainConfig, plan: Plan | None, option, default, macs) -> int:
    """The narrowest width (in width steps) whose layers the recipe can mask: some layers may be too
    narrow for it, so the narrowest width is doubled until masks can be drawn."""
    low = _narrowest(config, plan)
    while True:
        try:
            macs(low)
            return low
        except PruningError as error:
            if low * config.width_step > option.channels(default):
                raise TrainError(
                    f"no width up to the default {option.name}={default:g} can be masked by this recipe: {error}"
                ) from None
            low *= 2


#: Bytes per parameter a width search's model may hold at once: weights, masks and their copies.
BYTES_PER_PARAMETER = 16


def _refuse_unreachable(
    config: TrainConfig, option, budget: int, start_macs: int, limit: int, start: int, shape: tuple, classes: int
) -> None:
    """Before building wider models: MACs and parameters grow at most with the square of the width,
    so a budget above the widest searched model's bound, or a model that would not fit the memory
    budget on the way there, is refused at once with one line."""
    growth = (limit / start) ** 2
    if budget > start_macs * growth:
        raise TrainError(
            f"a budget of {budget:,} MACs needs {config.model} wider than {option.name}={option.value(limit):g} "
            f"(at most {start_macs * growth:,.0f} MACs); give a smaller budget"
        )
    needed = (budget / max(start_macs, 1)) * _parameters_at(config, option, start, shape, classes) * BYTES_PER_PARAMETER
    try:
        require_memory(needed, f"--match-macs {budget:,}: the {config.model} it needs")
    except MemoryBudgetError as error:
        raise TrainError(str(error)) from None


def _parameters_at(config: TrainConfig, option, channels: int, shape: tuple, classes: int) -> int:
    model = build_model(config.model, shape, classes, **options_at(config, channels))
    return sum(parameter.numel() for parameter in model.parameters())


def solve_width(
    config: TrainConfig, plan: Plan | None, input_shape: tuple[int, int, int], num_classes: int
) -> WidthChoice:
    """The width (a multiple of ``config.width_step`` width channels) whose counted MACs are closest to the budget.

    Brackets the budget by doubling from the default width, then bisects; counted MACs grow with
    the width (up to the seeded block and graph draws, which the bracketing tolerates: the
    answer is always one of two neighbouring widths whose MACs lie on either side of the budget).

    Raises
    ------
    TrainError
        For a model without a width option, or a budget below the narrowest model's MACs or
        above the widest one searched.
    """
    option = _width_option(config)
    budget = budget_macs(config, input_shape, num_classes)
    step = config.width_step
    cache: dict[int, int] = {}

    def macs(k: int) -> int:  # k width steps
        if k not in cache:
            cache[k] = macs_at(config, plan, input_shape, num_classes, k * step)
        return cache[k]

    default = resolved_model_options(config.model, {})[option.name]
    low = _lowest_maskable(config, plan, option, default, macs)
    if macs(low) > budget:
        raise TrainError(
            f"a budget of {budget:,} MACs is below the narrowest {config.model} this recipe allows "
            f"({option.name}={option.value(low * step):g}: {macs(low):,} MACs)"
        )
    high = max(low + 1, option.channels(default) // step)
    limit = high * MAX_GROWTH
    _refuse_unreachable(config, option, budget, macs(high), limit * step, high * step, input_shape, num_classes)
    while macs(high) < budget:
        low, high = high, high * 2
        if high > limit:
            raise TrainError(
                f"a budget of {budget:,} MACs needs {config.model} wider than "
                f"{option.name}={option.value(limit * step):g}; "
                "give a smaller budget"
            )
    while high - low > 1:  # invariant: macs(low) <= budget <= macs(high)
        middle = (low + high) // 2
        if macs(middle) <= budget:
            low = middle
        else:
            high = middle
    if config.resolved_match_layers == RELATIONAL_WIDTHS:  # graph2nn: the narrowest width at or above the budget
        best = low if macs(low) >= budget else high
    else:
        best = min((low, high), key=lambda k: (abs(macs(k) - budget), k))
    return WidthChoice(
        option.name, option.value(best * step), best * step, macs(best), budget, abs(macs(high) - macs(low))
    )


def model_options_for(
    config: TrainConfig, plan: Plan | None, input_shape: tuple[int, int, int], num_classes: int
) -> tuple[dict, WidthChoice | None]:
    """The model options a run builds its model with: ``config.model_options``, plus the chosen width under ``--match-
    macs``."""
    if config.match_macs is None:
        return dict(config.model_options), None
    choice = solve_width(config, plan, input_shape, num_classes)
    return options_at(config, choice.channels), choice
