"""Recipes: how a training run gets its masks, one registered object each (docs/architecture.md, "Recipes").

A :class:`Recipe` declares

* ``reads`` — the masking fields of the run identity it depends on (the others are set to None,
  so e.g. the dense baseline is one run whatever ``--self-loops`` says);
* ``takes`` / ``needs`` — which source options (``--plan``, ``--masks``, ``--like``, ``--degree``,
  ``--density``, ``--match-macs``) it accepts and requires;
* ``per_layer`` — it draws an independent graph per layer (``--best-of`` applies, and a sweep
  grid can vary it);
* ``mask_rule`` — the pruning stage's recipe that masks the model before training;

and implements :meth:`Recipe.validate`, :meth:`Recipe.inputs` (plan or masks with their hashes,
for the run and the sweep through the same call), :meth:`Recipe.identity_extra` and
:meth:`Recipe.hooks` (what it adds to the training loop). The columns it adds to a results row
are declared with it (``outcomes``, ``settings_key``); docs/architecture.md, "Adding things", lists
the files a new recipe touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from common.columns import RECIPE_OPTIONS
from common.registry import Registry
from common.schema import schema_fields
from common.seeding import derive_seed
from pruning.edropout import EDropoutConfig
from pruning.edropout_units import random_unit_masks
from pruning.errors import PruningError
from pruning.layers import LayerSelection
from pruning.mask_rules import DENSE, MODEL_WIRING, PER_LAYER_RECIPES, RELATIONAL, MaskConfig
from pruning.sources import load_mask_source
from pruning.storage import masks_sha256
from topology.plans import Plan, load_plan
from trainer.edropout import EDROPOUT, EDropoutSettings, EDropoutTraining
from trainer.errors import TrainError
from trainer.hooks import RunHooks
from trainer.stepmask import StepMasker

if TYPE_CHECKING:
    from trainer.config import TrainConfig

MASKS = "masks"
RANDOM_FILTERS = "random-filters"

#: Command-line spelling of the options that give a run its masks.
SOURCE_FLAGS = {
    "plan": "--plan",
    "masks": "--masks",
    "like": "--like",
    "degree": "--degree",
    "density": "--density",
    "match_macs": "--match-macs",
}
#: Identity fields that only a masked recipe reads (None where the recipe does not read them).
MASKING_FIELDS = ("plan_sha256", "masks_sha256", "recipe_degree", "recipe_density", *RECIPE_OPTIONS)
#: Fields of every recipe that masks chosen layers itself.
LAYER_CHOICE = frozenset({"prune_first", "prune_last", "include", "exclude", "mask_seed"})


@dataclass(frozen=True)
class RunInputs:
    """What a configuration's files hold: the plan, the masks to train under, and the content
    hashes the run identity names (for random-filters, the hash of the ``--like`` masks)."""

    plan: Plan | None = None
    masks: dict[str, torch.Tensor] | None = None
    plan_sha256: str | None = None
    masks_sha256: str | None = None


@dataclass(frozen=True)
class Recipe:
    """A recipe that masks the model through the pruning stage before training (see module doc)."""

    name: str
    summary: str  # one line for --help
    reads: frozenset[str] = frozenset()
    takes: frozenset[str] = frozenset({"degree", "density", "match_macs"})
    needs: frozenset[str] = frozenset()
    per_layer: bool = False
    mask_rule: str = DENSE
    refusal: str = field(default="", compare=False)  # why other source options are refused
    outcomes: tuple[str, ...] = ()  # results columns of its own: what its runs measure
    settings_key: str | None = None  # the identity key (and results column) of its own settings
    settings: type | None = None  # its own settings: a dataclass of common.schema settings (a section)

    def settings_of(self, config: TrainConfig):
        """This recipe's settings in ``config`` (an instance of :attr:`settings`)."""
        names = [field.name for field in schema_fields(self.settings)]
        return self.settings(**{name: config.recipe_settings[name] for name in names})

    @property
    def columns(self) -> tuple[str, ...]:
        """The results columns this recipe adds (outcomes, for the report)."""
        return self.outcomes

    def validate(self, config: TrainConfig) -> None:
        """Raise TrainError for a source option the recipe does not take or needs and lacks."""
        given = [name for name in SOURCE_FLAGS if getattr(config, name) is not None]
        refused = [name for name in given if name not in self.takes]
        if refused and self.refusal:
            raise TrainError(
                f"--recipe {self.name} {self.refusal}; it takes no {', '.join(SOURCE_FLAGS[n] for n in refused)}"
            )
        if refused:
            users = [r.name for r in RECIPES.values() if refused[0] in r.needs] or [
                r.name for r in RECIPES.values() if refused[0] in r.takes
            ]
            raise TrainError(
                f"{SOURCE_FLAGS[refused[0]]} is only used by --recipe {' or '.join(users)}, not by {self.name!r}"
            )
        for name in sorted(self.needs - set(given)):
            raise TrainError(f"the {self.name} recipe needs {SOURCE_FLAGS[name]}")

    def inputs(self, config: TrainConfig) -> RunInputs:
        """Load the files the configuration names (one-line errors naming the file)."""
        return RunInputs()

    def identity_extra(self, config: TrainConfig) -> dict:
        """Identity keys only this recipe has (absent for the others, so their hashes never change)."""
        return {}

    def mask_config(self, config: TrainConfig, plan: Plan | None) -> MaskConfig:
        """The pruning stage's configuration for the run's model."""
        selection = LayerSelection(config.prune_first, config.prune_last, config.include, config.exclude)
        return MaskConfig(
            self.mask_rule,
            plan,
            config.degree,
            config.density,
            config.mask_seed,
            config.self_loops,
            config.nodes_policy,
            selection,
            config.degree_side,
            config.best_of,
            config.select_by,
            degree_overflow=config.degree_overflow or "error",
        )

    def hooks(
        self, model: nn.Module, masker: StepMasker, config: TrainConfig, resume_dir: Path | None, world: int
    ) -> RunHooks:
        """What the recipe adds to the training loop (nothing, by default)."""
        return RunHooks()


