"""The plain-language summary of a report: the strongest relations, said in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.stats import ALPHA, Correlation

#: Metrics the summary speaks of first when they relate significantly to accuracy.
HEADLINE = ("aspl", "spectral_gap", "clustering", "transitivity")


def _direction(value: float) -> str:
    return "rises" if value > 0 else "falls"


def summarise(
    correlations: list[Correlation], summary: pd.DataFrame, in_sweet_spot: pd.Series, accuracy: str
) -> list[str]:
    """Sentences for people: what relates to accuracy, how strongly, how sure we are."""
    plans = summary[~summary["is_baseline"]]
    lines = [
        f"{len(plans)} compared configuration(s), {int(plans['n_seeds'].sum())} training run(s); accuracy is "
        f"'{accuracy}' (test accuracy, %)."
    ]
    tested = [c for c in correlations if np.isfinite(c.spearman_p)]
    if not tested:
        reasons = sorted({c.note for c in correlations if c.note})
        lines.append(
            "No correlation could be computed: "
            + ("; ".join(reasons) if reasons else "no graph metrics in the table")
            + "."
        )
    else:
        significant = sorted(
            (c for c in tested if c.spearman_p < ALPHA), key=lambda c: (c.metric not in HEADLINE, c.spearman_p)
        )
        if significant:
            for c in significant[:4]:
                low, high = c.spearman_ci
                interval = f", 95% CI {low:.2f} to {high:.2f}" if np.isfinite(low) else ""
                partial = ""
                if np.isfinite(c.partial_rho) and "density is the same" not in c.note:
                    partial = f"; controlling for density, ρ = {c.partial_rho:.2f} (p = {c.partial_rho_p:.2g})"
                lines.append(
                    f"Accuracy {_direction(c.spearman_rho)} as {c.metric} rises: Spearman ρ = "
                    f"{c.spearman_rho:.2f}{interval}, "
                    f"p = {c.spearman_p:.2g}, over {c.n_plans} plans (Pearson r = {c.pearson_r:.2f}){partial}."
                )
            confounded = [
                c
                for c in tested
                if c.spearman_p >= ALPHA
                and np.isfinite(c.partial_rho_p)
                and c.partial_rho_p < ALPHA
                and "density is the same" not in c.note
            ]
            for c in sorted(confounded, key=lambda c: c.partial_rho_p)[:2]:
                lines.append(
                    f"Only after controlling for density does {c.metric} relate to accuracy: partial ρ = "
                    f"{c.partial_rho:.2f} "
                    f"(p = {c.partial_rho_p:.2g}); plain ρ = {c.spearman_rho:.2f} (p = {c.spearman_p:.2g})."
                )
        else:
            strongest = min(tested, key=lambda c: c.spearman_p)
            lines.append(
                f"No graph metric is significantly related to accuracy at the {ALPHA:.0%} level over "
                f"{strongest.n_plans} plans "
                f"(the strongest is {strongest.metric}: ρ = {strongest.spearman_rho:.2f}, p = "
                f"{strongest.spearman_p:.2g}). "
                "More seeds or plans may show an effect that is there but small."
            )
    spread = plans["acc_mean"].max() - plans["acc_mean"].min() if len(plans) else float("nan")
    noise = plans["acc_std"].mean() if len(plans) else float("nan")
    if np.isfinite(spread):
        spread_text = (
            f"the typical std over seeds is {noise:.2f} points"
            if np.isfinite(noise)
            else "with one seed per plan there is no spread over seeds to compare it with"
        )
        lines.append(f"Mean accuracy spans {spread:.2f} points across plans; {spread_text}.")
    tested_spot = in_sweet_spot.loc[plans.index].dropna()
    if len(tested_spot):
        best = plans.loc[plans["acc_mean"].idxmax()]
        lines.append(
            f"{int(tested_spot.astype(bool).sum())} of {len(tested_spot)} plans are not significantly worse than the "
            "best "
            f"({best['plan']}, {best['acc_mean']:.2f}%) by a one-sided Welch t-test over seeds at {ALPHA:.0%}."
        )
    else:
        lines.append("The sweet spot needs at least two seeds per plan; train more seeds to test it.")
    for _, row in summary[summary["is_baseline"]].iterrows():
        lines.append(
            f"The dense baseline reached {row['acc_mean']:.2f}% (± "
            f"{0 if pd.isna(row['acc_std']) else row['acc_std']:.2f}) over {row['n_seeds']} seed(s)."
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
    width_text = f"; widths {width.min():g} to {width.max():g}" if width.notna().any() else ""
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
        return []  # with one seed per plan only the best plan is "in" it: no region to speak of
    spot = plans[in_sweet_spot.loc[plans.index] == True]  # noqa: E712  (NaN means untested)
    clustering = pd.to_numeric(spot["clustering"], errors="coerce").dropna()
    aspl = pd.to_numeric(spot["aspl"], errors="coerce").dropna()
    if clustering.empty or aspl.empty or len(spot) == len(plans):
        return []
    return [
        f"The sweet spot's {len(spot)} plan(s) lie at clustering {clustering.min():.2f} to {clustering.max():.2f} and "
        "average path "
        f"length {aspl.min():.2f} to {aspl.max():.2f} (of {len(plans)} plans at clustering "
        f"{pd.to_numeric(plans['clustering'], errors='coerce').min():.2f} to "
        f"{pd.to_numeric(plans['clustering'], errors='coerce').max():.2f}, "
        f"path length {pd.to_numeric(plans['aspl'], errors='coerce').min():.2f} to "
        f"{pd.to_numeric(plans['aspl'], errors='coerce').max():.2f})."
    ]
