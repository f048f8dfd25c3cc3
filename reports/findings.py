"""The plain-language summary of a report: the strongest relations, said in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.inference import ALPHA, MIN_PAIRS, POWER, detectable_difference, seeds_needed
from reports.stats import Correlation
from reports.wording import span

#: Metrics the summary speaks of first when they relate significantly to accuracy.
HEADLINE = ("aspl", "spectral_gap", "clustering", "transitivity")


def _direction(value: float) -> str:
    return "rises" if value > 0 else "falls"


def summarise(
    correlations: list[Correlation], summary: pd.DataFrame, in_sweet_spot: pd.Series, accuracy: str
) -> list[str]:
    """Sentences for people: what relates to accuracy, how strongly, how sure we are, and what the
    run could have detected. Significance is always Holm-adjusted within its family."""
    plans = summary[~summary["is_baseline"]]
    seeds = plans["n_seeds"] if len(plans) else pd.Series(dtype=float)
    seed_text = (
        f"{int(seeds.min())}"
        if len(seeds) and seeds.min() == seeds.max()
        else (f"{int(seeds.min())} to {int(seeds.max())}" if len(seeds) else "0")
    )
    lines = [
        f"{len(plans)} compared configuration(s), {int(plans['n_seeds'].sum())} training run(s) ({seed_text} seed(s) "
        f"each); accuracy is '{accuracy}' (test accuracy, %), each configuration's the mean over its seeds."
    ]
    lines += _correlation_lines(correlations)
    lines += _spread_lines(plans)
    lines += _sweet_spot_lines(summary, plans, in_sweet_spot)
    return lines + baseline_lines(summary)


def baseline_lines(summary: pd.DataFrame) -> list[str]:
    """One sentence per dense baseline of ``summary``: its accuracy, std and seeds."""
    return [
        f"The dense baseline reached {row['acc_mean']:.2f}% (± "
        f"{0 if pd.isna(row['acc_std']) else row['acc_std']:.2f} std) over {row['n_seeds']} seed(s)."
        for _, row in summary[summary["is_baseline"]].iterrows()
    ]


def _correlation_lines(correlations: list[Correlation]) -> list[str]:
    tested = [c for c in correlations if np.isfinite(c.spearman_p)]
    if not tested:
        reasons = sorted({c.note for c in correlations if c.note})
        return [
            "No correlation could be computed: "
            "" + ("; ".join(reasons) if reasons else "no graph metrics in the table") + "."
        ]
    family = f"Holm-adjusted over the {tested[0].family} metrics correlated"
    significant = sorted(
        (c for c in tested if c.spearman_p_holm < ALPHA), key=lambda c: (c.metric not in HEADLINE, c.spearman_p_holm)
    )
    lines = []
    for c in significant[:4]:
        low, high = c.spearman_ci
        interval = f", 95% CI {span(low, high)} (bootstrap over plans)" if np.isfinite(low) else ""
        partial = ""
        if np.isfinite(c.partial_rho) and "density is the same" not in c.note:
            partial = f"; controlling for density, ρ = {c.partial_rho:.2f} (Holm p = {c.partial_rho_p_holm:.2g})"
        lines.append(
            f"Accuracy {_direction(c.spearman_rho)} as {c.metric} rises: Spearman ρ = {c.spearman_rho:.2f}{interval}, "
            f"p = {c.spearman_p:.2g} ({family}: {c.spearman_p_holm:.2g}), over {c.n_plans} plans "
            f"(Pearson r = {c.pearson_r:.2f}){partial}."
        )
    confounded = [
        c
        for c in tested
        if c.spearman_p_holm >= ALPHA
        and np.isfinite(c.partial_rho_p_holm)
        and c.partial_rho_p_holm < ALPHA
        and "density is the same" not in c.note
    ]
    for c in sorted(confounded, key=lambda c: c.partial_rho_p_holm)[:2]:
        lines.append(
            f"Only after controlling for density does {c.metric} relate to accuracy: partial ρ = {c.partial_rho:.2f} "
            f"(Holm p = {c.partial_rho_p_holm:.2g}); plain ρ = {c.spearman_rho:.2f} (Holm p = {c.spearman_p_holm:.2g})."
        )
    if not significant:
        strongest = min(tested, key=lambda c: c.spearman_p)
        lines.append(
            f"No graph metric is significantly related to accuracy at the {ALPHA:.0%} level over {strongest.n_plans} "
            f"plans ({family}; the strongest is {strongest.metric}: ρ = {strongest.spearman_rho:.2f}, p = "
            f"{strongest.spearman_p:.2g}, Holm p = {strongest.spearman_p_holm:.2g}). "
            "More seeds or plans may show an effect that is there but small."
        )
    return lines


def _spread_lines(plans: pd.DataFrame) -> list[str]:
    if not len(plans):
        return []
    spread = plans["acc_mean"].max() - plans["acc_mean"].min()
    variances = plans["acc_std"].to_numpy(dtype=float) ** 2
    noise = float(np.sqrt(np.nanmean(variances))) if np.isfinite(variances).any() else float("nan")
    if not np.isfinite(noise):
        return [
            f"Mean accuracy spans {spread:.2f} points across plans; with one seed per plan there is no spread "
            "over seeds to compare it with."
        ]
    return [f"Mean accuracy spans {spread:.2f} points across plans; the typical std over seeds is {noise:.2f} points."]


def _sweet_spot_lines(summary: pd.DataFrame, plans: pd.DataFrame, in_sweet_spot: pd.Series) -> list[str]:
    """Which plans are not significantly worse than the best, and what the seeds could detect."""
    if "sweet_spot_p" not in summary.columns or not len(plans):
        return []
    tested = summary.loc[plans.index, "sweet_spot_p"].notna()
    if not tested.any():
        return [
            f"The sweet spot is not tested: it needs at least {MIN_PAIRS} seeds per plan (this run has "
            f"{int(plans['n_seeds'].min())})."
        ]
    best = plans.loc[plans["acc_mean"].idxmax()]
    family = int(tested.sum())
    inside = int((in_sweet_spot.loc[plans.index[tested]] == True).sum())  # noqa: E712  (NaN means untested)
    lines = [
        f"{inside} of {family} plans tested are not significantly worse than the best ({best['plan']}, "
        f"{best['acc_mean']:.2f}%) by a one-sided Welch t-test over seeds at {ALPHA:.0%}, Holm-adjusted over the "
        f"{family} plans."
    ]
    noise = float(np.sqrt(np.nanmean(plans["acc_std"].to_numpy(dtype=float) ** 2)))
    n = int(plans["n_seeds"].min())
    level = ALPHA / family
    detectable = detectable_difference(noise, n, level, two_sample=True, sides=1)
    if np.isfinite(detectable):
        gap = float(best["acc_mean"] - plans["acc_mean"].min())
        needed = seeds_needed(gap, noise, level, two_sample=True, sides=1)
        needed_text = (
            f"the largest observed gap ({gap:.2f} points) would need about {needed:.0f} seeds per plan"
            if np.isfinite(needed)
            else "no practical number of seeds would separate the observed gaps"
        )
        lines.append(
            f"With {n} seeds per plan and a std over seeds of {noise:.2f} points, only plans at least {detectable:.2f} "
            f"points below the best would be found worse with {POWER:.0%} power at the strictest Holm level "
            f"{level:.3g}; {needed_text}."
        )
    return lines


def equal_cost_findings(rows: pd.DataFrame) -> list[str]:
    """What holding the cost equal (``train --match-macs``) achieved, from the rows' counted MACs;
    [] for other tables."""
    if "macs_budget" not in rows.columns or "macs_kept" not in rows.columns:
        return []
    budget = pd.to_numeric(rows["macs_budget"], errors="coerce")
    kept = pd.to_numeric(rows["macs_kept"], errors="coerce")
    matched = budget.notna() & kept.notna() & (budget > 0)
    if not matched.any():
        return []
    error = (kept[matched] - budget[matched]) / budget[matched]
    budgets = sorted(budget[matched].unique())
    budget_text = (
        f"{budgets[0]:,.0f} MACs per example"
        if len(budgets) == 1
        else f"budgets of {budgets[0]:,.0f} to {budgets[-1]:,.0f} MACs per example"
    )
    width = (
        pd.to_numeric(rows.loc[matched, "width"], errors="coerce")
        if "width" in rows.columns
        else pd.Series(dtype=float)
    )
    width_text = f"; widths {span(width.min(), width.max(), 'g')}" if width.notna().any() else ""
    lines = [
        "Cost was held equal: each configuration's width was chosen so that its counted MACs, masks included, match "
        f"{budget_text} "
        f"(train --match-macs); {int(matched.sum())} of {len(rows)} runs are within {100 * error.abs().max():.2f}% of "
        "it "
        f"(median {100 * error.abs().median():.2f}%){width_text}."
    ]
    if not matched.all():
        lines.append(f"{int((~matched).sum())} run(s) were not trained at a MAC budget: their cost differs.")
    return lines


def sweet_spot_region(summary: pd.DataFrame, in_sweet_spot: pd.Series) -> list[str]:
    """Where the sweet spot lies on graph2nn's map: the clustering and path-length ranges of its plans."""
    if not {"clustering", "aspl"} <= set(summary.columns):
        return []
    plans = summary[~summary["is_baseline"]]
    if in_sweet_spot.loc[plans.index].notna().sum() < 2:
        return []  # untested (too few seeds): only the best plan is "in" it, no region to speak of
    spot = plans[in_sweet_spot.loc[plans.index] == True]  # noqa: E712  (NaN means untested)
    clustering = pd.to_numeric(spot["clustering"], errors="coerce").dropna()
    aspl = pd.to_numeric(spot["aspl"], errors="coerce").dropna()
    if clustering.empty or aspl.empty or len(spot) == len(plans):
        return []
    return [
        f"The sweet spot's {len(spot)} plan(s) lie at clustering {span(clustering.min(), clustering.max())} and "
        f"average path length {span(aspl.min(), aspl.max())} (of {len(plans)} plans at clustering "
        f"{span(*_extent(plans['clustering']))}, path length {span(*_extent(plans['aspl']))})."
    ]


def _extent(values: pd.Series) -> tuple[float, float]:
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.min(), numbers.max()