class RelationalRecipe(Recipe):
    def inputs(self, config: TrainConfig) -> RunInputs:
        plan = load_plan(config.plan)
        return RunInputs(plan=plan, plan_sha256=plan.sha256)


class PerLayerRecipe(Recipe):
    def validate(self, config: TrainConfig) -> None:
        super().validate(config)
        if (config.degree is None) == (config.density is None):
            raise TrainError(f"the {self.name} recipe needs exactly one of --degree and --density")


class MasksRecipe(Recipe):
    def validate(self, config: TrainConfig) -> None:
        if config.match_macs is not None:
            raise TrainError("--match-macs chooses a width, but --masks fixes the layer shapes; give only one of them")
        super().validate(config)

    def inputs(self, config: TrainConfig) -> RunInputs:
        masks = load_mask_source(config.masks)
        return RunInputs(masks=masks, masks_sha256=masks_sha256(masks))


def replicate_seed(config: TrainConfig, purpose: str) -> int:
    """The seed of a draw that is a replicate, not a treatment (EDropout's search, the random
    filters of its control): from the mask seed and the training seed, so the seeds of one
    configuration are independent draws and one experiment in the report."""
    return derive_seed(config.mask_seed, purpose, str(config.train_seed))


class RandomFiltersRecipe(Recipe):
    def inputs(self, config: TrainConfig) -> RunInputs:
        reference = load_mask_source(config.like)
        masks = random_unit_masks(reference, replicate_seed(config, self.name))
        return RunInputs(masks=masks, masks_sha256=masks_sha256(reference))

    def identity_extra(self, config: TrainConfig) -> dict:
        return {self.settings_key: "per training seed"}  # the draws used to come from the mask seed alone


class EDropoutRecipe(Recipe):
    def validate(self, config: TrainConfig) -> None:
        super().validate(config)
        warmup = self.settings_of(config).edropout_warmup
        if not (warmup is None or 0 <= warmup <= config.epochs):
            raise TrainError(f"EDropout warm-up must be between 0 and the {config.epochs} epochs, got {warmup}")
        try:
            self.search_config(config)
        except PruningError as error:
            raise TrainError(str(error)) from None

    def warmup(self, config: TrainConfig) -> int:
        """The epoch (counted from 1) from which the state may freeze: as given, else half the epochs
        (rounded down)."""
        warmup = self.settings_of(config).edropout_warmup
        return warmup if warmup is not None else config.epochs // 2

    def search_config(self, config: TrainConfig) -> EDropoutConfig:
        """The search the run's ``--edropout-*`` options describe (validated)."""
        settings = self.settings_of(config)
        return EDropoutConfig(
            population=settings.edropout_population,
            keep_probability=settings.edropout_keep_probability,
            mutation=settings.edropout_mutation,
            crossover=settings.edropout_crossover,
            energy_scale=settings.edropout_energy_scale,
            patience=settings.edropout_patience,
            coverage=settings.edropout_coverage,
            energy_bn=settings.edropout_energy_bn,
            freeze=settings.edropout_freeze,
            include=config.include,
            exclude=config.exclude,
        ).validate()

    def identity_extra(self, config: TrainConfig) -> dict:
        search = self.search_config(config)
        return {
            self.settings_key: {
                "population": search.population,
                "patience": search.patience,
                "warmup": self.warmup(config),
                "coverage": search.coverage,
                "after_freeze": self.settings_of(config).edropout_after_freeze,
                "energy_bn": search.energy_bn,
                "freeze": search.freeze,
                "keep_probability": search.keep_probability,
                "mutation": search.mutation,
                "crossover": search.crossover,
                "energy_scale": search.energy_scale,
            }
        }

    def hooks(
        self, model: nn.Module, masker: StepMasker, config: TrainConfig, resume_dir: Path | None, world: int
    ) -> RunHooks:
        if world > 1:
            raise TrainError(f"--recipe {self.name} runs in one process; drop --ddp")
        seed = replicate_seed(config, self.name)
        after_freeze = self.settings_of(config).edropout_after_freeze
        return EDropoutTraining(model, masker, self.search_config(config), seed, self.warmup(config), after_freeze)


