"""The published number beside ours: for every configuration in an experiment whose rows carry a
``published_*`` block (a shipped config's), the paper's value and the runs' own value measured
the same way (docs/fidelity.md, "Published numbers"), mean and std over seeds."""

from __future__ import annotations

import pandas as pd

from common.columns import MEASURED_COLUMN

#: What identifies one published row among an experiment's runs.
KEYS = ("published_source", "published_metric", "published_value", "published_protocol")


def _ours(rows: pd.DataFrame, metric: str, protocol: str) -> tuple[pd.Series, str]:
    column = MEASURED_COLUMN.get(protocol, "final_acc")
    values = pd.to_numeric(rows[column], errors="coerce") if column in rows else pd.Series(dtype=float)
    values = values.dropna()
    return (100.0 - values if metric == "top-1 error" else values), column


def published_table(rows: pd.DataFrame) -> pd.DataFrame | None:
    """One line per published block: the paper's value, ours (mean, std, seeds) measured as the
    paper measured it, and the column it came from; None when no row carries a block."""
    if "published_metric" not in rows or not rows["published_metric"].notna().any():
        return None
    lines = []
    for key, group in rows[rows["published_metric"].notna()].groupby(list(KEYS), dropna=False, sort=True):
        source, metric, value, protocol = key
        ours, column = _ours(group, metric, protocol)
        lines.append(
            {
                "metric": metric,
                "published": None if pd.isna(value) else float(value),
                "protocol": protocol,
                "ours_mean": float(ours.mean()) if len(ours) else None,
                "ours_std": float(ours.std()) if len(ours) > 1 else None,
                "n_seeds": int(len(ours)),
                "measured_as": column if len(ours) else f"{column} (not recorded: a validation split was held out)",
                "source": source,
            }
        )
    return pd.DataFrame(lines)


def published_findings(table: pd.DataFrame | None) -> list[str]:
    """A finding per published number: ours beside it, over how many seeds (no test: one
    published mean is not a sample we can test against)."""
    if table is None:
        return []
    findings = []
    for line in table.itertuples():
        if line.published is None or pd.isna(line.published):
            findings.append(f"Published: nothing for this experiment ({line.source}).")
        elif line.n_seeds == 0:
            findings.append(
                f"Published: {line.metric} {line.published:.2f}% ({line.protocol}); not measured the same way here."
            )
        else:
            spread = f" ± {line.ours_std:.2f}" if line.ours_std is not None and not pd.isna(line.ours_std) else ""
            findings.append(
                f"Published: {line.metric} {line.published:.2f}% ({line.protocol}); ours {line.ours_mean:.2f}%"
                f"{spread} over {line.n_seeds} seed(s), measured as {line.measured_as}."
            )
    return findings
