"""The report's sentences about stability (reports.stability): what holds in at least
:data:`reports.stability.STABLE` of the resamples is said first, then what this run found but
the resamples do not confirm, then whether the strongest metric and the best configuration are
resolved."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.inference import ALPHA, MIN_PAIRS
from reports.stability import STABLE


def percent(share: float) -> str:
    """A share as a whole percentage, never rounded up to 100% or down to 0% unless it is."""
    value = 100 * share
    if 99 < value < 100:
        return ">99%"
    if 0 < value < 1:
        return "<1%"
    return f"{value:.0f}%"


def _names(metrics: list[str], table: pd.DataFrame) -> str:
    """Metric names joined for a sentence, each with the metrics that rank the plans the same."""
    named = []
    for metric in metrics:
        same = [m for m in table.loc[table["same_as"] == metric, "metric"] if m != metric]
        named.append(f"{metric} (ranking the plans as {', '.join(same)} does)" if same else metric)
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _scheme_text(resamples: int, seeds_drawn: bool) -> str:
    what = "plans and of seeds within plans" if seeds_drawn else "plans (one seed per plan: seeds not drawn)"
    return f"{resamples:,} resamples of {what}"


def stability_lines(table: pd.DataFrame, n_seeds: int, best: tuple[str, float] | None) -> list[str]:
    """Sentences for a stability table of :func:`reports.stability.correlation_stability` (with
    ``spearman_p_holm`` beside it), led by what is stable; ``best`` is the best configuration and
    its share of seed resamples."""
    lines = []
    if len(table):
        own = table[table["same_as"] == table["metric"]].sort_values("holds", ascending=False)
        seeds_drawn = bool(table["holds_seeds"].notna().any())
        scheme = _scheme_text(int(table["resamples"].iloc[0]), seeds_drawn)
        lines += _stable_lines(own, table, scheme)
        lines += _partial_lines(own, table)
        lines += _fragile_lines(own, table, seeds_drawn)
        lines += _strongest_lines(own, table, n_seeds)
    lines += _best_lines(best)
    return lines


def _stable_lines(own: pd.DataFrame, table: pd.DataFrame, scheme: str) -> list[str]:
    stable = own[own["holds"] >= STABLE]
    lines = []
    for direction, chosen in (
        ("falls", stable[stable["spearman_rho"] < 0]),
        ("rises", stable[stable["spearman_rho"] > 0]),
    ):
        if len(chosen):
            shares = " / ".join(percent(s) for s in chosen["holds"])
            lines.append(
                f"Stable: accuracy {direction} as {_names(list(chosen['metric']), table)} "
                f"{'rises' if len(chosen) == 1 else 'rise'}, with the same sign and Holm p < {ALPHA:g} in {shares} of "
                f"{scheme}."
            )
    if not len(stable) and len(own):
        top = own.iloc[0]
        lines.append(
            f"No relation to accuracy is stable (holding in at least {percent(STABLE)} of {scheme}): the most stable, "
            f"{top['metric']}, holds in {percent(top['holds'])}."
        )
    return lines


def _partial_lines(own: pd.DataFrame, table: pd.DataFrame) -> list[str]:
    """Whether each stable relation survives controlling for density (plans of several densities)."""
    if "holds_partial" not in own.columns:
        return []
    stable = own[(own["holds"] >= STABLE) & np.isfinite(own["partial_rho"])]
    kept, lost = stable[stable["holds_partial"] >= STABLE], stable[stable["holds_partial"] < STABLE]
    lines = []
    if len(lost):
        shares = " / ".join(percent(s) for s in lost["holds_partial"])
        lines.append(
            f"Controlling for density (the plans keep different fractions of the weights), "
            f"{_names(list(lost['metric']), table)} {'holds' if len(lost) == 1 else 'hold'} in only {shares} of the "
            "same resamples: at a fixed density that relation is not stable."
        )
    if len(kept):
        shares = " / ".join(percent(s) for s in kept["holds_partial"])
        lines.append(
            f"Controlling for density, {_names(list(kept['metric']), table)} "
            f"{'holds' if len(kept) == 1 else 'hold'} too, in {shares} of the same resamples."
        )
    return lines


def _fragile_lines(own: pd.DataFrame, table: pd.DataFrame, seeds_drawn: bool) -> list[str]:
    fragile = own[(own["spearman_p_holm"] < ALPHA) & (own["holds"] < STABLE)]
    parts = []
    for _, row in fragile.iterrows():
        sources = [f"plans alone {percent(row['holds_plans'])}"]
        if seeds_drawn:
            sources.insert(0, f"seeds alone {percent(row['holds_seeds'])}")
        parts.append(f"{_names([row['metric']], table)} holds in {percent(row['holds'])} ({', '.join(sources)})")
    if not parts:
        return []
    return [f"Significant in this run but not stable: {'; '.join(parts)}."]


def _strongest_lines(own: pd.DataFrame, table: pd.DataFrame, n_seeds: int) -> list[str]:
    ordered = own.sort_values("strongest", ascending=False)
    if len(ordered) < 2 or not (ordered["holds"] >= STABLE).any() and not (ordered["spearman_p_holm"] < ALPHA).any():
        return []
    top = ordered.iloc[0]
    if top["strongest"] >= STABLE:
        return [
            f"{top['metric']} is the metric most strongly related to accuracy in {percent(top['strongest'])} of "
            "resamples."
        ]
    shown = ordered.head(3)
    shown = shown[(shown["strongest"] >= 0.05) | (shown.index == shown.index[0])]  # the top one, and others of 5% on
    shares = ", ".join(f"{row['metric']} {percent(row['strongest'])}" for _, row in shown.iterrows())
    plans = f"{int(table['n_plans'].iloc[0])} plans"
    return [
        f"Which metric relates most strongly to accuracy is not resolved by {n_seeds} seed(s) and {plans}: the "
        f"strongest in {shares} of resamples."
    ]


def _best_lines(best: tuple[str, float] | None) -> list[str]:
    if best is None:
        return []
    label, share = best
    if not np.isfinite(share):
        return [
            f"With fewer than {MIN_PAIRS} seeds per configuration, whether the best one stays best under other seeds "
            "is not measured."
        ]
    verdict = "stable" if share >= STABLE else "not stable"
    return [f"The best configuration, {label}, is best in {percent(share)} of resamples of its seeds: {verdict}."]
