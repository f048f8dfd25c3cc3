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
compared with it over the training seeds both ran (paired by seed): the mean difference with
a 95% t-interval, the paired t-test and the Wilcoxon signed-rank test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from common.columns import BASELINE_RECIPE
from reports.stats import TREATMENT_KEYS, treatment_label

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

    Returns the number of pairs, the mean difference with its 95% t-interval, and the p-values
    of the two-sided paired t-test and Wilcoxon signed-rank test (NaN where undefined: fewer
    than two pairs, or all differences zero).
    """
    seeds = sorted(set(a.index) & set(b.index))
    result = {
        "n_pairs": len(seeds),
        "diff": float("nan"),
        "diff_ci_low": float("nan"),
        "diff_ci_high": float("nan"),
        "paired_t_p": float("nan"),
        "wilcoxon_p": float("nan"),
    }
    if not seeds:
        return result
    differences = a.loc[seeds].to_numpy(dtype=float) - b.loc[seeds].to_numpy(dtype=float)
    result["diff"] = float(differences.mean())
    if len(seeds) < 2:
        return result
    spread = differences.std(ddof=1)
    half = stats.t.ppf(0.975, len(seeds) - 1) * spread / math.sqrt(len(seeds))
    result["diff_ci_low"], result["diff_ci_high"] = result["diff"] - half, result["diff"] + half
    if spread > 0:
        result["paired_t_p"] = float(stats.ttest_rel(a.loc[seeds], b.loc[seeds]).pvalue)
    if np.any(differences != 0):
        result["wilcoxon_p"] = float(stats.wilcoxon(differences).pvalue)
    return result


def rank_at_equal_cost(rows: pd.DataFrame, accuracy: str = "best_acc") -> pd.DataFrame:
    """One row per masked configuration: its cost level, rank within the level, accuracy over
    seeds, the paired comparison with the level's best, and its layer-graph metrics.

    Columns: ``level`` (a cost: MACs per example, or density, as ``level_by`` says), ``rank``,
    ``configuration``, ``recipe``, ``density``, ``macs``, ``acc_mean``,
    ``acc_std``, ``n_seeds``, ``n_pairs``, ``diff`` (to the best, points), ``diff_ci_low``,
    ``diff_ci_high``, ``paired_t_p``, ``wilcoxon_p``, and :data:`LAYER_COLUMNS` present in ``rows``.
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
        best = ordered.iloc[0]
        for rank, (_, row) in enumerate(ordered.iterrows(), start=1):
            comparison = (
                paired_difference(row["by_seed"], best["by_seed"])
                if rank > 1
                else {
                    "n_pairs": row["n_seeds"],
                    "diff": 0.0,
                    "diff_ci_low": float("nan"),
                    "diff_ci_high": float("nan"),
                    "paired_t_p": float("nan"),
                    "wilcoxon_p": float("nan"),
                }
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
        "diff_ci_low",
        "diff_ci_high",
        "paired_t_p",
        "wilcoxon_p",
        *layer_columns,
    ]
    return pd.DataFrame(rows_out)[columns]


def comparison_findings(ranking: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """Sentences: at each level, which configuration is best and which are significantly worse."""
    lines = []
    for _level, group in ranking.groupby("level", sort=True):
        if len(group) < 2:
            continue
        best = group.iloc[0]
        worse = group[(group["paired_t_p"] < alpha) & (group["diff"] < 0)]
        pairs = int(group["n_pairs"].iloc[1:].min()) if len(group) > 1 else 0
        lines.append(
            f"At {_level_text(best)}: {best['configuration']} is best ({best['acc_mean']:.2f}%); "
            + (
                f"significantly worse by a paired t-test over {pairs} seed(s): "
                + ", ".join(f"{r['configuration']} ({r['diff']:+.2f} points)" for _, r in worse.iterrows())
                if len(worse)
                else f"no other configuration is significantly worse by a paired t-test over {pairs} seed(s)"
            )
            + "."
        )
    return lines


def _level_text(row, short: bool = False) -> str:
    if row["level_by"] != "macs":
        return f"{row['level']:g}" if short else f"density ≈ {row['level']:g}"
    value = row["level"]
    scaled = next(
        ((value / factor, unit) for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")) if value >= factor),
        (value, ""),
    )
    return f"{scaled[0]:.3g}{scaled[1]}" if short else f"≈ {scaled[0]:.3g} {scaled[1]}MACs per example"


def _p_values(row) -> str:
    values = [row["paired_t_p"], row["wilcoxon_p"]]
    return " / ".join(f"{v:.2g}" if np.isfinite(v) else "–" for v in values) if any(np.isfinite(values)) else ""


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
        return f"{row['diff']:+.2f}"

    cost_name = "MACs" if (ranking["level_by"] == "macs").all() else "density"
    shown = pd.DataFrame(
        {
            cost_name: ranking.apply(lambda row: _level_text(row, short=True), axis=1),
            "rank": ranking["rank"],
            "configuration": [c.rsplit("/", 1)[-1] for c in ranking["configuration"]],
            "accuracy %": ranking.apply(plus_minus, axis=1),
            "vs best, points [95% CI]": ranking.apply(difference, axis=1),
            "p (paired t / Wilcoxon)": ranking.apply(_p_values, axis=1),
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
