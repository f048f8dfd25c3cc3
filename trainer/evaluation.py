"""Evaluate a saved (masked) model without training it: ``train --eval-only CHECKPOINT``."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from pruning.masking import current_masks, load_masked_state_dict
from pruning.storage import load_state, masks_sha256
from trainer.config import TrainConfig, read_config
from trainer.data import DataConfig, load_dataset
from trainer.errors import TrainError
from trainer.loop import evaluate
from trainer.models import build_model
from trainer.setup import setup_environment

RUN_CONFIG, BEST_CHECKPOINT = "config.json", "best.pt"


@dataclass(frozen=True)
class SplitScore:
    """Loss (mean cross-entropy), top-1 and top-5 accuracy in percent over one split."""

    split: str
    examples: int
    loss: float
    top1: float
    top5: float


@dataclass(frozen=True)
class CheckpointEvaluation:
    """What ``--eval-only`` measured, and on which model."""

    checkpoint: Path
    model: str
    dataset: str
    masks_sha256: str | None  # None for a checkpoint without masks
    scores: list[SplitScore]


def resolve_checkpoint(source: Path, config: TrainConfig) -> tuple[Path, TrainConfig]:
    """The checkpoint file and the configuration to rebuild its model with.

    A run directory means its ``best.pt`` and its ``config.json``; a file inside a run directory
    uses that run's configuration too; any other file uses ``config``. ``config.data_dir``,
    ``threads`` and ``device`` always come from ``config`` (data may have moved).
    """
    source = Path(source)
    run_dir = source if source.is_dir() else source.parent
    checkpoint = source / BEST_CHECKPOINT if source.is_dir() else source
    if source.is_dir() and not (source / RUN_CONFIG).is_file():
        raise TrainError(f"{source}: a directory to evaluate must be a run directory (with {RUN_CONFIG})")
    if (run_dir / RUN_CONFIG).is_file():
        stored = read_config(run_dir / RUN_CONFIG)
        config = dataclasses.replace(stored, data_dir=config.data_dir or stored.data_dir, threads=config.threads, device=config.device)
        built = _built_model_options(run_dir / RUN_CONFIG)
        if built is not None:  # the width a MAC budget chose is stored, not searched again
            config = dataclasses.replace(config, model_options=built, match_macs=None)
    return checkpoint, config


def _built_model_options(path: Path) -> dict | None:
    """The model options a run built its model with (``config.json``'s ``built_model_options``), if recorded."""
    try:
        built = json.loads(path.read_text(encoding="utf-8")).get("built_model_options")
    except (OSError, ValueError) as error:
        raise TrainError(f"{path}: not a readable run configuration ({error})") from None
    return built if isinstance(built, dict) else None


def evaluate_checkpoint(source: Path, config: TrainConfig) -> CheckpointEvaluation:
    """Rebuild the model of ``config``, load the (masked) weights of ``source``, score val and test.

    Parameters
    ----------
    source : Path
        A run directory, or a checkpoint: a run's ``best.pt`` / ``checkpoint.pt``, ``prune apply``'s
        ``model.pt`` or a ``torch.nn.utils.prune`` state_dict (read with ``weights_only=True``).
    config : TrainConfig
        Model, model options and data set, when ``source`` is not in a run directory.
    """
    checkpoint, config = resolve_checkpoint(source, config)
    state = load_state(checkpoint)
    device = setup_environment(config.train_seed, config.threads, config.device)
    data = load_dataset(DataConfig(config.dataset, config.data_dir, config.val_fraction, config.split_seed, config.max_train, config.augment))
    model = build_model(config.model, data.input_shape, data.num_classes, **config.model_options)
    load_masked_state_dict(model, state)
    masks = current_masks(model)
    model.to(device)
    loss_fn = nn.CrossEntropyLoss()
    scores = []
    for split in ("val", "test"):
        result = evaluate(model, data.batches(split, 512), loss_fn, device, config.amp)
        scores.append(SplitScore(split, result.examples, result.loss, result.accuracy, result.top5))
    return CheckpointEvaluation(checkpoint, config.model, config.dataset, masks_sha256(masks) if masks else None, scores)
