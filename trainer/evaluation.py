"""Evaluate a saved (masked) model without training it: ``train --eval-only CHECKPOINT``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from pruning.checkpoints import load_checkpoint
from pruning.storage import masks_sha256
from trainer import rundir
from trainer.config import BATCH_STATISTICS_EVAL, TrainConfig
from trainer.data import load_dataset
from trainer.errors import TrainError
from trainer.loop import evaluate
from trainer.models import build_model
from trainer.setup import setup_environment


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

    A run directory means its ``best.pt`` and its configuration; a file inside a run directory
    uses that run's configuration too; any other file uses ``config``. ``config.data_dir``,
    ``threads`` and ``device`` always come from ``config`` (data may have moved).
    """
    source = Path(source)
    run_dir = source if source.is_dir() else source.parent
    if source.is_dir() and not rundir.is_run_dir(source):
        raise TrainError(f"{source}: a directory to evaluate must be a run directory")
    checkpoint = rundir.best_path(source) if source.is_dir() else source
    if rundir.is_run_dir(run_dir):
        stored = rundir.read_config(run_dir)
        config = dataclasses.replace(
            stored, data_dir=config.data_dir or stored.data_dir, threads=config.threads, device=config.device
        )
        built = rundir.built_model_options(rundir.read_config_document(run_dir))
        if built is not None:  # the width a MAC budget chose is stored, not searched again
            config = dataclasses.replace(config, model_options=built, match_macs=None)
    return checkpoint, config


def evaluate_checkpoint(source: Path, config: TrainConfig) -> CheckpointEvaluation:
    """Rebuild the model of ``config``, load the (masked) weights of ``source``, score val and test.

    Parameters
    ----------
    source : Path
        A run directory, or a checkpoint: a run's ``best.pt`` / ``checkpoint.pt``, ``prune apply``'s
        ``model.pt``, a ``torch.nn.utils.prune`` state_dict, or any checkpoint
        :mod:`pruning.checkpoints` reads (torchvision's weight files, training-script wrappers,
        ``module.`` prefixes, ``config.key_map`` renames), always with ``weights_only=True``.
    config : TrainConfig
        Model, model options and data set, when ``source`` is not in a run directory.
    """
    checkpoint, config = resolve_checkpoint(source, config)
    device = setup_environment(config.train_seed, config.threads, config.device)
    data = load_dataset(config.data_config()).to_device(device)
    model = build_model(config.model, data.input_shape, data.num_classes, **config.model_options)
    masks = load_checkpoint(model, checkpoint, config.key_map)
    model.to(device)
    loss_fn = nn.CrossEntropyLoss()
    scores = []
    batch_statistics = config.eval_bn == BATCH_STATISTICS_EVAL  # as the run evaluated itself
    for split in ("val", "test"):
        size = config.batch_size if batch_statistics else 512
        result = evaluate(
            model, data.batches(split, size), loss_fn, device, config.amp, batch_statistics=batch_statistics
        )
        scores.append(SplitScore(split, result.examples, result.loss, result.accuracy, result.top5))
    return CheckpointEvaluation(
        checkpoint, config.model, config.dataset, masks_sha256(masks) if masks else None, scores
    )
