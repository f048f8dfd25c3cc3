"""The files the pruning stage writes and reads: their names, writers and readers, in one place.

* ``prune apply --out DIR``: ``model.pt`` (state_dict with masks), ``masks.npz``, ``summary.csv``
  and ``summary.json`` (how the masks were made, the counted costs per layer).
* ``prune compile --out DIR``: ``model.pt``, ``masks.npz`` and ``compile.json``.
* A training run's masks (docs/architecture.md, run directory): ``masks.npz``, ``masks.csv`` and
  ``masks.json``, the same counted summary under the run's names.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import nn

from common.atomic import atomic_write_text
from common.jsonio import json_text
from pruning.accounting import PruneSummary
from pruning.errors import PruningError
from pruning.storage import save_masks, save_state

MASKS_FILE = "masks.npz"
MODEL_FILE = "model.pt"
SUMMARY_CSV, SUMMARY_JSON = "summary.csv", "summary.json"
COMPILE_FILE = "compile.json"
#: ``prune compile --torch-export``: the compiled model as a torch.export program.
EXPORT_FILE = "model.pt2"
#: A run directory's counted summary of its masks (what summary.csv / summary.json hold for prune apply).
MASKS_CSV, MASKS_JSON = "masks.csv", "masks.json"


def summary_csv(summary: PruneSummary) -> str:
    """The per-layer counted summary as CSV text."""
    return pd.DataFrame(summary.rows()).to_csv(index=False, lineterminator="\n")


def check_apply_target(directory: str | Path, force: bool = False) -> None:
    """Refuse to write ``prune apply``'s files into a folder that holds other things (a training
    run's directory, say, whose ``masks.npz`` would be replaced) unless ``force``; an empty or new
    folder, or an earlier ``prune apply`` output (it has ``summary.json``), is fine."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise PruningError(f"{directory}: exists and is not a directory")
    if force or not directory.is_dir() or (directory / SUMMARY_JSON).is_file() or not any(directory.iterdir()):
        return
    raise PruningError(
        f"{directory}: is not empty and not an earlier prune apply output (no {SUMMARY_JSON}); "
        "give another --out, or --force to write into it"
    )


def refuse_writing_into_source(out: str | Path, source: str | Path) -> None:
    """Refuse an output folder that is the folder a command reads its input from (``prune compile
    run --out run`` would replace the ``model.pt`` and ``masks.npz`` it reads)."""
    source = Path(source)
    folder = source if source.is_dir() else source.parent
    if Path(out).resolve() == folder.resolve():
        raise PruningError(
            f"--out {out}: is the folder {source} is read from, whose files it would replace; give another --out"
        )


def write_apply_outputs(
    directory: str | Path, model: nn.Module, masks: dict[str, torch.Tensor], summary: PruneSummary, document: dict
) -> dict[str, Path]:
    """``prune apply``'s files, each atomically; ``document`` (how the masks were made) heads the JSON."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": save_state(directory / MODEL_FILE, model.state_dict()),
        "masks": save_masks(directory / MASKS_FILE, masks),
        "summary_csv": directory / SUMMARY_CSV,
        "summary_json": directory / SUMMARY_JSON,
    }
    atomic_write_text(paths["summary_csv"], summary_csv(summary))
    atomic_write_text(paths["summary_json"], json_text({**document, **summary.to_dict()}))
    return paths


def write_compiled_files(
    directory: str | Path, state: dict[str, torch.Tensor], masks: dict[str, torch.Tensor], document: dict
) -> dict[str, Path]:
    """``prune compile``'s files, each atomically, ``compile.json`` last (its presence means complete)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": save_state(directory / MODEL_FILE, state),
        "masks": save_masks(directory / MASKS_FILE, masks),
        "compile": directory / COMPILE_FILE,
    }
    atomic_write_text(paths["compile"], json_text(document))
    return paths


def write_run_masks(directory: str | Path, masks: dict[str, torch.Tensor], summary: PruneSummary) -> None:
    """A training run's ``masks.npz`` with its counted summary (``masks.csv``, ``masks.json``)."""
    directory = Path(directory)
    save_masks(directory / MASKS_FILE, masks)
    atomic_write_text(directory / MASKS_CSV, summary_csv(summary))
    atomic_write_text(directory / MASKS_JSON, json_text(summary.to_dict()))
