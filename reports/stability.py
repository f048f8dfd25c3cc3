"""How stable a report's findings are when its seeds and its plans are drawn again
(docs/architecture.md, "Reports", "Stability").

A resample draws the plans with replacement and, inside each drawn plan, its seeds with
replacement; each drawn plan's accuracy is the mean of its drawn seeds. Two narrower schemes
draw only the seeds (the plans fixed) or only the plans (each at its mean over all its seeds).
For every metric the report correlates, a resample *keeps* the finding when Spearman's rho has
the sign it has on the data and its p-value, Holm-adjusted over the metrics of that resample,
is below :data:`reports.inference.ALPHA`. The *strongest* metric of a resample is the one with
the largest |rho|, counting metrics that order the plans identically (or exactly reversed) on
the data as one, under the first name. The best configuration of a ranking is stable in the share
of seed resamples in which it stays best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from reports.inference import ALPHA, MIN_PAIRS, holm_rows
from reports.rowstats import partial_spearman_rows, spearman_rows
from reports.stats import MIN_PLANS

#: A finding is called stable when it holds in at least this share of resamples.
STABLE = 0.9
#: Resamples per scheme unless the report is told otherwise (``report --resamples``).
RESAMPLES = 1000
#: What each scheme draws again: (seeds within plans, plans).
SCHEMES = {"both": (True, True), "seeds": (True, False), "plans": (False, True)}


@dataclass(frozen=True)
class Draws:
    """Plan accuracies as a padded matrix: one row per plan, its seeds' accuracies, NaN after them."""

    accuracies: np.ndarray  # (plans, most seeds)
    seeds: np.ndarray  # seeds of each plan

    @classmethod
    def of(cls, lists) -> Draws:
        seeds = np.array([len(values) for values in lists], dtype=int)
        padded = np.full((len(lists), max(1, int(seeds.max(initial=1)))), np.nan)
        for row, values in enumerate(lists):
            padded[row, : len(values)] = values
        return cls(padded, seeds)

    def means(self) -> np.ndarray:
        return np.nanmean(self.accuracies, axis=1)

    def draw(self, rng: np.random.Generator, resamples: int, seeds: bool, plans: bool) -> tuple[np.ndarray, np.ndarray]:
        """(plan index, accuracy), each (resamples, plans): which plan every position drew and its drawn mean."""
        count = len(self.seeds)
        index = rng.integers(0, count, (resamples, count)) if plans else np.tile(np.arange(count), (resamples, 1))
        if not seeds:
            return index, self.means()[index]
        width = self.accuracies.shape[1]
        chosen = np.floor(rng.random((resamples, count, width)) * self.seeds[index][..., None]).astype(int)
        values = self.accuracies[index[..., None], chosen]
        values[np.arange(width)[None, None, :] >= self.seeds[index][..., None]] = np.nan
        return index, np.nanmean(values, axis=2)


def equivalent_metrics(plans: pd.DataFrame, metrics: list[str]) -> dict[str, str]:
    """Each metric's representative: the first metric whose ranking of the plans is the same or
    exactly reversed (e.g. the spectral gap and lambda_2 of regular graphs)."""
    ranks = {m: stats.rankdata(pd.to_numeric(plans[m], errors="coerce").to_numpy(dtype=float)) for m in metrics}
    representative = {}
    for metric in metrics:
        top = len(ranks[metric]) + 1
        representative[metric] = next(
            (
                other
                for other in representative.values()
                if np.array_equal(ranks[metric], ranks[other]) or np.array_equal(ranks[metric], top - ranks[other])
            ),
            metric,
        )
    return representative


