"""Masked models from runs and checkpoints, for ``prune compile``; compiled models loaded back.

A compiled model is never pickled: :func:`load_compiled` rebuilds the zoo model named in
``compile.json``, re-applies ``masks.npz``, replaces each layer by the kernel ``compile.json``
names (:func:`pruning.compile.assemble`) and loads ``model.pt`` with ``weights_only=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from common import __version__
from common.jsonio import read_json
from pruning.compile import assemble
from pruning.errors import PruningError
from pruning.masking import apply_masks, load_masked_state_dict
from pruning.outputs import COMPILE_FILE, MASKS_FILE, MODEL_FILE, SUMMARY_JSON
from pruning.storage import load_masks, load_state
from trainer import rundir
from trainer.errors import TrainError
from trainer.models import build_model


@dataclass(frozen=True)
class ModelSpec:
    """What rebuilds a zoo model: its name, options, one example's shape and the class count."""

    model: str | None = None
    model_options: dict = field(default_factory=dict)
    input_shape: tuple[int, ...] | None = None
    num_classes: int | None = None

    def filled_by(self, other: ModelSpec) -> ModelSpec:
        """This spec, with what it leaves unset taken from ``other``."""
        return ModelSpec(
            self.model or other.model,
            self.model_options or other.model_options,
            self.input_shape or other.input_shape,
            self.num_classes or other.num_classes,
        )

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "model_options": self.model_options,
            "input_size": list(self.input_shape or ()),
            "num_classes": self.num_classes,
        }


def _read_json(path: Path) -> dict:
    document = read_json(path, TrainError, "readable JSON")
    if not isinstance(document, dict):
        raise TrainError(f"{path}: expected a JSON object")
    return document


def _spec_of_directory(directory: Path) -> ModelSpec | None:
    """The spec a run directory or a ``prune apply`` output (its summary JSON) records."""
    if rundir.is_run_dir(directory):
        document = rundir.read_config_document(directory)
        config = document.get("config") or {}
        options = rundir.built_model_options(document) or config.get("model_options") or {}
        shape = document.get("input_shape")
        return ModelSpec(config.get("model"), options, tuple(shape) if shape else None, document.get("num_classes"))
    if (directory / SUMMARY_JSON).is_file():
        document = _read_json(directory / SUMMARY_JSON)
        shape = document.get("input_size")
        return ModelSpec(
            document.get("model"),
            document.get("model_options") or {},
            tuple(shape) if shape else None,
            document.get("num_classes"),
        )
    return None


def resolve_masked_source(source: Path, given: ModelSpec) -> tuple[Path, ModelSpec]:
    """The checkpoint file behind ``source`` and the complete spec to rebuild its model with.

    ``source`` is a run directory (its ``best.pt``), a ``prune apply`` output (its ``model.pt``),
    a checkpoint inside either (their recorded spec), or any other checkpoint (the spec must then
    be given in full). Values in ``given`` override what the directory records.

    Raises
    ------
    TrainError
        Naming ``source`` when it is missing, or when the model, input size or class count is
        neither recorded nor given.
    """
    source = Path(source)
    if not source.exists():
        raise TrainError(f"{source}: no such file or directory")
    directory = source if source.is_dir() else source.parent
    recorded = _spec_of_directory(directory)
    if source.is_dir():
        if recorded is None:
            raise TrainError(f"{source}: neither a run directory nor a prune apply output ({SUMMARY_JSON})")
        checkpoint = rundir.best_path(source) if rundir.is_run_dir(source) else source / MODEL_FILE
    else:
        checkpoint = source
    spec = given.filled_by(recorded) if recorded else given
    missing = [
        name
        for name, value in (
            ("--model", spec.model),
            ("--input-size", spec.input_shape),
            ("--num-classes", spec.num_classes),
        )
        if not value
    ]
    if missing:
        raise TrainError(f"{source}: records no model to rebuild; give {', '.join(missing)}")
    return checkpoint, spec


def load_masked_model(source: Path, given: ModelSpec = ModelSpec()) -> tuple[nn.Module, ModelSpec, Path]:
    """The masked model a run, ``prune apply`` output or checkpoint holds, its spec and checkpoint."""
    checkpoint, spec = resolve_masked_source(source, given)
    model = build_model(spec.model, spec.input_shape, spec.num_classes, **spec.model_options)
    load_masked_state_dict(model, load_state(checkpoint))
    return model.eval(), spec, checkpoint


def read_compile_record(directory: Path) -> dict:
    """``compile.json`` of a compiled model directory."""
    path = Path(directory) / COMPILE_FILE
    if not path.is_file():
        raise TrainError(f"{directory}: not a compiled model (no {COMPILE_FILE})")
    record = _read_json(path)
    needed = {"model", "model_options", "input_size", "num_classes", "kernels", "layers", "end_to_end"}
    if not needed <= set(record):
        raise TrainError(f"{path}: missing {', '.join(sorted(needed - set(record)))}")
    return record


def load_compiled(directory: Path) -> nn.Module:
    """Rebuild a compiled model from ``directory`` (``compile.json``, ``masks.npz``, ``model.pt``).

    Raises
    ------
    TrainError or PruningError
        Naming the file that is missing, unreadable or does not fit the rebuilt structure.
    """
    directory = Path(directory)
    record = read_compile_record(directory)
    model = build_model(record["model"], tuple(record["input_size"]), record["num_classes"], **record["model_options"])
    masks = load_masks(directory / MASKS_FILE)
    apply_masks(model, masks)
    compiled = assemble(
        model, masks, record["kernels"], record.get("batchnorm_folds", []), record.get("memory_format", "contiguous")
    )
    state = load_state(directory / MODEL_FILE)
    try:
        compiled.load_state_dict(state)
    except RuntimeError as error:
        first = " ".join(line.strip() for line in str(error).strip().splitlines()[:2])
        raise PruningError(f"{directory / MODEL_FILE}: weights do not fit the compiled structure ({first})") from None
    return compiled.eval()


def compile_metadata(spec: ModelSpec, source: Path, checkpoint: Path, config, batch_size: int, device: str) -> dict:
    """What ``compile.json`` records of how a model was compiled: the model, where it came from,
    and the compile configuration (a :class:`pruning.compile.CompileConfig`)."""
    return {
        **spec.to_dict(),
        "source": str(source),
        "checkpoint": str(checkpoint),
        "batch_size": batch_size,
        "device": device,
        "compile_config": {
            "kernels": config.candidates,
            "repeats": config.repeats,
            "min_speedup": config.min_speedup,
            "rtol": config.rtol,
            "seed": config.seed,
            "fold_batchnorm": config.fold_batchnorm,
            "memory_format": config.memory_format,
        },
        "topoprune_version": __version__,
    }
