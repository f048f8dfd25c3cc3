"""Figures of a report (PNG): metric-vs-accuracy scatters, the clustering x path-length map,
and accuracy vs density. Matplotlib's object API only (no global pyplot state)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from common.atomic import atomic_open
from reports.stats import Correlation

#: How each metric is labelled on an axis (name and unit).
LABELS = {
    "aspl": "average shortest path length (hops)",
    "diameter": "diameter (hops)",
    "clustering": "average clustering coefficient",
    "transitivity": "transitivity",
    "spectral_gap": "spectral gap  λ1 − λ2",
    "lambda_2": "second adjacency eigenvalue λ2",
    "lambda_nontrivial": "max(|λ2|, |λn|)",
    "algebraic_connectivity": "algebraic connectivity",
    "degree_mean": "mean degree",
    "density": "kept fraction of masked weights",
    "layer_spectral_gap": "mean layer spectral gap  t1 − t2",
    "layer_ramanujan_margin": "mean layer Ramanujan margin",
    "layer_vertex_expansion": "mean layer vertex expansion (sampled)",
}
ACCURACY_LABEL = "test accuracy (%) at best validation epoch, mean ± std over seeds"
#: A legend with more entries than this covers the plot: the figure colours by a scale instead,
#: or is not drawn (docs/architecture.md, reports).
MAX_LEGEND = 8


def _legend(axes, fontsize=8) -> None:
    """A legend when there is something to label and few enough entries to read; beside the plot,
    never over its points and error bars."""
    _, labels = axes.get_legend_handles_labels()
    if labels and len(labels) <= MAX_LEGEND + 2:  # + the fit line and the baseline
        axes.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def save(figure: Figure, path: Path) -> Path:
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return path


def _degree_colours(plans: pd.DataFrame) -> tuple[list, dict, Normalize | None]:
    """Colours by degree: one legend entry per degree when there are at most :data:`MAX_LEGEND`,
    else a continuous scale (returned as its norm, for a colour bar)."""
    degree = pd.to_numeric(plans.get("degree", pd.Series(index=plans.index, dtype=float)), errors="coerce")
    degrees = sorted(degree.dropna().unique())
    if len(degrees) > MAX_LEGEND:
        norm = Normalize(vmin=min(degrees), vmax=max(degrees))
        scale = colormaps["viridis"]
        return [scale(norm(d)) if np.isfinite(d) else "grey" for d in degree], {}, norm
    palette = colormaps["tab10"]
    colour_of = {d: palette(i % 10) for i, d in enumerate(degrees)}
    return [colour_of.get(d, "grey") for d in degree], colour_of, None


def _baseline(axes, summary: pd.DataFrame) -> None:
    """The dense baseline as a dashed line where it falls inside the plans' accuracy range; outside
    it, its value written at the edge it lies beyond, so it never squashes the plans' spread."""
    low, high = axes.get_ylim()
    for _, row in summary[summary["is_baseline"]].iterrows():
        value, label = row["acc_mean"], f"dense baseline {row['acc_mean']:.2f}%"
        if low <= value <= high:
            axes.axhline(value, color="black", linestyle="--", linewidth=1, label=label)
        else:
            above = value > high
            axes.annotate(
                f"{'↑' if above else '↓'} {label} (off this scale)", xy=(0.01, 0.98 if above else 0.02),
                xycoords="axes fraction", va="top" if above else "bottom", fontsize=7,
            )  # fmt: skip
    axes.set_ylim(low, high)


def scatter_axes(axes, summary: pd.DataFrame, metric: str, correlation: Correlation | None) -> None:
    """One metric vs mean accuracy: error bars over seeds, colour by degree, fitted line, r/rho."""
    plans = summary[~summary["is_baseline"]]
    x = pd.to_numeric(plans[metric], errors="coerce").to_numpy(dtype=float)
    y = plans["acc_mean"].to_numpy(dtype=float)
    errors = plans["acc_std"].fillna(0).to_numpy(dtype=float)
    colours, colour_of, norm = _degree_colours(plans)
    finite = np.isfinite(x) & np.isfinite(y)
    for index in np.flatnonzero(finite):
        axes.errorbar(
            x[index], y[index], yerr=errors[index], fmt="o", color=colours[index], markersize=5, capsize=2, alpha=0.85
        )
    for degree, colour in colour_of.items():
        axes.plot([], [], "o", color=colour, label=f"degree {degree:g}")
    if norm is not None:
        axes.figure.colorbar(ScalarMappable(norm, colormaps["viridis"]), ax=axes, label="degree")
    low, high = axes.get_ylim()  # the points' range: the fitted line is drawn within it
    if finite.sum() >= 2 and np.ptp(x[finite]) > 0:
        slope, intercept = np.polyfit(x[finite], y[finite], 1)
        grid = np.linspace(x[finite].min(), x[finite].max(), 50)
        text = ""
        if correlation is not None and np.isfinite(correlation.pearson_r):
            text = (
                f"fit: r = {correlation.pearson_r:.2f}, ρ = {correlation.spearman_rho:.2f} "
                f"(Holm p = {correlation.spearman_p_holm:.2g})"
            )
        axes.plot(grid, slope * grid + intercept, color="tab:red", linewidth=1.5, label=text or "least-squares fit")
    axes.set_ylim(low, high)
    _baseline(axes, summary)
    axes.set_xlabel(LABELS.get(metric, metric))
    axes.set_ylabel("test accuracy (%)")
    axes.grid(alpha=0.3)
    _legend(axes, fontsize=7)


