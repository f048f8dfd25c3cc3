"""Accuracy predicted from graph metrics before training (``report --predict``, ``topo rank
--predictor``; docs/architecture.md, "Reports").

Each plan is one point: its graph metrics and its mean accuracy over seeds (seeds are the unit
of that mean; the plans are the unit of the fit). The model is ridge regression on the
metrics standardised over the fitted plans, with the plan's density as a covariate, and a fixed
penalty :data:`RIDGE_ALPHA` (no tuning on the plans it is scored on). It is scored by
leave-one-plan-out cross-validation: each plan's accuracy predicted by a model fitted on the
others, then Spearman's rho of predicted vs measured over the plans, with a bootstrap interval
over plans. Beside it, two baselines scored the same way: density alone, and the single metric
that correlates best with accuracy among the training plans of each fold (chosen inside the
fold, so it is not chosen on the held-out plan).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from common.atomic import atomic_write_text
from common.columns import BASELINE_RECIPE
from common.jsonio import read_json
from reports.figures import save
from reports.table import PLAN_METRICS, ReportError

#: Ridge penalty on standardised metrics (fixed: chosen before any data, never tuned).
RIDGE_ALPHA = 1.0
#: Fewest plans a predictor is fitted and cross-validated on.
MIN_PLANS = 6
#: The results column of each metric, by its name in ``topo analyze`` (density is the graph's).
RESULT_COLUMN = {"density": "plan_density"}
#: Written beside report.html.
PREDICTOR_FILE = "predictor.json"
#: Metrics of a new plan may lie outside the fitted range by this share of the range.
RANGE_SLACK = 0.05


@dataclass
class Predictor:
    """A fitted ridge model: metric names (as ``topo analyze`` names them), their means and
    scales over the fitted plans, coefficients, intercept, each metric's fitted range, and the
    cross-validated residual spread (for intervals)."""

    metrics: list[str]
    means: list[float]
    scales: list[float]
    coefficients: list[float]
    intercept: float
    ranges: dict[str, list[float]]
    residual_sd: float
    n_plans: int
    accuracy: str

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted accuracy of each row of ``frame`` (columns named as :attr:`metrics`)."""
        x = (frame[self.metrics].to_numpy(dtype=float) - self.means) / self.scales
        return x @ np.asarray(self.coefficients) + self.intercept

    def out_of_range(self, frame: pd.DataFrame) -> list[tuple[int, str, float]]:
        """(row position, metric, value) of every value outside the fitted range (with slack)."""
        found = []
        for metric in self.metrics:
            low, high = self.ranges[metric]
            slack = RANGE_SLACK * (high - low)
            values = frame[metric].to_numpy(dtype=float)
            for position in np.flatnonzero(~((values >= low - slack) & (values <= high + slack))):
                found.append((int(position), metric, float(values[position])))
        return found

    def save(self, path: Path) -> Path:
        atomic_write_text(path, json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Predictor:
        document = read_json(Path(path), ReportError, "a predictor written by report --predict")
        try:
            predictor = cls(**document)
            sizes = {len(predictor.metrics), len(predictor.means), len(predictor.scales), len(predictor.coefficients)}
            if len(sizes) != 1 or set(predictor.ranges) != set(predictor.metrics):
                raise ValueError("its metrics, means, scales, coefficients and ranges differ in length")
        except (TypeError, ValueError) as error:
            raise ReportError(f"{path}: not a predictor written by report --predict ({error})") from None
        return predictor


def plan_points(rows: pd.DataFrame, accuracy: str) -> pd.DataFrame:
    """One row per plan (rows with a plan file, the dense baseline left out): its metrics under
    their ``topo analyze`` names, and its mean accuracy over seeds (``acc_mean``)."""
    planned = rows[(rows["recipe"].astype(str) != BASELINE_RECIPE) & rows["plan_sha256"].fillna("").astype(bool)]
    columns = {RESULT_COLUMN.get(m, m): m for m in (*PLAN_METRICS, "density") if RESULT_COLUMN.get(m, m) in rows}
    grouped = planned.groupby("plan_sha256", sort=True)
    points = grouped[list(columns)].first().apply(pd.to_numeric, errors="coerce").rename(columns=columns)
    points["acc_mean"] = grouped[accuracy].mean()
    points["plan"] = grouped["plan"].first() if "plan" in planned else points.index
    return points.reset_index(drop=True)


def usable_metrics(points: pd.DataFrame) -> list[str]:
    """Metrics finite on every plan and varying across them; density last (the covariate)."""
    names = [m for m in (*PLAN_METRICS, "density") if m in points]
    return [m for m in names if np.isfinite(points[m]).all() and points[m].nunique() > 1]


def fit(points: pd.DataFrame, metrics: list[str], accuracy: str = "best_acc") -> Predictor:
    """Ridge regression of ``acc_mean`` on the standardised ``metrics`` (see module doc)."""
    x = points[metrics].to_numpy(dtype=float)
    y = points["acc_mean"].to_numpy(dtype=float)
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales == 0] = 1.0
    z = (x - means) / scales
    coefficients = np.linalg.solve(z.T @ z + RIDGE_ALPHA * np.eye(len(metrics)), z.T @ (y - y.mean()))
    ranges = {m: [float(points[m].min()), float(points[m].max())] for m in metrics}
    return Predictor(
        list(metrics), means.tolist(), scales.tolist(), coefficients.tolist(), float(y.mean()), ranges, float("nan"),
        len(points), accuracy,
    )  # fmt: skip


