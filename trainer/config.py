"""TrainConfig: everything one training run depends on, validated once, written into the run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from pruning.layers import LayerSelection
from pruning.recipes import MaskConfig
from topology.plans import Plan
from trainer.errors import TrainError
from trainer.models import STRUCTURE_OPTIONS

OPTIMIZER_NAMES = ("sgd", "adamw", "adadelta")
SCHEDULE_NAMES = ("cosine", "step", "multistep", "constant")
#: The recipe name of a run trained under masks given with ``--masks``.
MASKS_RECIPE = "masks"
#: The recipe name of a run whose masks EDropout finds during training.
EDROPOUT_RECIPE = "edropout"
#: The recipe name of EDropout's control: random whole filters at another run's kept count per layer.
RANDOM_FILTERS_RECIPE = "random-filters"
#: Recipes the trainer implements itself (not mask recipes of ``prune apply``).
TRAINING_RECIPES = (EDROPOUT_RECIPE, RANDOM_FILTERS_RECIPE)


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Paths may be None; seeds are separate and all recorded."""

    model: str = "mlp"  # model registry name
    dataset: str = "fashion-mnist"  # data set registry name
    data_dir: Path | None = None  # where the data set's files are (default: its usual places)
    plan: Path | None = None  # plan file; None trains the dense baseline (or a per-layer recipe)
    recipe: str | None = None  # mask recipe; default "relational" with a plan, else "dense"
    degree: int | None = None  # per-layer recipes: inputs kept per output channel
    density: float | None = None  # per-layer recipes: fraction kept instead of degree
    self_loops: bool = False  # relational: A + I (graph2nn) instead of A (RGP)
    nodes_policy: str = "error"  # relational: "error" or "shrink" for layers narrower than the plan
    prune_first: bool = False  # also mask the first prunable layer
    prune_last: bool = False  # also mask the classifier
    include: tuple[str, ...] = ()  # only mask layers matching these globs
    exclude: tuple[str, ...] = ()  # leave layers matching these globs dense
    degree_side: str = "outputs"  # per-layer recipes: outputs (d inputs each), inputs (d outputs each) or larger
    best_of: int = 1  # per-layer recipes: draws per layer, the best by select_by kept
    select_by: str = "vertex_expansion"  # per-layer recipes with best_of > 1: the layer-graph metric to maximise
    masks: Path | None = None  # train under these masks (masks.npz, run or export directory, .pt) instead of a recipe
    like: Path | None = None  # random-filters: the run (or masks) whose kept filters per layer are matched
    model_options: dict = field(default_factory=dict)  # e.g. {"width": 512, "depth": 3} for mlp
    match_macs: str | float | None = None  # "dense" or MACs per example: choose the width whose counted MACs are closest
    width_step: int = 1  # with match_macs: widths searched in steps of this many width channels
    epochs: int = 5  # passes over the training split
    batch_size: int = 128  # examples per step and per process
    optimizer: str = "sgd"  # sgd | adamw | adadelta
    lr: float = 0.1  # peak learning rate
    momentum: float = 0.9  # sgd momentum
    nesterov: bool = False  # sgd Nesterov momentum
    weight_decay: float = 5e-4  # L2 penalty (decoupled for adamw)
    schedule: str = "cosine"  # cosine | step | multistep | constant, stepped per batch
    step_size: int = 30  # step schedule: epochs between decays
    milestones: tuple[int, ...] = ()  # multistep schedule: epochs at which lr is multiplied by gamma
    gamma: float = 0.1  # step/multistep decay factor
    warmup_epochs: float = 0.0  # linear warm-up from 0 over this many epochs
    label_smoothing: float = 0.0  # cross-entropy label smoothing
    amp: bool = False  # mixed precision (bfloat16 on CPU, float16 on CUDA)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int | None = None  # torch intra-op threads (default: torch's choice)
    val_fraction: float = 0.1  # share of the training files held out for model selection
    split_seed: int = 0  # seed of the train/validation split
    max_train: int | None = None  # use only the first N training examples
    augment: bool | None = None  # training augmentation (default: the data set's)
    mask_seed: int = 0  # seed of block permutations and per-layer graphs (and of EDropout's search)
    edropout_population: int = 8  # EDropout: candidate states (NS)
    edropout_warmup: int | None = None  # EDropout: epochs before the state may freeze (default: half the epochs)
    edropout_patience: int = 10  # EDropout: steps without a better best energy before it freezes
    train_seed: int = 0  # seed of initialisation and batch order
    out: Path = Path("runs")  # results.csv and run directories go here
    tensorboard: bool = False  # also log to TensorBoard in the run directory
    quiet: bool = False  # no progress bars

    @property
    def resolved_recipe(self) -> str:
        """The recipe given, else: ``masks`` with --masks, ``relational`` with a plan, ``xnet`` with
        a degree or density, ``model`` for a model with its own wiring (X-Nets), else ``dense``."""
        if self.masks is not None:
            return MASKS_RECIPE
        if self.recipe:
            return self.recipe
        if self.plan is not None:
            return "relational"
        if self.degree is not None or self.density is not None:
            return "xnet"
        return "model" if self.model in STRUCTURE_OPTIONS else "dense"

    def validate(self) -> TrainConfig:
        """Raise TrainError for impossible values; returns self."""
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}"),
            (self.lr > 0, f"learning rate must be positive, got {self.lr}"),
            (0 < self.val_fraction < 1, f"validation fraction must be in (0, 1), got {self.val_fraction}"),
            (self.optimizer in OPTIMIZER_NAMES, f"optimizer must be one of {', '.join(OPTIMIZER_NAMES)}, got {self.optimizer!r}"),
            (self.schedule in SCHEDULE_NAMES, f"schedule must be one of {', '.join(SCHEDULE_NAMES)}, got {self.schedule!r}"),
            (self.warmup_epochs >= 0, f"warm-up epochs must be >= 0, got {self.warmup_epochs}"),
            (0 <= self.label_smoothing < 1, f"label smoothing must be in [0, 1), got {self.label_smoothing}"),
            (self.max_train is None or self.max_train >= 10, f"max_train must be at least 10, got {self.max_train}"),
            (not (self.plan is not None and self.resolved_recipe != "relational"), f"a plan is only used by the relational recipe, not {self.resolved_recipe!r}"),
            (not (self.resolved_recipe == "relational" and self.plan is None), "the relational recipe needs --plan"),
            (not (self.masks is not None and (self.plan is not None or self.recipe not in (None, MASKS_RECIPE))), "--masks replaces --plan and --recipe; give only one of them"),
            (self.best_of >= 1, f"best-of must be at least 1, got {self.best_of}"),
            (not (self.resolved_recipe == EDROPOUT_RECIPE and (self.plan is not None or self.masks is not None or self.degree is not None
                                                               or self.density is not None or self.match_macs is not None)),
             "--recipe edropout finds its own masks; it takes no --plan, --masks, --degree, --density or --match-macs"),
            (not (self.resolved_recipe == RANDOM_FILTERS_RECIPE and self.like is None), "--recipe random-filters needs --like RUN (the run whose kept counts it matches)"),
            (not (self.like is not None and self.resolved_recipe != RANDOM_FILTERS_RECIPE), "--like is only used by --recipe random-filters"),
            (not (self.resolved_recipe == RANDOM_FILTERS_RECIPE and (self.plan is not None or self.degree is not None or self.density is not None
                                                                     or self.match_macs is not None)),
             "--recipe random-filters takes its kept counts from --like; it takes no --plan, --degree, --density or --match-macs"),
            (self.edropout_population >= 4, f"EDropout needs a population of at least 4, got {self.edropout_population}"),
            (self.edropout_patience >= 1, f"EDropout patience must be at least 1 step, got {self.edropout_patience}"),
            (self.edropout_warmup is None or 0 <= self.edropout_warmup <= self.epochs,
             f"EDropout warm-up must be between 0 and the {self.epochs} epochs, got {self.edropout_warmup}"),
            (self.width_step >= 1, f"width step must be at least 1 channel, got {self.width_step}"),
            (not (self.match_macs is not None and self.masks is not None), "--match-macs chooses a width, but --masks fixes the layer shapes; give only one of them"),
            (self.match_macs is None or self.match_macs == "dense" or (isinstance(self.match_macs, (int, float)) and self.match_macs > 0),
             f"a MAC budget is 'dense' or a positive number, got {self.match_macs!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainError(message)
        return self

    def to_dict(self) -> dict:
        """JSON-ready dict (paths as strings, tuples as lists)."""
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
            elif isinstance(value, tuple):
                data[key] = list(value)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise TrainError(f"unknown configuration keys: {', '.join(unknown)}")
        values = dict(data)
        for key in ("data_dir", "plan", "out", "masks", "like"):
            if values.get(key) is not None:
                values[key] = Path(values[key])
        for key in ("include", "exclude", "milestones"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def edropout_warmup(config: TrainConfig) -> int:
    """Epochs before EDropout's state may freeze: as given, else half the epochs (rounded down)."""
    return config.edropout_warmup if config.edropout_warmup is not None else config.epochs // 2


def mask_config(config: TrainConfig, plan: Plan | None) -> MaskConfig:
    """The pruning stage's configuration of a training run (EDropout starts unmasked)."""
    selection = LayerSelection(config.prune_first, config.prune_last, config.include, config.exclude)
    recipe = "dense" if config.resolved_recipe in TRAINING_RECIPES else config.resolved_recipe  # masks come from the trainer
    return MaskConfig(recipe, plan, config.degree, config.density, config.mask_seed, config.self_loops, config.nodes_policy,
                      selection, config.degree_side, config.best_of, config.select_by)


def read_config(path: Path) -> TrainConfig:
    """Read a run's ``config.json``."""
    try:
        return TrainConfig.from_dict(json.loads(Path(path).read_text(encoding="utf-8"))["config"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TrainError(f"{path}: not a readable run configuration ({error})") from None
