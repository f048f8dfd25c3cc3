"""Metrics tables: ``metrics.csv`` in a plan directory and ``topo analyze`` output share a layout.

First column ``plan`` (the path), then one column per metric named as in docs/architecture.md, graph
metrics first in registry order, then bipartite-only metrics.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from common.atomic import atomic_write_text
from common.jsonio import json_text
from common.tables import to_csv
from common.tables import to_table as common_table
from topology.errors import PlanError
from topology.metrics import BIPARTITE_METRICS, GRAPH_METRICS

METRICS_FILE = "metrics.csv"


def metric_columns(present: set[str]) -> list[str]:
    """Canonical order of the metric names in ``present``; ``<name>_reference`` right after ``<name>``."""
    order = list(GRAPH_METRICS) + [name for name in BIPARTITE_METRICS if name not in GRAPH_METRICS]
    order = [column for name in order for column in (name, f"{name}_reference")]
    return [name for name in order if name in present] + sorted(present - set(order))


def metrics_frame(rows: Sequence[tuple[str, dict]]) -> pd.DataFrame:
    """A DataFrame with column ``plan`` then the metric columns, one row per (plan, metrics)."""
    present = set().union(*(metrics for _, metrics in rows)) if rows else set()
    columns = ["plan", *metric_columns(present)]
    # Object columns keep ints as ints and missing values empty when kinds are mixed.
    records = [{"plan": plan, **metrics} for plan, metrics in rows]
    return pd.DataFrame(
        {column: pd.Series([r.get(column) for r in records], dtype=object) for column in columns}, columns=columns
    )


def to_json(rows: Sequence[tuple[str, dict]]) -> str:
    """``[{"plan": path, "metrics": {...}}, ...]``; non-finite numbers as the strings "inf"/"nan"."""
    return json_text([{"plan": plan, "metrics": metrics} for plan, metrics in rows])


def to_table(frame: pd.DataFrame) -> str:
    """A fixed-width metrics table for people (the plan column as it is)."""
    return common_table(frame, empty="(no plans)")


def update_metrics_file(directory: str | Path, rows: Sequence[tuple[str, dict]]) -> Path:
    """Merge ``rows`` (plan paths relative to ``directory``) into ``directory/metrics.csv``.

    Rows for plans already in the file are replaced; the file is rewritten atomically.
    """
    target = Path(directory) / METRICS_FILE
    frame = metrics_frame(rows)
    if target.exists():
        try:
            existing = pd.read_csv(target, dtype=object, keep_default_na=False)
        except (OSError, ValueError) as error:
            raise PlanError(f"{target}: cannot read the existing metrics table ({error})") from None
        if "plan" not in existing.columns:
            raise PlanError(f"{target}: not a metrics table (no 'plan' column)")
        existing = existing[~existing["plan"].isin(frame["plan"])]
        merged = pd.concat([existing, frame], ignore_index=True) if len(existing) else frame
        frame = merged[["plan", *metric_columns(set(merged.columns) - {"plan"})]]
    atomic_write_text(target, to_csv(frame.sort_values("plan", kind="stable")))
    return target


def read_metrics_file(path: str | Path) -> pd.DataFrame:
    """Read a metrics table written by :func:`update_metrics_file` or ``topo analyze --format csv``."""
    try:
        return pd.read_csv(io.StringIO(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise PlanError(f"{path}: cannot read metrics table ({error})") from None