def correlation_stability(
    summary: pd.DataFrame,
    observed: dict[str, float],
    resamples: int = RESAMPLES,
    seed: int = 0,
    partial: dict[str, float] | None = None,
) -> pd.DataFrame:
    """One row per metric of ``observed`` (metric -> rho on the data, NaN if not computed): the
    share of resamples that keep its finding under each scheme, the share with the same sign, and
    the share in which it is the strongest metric (draws of seeds and plans).

    Columns: ``metric``, ``spearman_rho``, ``same_as`` (its representative), ``holds``,
    ``holds_seeds``, ``holds_plans``, ``same_sign``, ``strongest``, ``n_plans``, ``resamples``, and
    with ``partial`` (metric -> partial rho controlling for the plans' density, when it varies)
    ``partial_rho`` and ``holds_partial``: the share of the same resamples in which the partial
    correlation keeps its sign and Holm significance. Empty with fewer than
    :data:`reports.stats.MIN_PLANS` plans; ``holds_seeds`` is NaN when every plan has one seed.
    """
    plans = summary[~summary["is_baseline"]].reset_index(drop=True)
    metrics = [m for m, rho in observed.items() if np.isfinite(rho)]
    values = {m: pd.to_numeric(plans[m], errors="coerce").to_numpy(dtype=float) for m in metrics}
    usable = np.all([np.isfinite(values[m]) for m in metrics], axis=0) if metrics else np.zeros(0, bool)
    if usable.sum() < MIN_PLANS or not metrics:
        return pd.DataFrame()
    plans = plans[usable].reset_index(drop=True)
    draws = Draws.of([np.asarray(a, dtype=float) for a in plans["accuracies"]])
    representative = equivalent_metrics(plans, metrics)
    table = pd.DataFrame({"metric": metrics, "spearman_rho": [observed[m] for m in metrics]})
    table["same_as"] = [representative[m] for m in metrics]
    rng = np.random.default_rng(seed)
    for scheme, (seeds, resample_plans) in SCHEMES.items():
        index, accuracy = draws.draw(rng, resamples, seeds, resample_plans)
        results = [spearman_rows(values[m][usable][index], accuracy) for m in metrics]
        table["holds" if scheme == "both" else f"holds_{scheme}"] = _holds(results, table["spearman_rho"].to_numpy())
        if scheme == "both":
            rho = np.column_stack([r for r, _ in results])
            table["same_sign"] = (np.sign(rho) == np.sign(table["spearman_rho"].to_numpy())[None, :]).mean(axis=0)
            table["strongest"] = _strongest_shares(rho, table["same_as"].to_numpy() == table["metric"].to_numpy())
            if partial:
                density = pd.to_numeric(plans["density"], errors="coerce").to_numpy(dtype=float)[index]
                table["partial_rho"] = [partial.get(m, np.nan) for m in metrics]
                table["holds_partial"] = _holds(
                    [partial_spearman_rows(values[m][usable][index], accuracy, density) for m in metrics],
                    table["partial_rho"].to_numpy(),
                )
    if (draws.seeds < 2).all():
        table["holds_seeds"] = np.nan
    table["n_plans"], table["resamples"] = len(plans), resamples
    return table


def _holds(results: list[tuple[np.ndarray, np.ndarray]], observed: np.ndarray) -> np.ndarray:
    """Per metric, the share of resamples whose (rho, p) keeps the observed sign with a Holm p < ALPHA."""
    rho = np.column_stack([r for r, _ in results])
    adjusted = holm_rows(np.column_stack([p for _, p in results]))
    return ((np.sign(rho) == np.sign(observed)[None, :]) & (adjusted < ALPHA)).mean(axis=0)


def _strongest_shares(rho: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Share of resamples (rows) in which each counted column has the largest |rho|; 0 for the others."""
    magnitude = np.where(np.isfinite(rho) & counted[None, :], np.abs(rho), -1.0)
    winner = magnitude.argmax(axis=1)
    some = magnitude.max(axis=1) >= 0
    shares = np.bincount(winner[some], minlength=rho.shape[1]) / len(rho)
    return np.where(counted, shares, 0.0)


def best_shares(accuracies, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """For configurations with these per-seed accuracies, the share of seed resamples in which
    each has the highest mean (configurations tied for best share the resample); NaN for all when
    a configuration has fewer than :data:`reports.inference.MIN_PAIRS` seeds."""
    draws = Draws.of([np.asarray(a, dtype=float) for a in accuracies])
    if len(draws.seeds) == 0 or draws.seeds.min() < MIN_PAIRS:  # 2 seeds give 3 possible means: no verdict
        return np.full(len(draws.seeds), np.nan)
    _, means = draws.draw(np.random.default_rng(seed), resamples, seeds=True, plans=False)
    top = np.isclose(means, means.max(axis=1, keepdims=True), rtol=0, atol=1e-12)
    return (top / top.sum(axis=1, keepdims=True)).mean(axis=0)  # a tie for best splits that resample
