"""TrainConfig: everything one training run depends on, validated once, written into the run.

Each field is declared once, below, with its section, help, command-line spelling and identity
role (:func:`common.schema.setting`); the command-line options, ``--help`` sections, YAML keys,
run identity and results columns are derived from these declarations (docs/architecture.md,
"Configuration").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from common.schema import (
    DERIVED,
    NEVER,
    RECIPE_OWN,
    WHEN_SET,
    ConfigError,
    check,
    flat_values,
    schema_fields,
    sections,
    setting,
)
from pruning.mask_rules import (
    DEGREE_OVERFLOW,
    DEGREE_SIDES,
    DENSE,
    MODEL_WIRING,
    NODES_POLICIES,
    PER_LAYER_RECIPES,
    RELATIONAL,
    SELECT_BY,
)
from trainer.data import DATASETS, DataConfig
from trainer.data.augment import NONE, STANDARD, parse_policy
from trainer.errors import DataError, TrainError
from trainer.models import MODELS, STRUCTURE_OPTIONS, WIDTH_OPTIONS, checked_model_options
from trainer.published import PublishedError, checked_published
from trainer.recipes import MASKS, RECIPES, recipe_setting_fields, recipe_settings_classes

OPTIMIZER_NAMES = ("sgd", "adamw", "adadelta")
SCHEDULE_NAMES = ("cosine", "step", "multistep", "constant")
#: ``--weight-decay-on``: every parameter (the papers' codes) or all but norms and biases (ours).
ALL_PARAMETERS, NO_NORM = "all", "no-norm"
WEIGHT_DECAY_ON = (ALL_PARAMETERS, NO_NORM)
#: ``--eval-bn``: BatchNorm in the validation and test passes (trainer/loop.py).
RUNNING_STATISTICS, BATCH_STATISTICS_EVAL = "running", "batch"
EVAL_BN_MODES = (RUNNING_STATISTICS, BATCH_STATISTICS_EVAL)
#: ``--match-layers``: which widths --match-macs grows (trainer/widths.py).
RELATIONAL_WIDTHS, ALL_WIDTHS = RELATIONAL, "all"
MATCH_LAYERS = (RELATIONAL_WIDTHS, ALL_WIDTHS)
#: The largest seed (numpy's and torch's generators take 64-bit seeds).
SEED_MAX = 2**63 - 1
#: ``--match-macs dense``: the budget of the unmasked model at its default width.
DENSE_BUDGET = "dense"

#: The sections of a training configuration, in the order ``--help`` shows them.
#: (A recipe's own settings are a section of their own, named after the recipe: trainer/recipes.py.)
MODEL, DATA, MASKING, OPTIMISATION, EQUAL_COST, RUN = ("model", "data", "masking", "optimisation", "equal cost", "run")


def parse_mac_budget(text: str | float) -> str | float:
    """``"dense"`` or a positive number of MACs (``2.5e6``); raises TrainError otherwise."""
    if isinstance(text, str) and text.strip().lower() == DENSE_BUDGET:
        return DENSE_BUDGET
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise TrainError(f"a MAC budget is 'dense' or a positive number such as 2.5e6, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise TrainError(f"a MAC budget must be a positive, finite number of MACs, got {text!r}")
    return value


def parse_epochs(text: str) -> tuple[int, ...]:
    """``"30,60,90"`` -> (30, 60, 90)."""
    try:
        return tuple(int(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise TrainError(f"expected comma-separated epochs, got {text!r}") from None


def parse_key_pair(text: str) -> tuple[str, str]:
    """``"OLD=NEW"`` -> ("OLD", "NEW") (a checkpoint key-prefix rename)."""
    left, sep, right = str(text).partition("=")
    if not sep or not left.strip():
        raise TrainError(f"expected OLD=NEW (key prefixes), got {text!r}")
    return left.strip(), right.strip()


def _sgd(config) -> bool:
    return config.optimizer == "sgd"


def _recipe_help() -> str:
    return (
        "How the masks are made (default: masks with --masks, relational with --plan, xnet with --degree or "
        "--density, model for X-Net models, else dense): "
        + "; ".join(f"{name}: {recipe.summary}" for name, recipe in sorted(RECIPES.items()))
        + "."
    )


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Paths may be None; seeds are separate and all recorded."""

    # -- model
    model: str = setting(
        "mlp",
        MODEL,
        f"Model: one of the zoo's ({', '.join(sorted(MODELS))}), tv:NAME for any torchvision classification model "
        "(torchvision.models.list_models(); no weights are downloaded) or timm:NAME (pip install 'topoprune[timm]').",
    )
    model_options: dict = setting(
        {},
        MODEL,
        "Model constructor options, e.g. {width: 512, depth: 3}.",
        identity=DERIVED,
        flag="--model-option",
        cli=False,
    )
    init_from: Path | None = setting(
        None,
        MODEL,
        "Start from these weights (a checkpoint from anywhere: torchvision's weight files, training-script "
        "wrappers, DataParallel prefixes), loaded before the recipe masks the model.",
        identity=DERIVED,
        key="init_from_sha256",
        metavar="FILE",
    )
    key_map: tuple[tuple[str, str], ...] = setting(
        (),
        MODEL,
        "Rename checkpoint keys starting with OLD to start with NEW (repeatable; --init-from, --eval-only).",
        identity=NEVER,
        parse=parse_key_pair,
        repeat=True,
        metavar="OLD=NEW",
    )
    # -- data
    dataset: str = setting("fashion-mnist", DATA, "Data set (never downloaded).", choices=tuple(sorted(DATASETS)))
    data_dir: Path | None = setting(None, DATA, "Where the data set's files are.", identity=NEVER, metavar="DIR")
    max_train: int | None = setting(None, DATA, "Use only the first N training examples.", minimum=10, metavar="N")
    max_test: int | None = setting(
        None,
        DATA,
        "Use only the first N test examples (quick checks; the row's identity records it, so such runs never mix "
        "with full ones).",
        identity=WHEN_SET,
        minimum=10,
        metavar="N",
    )
    image_size: int | None = setting(
        None,
        DATA,
        "Square image side: the crop of image-file data sets (training: random resized crop; evaluation: shorter "
        "side to N/0.875, centre crop; defaults: imagenet, flowers102, imagefolder 224, tiny-imagenet 64) or a "
        "resize of in-memory ones (28 -> 32 upscales Fashion-MNIST as EDropout does).",
        identity=WHEN_SET,
        minimum=8,
        metavar="N",
    )
    val_fraction: float = setting(
        0.1,
        DATA,
        "Held out of training for model selection; 0 trains on every training example and reports the final "
        "epoch (the row's model_selection says so). Data sets with their own validation split (flowers102) use it.",
        minimum=0,
        maximum=1,
        open_maximum=True,
    )
    split_seed: int = setting(0, DATA, "Seed of the train/validation split.", minimum=0, maximum=SEED_MAX)
    augment: str | None = setting(
        None,
        DATA,
        "Training augmentation, steps in order, comma-separated: standard (the data set's crop and flip), "
        "cutout[:16], rotate[:15], autoaugment, trivialaugment, or none (default: standard for CIFAR and image "
        "folders, none for the MNIST-likes), e.g. standard,cutout:16.",
        metavar="POLICY",
    )
    workers: int = setting(
        2,
        DATA,
        "Loader worker processes for image-file data sets (batches are the same for any number).",
        identity=NEVER,
        minimum=0,
    )
    # -- masking
    plan: Path | None = setting(
        None,
        MASKING,
        "Plan file; omit for the dense baseline or a per-layer recipe.",
        identity=DERIVED,
        key="plan_sha256",
        metavar="FILE",
    )
    recipe: str | None = setting(None, MASKING, _recipe_help(), identity=DERIVED, choices=tuple(sorted(RECIPES)))
    masks: Path | None = setting(
        None,
        MASKING,
        "Train under exactly these masks: masks.npz, a run or prune-apply directory, a directory of exported "
        "layer plans, or a masked .pt.",
        identity=DERIVED,
        key="masks_sha256",
        metavar="PATH",
    )
    like: Path | None = setting(
        None,
        MASKING,
        "random-filters: the run (or masks) whose kept filters per layer to match.",
        identity=NEVER,
        metavar="RUN",
    )
    degree: int | None = setting(
        None, MASKING, "Per-layer recipes: inputs kept per output channel.", key="recipe_degree", minimum=1
    )
    density: float | None = setting(
        None,
        MASKING,
        "Per-layer recipes: fraction of connections kept (instead of --degree).",
        key="recipe_density",
        minimum=0,
        maximum=1,
        open_minimum=True,
    )
    self_loops: bool = setting(False, MASKING, "relational: A + I (graph2nn) instead of A (RGP).")
    nodes_policy: str = setting(
        "error",
        MASKING,
        "relational: a layer with fewer channels than plan nodes is an error, or uses fewer nodes (shrink).",
        choices=NODES_POLICIES,
    )
    prune_first: bool = setting(False, MASKING, "Also mask the first prunable layer (dense by default).")
    prune_last: bool = setting(False, MASKING, "Also mask the last prunable layer (the classifier).")
    include: tuple[str, ...] = setting(
        (),
        MASKING,
        "Only mask layers whose names match this glob (repeatable); edropout: the layers it gates.",
        metavar="GLOB",
        unordered=True,
    )
    exclude: tuple[str, ...] = setting(
        (),
        MASKING,
        "Leave layers whose names match this glob dense (repeatable); edropout: layers it does not gate.",
        metavar="GLOB",
        unordered=True,
    )
    degree_side: str = setting(
        "outputs",
        MASKING,
        "Per-layer recipes: the side whose channels have exactly --degree connections (outputs: d inputs each; "
        "inputs: d outputs each; larger: the wider side; smaller: the narrower side, the public X-Nets rule).",
        choices=DEGREE_SIDES,
    )
    degree_overflow: str | None = setting(
        None,
        MASKING,
        "Per-layer recipes, a layer with no more channels on the other side than --degree: error (refuse it, the "
        "default) or dense (keep it dense, as the expanders paper's code does).",
        identity=WHEN_SET,
        choices=DEGREE_OVERFLOW,
    )
    best_of: int = setting(
        1, MASKING, "Per-layer recipes: draw N graphs per layer and keep the best by --select-by.", minimum=1
    )
    select_by: str = setting(
        "vertex_expansion",
        MASKING,
        "Layer-graph metric --best-of maximises.",
        choices=SELECT_BY,
        applies=lambda c: c.best_of > 1,
    )
    mask_seed: int = setting(
        0,
        MASKING,
        "Seed of the masks: block permutations, per-layer graphs, EDropout's search.",
        minimum=0,
        maximum=SEED_MAX,
    )
    recipe_settings: dict = setting(
        {},
        MASKING,
        "Each registered recipe's own settings by field name (e.g. edropout_patience), declared with the recipe; "
        "missing ones take their defaults.",
        identity=RECIPE_OWN,
        cli=False,
    )
    # -- optimisation
    epochs: int = setting(5, OPTIMISATION, "Passes over the training split.", minimum=1)
    batch_size: int = setting(128, OPTIMISATION, "Examples per step (per process).", minimum=1)
    optimizer: str = setting(
        "sgd", OPTIMISATION, "The optimiser (adamw: decoupled weight decay).", choices=OPTIMIZER_NAMES
    )
    lr: float = setting(0.1, OPTIMISATION, "Peak learning rate.", minimum=0, open_minimum=True)
    momentum: float = setting(0.9, OPTIMISATION, "sgd: momentum.", minimum=0, maximum=1, applies=_sgd)
    nesterov: bool = setting(False, OPTIMISATION, "sgd: Nesterov momentum.", applies=_sgd)
    weight_decay: float = setting(5e-4, OPTIMISATION, "L2 penalty (decoupled for adamw).", minimum=0)
    weight_decay_on: str | None = setting(
        None,
        OPTIMISATION,
        "Which parameters weight decay applies to: all (as every public paper code does) or no-norm (ours, the "
        "default: not BatchNorm weights or biases).",
        identity=WHEN_SET,
        choices=WEIGHT_DECAY_ON,
        metavar="all|no-norm",
    )
    schedule: str = setting(
        "cosine", OPTIMISATION, "Learning-rate schedule, stepped per batch.", choices=SCHEDULE_NAMES
    )
    step_size: int = setting(
        30, OPTIMISATION, "step schedule: epochs between decays.", minimum=1, applies=lambda c: c.schedule == "step"
    )
    milestones: tuple[int, ...] = setting(
        (),
        OPTIMISATION,
        "multistep schedule: comma-separated epochs at which lr is multiplied by --gamma.",
        parse=parse_epochs,
        applies=lambda c: c.schedule == "multistep",
        metavar="E1,E2,...",
    )
    gamma: float = setting(
        0.1,
        OPTIMISATION,
        "step/multistep decay factor.",
        minimum=0,
        open_minimum=True,
        applies=lambda c: c.schedule in ("step", "multistep"),
    )
    min_lr: float | None = setting(
        None,
        OPTIMISATION,
        "step/multistep schedule: the learning rate never decays below this (X-Nets' minlr).",
        identity=WHEN_SET,
        minimum=0,
        applies=lambda c: c.schedule in ("step", "multistep"),
    )
    warmup_epochs: float = setting(0.0, OPTIMISATION, "Linear warm-up from 0 over this many epochs.", minimum=0)
    label_smoothing: float = setting(
        0.0, OPTIMISATION, "Cross-entropy label smoothing.", minimum=0, maximum=1, open_maximum=True
    )
    amp: bool = setting(False, OPTIMISATION, "Mixed precision (bfloat16 on CPU, float16 on CUDA).")
    eval_bn: str | None = setting(
        None,
        OPTIMISATION,
        "BatchNorm when evaluating: running (its running statistics, the default) or batch (each evaluation batch's "
        "own statistics, in batches of --batch-size, running statistics untouched: the EDropout public code never "
        "switches to eval mode).",
        identity=WHEN_SET,
        choices=EVAL_BN_MODES,
        metavar="running|batch",
    )
    # -- equal cost
    match_macs: str | float | None = setting(
        None,
        EQUAL_COST,
        "Choose the width (model option) whose counted MACs, masks included, are closest to this budget: "
        "'dense' (the unmasked model at its default width) or MACs per example, e.g. 2.5e6.",
        identity=DERIVED,
        parse=parse_mac_budget,
        metavar="dense|MACS",
    )
    match_layers: str | None = setting(
        None,
        EQUAL_COST,
        "With --match-macs, which widths grow: relational (graph2nn's rule: the stem keeps its default width and "
        "only the relational layers widen; the default for --recipe relational on a model with a stem option, "
        "the mlp) or all (every width the model's width option scales; the default otherwise).",
        identity=DERIVED,
        choices=MATCH_LAYERS,
    )
    width_step: int = setting(
        1,
        EQUAL_COST,
        "With --match-macs: widths searched in steps of this many channels (e.g. the plan's node count for equal "
        "blocks).",
        identity=DERIVED,
        minimum=1,
    )
    # -- run (what cannot change the outcome, and the training seed, kept beside the hash)
    train_seed: int = setting(
        0,
        RUN,
        "Training seed: initialisation and batch order.",
        identity=NEVER,
        flag="--seed",
        minimum=0,
        maximum=SEED_MAX,
    )
    published: dict = setting(
        {},
        RUN,
        "The published number this configuration targets (a config file's published: block, trainer/published.py); "
        "stored with the run and printed beside its result.",
        identity=NEVER,
        cli=False,
    )
    device: str = setting("auto", RUN, "auto, cpu, cuda or cuda:N.", identity=NEVER)
    threads: int | None = setting(None, RUN, "Torch threads per process.", identity=NEVER, minimum=1)
    channels_last: bool = setting(
        False, RUN, "Model and batches in channels-last memory format (faster on GPUs).", identity=NEVER
    )
    out: Path = setting(
        Path("runs"), RUN, "results.csv and run directories go here.", identity=NEVER, short="-o", metavar="DIR"
    )
    tensorboard: bool = setting(False, RUN, "Also log to TensorBoard in the run directory.", identity=NEVER)
    keep_checkpoint: bool = setting(
        False,
        RUN,
        "Keep the optimiser, scheduler and RNG state in checkpoint.pt once the run has finished (by default "
        "only its model and history stay: the rest serves only to resume).",
        identity=NEVER,
    )
    quiet: bool = setting(False, RUN, "No progress bars or per-epoch lines.", identity=NEVER, short="-q")

    def __post_init__(self) -> None:
        """Recipe settings not given take their declared defaults; ``weight_decay_on`` no-norm is
        the default (None), so it never changes a run's identity."""
        defaults = {name: field.default for name, field in recipe_setting_fields().items()}
        object.__setattr__(self, "recipe_settings", {**defaults, **self.recipe_settings})
        if self.weight_decay_on == NO_NORM:
            object.__setattr__(self, "weight_decay_on", None)
        if self.degree_overflow == DEGREE_OVERFLOW[0]:
            object.__setattr__(self, "degree_overflow", None)
        if self.eval_bn == RUNNING_STATISTICS:
            object.__setattr__(self, "eval_bn", None)

    @classmethod
    def create(cls, **values) -> TrainConfig:
        """A TrainConfig from flat values: a recipe's settings may be given by name
        (``edropout_patience=5``) as well as in ``recipe_settings``."""
        own = recipe_setting_fields()
        settings = {**values.pop("recipe_settings", {}), **{k: values.pop(k) for k in list(values) if k in own}}
        return cls(**values, recipe_settings=settings)

    @property
    def resolved_match_layers(self) -> str:
        """``match_layers`` as given, else graph2nn's rule for relational plans on a model whose
        stem width is its own option, else every width."""
        if self.match_layers is not None:
            return self.match_layers
        width = WIDTH_OPTIONS.get(self.model)
        stem = width is not None and width.stem is not None
        return RELATIONAL_WIDTHS if stem and self.resolved_recipe == RELATIONAL else ALL_WIDTHS

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
        """Raise TrainError for impossible values (the recipe checks its own options); returns self.
        Every field is first checked against its declaration (type, choices, range, finite)."""
        for field in schema_fields(TrainConfig):
            try:
                check(field, getattr(self, field.name), field.flag)
            except ConfigError as error:
                raise TrainError(str(error)) from None
        checks = [  # what the declarations cannot say: how fields go together, files that must exist
            (
                not (self.masks is not None and (self.plan is not None or self.recipe not in (None, MASKS))),
                "--masks replaces --plan and --recipe; give only one of them",
            ),
            (self.init_from is None or Path(self.init_from).is_file(), f"--init-from {self.init_from}: no such file"),
            (
                self.match_macs is None
                or self.match_macs == DENSE_BUDGET
                or (isinstance(self.match_macs, (int, float)) and self.match_macs > 0),
                f"a MAC budget is 'dense' or a positive number, got {self.match_macs!r}",
            ),
            (self.match_layers is None or self.match_macs is not None, "--match-layers needs --match-macs"),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainError(message)
        if self.augment is not None:
            try:
                parse_policy(self.augment)
            except DataError as error:
                raise TrainError(str(error)) from None
        self._validate_recipe_settings()
        try:
            checked_published(self.published)
        except PublishedError as error:
            raise TrainError(str(error)) from None
        checked_model_options(self.model, self.model_options)
        RECIPES.get(self.resolved_recipe).validate(self)
        return self

    def _validate_recipe_settings(self) -> None:
        own = recipe_setting_fields()
        unknown = sorted(set(self.recipe_settings) - set(own))
        if unknown:
            raise TrainError(f"unknown recipe settings: {', '.join(unknown)} (known: {', '.join(own)})")
        for name, value in self.recipe_settings.items():
            try:
                check(own[name], value, own[name].flag)
            except ConfigError as error:
                raise TrainError(str(error)) from None

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
        paths = {name: getattr(self, name) for name in PATH_FIELDS}
        return dataclasses.replace(self, **{k: v.resolve() for k, v in paths.items() if v is not None})

    def sections(self) -> dict[str, dict]:
        """The configuration as ``{section: {field: value}}`` (JSON-ready), as a nested YAML file
        writes it."""
        flat = self.to_dict()
        return {name: {f.name: flat[f.name] for f in fields} for name, fields in sections(TrainConfig).items()}

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
        names = {f.name: f for f in dataclasses.fields(cls)} | recipe_setting_fields()
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise TrainError(f"unknown configuration keys: {', '.join(unknown)}")
        values = dict(data)
        for key in PATH_FIELDS:
            if values.get(key) is not None:
                values[key] = Path(values[key])
        for key in ("include", "exclude", "milestones"):
            if key in values:
                values[key] = tuple(values[key])
        if "key_map" in values:
            values["key_map"] = tuple((str(old), str(new)) for old, new in values["key_map"])
        if isinstance(values.get("augment"), bool):  # runs from before --augment took policies
            values["augment"] = STANDARD if values["augment"] else NONE
        return cls.create(**values)


#: Fields that name files or folders (made absolute for workers, relative to a config file in it).
PATH_FIELDS = tuple(f.name for f in schema_fields(TrainConfig) if f.kind == "path")
#: Command-line conveniences for model options: ``--orth-lambda 10`` is ``--model-option orth_lambda=10``.
MODEL_OPTION_ALIASES = ("orth_lambda", "orth_scope")


def with_model_option_aliases(model: str, model_options: dict, aliases: dict) -> dict:
    """``model_options`` with the aliases given (``{"orth_lambda": 10}``) added; an alias the model
    does not have, or one that contradicts a model option given too, is a TrainError."""
    from trainer.models import model_option_names

    options = dict(model_options)
    for key, value in aliases.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if key not in model_option_names(model):
            raise TrainError(f"{flag}: model {model} has no orthogonality regulariser (the *_shared models have one)")
        if key in options and options[key] != value:
            raise TrainError(f"{flag} {value} contradicts --model-option {key}={options[key]}")
        options[key] = value
    return options


def load_train_config(path: str | Path | None = None, overrides: dict | None = None) -> TrainConfig:
    """A validated TrainConfig from a YAML file (flat keys as ``train --config`` reads them, or
    nested under section names) with ``overrides`` (field names, e.g. ``{"epochs": 3}``) on top:
    the library's way to run a shipped config without click. Input files named in the file are
    relative to it. Every bad key or value is one ConfigError line naming the file and key."""
    document = read_yaml_mapping(Path(path)) if path is not None else {}
    aliases = {
        key: document.pop(spelling) for key in MODEL_OPTION_ALIASES for spelling in _alias_spellings(key, document)
    }
    where = str(path) if path is not None else "overrides"
    classes = config_classes()
    values = flat_values(classes, _without_command_keys(document), where)
    if path is not None:
        base = Path(path).parent
        values.update({k: base / v for k, v in values.items() if k in PATH_FIELDS and v and not Path(v).is_absolute()})
    values.update(flat_values(classes, overrides or {}, "overrides"))
    values["model_options"] = with_model_option_aliases(
        values.get("model", TrainConfig.model), values.get("model_options", {}), aliases
    )
    return TrainConfig.create(**values).validate()


def config_classes() -> tuple[type, ...]:
    """TrainConfig and every registered recipe's settings: the dataclasses whose declared fields
    make up a training configuration (their sections, options and keys)."""
    return (TrainConfig, *recipe_settings_classes())


def config_sections() -> dict[str, tuple]:
    """Every section of a training configuration, the recipes' own last."""
    return {name: fields for cls in config_classes() for name, fields in sections(cls).items()}


#: Keys a ``train sweep`` file may hold that are not one training's configuration.
SWEEP_KEYS = frozenset({"plans", "seeds", "baseline", "recipes", "degrees", "densities"})


def _without_command_keys(document: dict) -> dict:
    return {k: v for k, v in document.items() if str(k).replace("-", "_") not in SWEEP_KEYS}


def _alias_spellings(key: str, document: dict) -> list[str]:
    return [s for s in (key, key.replace("_", "-")) if s in document]


#: The largest configuration file read (a config is a few hundred bytes; this stops a device or a huge file).
CONFIG_FILE_LIMIT = 2**20


def _unique_key_loader(yaml):
    """PyYAML's SafeLoader that refuses a key given twice in one mapping (YAML lets the last win)."""

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise ConfigError(f"'{key}' is given twice (line {key_node.start_mark.line + 1})")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def read_yaml_mapping(path: Path) -> dict:
    """A YAML file's top-level mapping; one ConfigError line for anything else."""
    try:
        import yaml
    except ImportError:
        raise ConfigError("configuration files need PyYAML: pip install 'topoprune[yaml]'") from None
    try:
        with open(path, "rb") as handle:
            data = handle.read(CONFIG_FILE_LIMIT + 1)
        text = data.decode("utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    if len(data) > CONFIG_FILE_LIMIT:
        raise ConfigError(f"{path}: over {CONFIG_FILE_LIMIT // 2**20} MiB, too large for a configuration file")
    try:
        loaded = yaml.load(text, Loader=_unique_key_loader(yaml))  # noqa: S506 - a SafeLoader subclass
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except (yaml.YAMLError, RecursionError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{path}: not YAML ({first})") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of option names to values")
    return dict(loaded)
