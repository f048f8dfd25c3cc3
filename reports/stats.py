"""Statistics over plans: per-plan summaries, correlations with bootstrap intervals, partial
correlations controlling for density, and the "sweet spot" of plans not worse than the best;
p-values that decide a finding are Holm-adjusted within their family (:mod:`reports.inference`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from common.columns import BASELINE_RECIPE
from reports.inference import ALPHA, MIN_PAIRS, holm, varies
from reports.rowstats import kendall_rows, pearson_rows, spearman_rows
from reports.table import CANDIDATE_METRICS

#: Fewest plans with finite values for which a correlation is reported.
MIN_PLANS = 4


#: Columns whose values together identify one compared configuration (a point of a report).
TREATMENT_KEYS = (
    "plan_sha256",
    "recipe",
    "degree",
    "recipe_degree",
    "recipe_density",
    "masks_sha256",
    "model_structure",
)


#: ``masks_sha256`` of a recipe whose masks are drawn afresh for every training seed (see
#: :func:`merge_seed_draws`): its runs are one configuration, not one per draw.
SEED_DRAWN = "a draw per seed"


def merge_seed_draws(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the masks of a per-seed draw marked :data:`SEED_DRAWN`.

    A recipe's masks are a per-seed draw when its runs have no plan, degree, density or wiring,
    every run has masks of its own (each ``masks_sha256`` with one training seed) and there are
    at least two (EDropout's random-filters control draws its filters from each run's seed).
    """
    if "masks_sha256" not in rows.columns or "train_seed" not in rows.columns:
        return rows
    rows = rows.copy()
    plain = pd.Series(True, index=rows.index)
    for column in ("plan_sha256", "recipe_degree", "recipe_density", "model_structure"):
        if column in rows.columns:
            plain &= rows[column].isna() | (rows[column].astype(str) == "")
    for recipe, group in rows[plain & rows["masks_sha256"].notna()].groupby("recipe"):
        seeds_per_mask = group.groupby("masks_sha256")["train_seed"].nunique()
        if recipe != BASELINE_RECIPE and len(seeds_per_mask) > 1 and (seeds_per_mask == 1).all():
            if group["train_seed"].nunique() == len(seeds_per_mask):
                rows.loc[group.index, "masks_sha256"] = SEED_DRAWN
    return rows


def treatment_label(row: pd.Series) -> str:
    """How a configuration without a plan file is named: ``dense baseline``, ``xnet d=8``, ..."""
    if row["recipe"] == BASELINE_RECIPE:
        return "dense baseline"
    if row.get("masks_sha256") == SEED_DRAWN:
        return f"{row['recipe']} ({SEED_DRAWN})"
    plan = row.get("plan")
    if isinstance(plan, str) and plan:
        return plan
    if row.get("model_structure"):
        try:
            wiring = " ".join(f"{k}={v}" for k, v in json.loads(row["model_structure"]).items())
        except (TypeError, ValueError, AttributeError):
            wiring = str(row["model_structure"])
        return wiring if row["recipe"] == "model" else f"{row['recipe']} {wiring}"
    for column, symbol in (("recipe_degree", "d"), ("degree", "d"), ("recipe_density", "density")):
        if pd.notna(row.get(column)):
            return f"{row['recipe']} {symbol}={row[column]:g}"
    if row.get("masks_sha256"):
        return f"{row['recipe']} {row['masks_sha256'][:12]}"
    return str(row["recipe"])


def plan_summary(rows: pd.DataFrame, accuracy: str = "best_acc") -> pd.DataFrame:
    """One row per compared configuration (plan, or recipe with its degree/density/masks; the
    dense baseline is recipe ``dense`` only): metrics, density, accuracy over seeds.

    Columns: ``plan`` (a label for configurations without a plan file), ``plan_sha256``,
    ``generator``, ``degree``, ``recipe``, the metrics, ``density``, ``width`` and ``macs_kept``
    (when the table has them), ``acc_mean``, ``acc_std``
    (sample std, NaN for one seed), ``n_seeds``, ``accuracies``, ``is_baseline``.
    """
    rows = rows.copy()
    rows["plan"] = rows.get("plan", pd.Series("", index=rows.index)).astype(object).fillna("")
    keys = [c for c in TREATMENT_KEYS if c in rows.columns]
    for key in keys:
        rows[key] = rows[key].astype(object).where(rows[key].notna(), "")
    first = {
        c: "first"
        for c in ("plan", "generator", "nodes", *CANDIDATE_METRICS, "density", "width", "macs_kept")
        if c in rows.columns and c not in keys
    }
    grouped = rows.groupby(keys, sort=False)
    summary = grouped.agg(first) if first else grouped.size().to_frame("_size").drop(columns="_size")
    summary["acc_mean"] = grouped[accuracy].mean()
    summary["acc_std"] = grouped[accuracy].std(ddof=1)
    summary["n_seeds"] = grouped[accuracy].count()
    summary["accuracies"] = grouped[accuracy].apply(list)
    summary = summary.reset_index()
    for column in ("degree", "recipe_degree", "recipe_density"):
        if column in summary.columns:
            summary[column] = pd.to_numeric(summary[column], errors="coerce")
    summary["is_baseline"] = summary["recipe"] == BASELINE_RECIPE
    summary["plan"] = summary.apply(treatment_label, axis=1)
    return summary


