"""Reading results.csv (docs/architecture.md, runs and results) and choosing the rows one report covers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from common.errors import TopopruneError

REQUIRED = ("plan_sha256", "model", "dataset", "recipe", "epochs", "train_seed", "density", "best_acc", "final_acc")
#: Identification columns a report shows when the table has them (added empty otherwise).
OPTIONAL = ("run_id", "plan", "generator", "nodes", "degree")
#: Graph metrics a report relates to accuracy, when the table has them and they vary.
PLAN_METRICS = (
    "aspl",
    "diameter",
    "clustering",
    "transitivity",
    "spectral_gap",
    "lambda_2",
    "lambda_nontrivial",
    "algebraic_connectivity",
    "degree_mean",
)
#: Means over a run's masked layers of their bipartite graphs' metrics (any recipe has them).
LAYER_METRICS = ("layer_spectral_gap", "layer_ramanujan_margin", "layer_vertex_expansion")
CANDIDATE_METRICS = PLAN_METRICS + LAYER_METRICS
EXPERIMENT = ("model", "dataset", "epochs")


class ReportError(TopopruneError, ValueError):
    """A results table that cannot be reported on."""


def read_results(paths: list[Path]) -> pd.DataFrame:
    """Concatenate results tables (e.g. merged shards), dropping rows repeated across files."""
    frames = []
    for path in paths:
        try:
            frames.append(pd.read_csv(path))
        except FileNotFoundError:
            raise ReportError(f"{path}: no such file") from None
        except (OSError, ValueError, pd.errors.ParserError) as error:
            raise ReportError(f"{path}: not a readable results table ({str(error).splitlines()[0]})") from None
        missing = [c for c in REQUIRED if c not in frames[-1].columns]
        if missing:
            raise ReportError(f"{path}: not a topoprune results table (missing columns {', '.join(missing)})")
    table = pd.concat(frames, ignore_index=True)
    if "run_id" in table.columns:
        table = table.drop_duplicates("run_id")
    if table.empty:
        raise ReportError(f"{paths[0]}: the results table has no rows")
    table["plan_sha256"] = table["plan_sha256"].astype(object).fillna("")
    for column in OPTIONAL:
        if column not in table.columns:
            table[column] = pd.NA
    return table


def filter_rows(
    table: pd.DataFrame, model: str | None = None, dataset: str | None = None, epochs: int | None = None
) -> pd.DataFrame:
    """The rows of ``table`` with the given model, data set and epochs (None: any)."""
    filtered = table
    for column, value in zip(EXPERIMENT, (model, dataset, epochs)):
        if value is not None:
            filtered = filtered[filtered[column].astype(str) == str(value)]
    if filtered.empty:
        raise ReportError(f"no rows for model={model}, dataset={dataset}, epochs={epochs}")
    return filtered


def missing_metric_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with a plan whose graph metrics are missing (left out of the correlations)."""
    planned = rows[rows["plan_sha256"] != ""]
    metrics = [m for m in PLAN_METRICS if m in rows.columns]
    return planned[planned[metrics].isna().any(axis=1)] if metrics else planned.iloc[0:0]
