"""What a run *is*: its resolved configuration and a stable ``config_hash`` of it.

Two runs with the same identity and training seed are the same experiment: a sweep skips a job
whose (``config_hash``, seed) already has a row, and a report groups rows by it. The identity
is the TrainConfig with

* the fields that cannot change the outcome left out: output folder, data folder, threads,
  device, loader workers, channels-last memory format, progress bars, TensorBoard, the run id,
  and the training seed (kept beside the hash);
* files replaced by their content: the plan by its SHA-256, ``--masks`` by the masks' SHA-256;
* model options completed with the model's defaults (``width=512`` given or not is one run);
* under ``--match-macs``, the budget and width step instead of the width (the width they choose is
  a function of the rest, recorded in the results row's ``width``); these two keys are absent
  otherwise, so the hashes of runs without a budget are unchanged;
* options the chosen recipe, optimiser or schedule does not read set to None (the dense
  baseline is one run whatever ``--self-loops`` says; ``--step-size`` does not matter to a
  cosine schedule).

``config_hash`` is the first 16 hex digits of the SHA-256 of the identity as canonical JSON
(sorted keys, no spaces, whole-number floats written as integers), so it is the same in every
process, on every machine and Python version.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math

from common.schema import ALWAYS, DERIVED, WHEN_SET, schema_fields
from pruning.checkpoints import read_checkpoint, state_sha256
from trainer.config import ALL_WIDTHS, TrainConfig
from trainer.models import MODELS, STRUCTURE_OPTIONS, WIDTH_OPTIONS
from trainer.recipes import MASKING_FIELDS, RECIPES, RunInputs

IDENTITY_FORMAT = "topoprune.run/1"


def resolved_model_options(model: str, options: dict) -> dict:
    """``options`` completed with the defaults of the model constructor's keyword parameters (a
    width option's ``stem`` only when given: trainer.models.WidthOption)."""
    constructor = MODELS.get(model)
    width = WIDTH_OPTIONS.get(model)
    skipped = {"input_shape", "num_classes", *([width.stem] if width is not None and width.stem else [])}
    defaults = {
        name: p.default
        for name, p in inspect.signature(constructor).parameters.items()
        if name not in skipped and p.default is not inspect.Parameter.empty
    }
    return {**defaults, **options}


def model_structure(model: str, options: dict) -> dict | None:
    """The resolved options that set a model's own wiring (``expand``, ``degrees``, ...), or None."""
    names = STRUCTURE_OPTIONS.get(model)
    if not names:
        return None
    resolved = resolved_model_options(model, options)
    return {name: resolved[name] for name in names if name in resolved}


def run_identity(config: TrainConfig, plan_sha256: str | None = None, masks_sha256: str | None = None) -> dict:
    """The resolved configuration that determines a run's outcome, seed aside (see module doc):
    every field of the schema by its identity role (:mod:`common.schema`).

    Parameters
    ----------
    config : TrainConfig
    plan_sha256, masks_sha256 : str, optional
        Content hashes of ``config.plan`` and ``config.masks`` (required when those are set).
    """
    recipe = RECIPES.get(config.resolved_recipe)
    identity = {"format": IDENTITY_FORMAT}
    derived = _derived_keys(config, recipe.name, plan_sha256, masks_sha256)
    for field in schema_fields(TrainConfig):
        role = field.setting.identity
        if role == ALWAYS:
            identity[field.key] = _identity_value(field, config)
        elif role == WHEN_SET and getattr(config, field.name) is not None:
            identity[field.key] = _identity_value(field, config)
        elif role == DERIVED and field.key in derived:
            identity[field.key] = derived[field.key]
    identity.update(recipe.identity_extra(config))  # only the recipe's own keys: every other run keeps its hash
    if config.match_macs is not None:  # the width is chosen from the rest of the identity, so it is not part of it
        option = WIDTH_OPTIONS.get(config.model)
        if option is not None:
            identity["model_options"][option.name] = None
    for name in MASKING_FIELDS:
        if name not in recipe.reads and name in identity:  # a field absent unless set stays absent
            identity[name] = None
    return identity


