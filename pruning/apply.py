"""One call for ``prune apply``: masks computed, applied, accounted for and written out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from pruning.accounting import PruneSummary, output_positions, summarize
from pruning.masking import apply_masks
from pruning.recipes import MaskConfig, compute_masks
from pruning.storage import save_masks, save_state
from topology.atomic import atomic_write_text
from topology.plans import encode_json


@dataclass
class PruneResult:
    """What pruning a model produced."""

    masks: dict[str, torch.Tensor]
    summary: PruneSummary
    notices: list[str]


def prune_model(model: nn.Module, config: MaskConfig, input_size: tuple[int, ...] | None) -> PruneResult:
    """Compute masks for ``model`` under ``config``, apply them (in place) and account for them."""
    masks, notices = compute_masks(model, config)
    if input_size:
        output_positions(model, input_size)  # rejects a wrong input size before anything is changed
    apply_masks(model, masks)
    return PruneResult(masks, summarize(model, input_size), notices)


def summary_csv(summary: PruneSummary) -> str:
    return pd.DataFrame(summary.rows()).to_csv(index=False, lineterminator="\n")


def write_outputs(directory: str | Path, model: nn.Module, result: PruneResult, metadata: dict) -> dict[str, Path]:
    """Write ``model.pt`` (state_dict with masks), ``masks.npz``, ``summary.csv``, ``summary.json``.

    Each file is written atomically; ``metadata`` (plan, recipe, seeds, ...) goes into the JSON.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "model": save_state(directory / "model.pt", model.state_dict()),
        "masks": save_masks(directory / "masks.npz", result.masks),
    }
    paths["summary_csv"] = directory / "summary.csv"
    atomic_write_text(paths["summary_csv"], summary_csv(result.summary))
    paths["summary_json"] = directory / "summary.json"
    document = {**metadata, "notices": result.notices, **result.summary.to_dict()}
    atomic_write_text(paths["summary_json"], json.dumps(encode_json(document), indent=2, allow_nan=False) + "\n")
    return paths
