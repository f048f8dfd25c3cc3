"""The run directory: every file a training run writes, its name, writer and reader.

``OUT/results.csv`` holds one row per finished run (:mod:`trainer.results`); each run has its
own directory ``OUT/<run id>/`` with (docs/architecture.md, "Run directory"):

* ``config.json`` — the configuration, its identity and ``config_hash``, the data and model it
  resolved to; written first, so a directory with it is a run;
* ``masks.npz`` + ``masks.csv`` + ``masks.json`` — the masks trained under and their counted
  summary (:func:`pruning.outputs.write_run_masks`);
* ``checkpoint.pt`` — the last finished epoch (model, optimiser, scheduler, RNG, history); once the
  run has finished, only its model, epoch and history (:func:`keep_final_model`), unless
  ``--keep-checkpoint``;
* ``best.pt`` — the model of the epoch with the best validation accuracy, masks included;
* ``log.csv`` — one line per finished epoch;
* ``search_log.csv`` — one line per step of a recipe's search (EDropout), when it has one;
* ``result.json`` — the run's results row, written before it is appended to ``results.csv``, so a
  row whose append failed is never lost (``train --resume`` appends it).

Nothing outside this module spells these names (``search_log.csv``'s is in :mod:`common.columns`,
because the report reads it too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch

from common.atomic import atomic_write_text
from common.columns import STEP_LOG_FILE
from common.jsonio import json_text, read_json
from pruning.accounting import PruneSummary
from pruning.outputs import MASKS_CSV, MASKS_FILE, MASKS_JSON, write_run_masks
from pruning.state_checks import check_state
from pruning.storage import save_state, torch_load
from trainer.config import TrainConfig
from trainer.errors import TrainError

CONFIG_FILE = "config.json"
LOG_FILE = "log.csv"
CHECKPOINT_FILE = "checkpoint.pt"
BEST_FILE = "best.pt"
RESULTS_FILE = "results.csv"
RESULT_FILE = "result.json"
#: Keys every training checkpoint holds.
#: What a checkpoint holds: everything to continue training, or (a finished run's) FINAL_KEYS only.
CHECKPOINT_KEYS = frozenset({"model", "optimizer", "scheduler", "epoch", "history"})
FINAL_KEYS = ("model", "epoch", "history", "hooks")


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a run directory (it holds ``config.json``)."""
    return (Path(path) / CONFIG_FILE).is_file()


def run_dirs(out: Path) -> Iterator[Path]:
    """The run directories directly below ``out``, in name order."""
    return (path.parent for path in sorted(Path(out).glob(f"*/{CONFIG_FILE}")))


def results_path(out: Path) -> Path:
    """``out/results.csv``."""
    return Path(out) / RESULTS_FILE


def best_path(run_dir: Path) -> Path:
    """The run's best-epoch model, ``best.pt``."""
    return Path(run_dir) / BEST_FILE


def has_checkpoint(run_dir: Path) -> bool:
    return (Path(run_dir) / CHECKPOINT_FILE).is_file()


def orphans(out: Path, config_hash: str, seed: int | str) -> list[Path]:
    """Run directories of (``config_hash``, ``seed``) that a killed run left before its first
    checkpoint: a configuration and masks, nothing to resume from, no row."""
    found = []
    for run_dir in run_dirs(out):
        if has_checkpoint(run_dir) or (run_dir / RESULT_FILE).exists():
            continue
        try:
            document = read_config_document(run_dir)
            key = (document["config_hash"], str(document["config"]["train_seed"]))
        except (TrainError, KeyError, TypeError):
            continue
        if key == (config_hash, str(seed)):
            found.append(run_dir)
    return found


def remove_orphan(run_dir: Path) -> None:
    """Delete an orphaned run directory (see :func:`orphans`) if it holds only files a run writes
    before its first checkpoint; anything else in it keeps it."""
    expected = {CONFIG_FILE, LOG_FILE, MASKS_FILE, MASKS_CSV, MASKS_JSON}
    files = list(Path(run_dir).iterdir())
    if all(path.is_file() and path.name in expected for path in files):
        for path in files:
            path.unlink()
        Path(run_dir).rmdir()


# --- config.json ------------------------------------------------------------------------------


def write_config(run_dir: Path, document: dict) -> None:
    """Write the run's ``config.json`` (strict JSON, atomically)."""
    atomic_write_text(Path(run_dir) / CONFIG_FILE, json_text(document))


