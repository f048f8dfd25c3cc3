"""Reading results.csv (docs/architecture.md, runs and results) and choosing the rows one report covers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from common.columns import COLUMN_ROLES_FILE, OPTION_ROLE, OUTCOME_ROLE, column_roles
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


#: Columns that must hold numbers (or be empty) on every row.
NUMERIC = ("epochs", "train_seed", "density", "best_acc", "final_acc")


def _torn_line(path: Path) -> int | None:
    """The line number of a last row with fewer fields than the header (an interrupted write), or None."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if len(rows) >= 2 and len(rows[-1]) < len(rows[0]):
        return len(rows)
    return None


def _read_one(path: Path) -> pd.DataFrame:
    """One results table, checked: readable, not torn, the required columns, numbers where numbers belong."""
    if not path.is_file():
        raise ReportError(f"{path}: no such file")
    torn = _torn_line(path)
    if torn is not None:
        raise ReportError(
            f"{path}: line {torn} has fewer fields than the header (a torn row, e.g. an interrupted write); "
            "remove that line (its run directory keeps the run) and report again"
        )
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ReportError(f"{path}: not a readable results table ({str(error).splitlines()[0]})") from None
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ReportError(f"{path}: not a topoprune results table (missing columns {', '.join(missing)})")
    for column in NUMERIC:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise ReportError(
                f"{path}: column {column} holds {frame[column].iloc[row]!r} on line {row + 2}, not a number"
            )
        frame[column] = values
    _check_percentages(path, frame)
    return frame


#: Columns that hold percentages (accuracy in %), checked to lie in 0-100 where given.
PERCENT = ("best_acc", "final_acc", "max_epoch_test_acc")


def _check_percentages(path: Path, frame: pd.DataFrame) -> None:
    """One-line ReportError at the first accuracy outside 0-100 (NaN, a failed run, is allowed)."""
    for column in (c for c in PERCENT if c in frame.columns):
        values = pd.to_numeric(frame[column], errors="coerce")
        outside = (values < 0) | (values > 100)
        if outside.any():
            row = int(outside.to_numpy().nonzero()[0][0])
            raise ReportError(
                f"{path}: column {column} holds {values.iloc[row]:g} on line {row + 2}, not a percentage in 0-100"
            )


#: The recipes' own columns of tables written before each table carried its column roles
#: (results.columns.json): the two recipes that had such columns then. Newer tables say their own.
LEGACY_OUTCOMES = (
    "edropout_paper_r",
    "edropout_units_kept",
    "edropout_units",
    "edropout_frozen_epoch",
    "edropout_frozen_step",
    "edropout_best_energy",
    "edropout_selection",
    "best_acc_no_pruning",
    "final_acc_no_pruning",
)
LEGACY_OPTIONS = ("edropout", "random_filters_draw")


def _roles_beside(path: Path, columns) -> dict[str, str]:
    """The column roles written beside a results table, or (older tables) the legacy ones."""
    beside = path.parent / COLUMN_ROLES_FILE
    if not beside.is_file():
        return column_roles(columns, LEGACY_OUTCOMES, LEGACY_OPTIONS)
    try:
        roles = json.loads(beside.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ReportError(f"{beside}: not a readable column-roles file ({str(error).splitlines()[0]})") from None
    if not isinstance(roles, dict) or not all(isinstance(v, str) for v in roles.values()):
        raise ReportError(f"{beside}: expected a mapping of column names to roles")
    return {**column_roles(columns), **roles}


def roles_of(table: pd.DataFrame) -> dict[str, str]:
    """Each column's role, as the table's files declared them (a table made in memory: the legacy roles)."""
    roles = table.attrs.get("column_roles")
    return roles if roles else column_roles(table.columns, LEGACY_OUTCOMES, LEGACY_OPTIONS)


def outcome_names(table: pd.DataFrame) -> set[str]:
    return {column for column, role in roles_of(table).items() if role == OUTCOME_ROLE}


def option_names(table: pd.DataFrame) -> list[str]:
    return [column for column, role in roles_of(table).items() if role == OPTION_ROLE]


def read_results(paths: list[Path]) -> pd.DataFrame:
    """Concatenate results tables (e.g. merged shards), dropping rows repeated across files; each
    table's column roles come from the file beside it."""
    frames = [_read_one(Path(path)) for path in paths]
    roles: dict[str, str] = {}
    for path, frame in zip(paths, frames):
        roles = {**_roles_beside(Path(path), frame.columns), **roles}
    table = pd.concat(frames, ignore_index=True)
    if "run_id" in table.columns:
        table = table.drop_duplicates("run_id")
    table, notices = _one_row_per_seed(table)
    if table.empty:
        raise ReportError(f"{paths[0]}: the results table has no rows")
    table["plan_sha256"] = table["plan_sha256"].astype(object).fillna("")
    for column in OPTIONAL:
        if column not in table.columns:
            table[column] = pd.NA
    table.attrs["notices"] = notices
    table.attrs["column_roles"] = {**column_roles(table.columns), **roles}
    return table


def _one_row_per_seed(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Seeds are the unit: of rows with the same (config_hash, train_seed), the same run trained
    twice, only the first counts; a notice says how many were dropped."""
    if "config_hash" not in table.columns:
        return table, []
    identified = table["config_hash"].notna()
    repeated = table[identified].duplicated(["config_hash", "train_seed"], keep="first")
    if not repeated.any():
        return table, []
    notice = (
        f"{int(repeated.sum())} row(s) repeat a (config_hash, train_seed) pair already in the table (the same "
        "run trained twice); each seed counts once, the first row is kept"
    )
    return table.drop(repeated[repeated].index), [notice]


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
