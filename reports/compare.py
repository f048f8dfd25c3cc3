"""Which wiring wins at equal cost: recipes ranked at each density, with paired tests over seeds.

Configurations (a plan, or a recipe with its degree/density, or an X-Net model's wiring) are
grouped into *cost levels* by their counted cost: the multiply-accumulates per example counted
from the masks and modules built (``macs_kept``; within one experiment the model is the same,
so MACs compare), or, in tables without MACs, the kept fraction of the masked weights. Sorted
by cost, a configuration joins the current level while its cost is within
:data:`LEVEL_TOLERANCE` (relative) of the level's lowest, so an X-Net, a random-regular and a
random bipartite layer at the same degree (whose counted cost varies a little), a relational
plan of the same density, and grouped convolutions of the same cost meet at one level. A level
is named by its mean cost. Within a
level the configuration with the best mean accuracy is the reference; every other one is
compared with it over the training seeds both ran (paired by seed): the mean difference with its
range and, from three pairs on, a 95% t-interval, and the test :mod:`reports.inference` chooses
(none below three pairs; the exact sign-flip permutation test until Wilcoxon can reach 5%; then
Wilcoxon), Holm-adjusted within the level, with the paired t-test's p beside it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

from common.columns import BASELINE_RECIPE
from reports.inference import (
    ALPHA,
    MIN_PAIRS,
    POWER,
    detectable_difference,
    holm,
    paired_test,
    seeds_needed,
    smallest_p,
)
from reports.stability import RESAMPLES, best_shares
from reports.stats import TREATMENT_KEYS, treatment_label
from reports.wording import number, span

#: Largest relative difference of counted cost within one cost level.
LEVEL_TOLERANCE = 0.05
#: Per-layer graph metrics shown beside accuracy (means over the masked layers; dead channels summed).
LAYER_COLUMNS = (
    "layer_spectral_gap",
    "layer_ramanujan_margin",
    "layer_vertex_expansion",
    "dead_inputs",
    "dead_outputs",
)


def cost_levels(densities: pd.Series, tolerance: float = LEVEL_TOLERANCE) -> pd.Series:
    """Each density's level: the mean density of its group (see module doc), 3 significant digits.

    NaN densities get NaN levels.
    """
    levels = pd.Series(np.nan, index=densities.index)
    order = densities.dropna().sort_values(kind="stable")
    group: list = []
    for index, value in order.items():
        if group and value > densities[group[0]] * (1 + tolerance):
            levels[group] = float(f"{densities[group].mean():.3g}")
            group = []
        group.append(index)
    if group:
        levels[group] = float(f"{densities[group].mean():.3g}")
    return levels


def paired_difference(a: pd.Series, b: pd.Series) -> dict:
    """Accuracy ``a - b`` over the seeds both have (Series indexed by seed).

    Returns the number of pairs, the mean difference with its range and its 95% t-interval (from
    :data:`reports.inference.MIN_PAIRS` pairs on), the test :func:`reports.inference.paired_test`
    chooses with its p-value and the smallest p it can give, and the paired t-test's p beside it.
    """
    seeds = sorted(set(a.index) & set(b.index))
    differences = a.loc[seeds].to_numpy(dtype=float) - b.loc[seeds].to_numpy(dtype=float)
    test = paired_test(differences)
    result = {
        "n_pairs": len(seeds),
        "diff": float(differences.mean()) if len(seeds) else float("nan"),
        "diff_min": float(differences.min()) if len(seeds) else float("nan"),
        "diff_max": float(differences.max()) if len(seeds) else float("nan"),
        "diff_sd": float(differences.std(ddof=1)) if len(seeds) > 1 else float("nan"),
        "diff_ci_low": float("nan"),
        "diff_ci_high": float("nan"),
        "test": test.method,
        "p": test.p,
        "smallest_p": test.smallest_p,
        "paired_t_p": test.t_p,
    }
    if test.testable:
        half = stats.t.ppf(0.975, len(seeds) - 1) * result["diff_sd"] / math.sqrt(len(seeds))
        result["diff_ci_low"], result["diff_ci_high"] = result["diff"] - half, result["diff"] + half
    return result


def rank_at_equal_cost(
    rows: pd.DataFrame, accuracy: str = "best_acc", resamples: int = RESAMPLES, seed: int = 0
) -> pd.DataFrame:
    """One row per masked configuration: its cost level, rank within the level, accuracy over
    seeds, the paired comparison with the level's best, and its layer-graph metrics.

    Columns: ``level`` (a cost: MACs per example, or density, as ``level_by`` says), ``rank``,
    ``configuration``, ``recipe``, ``density``, ``macs``, ``acc_mean``,
    ``acc_std``, ``n_seeds``, ``n_pairs``, ``diff`` (to the best, points), ``diff_ci_low``,
    ``diff_ci_high``, ``paired_t_p``, ``wilcoxon_p``, ``best_share`` (the share of seed resamples in
    which it is its level's best, :func:`reports.stability.best_shares`) and :data:`LAYER_COLUMNS`
    present in ``rows``.
    """
    masked = rows[rows["recipe"].astype(str) != BASELINE_RECIPE].copy()
    if masked.empty:
        return pd.DataFrame()
    keys = [c for c in TREATMENT_KEYS if c in masked.columns]
    for key in keys:
        masked[key] = masked[key].astype(object).where(masked[key].notna(), "")
    layer_columns = [c for c in LAYER_COLUMNS if c in masked.columns]
    configurations = []
    for _, group in masked.groupby(keys, sort=False):
        first = group.iloc[0].copy()
        for column in ("recipe_degree", "recipe_density", "degree"):
            if column in first.index:
                first[column] = pd.to_numeric(pd.Series([first[column]]), errors="coerce").iloc[0]
        density = float(pd.to_numeric(group["density"], errors="coerce").mean())
        macs = (
            float(pd.to_numeric(group["macs_kept"], errors="coerce").mean()) if "macs_kept" in group else float("nan")
        )
        by_seed = group.groupby("train_seed")[accuracy].mean()
        configurations.append(
            {
                "configuration": treatment_label(first),
                "recipe": first["recipe"],
                "density": density,
                "macs": macs,
                "acc_mean": float(by_seed.mean()),
                "acc_std": float(by_seed.std(ddof=1)) if len(by_seed) > 1 else float("nan"),
                "n_seeds": len(by_seed),
                "by_seed": by_seed,
                **{c: float(pd.to_numeric(group[c], errors="coerce").mean()) for c in layer_columns},
            }
        )
    table = pd.DataFrame(configurations)
    by_macs = bool(np.isfinite(table["macs"]).all() and (table["macs"] > 0).all())
    table["level"] = cost_levels(table["macs"] if by_macs else table["density"])
    table["level_by"] = "macs" if by_macs else "density"
    rows_out = []
    for level, group in table.groupby("level", sort=True, dropna=False):
        ordered = group.sort_values("acc_mean", ascending=False, kind="stable")
        ordered = ordered.assign(
            best_share=best_shares(list(ordered["by_seed"]), resamples, seed) if resamples else np.nan
        )
        best = ordered.iloc[0]
        for rank, (_, row) in enumerate(ordered.iterrows(), start=1):
            comparison = (
                paired_difference(row["by_seed"], best["by_seed"])
                if rank > 1
                else {"n_pairs": row["n_seeds"], "diff": 0.0, "test": "best", "p": float("nan")}
            )
            rows_out.append(
                {
                    "level": level,
                    "rank": rank,
                    **{k: v for k, v in row.items() if k not in ("level", "by_seed")},
                    **comparison,
                }
            )
    columns = [
        "level",
        "level_by",
        "rank",
        "configuration",
        "recipe",
        "density",
        "macs",
        "acc_mean",
        "acc_std",
        "n_seeds",
        "n_pairs",
        "diff",
        "diff_min",
        "diff_max",
        "diff_sd",
        "diff_ci_low",
        "diff_ci_high",
        "test",
        "p",
        "smallest_p",
        "p_holm",
        "family",
        "paired_t_p",
        "best_share",
        *layer_columns,
    ]
    ranking = pd.DataFrame(rows_out)
    ranking["p_holm"], ranking["family"] = _holm_within_levels(ranking)
    return ranking.reindex(columns=columns)


def _holm_within_levels(ranking: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Holm-adjusted p of each comparison, the family being its cost level's tested comparisons,
    and the family's size."""
    adjusted = pd.Series(np.nan, index=ranking.index)
    family = pd.Series(0, index=ranking.index)
    for _, group in ranking.groupby("level", sort=False, dropna=False):
        adjusted[group.index] = holm(group["p"].to_numpy(dtype=float))
        family[group.index] = int(np.isfinite(group["p"].to_numpy(dtype=float)).sum())
    return adjusted, family


def _trail(differences: pd.Series) -> str:
    """How far the others are from the best: behind it by a span of points, or level with it."""
    behind = -differences
    if number(behind.max()) == number(0.0) and number(behind.min()) == number(0.0):
        return "the others are level with it (0.00 points)"
    if behind.min() < 0 and number(behind.min()) != number(0.0):  # ahead on the seeds both ran
        return f"the others differ from it by {span(differences.min(), differences.max(), '+.2f')} points"
    return f"the others trail by {span(behind.min(), behind.max())} points"


def comparison_findings(ranking: pd.DataFrame, alpha: float = ALPHA) -> list[str]:
    """Sentences: at each level, the best configuration, which others are significantly worse
    (Holm-adjusted within the level), or why nothing could be tested, and what the run could detect."""
    lines = []
    for _level, group in ranking.groupby("level", sort=True):
        if len(group) < 2:
            continue
        best, others = group.iloc[0], group.iloc[1:]
        pairs = int(others["n_pairs"].min())
        head = (
            f"At {_level_text(best)}: {best['configuration']} is best ({best['acc_mean']:.2f}% over "
            f"{int(best['n_seeds'])} seed(s))"
        )
        if pairs < MIN_PAIRS:
            power = f" {_power_sentence(others, len(others), alpha)}" if pairs >= 2 else ""
            lines.append(
                f"{head}; with {pairs} paired seed(s) no difference is tested (at least {MIN_PAIRS} are needed): "
                f"{_trail(others['diff'])}.{power}"
            )
            continue
        family = int(others["family"].max())
        worse = others[(others["p_holm"] < alpha) & (others["diff"] < 0)]
        verdict = (
            "significantly worse: "
            + ", ".join(
                f"{r['configuration']} ({r['diff']:+.2f} points, Holm p = {r['p_holm']:.2g})"
                for _, r in worse.iterrows()
            )
            if len(worse)
            else "no other configuration is significantly worse"
        )
        lines.append(
            f"{head}; {verdict} ({others['test'].iloc[0]} test over {pairs} paired seeds, Holm-adjusted over the "
            f"level's {family} comparison(s)). {_power_sentence(others, family, alpha)}"
        )
    return lines


def _power_sentence(others: pd.DataFrame, family: int, alpha: float) -> str:
    """What the level's seeds could detect: the smallest difference found with 80% power at the
    strictest Holm level, and the seeds the largest observed gap would need. Power is the paired
    t-test's (noncentral t; Wilcoxon's is close to it), and no number of seeds is quoted below the
    one at which the test used can reach that level at all."""
    spread = float(np.sqrt(np.nanmean(others["diff_sd"].to_numpy(dtype=float) ** 2)))
    pairs = int(others["n_pairs"].min())
    level = alpha / max(family, 1)
    floor = next(n for n in itertools.count(1) if smallest_p(n) < level)
    gap = float(-others["diff"].min())
    needed = max(seeds_needed(gap, spread, level), floor)
    needed_text = (
        f"detecting the largest observed gap ({gap:.2f} points) would take about {needed:.0f} seeds"
        if np.isfinite(needed)
        else f"the largest observed gap ({gap:.2f} points) is too small to detect with any practical number of seeds"
    )
    if not spread > 0:
        return "The paired differences do not vary, so the power of the comparison cannot be estimated."
    if pairs < floor:
        return (
            f"With {pairs} seeds the test cannot reach the Holm level {level:.3g} whatever the difference (its "
            f"smallest p is {smallest_p(pairs):.2g}; {floor} seeds are the least that can); {needed_text} "
            f"(sd of the paired differences {spread:.2f} points, {POWER:.0%} power)."
        )
    detectable = detectable_difference(spread, pairs, level)
    return (
        f"With {pairs} seeds and the observed spread of the paired differences (sd {spread:.2f} points), only a "
        f"difference of at least {detectable:.2f} points would be detected with {POWER:.0%} power at the Holm "
        f"level {level:.3g}; {needed_text}."
    )


def _level_text(row, short: bool = False) -> str:
    if row["level_by"] != "macs":
        return f"{row['level']:g}" if short else f"density ≈ {row['level']:g}"
    value = row["level"]
    scaled = next(
        ((value / factor, unit) for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")) if value >= factor),
        (value, ""),
    )
    return f"{scaled[0]:.3g}{scaled[1]}" if short else f"≈ {scaled[0]:.3g} {scaled[1]}MACs per example"


def _test_cell(row) -> str:
    """The comparison's test in one cell: why there is none, or its p, Holm's p and the floor."""
    if row["rank"] == 1:
        return ""
    if row["test"] == "none":
        return f"n = {int(row['n_pairs'])}: too few seeds to test"
    floor = f"; smallest possible {row['smallest_p']:.2g}" if row["smallest_p"] >= ALPHA else ""
    return f"{row['test']} p = {row['p']:.2g}, Holm {row['p_holm']:.2g}{floor}"


def ranking_for_people(ranking: pd.DataFrame) -> pd.DataFrame:
    """The ranking with fewer, combined columns for the page (``ranking.csv`` keeps them all):
    the cost level in short form, plan files by name, accuracy as mean ± std, the difference to
    the best with its interval and both p-values in one cell each."""

    def plus_minus(row) -> str:
        return (
            f"{row['acc_mean']:.3g} ± {row['acc_std']:.2g}" if np.isfinite(row["acc_std"]) else f"{row['acc_mean']:.3g}"
        )

    def difference(row) -> str:
        if row["rank"] == 1:
            return "best"
        if np.isfinite(row["diff_ci_low"]):
            return f"{row['diff']:+.2f} [{row['diff_ci_low']:+.2f}, {row['diff_ci_high']:+.2f}]"
        if row["n_pairs"] > 1:
            return f"{row['diff']:+.2f} (range {row['diff_min']:+.2f} to {row['diff_max']:+.2f})"
        if not np.isfinite(row["diff"]):
            return "— (no seed in common)"
        return f"{row['diff']:+.2f}"

    cost_name = "MACs" if (ranking["level_by"] == "macs").all() else "density"
    shown = pd.DataFrame(
        {
            cost_name: ranking.apply(lambda row: _level_text(row, short=True), axis=1),
            "rank": ranking["rank"],
            "configuration": [c.rsplit("/", 1)[-1] for c in ranking["configuration"]],
            "accuracy %": ranking.apply(plus_minus, axis=1),
            "vs best, points [95% CI over paired seeds]": ranking.apply(difference, axis=1),
            "test (Holm within the level)": ranking.apply(_test_cell, axis=1),
            "best in % of seed resamples": [
                "" if not np.isfinite(share) else f"{100 * share:.0f}%" for share in ranking["best_share"]
            ],
            "seeds": ranking["n_seeds"],
            "density": ranking["density"],
        }
    )
    for column, name in (
        ("layer_spectral_gap", "layer gap"),
        ("layer_ramanujan_margin", "layer Ramanujan margin"),
        ("layer_vertex_expansion", "layer expansion"),
    ):
        if column in ranking.columns:
            shown[name] = ranking[column]
    if {"dead_inputs", "dead_outputs"} <= set(ranking.columns):
        shown["dead in / out"] = [
            f"{a:.0f} / {b:.0f}" if np.isfinite(a) and np.isfinite(b) else ""
            for a, b in zip(ranking["dead_inputs"], ranking["dead_outputs"])
        ]
    return shown