def read_config_document(run_dir: Path) -> dict:
    """The whole ``config.json`` of a run; one-line TrainError when missing or unreadable."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise TrainError(f"{run_dir}: not a run directory (no {CONFIG_FILE})")
    document = read_json(path, TrainError, "a readable run configuration")
    if not isinstance(document, dict):
        raise TrainError(f"{path}: not a readable run configuration (expected a JSON object)")
    return document


def read_config(run_dir: Path) -> TrainConfig:
    """The TrainConfig a run was started with."""
    document = read_config_document(run_dir)
    try:
        return TrainConfig.from_dict(document["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise TrainError(f"{Path(run_dir) / CONFIG_FILE}: not a readable run configuration ({error})") from None


def built_model_options(document: dict) -> dict | None:
    """The model options the run built its model with (a MAC budget's width included), if recorded."""
    built = document.get("built_model_options")
    return built if isinstance(built, dict) else None


# --- masks, checkpoints, log ------------------------------------------------------------------


def write_masks(run_dir: Path, masks: dict[str, torch.Tensor], summary: PruneSummary) -> None:
    """The masks the run trains under (or EDropout's final ones) with their counted summary."""
    write_run_masks(run_dir, masks, summary)


def save_checkpoint(run_dir: Path, state: dict) -> None:
    save_state(Path(run_dir) / CHECKPOINT_FILE, state)


def save_best(run_dir: Path, state: dict) -> None:
    save_state(best_path(run_dir), state)


def keep_final_model(run_dir: Path, state: dict) -> None:
    """After the run's row is written: ``checkpoint.pt`` keeps only the final model, its epoch, the
    history and the recipe's state (enough to write the row again); the optimiser's state, as
    large as the model again, serves only to continue training."""
    save_checkpoint(run_dir, {key: state[key] for key in FINAL_KEYS})


def load_checkpoint(run_dir: Path) -> dict:
    """The run's last checkpoint, on the CPU (``weights_only=True``); one-line TrainError otherwise."""
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.is_file():
        raise TrainError(f"{path}: no checkpoint to resume from")
    state = torch_load(path, TrainError, "corrupt checkpoint")
    if not isinstance(state, dict) or not (CHECKPOINT_KEYS <= set(state) or set(FINAL_KEYS) <= set(state)):
        missing = sorted(CHECKPOINT_KEYS - set(state if isinstance(state, dict) else ()))
        raise TrainError(f"{path}: not a topoprune training checkpoint (missing {', '.join(missing)})")
    if not isinstance(state["model"], dict):
        raise TrainError(f"{path}: not a topoprune training checkpoint (its model is no state_dict)")
    check_state(state["model"], path, TrainError)
    return state


def write_result(run_dir: Path, row: dict) -> None:
    """The run's results row, kept in its directory (strict JSON, atomically)."""
    atomic_write_text(Path(run_dir) / RESULT_FILE, json_text(row))


def read_result(run_dir: Path) -> dict | None:
    """The results row a finished run kept in its directory, or None when it has none."""
    path = Path(run_dir) / RESULT_FILE
    if not path.is_file():
        return None
    row = read_json(path, TrainError, "a readable results row")
    if not isinstance(row, dict) or "run_id" not in row:
        raise TrainError(f"{path}: not a results row (no run_id)")
    return row


def write_log(run_dir: Path, history: list[dict]) -> None:
    """``log.csv``: one line per finished epoch."""
    atomic_write_text(Path(run_dir) / LOG_FILE, pd.DataFrame(history).to_csv(index=False, lineterminator="\n"))


def write_step_log(run_dir: Path, lines: list[dict]) -> None:
    """The recipe's per-step log (``search_log.csv``)."""
    atomic_write_text(Path(run_dir) / STEP_LOG_FILE, pd.DataFrame(lines).to_csv(index=False, lineterminator="\n"))


def like_run_defaults(like: Path | None) -> dict:
    """For ``--like RUN``: the model, its built options and the data set of that run (a control
    is the same network as the run it copies); empty when ``like`` is not a run directory."""
    if like is None or not is_run_dir(like):
        return {}
    stored = read_config(like)
    return {
        "model": stored.model,
        "model_options": built_model_options(read_config_document(like)) or stored.model_options,
        "dataset": stored.dataset,
    }
