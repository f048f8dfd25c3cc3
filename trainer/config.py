"""TrainConfig: everything one training run depends on, validated once, written into the run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from pruning.edropout import PUBLIC_FREEZE
from pruning.edropout_energy import BATCH_STATISTICS
from pruning.edropout_units import PAPER
from pruning.recipes import DENSE, MODEL_WIRING, PER_LAYER_RECIPES, RELATIONAL
from trainer.data import DataConfig
from trainer.data.augment import NONE, STANDARD, parse_policy
from trainer.errors import DataError, TrainError
from trainer.models import STRUCTURE_OPTIONS, checked_model_options
from trainer.recipes import MASKS, RECIPES

OPTIMIZER_NAMES = ("sgd", "adamw", "adadelta")
SCHEDULE_NAMES = ("cosine", "step", "multistep", "constant")
#: ``--match-macs dense``: the budget of the unmasked model at its default width.
DENSE_BUDGET = "dense"


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
    init_from: Path | None = None  # weights loaded into the model before it is masked (a checkpoint from anywhere)
    key_map: tuple[tuple[str, str], ...] = ()  # prefix renames (old, new) for --init-from and --eval-only
    match_macs: str | float | None = (
        None  # "dense" or MACs per example: choose the width whose counted MACs are closest
    )
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
    max_test: int | None = None  # use only the first N test examples (quick checks; part of the identity)
    augment: str | None = None  # an --augment policy, e.g. "standard,cutout:16" (default: the data set's)
    image_size: int | None = None  # square image side (image files: the crop; in-memory sets: a resize)
    workers: int = 2  # image files: loader worker processes (batches do not depend on it)
    channels_last: bool = False  # model and batches in channels-last memory format
    mask_seed: int = 0  # seed of block permutations and per-layer graphs (and of EDropout's search)
    edropout_population: int = 8  # EDropout: candidate states (NS)
    edropout_warmup: int | None = None  # EDropout: epochs before the state may freeze (default: half the epochs)
    edropout_patience: int = 10  # EDropout, rescore freeze rule: steps the best state stays unchanged before it freezes
    edropout_coverage: str = PAPER  # EDropout: which layers a state gates (paper | all-convs | hidden)
    edropout_energy_bn: str = BATCH_STATISTICS  # EDropout: batch norm in energies: batch statistics or eval
    edropout_freeze: str = PUBLIC_FREEZE  # EDropout: freeze rule, public (the public code's) or rescore
    edropout_keep_probability: float = 0.5  # EDropout: p0, initial bits kept with this probability
    edropout_mutation: float = 0.9  # EDropout: F, probability that a mutant bit copies x1
    edropout_crossover: float = 0.9  # EDropout: CR, probability that a trial bit comes from the mutant
    edropout_energy_scale: float = 10.0  # EDropout: E = -scale x mean logit margin
    train_seed: int = 0  # seed of initialisation and batch order
    out: Path = Path("runs")  # results.csv and run directories go here
    tensorboard: bool = False  # also log to TensorBoard in the run directory
    quiet: bool = False  # no progress bars

    @property
    def resolved_recipe(self) -> str:
        """The recipe given, else: ``masks`` with --masks, ``relational`` with a plan, the first
        per-layer recipe (``xnet``) with a degree or density, ``model`` for a model with its own
        wiring (X-Nets), else ``dense``."""
        if self.masks is not None:
            return MASKS
        if self.recipe:
            return self.recipe
        if self.plan is not None:
            return RELATIONAL
        if self.degree is not None or self.density is not None:
            return PER_LAYER_RECIPES[0]
        return MODEL_WIRING if self.model in STRUCTURE_OPTIONS else DENSE

    def validate(self) -> TrainConfig:
        """Raise TrainError for impossible values (the recipe checks its own options); returns self."""
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}"),
            (self.lr > 0, f"learning rate must be positive, got {self.lr}"),
            (0 <= self.val_fraction < 1, f"validation fraction must be in [0, 1), got {self.val_fraction}"),
            (self.image_size is None or self.image_size >= 8, f"image size must be at least 8, got {self.image_size}"),
            (self.workers >= 0, f"workers must be >= 0, got {self.workers}"),
            (
                self.optimizer in OPTIMIZER_NAMES,
                f"optimizer must be one of {', '.join(OPTIMIZER_NAMES)}, got {self.optimizer!r}",
            ),
            (
                self.schedule in SCHEDULE_NAMES,
                f"schedule must be one of {', '.join(SCHEDULE_NAMES)}, got {self.schedule!r}",
            ),
            (self.warmup_epochs >= 0, f"warm-up epochs must be >= 0, got {self.warmup_epochs}"),
            (0 <= self.label_smoothing < 1, f"label smoothing must be in [0, 1), got {self.label_smoothing}"),
            (self.max_train is None or self.max_train >= 10, f"max_train must be at least 10, got {self.max_train}"),
            (self.max_test is None or self.max_test >= 10, f"max_test must be at least 10, got {self.max_test}"),
            (
                not (self.masks is not None and (self.plan is not None or self.recipe not in (None, MASKS))),
                "--masks replaces --plan and --recipe; give only one of them",
            ),
            (self.best_of >= 1, f"best-of must be at least 1, got {self.best_of}"),
            (self.init_from is None or Path(self.init_from).is_file(), f"--init-from {self.init_from}: no such file"),
            (self.width_step >= 1, f"width step must be at least 1 channel, got {self.width_step}"),
            (
                self.match_macs is None
                or self.match_macs == DENSE_BUDGET
                or (isinstance(self.match_macs, (int, float)) and self.match_macs > 0),
                f"a MAC budget is 'dense' or a positive number, got {self.match_macs!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainError(message)
        if self.augment is not None:
            try:
                parse_policy(self.augment)
            except DataError as error:
                raise TrainError(str(error)) from None
        checked_model_options(self.model, self.model_options)
        RECIPES.get(self.resolved_recipe).validate(self)
        return self

    def data_config(self) -> DataConfig:
        """What the data set's loader needs of this configuration."""
        return DataConfig(
            self.dataset,
            self.data_dir,
            self.val_fraction,
            self.split_seed,
            max_train=self.max_train,
            max_test=self.max_test,
            augment=self.augment,
            image_size=self.image_size,
            workers=self.workers,
        )

    def with_absolute_paths(self) -> TrainConfig:
        """The same configuration with every path absolute (for workers that start elsewhere)."""
        paths = {key: getattr(self, key) for key in ("data_dir", "plan", "masks", "like", "out", "init_from")}
        return dataclasses.replace(self, **{k: v.resolve() for k, v in paths.items() if v is not None})

    def to_dict(self) -> dict:
        """JSON-ready dict (paths as strings, tuples as lists)."""
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
            elif isinstance(value, tuple):
                data[key] = [list(item) if isinstance(item, tuple) else item for item in value]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise TrainError(f"unknown configuration keys: {', '.join(unknown)}")
        values = dict(data)
        for key in ("data_dir", "plan", "out", "masks", "like", "init_from"):
            if values.get(key) is not None:
                values[key] = Path(values[key])
        for key in ("include", "exclude", "milestones"):
            if key in values:
                values[key] = tuple(values[key])
        if "key_map" in values:
            values["key_map"] = tuple((str(old), str(new)) for old, new in values["key_map"])
        if isinstance(values.get("augment"), bool):  # runs from before --augment took policies
            values["augment"] = STANDARD if values["augment"] else NONE
        return cls(**values)