RECIPES: Registry[Recipe] = Registry("recipe")


def register(recipe: Recipe) -> Recipe:
    """Add ``recipe`` to :data:`RECIPES` (a duplicate name is an error)."""
    return RECIPES.register(recipe.name)(recipe)


_RELATIONAL_READS = LAYER_CHOICE | {"plan_sha256", "self_loops", "nodes_policy"}
_PER_LAYER_READS = LAYER_CHOICE | {
    "recipe_degree",
    "recipe_density",
    "degree_side",
    "best_of",
    "select_by",
    "degree_overflow",
}

register(Recipe(DENSE, "every connection kept: the unpruned baseline"))
register(
    RelationalRecipe(
        RELATIONAL,
        "one plan graph on the channel blocks of every layer (RGP; graph2nn with --self-loops)",
        _RELATIONAL_READS,
        takes=frozenset({"plan", "degree", "density", "match_macs"}),
        needs=frozenset({"plan"}),
        mask_rule=RELATIONAL,
    )
)
for _name in PER_LAYER_RECIPES:
    register(
        PerLayerRecipe(
            _name,
            f"an independent {_name} bipartite graph per layer",
            _PER_LAYER_READS,
            per_layer=True,
            mask_rule=_name,
        )
    )
register(
    Recipe(
        MODEL_WIRING,
        "only the model's own X-layers are masked (X-Net models)",
        frozenset({"mask_seed"}),
        mask_rule=MODEL_WIRING,
    )
)
register(
    MasksRecipe(
        MASKS,
        "train under exactly the masks given with --masks",
        frozenset({"masks_sha256"}),
        takes=frozenset({"masks", "degree", "density"}),
        needs=frozenset({"masks"}),
    )
)
register(
    EDropoutRecipe(
        EDROPOUT,
        "EDropout finds the masks during training (energy-based search over whole units)",
        frozenset({"include", "exclude", "mask_seed"}),
        takes=frozenset(),
        refusal="finds its own masks",
        outcomes=(
            "edropout_paper_r",
            "edropout_units_kept",
            "edropout_units",
            "edropout_frozen_epoch",
            "edropout_frozen_step",
            "edropout_best_energy",
            "edropout_selection",
            "best_acc_no_pruning",
            "final_acc_no_pruning",
        ),
        settings_key=EDROPOUT,
        settings=EDropoutSettings,
    )
)
register(
    RandomFiltersRecipe(
        RANDOM_FILTERS,
        "random whole filters at the --like run's kept count per layer (EDropout's control)",
        frozenset({"masks_sha256", "mask_seed"}),
        takes=frozenset({"like"}),
        needs=frozenset({"like"}),
        refusal="takes its kept counts from --like",
        settings_key="random_filters_draw",
    )
)


def recipe_of(config: TrainConfig) -> Recipe:
    """The registered recipe a configuration resolves to."""
    return RECIPES.get(config.resolved_recipe)


def recipe_setting_fields() -> dict:
    """Every registered recipe's own settings fields by name (:class:`common.schema.SchemaField`)."""
    return {
        field.name: field for recipe in RECIPES.values() if recipe.settings for field in schema_fields(recipe.settings)
    }


def unused_recipe_settings(config: TrainConfig, recipes: tuple[str, ...]) -> list[str]:
    """Flags of recipe settings set away from their defaults that none of ``recipes`` reads
    (``--edropout-population 4`` on a dense run): said, never silently ignored."""
    used = {
        field.name
        for name in recipes
        if RECIPES.get(name).settings
        for field in schema_fields(RECIPES.get(name).settings)
    }
    return [
        field.flag
        for name, field in recipe_setting_fields().items()
        if name not in used and config.recipe_settings.get(name, field.default) != field.default
    ]


def recipe_settings_classes() -> tuple[type, ...]:
    """The registered recipes' settings dataclasses (each a configuration section)."""
    return tuple(recipe.settings for recipe in RECIPES.values() if recipe.settings)


def recipe_outcomes() -> tuple[str, ...]:
    """Every registered recipe's own outcome columns."""
    return tuple(name for recipe in RECIPES.values() for name in recipe.outcomes)


def recipe_settings() -> tuple[str, ...]:
    """Every registered recipe's own settings column (its identity key)."""
    return tuple(recipe.settings_key for recipe in RECIPES.values() if recipe.settings_key)


def grid_recipes() -> tuple[str, ...]:
    """Recipes a sweep grid can vary: those that draw a graph per layer."""
    return tuple(name for name, recipe in RECIPES.items() if recipe.per_layer)