def _bootstrap(
    x: np.ndarray, y: np.ndarray, statistic, rng: np.random.Generator, resamples: int
) -> tuple[float, float]:
    """Percentile 95% interval of ``statistic`` (a row-wise function, :mod:`reports.rowstats`) over
    ``resamples`` draws of the pairs with replacement; a draw with a constant side is skipped, and
    fewer than half the draws usable gives NaNs."""
    index = rng.integers(0, len(x), (resamples, len(x)))
    xs, ys = x[index], y[index]
    usable = (np.ptp(xs, axis=1) != 0) & (np.ptp(ys, axis=1) != 0)
    if usable.sum() < resamples // 2:
        return float("nan"), float("nan")
    values = statistic(xs[usable], ys[usable])
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def partial_correlation(x: np.ndarray, y: np.ndarray, control: np.ndarray) -> tuple[float, float]:
    """Pearson correlation of x and y after removing a linear effect of ``control``; (r, p), n-3 df."""
    design = np.column_stack([np.ones_like(control), control])
    rx = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    ry = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    if np.ptp(rx) < 1e-12 or np.ptp(ry) < 1e-12:
        return float("nan"), float("nan")
    r = float(np.clip(np.corrcoef(rx, ry)[0, 1], -1, 1))
    df = len(x) - 3
    if df < 1:
        return r, float("nan")
    t = r * np.sqrt(df / max(1e-300, 1 - r * r))
    return r, float(2 * stats.t.sf(abs(t), df))


@dataclass
class Correlation:
    """How one metric relates to mean accuracy across plans."""

    metric: str
    n_plans: int
    pearson_r: float = float("nan")
    pearson_p: float = float("nan")
    pearson_ci: tuple[float, float] = (float("nan"), float("nan"))
    spearman_rho: float = float("nan")
    spearman_p: float = float("nan")
    spearman_ci: tuple[float, float] = (float("nan"), float("nan"))
    kendall_tau: float = float("nan")
    kendall_p: float = float("nan")
    kendall_ci: tuple[float, float] = (float("nan"), float("nan"))
    partial_r: float = float("nan")
    partial_p: float = float("nan")
    partial_rho: float = float("nan")
    partial_rho_p: float = float("nan")
    spearman_p_holm: float = float("nan")  # Holm-adjusted over the report's metrics (see adjust_correlations)
    partial_rho_p_holm: float = float("nan")
    family: int = 0  # metrics in the family the Holm adjustment ran over
    note: str = ""

    def as_row(self) -> dict:
        row = {}
        for key, value in self.__dict__.items():
            if isinstance(value, tuple):
                row[f"{key}_low"], row[f"{key}_high"] = value
            else:
                row[key] = value
        return row


