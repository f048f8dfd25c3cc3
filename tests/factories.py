"""A small training configuration for tests: the mlp on a synthetic data set, quiet, one thread."""

from __future__ import annotations

from pathlib import Path

from trainer.config import TrainConfig


def small_config(data_dir: Path, out: Path, **changes) -> TrainConfig:
    """The mlp for one epoch at batch 64 on ``data_dir``, rows into ``out``; ``changes`` on top."""
    values = dict(model="mlp", data_dir=data_dir, epochs=1, batch_size=64, out=out, quiet=True, threads=1)
    return TrainConfig.create(**{**values, **changes})