def leave_one_plan_out(points: pd.DataFrame, choose) -> np.ndarray:
    """Each plan's accuracy predicted by a model fitted on the other plans with the metrics
    ``choose(training points)`` returns."""
    predicted = np.empty(len(points))
    for held in range(len(points)):
        training = points.drop(index=points.index[held])
        model = fit(training, choose(training))
        predicted[held] = model.predict(points.iloc[[held]])[0]
    return predicted


def best_single_metric(points: pd.DataFrame) -> list[str]:
    """The metric (density aside) with the largest |Spearman rho| with accuracy in ``points``."""
    candidates = [m for m in usable_metrics(points) if m != "density"]
    if not candidates:
        return usable_metrics(points)[:1]
    rhos = [abs(stats.spearmanr(points[m], points["acc_mean"]).statistic) for m in candidates]
    return [candidates[int(np.nanargmax(rhos))]]


@dataclass
class Score:
    """Spearman's rho of predicted vs measured accuracy over the held-out plans, with a 95%
    bootstrap interval over plans."""

    name: str
    rho: float
    ci_low: float
    ci_high: float


def score(name: str, predicted: np.ndarray, measured: np.ndarray, seed: int, resamples: int) -> Score:
    rho = float(stats.spearmanr(predicted, measured).statistic)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        pick = rng.integers(0, len(measured), len(measured))
        if np.ptp(predicted[pick]) > 0 and np.ptp(measured[pick]) > 0:
            draws.append(stats.spearmanr(predicted[pick], measured[pick]).statistic)
    low, high = np.nanpercentile(draws, [2.5, 97.5]) if draws else (np.nan, np.nan)
    return Score(name, rho, float(low), float(high))