def metric_scatter(summary: pd.DataFrame, metric: str, correlation: Correlation | None, path: Path) -> Path:
    figure = Figure(figsize=(6.4, 4.6), dpi=110, layout="constrained")
    axes = figure.subplots()
    scatter_axes(axes, summary, metric, correlation)
    axes.set_ylabel(ACCURACY_LABEL, fontsize=8)
    axes.set_title(f"{metric} vs accuracy ({int((~summary['is_baseline']).sum())} plans)")
    return save(figure, path)


def main_figure(
    summary: pd.DataFrame, metrics: list[str], correlations: dict[str, Correlation], path: Path, title: str
) -> Path:
    """Up to four metrics side by side: the report's headline figure."""
    shown = metrics[:4]
    columns = 2 if len(shown) > 1 else 1
    rows = -(-len(shown) // columns)
    figure = Figure(figsize=(6 * columns, 4.2 * rows), dpi=100, layout="constrained")
    grid = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for axes, metric in zip(grid, shown):
        scatter_axes(axes, summary, metric, correlations.get(metric))
    for axes in grid[len(shown) :]:
        axes.set_axis_off()
    wrapped = textwrap.fill(title, width=45 * columns)  # a long experiment title wraps instead of running off the page
    baseline = "dense baseline dashed, or its value at the edge it lies beyond"
    figure.suptitle(f"{wrapped}\n(error bars: std over seeds; {baseline})", fontsize=11)
    return save(figure, path)


def clustering_path_map(
    summary: pd.DataFrame, in_sweet_spot: pd.Series, path: Path, title: str | None = None
) -> Path | None:
    """graph2nn's map: clustering (x) vs ASPL (y), colour = accuracy, sweet spot outlined."""
    plans = summary[~summary["is_baseline"]]
    if not {"clustering", "aspl"} <= set(plans.columns):
        return None
    x = pd.to_numeric(plans["clustering"], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(plans["aspl"], errors="coerce").to_numpy(dtype=float)
    accuracy = plans["acc_mean"].to_numpy(dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.sum() == 0:
        return None
    figure = Figure(figsize=(6.4, 5), dpi=110, layout="constrained")
    axes = figure.subplots()
    norm = Normalize(vmin=np.nanmin(accuracy[finite]), vmax=np.nanmax(accuracy[finite]))
    points = axes.scatter(x[finite], y[finite], c=accuracy[finite], cmap="viridis", norm=norm, s=60, edgecolors="none")
    sweet = in_sweet_spot.loc[plans.index].to_numpy() == True  # noqa: E712  (NaN means untested)
    if (sweet & finite).any():
        axes.scatter(
            x[sweet & finite],
            y[sweet & finite],
            s=150,
            facecolors="none",
            edgecolors="tab:red",
            linewidths=1.8,
            label="sweet spot: not significantly worse than the best",
        )
        _legend(axes)
    figure.colorbar(points, ax=axes, label="test accuracy (%)")
    axes.set_xlabel(LABELS["clustering"])
    axes.set_ylabel(LABELS["aspl"])
    axes.set_title(title or "clustering vs path length, coloured by accuracy")
    axes.grid(alpha=0.3)
    return save(figure, path)


def density_plot(summary: pd.DataFrame, path: Path) -> Path | None:
    """Accuracy vs kept density, one marker style per generator, dense baseline as a line; None when
    every plan has the same density (one x value says nothing)."""
    plans = summary[~summary["is_baseline"]]
    density = pd.to_numeric(plans["density"], errors="coerce")
    if density.round(6).nunique() < 2:
        return None
    figure = Figure(figsize=(6.4, 4.6), dpi=110, layout="constrained")
    axes = figure.subplots()
    markers = "osD^v<>PX*"
    generators = plans["generator"].fillna("unknown")
    groups = plans.groupby(generators, sort=True) if generators.nunique() <= MAX_LEGEND else [("plans", plans)]
    for index, (generator, group) in enumerate(groups):
        axes.errorbar(
            pd.to_numeric(group["density"]),
            group["acc_mean"],
            yerr=group["acc_std"].fillna(0),
            fmt=markers[index % len(markers)],
            capsize=2,
            label=str(generator),
            alpha=0.85,
        )
    _baseline(axes, summary)
    axes.set_xlabel(LABELS["density"])
    axes.set_ylabel(ACCURACY_LABEL, fontsize=8)
    axes.set_title("accuracy vs density, by generator")
    axes.grid(alpha=0.3)
    _legend(axes)
    return save(figure, path)


def recipe_plot(ranking: pd.DataFrame, summary: pd.DataFrame, path: Path) -> Path | None:
    """Accuracy vs counted cost (MACs per example when the ranking is by MACs, else density), one
    line per recipe (error bars: std over seeds), the dense model as a dashed line; log axis.

    None when every configuration has the same cost (one x value) or there are more than
    :data:`MAX_LEGEND` recipes to tell apart: the ranking table says it better.
    """
    cost = "macs" if (ranking["level_by"] == "macs").all() else "density"
    lines = ranking["recipe"] if ranking["recipe"].nunique() > 1 else ranking["configuration"]
    if ranking["level"].nunique() < 2 or lines.nunique() > MAX_LEGEND:
        return None
    figure = Figure(figsize=(7, 4.8), dpi=110, layout="constrained")
    axes = figure.subplots()
    markers = "osD^v<>PX*"
    for index, (recipe, group) in enumerate(ranking.groupby(lines, sort=True)):
        group = group.sort_values(cost)
        axes.errorbar(
            group[cost],
            group["acc_mean"],
            yerr=group["acc_std"].fillna(0),
            fmt=markers[index % len(markers)] + "-",
            capsize=3,
            label=str(recipe),
            alpha=0.85,
        )
    _baseline(axes, summary)
    axes.set_xscale("log")
    axes.set_xlabel(
        ("multiply-accumulates per example, counted" if cost == "macs" else LABELS["density"]) + " (log scale)"
    )
    axes.set_ylabel(ACCURACY_LABEL, fontsize=8)
    axes.set_title("accuracy at equal cost, by recipe")
    axes.grid(alpha=0.3, which="both")
    _legend(axes)
    return save(figure, path)


def stability_figure(table: pd.DataFrame, path: Path, stable: float) -> Path | None:
    """Per metric (those that rank the plans alike drawn once): the share of resamples keeping its
    finding (bar: plans and seeds drawn; marks: each alone), and the share in which it is strongest."""
    own = table[table["same_as"] == table["metric"]].sort_values("holds")
    if own.empty:
        return None
    figure = Figure(figsize=(10, 1.2 + 0.38 * len(own)), dpi=100, layout="constrained")
    holds, strongest = figure.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    places = np.arange(len(own))
    colours = ["tab:red" if rho < 0 else "tab:blue" for rho in own["spearman_rho"]]
    holds.barh(places, 100 * own["holds"], color=colours, alpha=0.8)
    if own["holds_seeds"].notna().any():
        holds.plot(100 * own["holds_seeds"], places, "o", color="black", ms=4, label="seeds drawn alone")
    holds.plot(100 * own["holds_plans"], places, "^", color="black", ms=4, mfc="none", label="plans drawn alone")
    if "holds_partial" in own.columns and own["partial_rho"].notna().any():
        partial = own["holds_partial"].where(own["partial_rho"].notna())
        holds.plot(100 * partial, places, "D", color="darkorange", ms=4, label="controlling for density")
    holds.axvline(100 * stable, color="grey", ls="--", lw=1, label=f"stable: {100 * stable:.0f}%")
    holds.set_yticks(places, [f"{m} (ρ {rho:+.2f})" for m, rho in zip(own["metric"], own["spearman_rho"])], fontsize=8)
    holds.set_xlim(0, 100)
    holds.set_xlabel(
        "% of resamples with the same sign and Holm p < 0.05\n(red: accuracy falls, blue: rises)", fontsize=8
    )
    holds.legend(fontsize=7, loc="lower right")
    strongest.barh(places, 100 * own["strongest"], color="grey")
    strongest.set_xlim(0, 100)
    strongest.set_xlabel("% of resamples in which it is the strongest metric", fontsize=8)
    figure.suptitle(
        f"How stable each relation is ({int(own['resamples'].iloc[0]):,} resamples of plans and seeds, "
        f"{int(own['n_plans'].iloc[0])} plans)",
        fontsize=10,
    )
    return save(figure, path)