def correlate(summary: pd.DataFrame, metric: str, seed: int = 0, resamples: int = 2000) -> Correlation:
    """Pearson, Spearman and Kendall correlations of ``metric`` with ``acc_mean`` over plans.

    Plans with a missing or infinite metric are left out (and counted in ``note``); fewer
    than :data:`MIN_PLANS` plans, or a constant metric, give NaNs and a note saying why.
    Bootstrap intervals resample plans (percentile method, seeded).
    """
    plans = summary[~summary["is_baseline"]]
    values = pd.to_numeric(plans[metric], errors="coerce").to_numpy(dtype=float)
    accuracy = plans["acc_mean"].to_numpy(dtype=float)
    density = pd.to_numeric(plans["density"], errors="coerce").to_numpy(dtype=float)
    usable = np.isfinite(values) & np.isfinite(accuracy)
    left_out = int((~usable).sum())
    x, y, d = values[usable], accuracy[usable], density[usable]
    result = Correlation(metric, int(usable.sum()))
    notes = [f"{left_out} plan(s) without a finite {metric} left out"] if left_out else []
    if len(x) < MIN_PLANS:
        result.note = "; ".join(notes + [f"too few plans ({len(x)}) for a correlation; need {MIN_PLANS}"])
        return result
    if not varies(x) or not varies(y):
        result.note = "; ".join(notes + [f"{metric if not varies(x) else 'accuracy'} is the same for every plan"])
        return result
    rng = np.random.default_rng(seed)
    result.pearson_r, result.pearson_p = map(float, stats.pearsonr(x, y))
    result.spearman_rho, result.spearman_p = map(float, stats.spearmanr(x, y))
    result.kendall_tau, result.kendall_p = map(float, stats.kendalltau(x, y))
    result.pearson_ci = _bootstrap(x, y, pearson_rows, rng, resamples)
    result.spearman_ci = _bootstrap(x, y, lambda a, b: spearman_rows(a, b)[0], rng, resamples)
    result.kendall_ci = _bootstrap(x, y, kendall_rows, rng, resamples)
    if np.ptp(d[np.isfinite(d)]) > 0 and np.isfinite(d).all():
        result.partial_r, result.partial_p = partial_correlation(x, y, d)
        result.partial_rho, result.partial_rho_p = partial_correlation(
            stats.rankdata(x), stats.rankdata(y), stats.rankdata(d)
        )
    else:
        notes.append("density is the same for every plan, so the partial correlation equals the plain one")
        result.partial_r, result.partial_p = result.pearson_r, result.pearson_p
        result.partial_rho, result.partial_rho_p = result.spearman_rho, result.spearman_p
    result.note = "; ".join(notes)
    return result


def adjust_correlations(correlations: list[Correlation]) -> None:
    """Holm-adjust the Spearman and partial-Spearman p-values over the metrics of one report (the
    family: every metric a correlation could be tested for), in place."""
    spearman = holm([c.spearman_p for c in correlations])
    partial = holm([c.partial_rho_p for c in correlations])
    family = int(np.isfinite([c.spearman_p for c in correlations]).sum()) if correlations else 0
    for correlation, p, q in zip(correlations, spearman, partial):
        correlation.spearman_p_holm, correlation.partial_rho_p_holm, correlation.family = float(p), float(q), family


def sweet_spot_tests(summary: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Per plan, the one-sided Welch t-test of "best > plan" over seeds, Holm-adjusted over the plans
    tested, and whether the plan is in the sweet spot (not significantly worse than the best).

    Columns ``sweet_spot_p``, ``sweet_spot_p_holm`` and ``sweet_spot`` (True / False, NaN where the
    plan or the best has fewer than :data:`reports.inference.MIN_PAIRS` seeds: untested). The best
    plan is the one with the highest mean accuracy; it is in the sweet spot by definition once any
    other plan was tested against it (untested otherwise).
    """
    tests = pd.DataFrame(
        {"sweet_spot_p": np.nan, "sweet_spot_p_holm": np.nan, "sweet_spot": np.nan}, index=summary.index
    )
    tests["sweet_spot"] = tests["sweet_spot"].astype(object)
    plans = summary[~summary["is_baseline"]]
    if plans.empty:
        return tests
    best_index = plans["acc_mean"].idxmax()
    best = np.asarray(summary.at[best_index, "accuracies"], dtype=float)
    tests.at[best_index, "sweet_spot"] = True
    for index, row in plans.iterrows():
        values = np.asarray(row["accuracies"], dtype=float)
        if index == best_index or min(len(values), len(best)) < MIN_PAIRS:
            continue
        if not varies(np.concatenate([best, values])):
            p = 1.0  # the same accuracy on every seed of both: not worse
        elif not (varies(best) or varies(values)):
            continue  # each constant over its seeds: a t-test of zero spread means nothing (untested)
        else:
            p = stats.ttest_ind(best, values, equal_var=False, alternative="greater").pvalue
        tests.at[index, "sweet_spot_p"] = float(p) if np.isfinite(p) else 1.0
    tested = tests["sweet_spot_p"].notna()
    if not tested.any():  # nothing compared with the best: no plan is said to be in a sweet spot
        tests.at[best_index, "sweet_spot"] = np.nan
        return tests
    tests.loc[tested, "sweet_spot_p_holm"] = holm(tests.loc[tested, "sweet_spot_p"].to_numpy(dtype=float))
    for index in tests.index[tested]:
        tests.at[index, "sweet_spot"] = bool(tests.at[index, "sweet_spot_p_holm"] >= alpha)
    return tests


def sweet_spot(summary: pd.DataFrame, alpha: float = ALPHA) -> pd.Series:
    """Per plan: True when not significantly worse than the best (see :func:`sweet_spot_tests`)."""
    return sweet_spot_tests(summary, alpha)["sweet_spot"]