def predict_accuracy(
    rows: pd.DataFrame, accuracy: str, seed: int = 0, resamples: int = 2000
) -> tuple[Predictor, list[Score], pd.DataFrame]:
    """The predictor fitted on every plan, the cross-validated scores of it and its two
    baselines (see module doc), and the plans with their held-out prediction (``predicted``).

    Raises
    ------
    ReportError
        With fewer than :data:`MIN_PLANS` plans or no metric that varies.
    """
    points = plan_points(rows, accuracy)
    metrics = usable_metrics(points)
    if len(points) < MIN_PLANS or not metrics:
        raise ReportError(
            f"--predict needs at least {MIN_PLANS} plans with graph metrics that vary; the rows have {len(points)} "
            f"plan(s) and {len(metrics)} such metric(s)"
        )
    measured = points["acc_mean"].to_numpy(dtype=float)
    predicted = leave_one_plan_out(points, usable_metrics)
    scores = [score(f"ridge on {', '.join(metrics)}", predicted, measured, seed, resamples)]
    if "density" in metrics:
        density = leave_one_plan_out(points, lambda _: ["density"])
        scores.append(score("density alone", density, measured, seed, resamples))
    single = leave_one_plan_out(points, best_single_metric)
    scores.append(score("the best single metric of each fold", single, measured, seed, resamples))
    predictor = fit(points, metrics, accuracy)
    predictor.residual_sd = float(np.sqrt(np.mean((predicted - measured) ** 2)))
    return predictor, scores, points.assign(predicted=predicted)


def prediction_figure(points: pd.DataFrame, path: Path) -> Path:
    """Measured against held-out predicted accuracy, one point per plan, the line of equality."""
    figure = Figure(figsize=(5.6, 4.6), dpi=110, layout="constrained")
    axes = figure.subplots()
    axes.scatter(points["predicted"], points["acc_mean"], s=30)
    ends = [
        min(points["predicted"].min(), points["acc_mean"].min()),
        max(points["predicted"].max(), points["acc_mean"].max()),
    ]
    axes.plot(ends, ends, color="grey", linestyle="--", linewidth=1, label="predicted = measured")
    axes.set_xlabel("accuracy predicted with the plan left out (%)")
    axes.set_ylabel("measured accuracy, mean over seeds (%)")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    return save(figure, path)


def prediction_findings(predictor: Predictor, scores: list[Score]) -> list[str]:
    """One sentence: how well accuracy is predicted for plans left out, against the baselines."""
    head, *baselines = scores
    others = "; ".join(f"{s.name}: rho = {s.rho:.2f} [{s.ci_low:.2f}, {s.ci_high:.2f}]" for s in baselines)
    return [
        f"Accuracy predicted for plans left out of the fit (leave-one-plan-out over {predictor.n_plans} plans; "
        f"Spearman rho of predicted vs measured, 95% bootstrap interval over plans): {head.name}: rho = "
        f"{head.rho:.2f} [{head.ci_low:.2f}, {head.ci_high:.2f}]; {others}. Its typical error is "
        f"{predictor.residual_sd:.2f} points."
    ]


def rank_plans(predictor: Predictor, rows: list[tuple[str, dict]]) -> pd.DataFrame:
    """Plans (``topo analyze``'s rows) ranked by predicted accuracy, with a 95% interval of
    +- 1.96 x the predictor's cross-validated error.

    Raises
    ------
    ReportError
        Naming the first plan and metric outside the fitted range (and how many more there are),
        or a metric the rows lack.
    """
    frame = pd.DataFrame([{"plan": path, **metrics} for path, metrics in rows])
    missing = [m for m in predictor.metrics if m not in frame or frame[m].isna().any()]
    if missing:
        raise ReportError(f"the plans lack the predictor's metric(s) {', '.join(missing)}")
    outside = predictor.out_of_range(frame)
    if outside:
        position, metric, value = outside[0]
        low, high = predictor.ranges[metric]
        more = f" ({len(outside) - 1} more value(s) outside)" if len(outside) > 1 else ""
        raise ReportError(
            f"{frame['plan'].iloc[position]}: {metric} = {value:.6g} is outside the range the predictor was fitted on "
            f"({low:.6g} to {high:.6g}, over {predictor.n_plans} plans){more}"
        )
    half = 1.96 * predictor.residual_sd
    frame["predicted"] = predictor.predict(frame)
    frame["low"], frame["high"] = frame["predicted"] - half, frame["predicted"] + half
    ranked = frame.sort_values("predicted", ascending=False, kind="stable").reset_index(drop=True)
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    return ranked[["rank", "plan", "predicted", "low", "high", *predictor.metrics]]