def _identity_value(field, config: TrainConfig):
    """A field's identity value: None where it does not apply, tuples as lists (sets sorted)."""
    spec = field.setting
    if spec.applies is not None and not spec.applies(config):
        return None
    value = getattr(config, field.name)
    if isinstance(value, tuple):
        return sorted(value) if spec.unordered else list(value)
    return value


def _derived_keys(config: TrainConfig, recipe: str, plan_sha256: str | None, masks_sha256: str | None) -> dict:
    """The identity keys of the fields whose role is ``derived``: files by their content (what the
    weights started from, renames applied), the recipe by its resolved name, the model options
    completed with the model's defaults, and a MAC budget with its width step (absent without
    one, so every other run keeps its hash)."""
    keys = {
        "model_options": resolved_model_options(config.model, config.model_options),
        "recipe": recipe,
        "plan_sha256": plan_sha256,
        "masks_sha256": masks_sha256,
    }
    if config.init_from is not None:
        keys["init_from_sha256"] = state_sha256(read_checkpoint(config.init_from, config.key_map))
    if config.match_macs is not None:
        keys["match_macs"] = config.match_macs
        keys["width_step"] = config.width_step
        if config.resolved_match_layers != ALL_WIDTHS:  # absent for the rule every older run used
            keys["match_layers"] = config.resolved_match_layers
    return keys


def identify(config: TrainConfig) -> tuple[RunInputs, dict]:
    """The configuration's inputs (its recipe loads them) and its identity: what a run and a sweep
    both call, so that they always agree on ``config_hash``."""
    inputs = RECIPES.get(config.resolved_recipe).inputs(config)
    return inputs, run_identity(config, inputs.plan_sha256, inputs.masks_sha256)


def _canonical(value):
    """Whole-number floats as ints, recursively (``lr=1`` and ``lr=1.0`` are one value)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(key): _canonical(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def canonical_json(value) -> str:
    """Sorted keys, no spaces, whole-number floats as ints: the bytes :func:`config_hash` hashes."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def config_hash(identity: dict) -> str:
    """First 16 hex digits of the SHA-256 of ``canonical_json(identity)``."""
    return hashlib.sha256(canonical_json(identity).encode("ascii")).hexdigest()[:16]


#: Identity fields already in the results table under their own column (``density`` there is the
#: counted kept fraction, so the requested one is ``recipe_density``).
_ALREADY_IN_ROW = ("format", "model", "dataset", "recipe", "plan_sha256", "mask_seed", "epochs")


def config_columns() -> list[str]:
    """The results columns that carry the identity beyond model, data set, recipe, plan, seeds and
    epochs, in schema order, with ``model_structure`` after ``model_options``: what makes two rows
    different experiments. Derived from the schema's identity roles, so a new field's column is
    never spelled by hand."""
    columns = []
    for field in schema_fields(TrainConfig):
        if field.setting.identity in (ALWAYS, WHEN_SET, DERIVED) and field.key not in _ALREADY_IN_ROW:
            columns.append(field.key)
            if field.key == "model_options":
                columns.append("model_structure")
    return columns


def identity_columns(identity: dict) -> dict:
    """The identity as results-table cells: lists and dicts as canonical JSON, the rest as is; plus
    ``model_structure``, the model options that set an X-Net model's wiring (what a report
    compares side by side), empty for other models."""
    columns = {
        key: canonical_json(value) if isinstance(value, (dict, list)) else value
        for key, value in identity.items()
        if key not in _ALREADY_IN_ROW
    }
    structure = model_structure(identity["model"], identity["model_options"])
    columns["model_structure"] = canonical_json(structure) if structure is not None else None
    return columns
