"""Stability of findings under resampling of seeds and plans (reports.stability), with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reports.build import STABILITY_FILE, ReportConfig, build_report
from reports.inference import holm, holm_rows
from reports.rowstats import kendall_rows, pearson_rows, spearman_rows
from reports.stability import Draws, best_shares, correlation_stability, equivalent_metrics
from reports.stability_text import percent, stability_lines
from tests.reports.synthetic_results import results_table


def _summary(plans: int, seeds: int, accuracy, seed: int = 0) -> pd.DataFrame:
    """A plan summary: ``aspl`` spread evenly, ``noise`` drawn, ``lambda_2`` a reversed copy of
    aspl, ``aspl_twin`` aspl plus its own noise; accuracies per seed from ``accuracy(aspl, rng)``."""
    rng = np.random.default_rng(seed)
    aspl = np.linspace(3, 8, plans)
    frame = pd.DataFrame(
        {
            "plan": [f"p{i}" for i in range(plans)],
            "is_baseline": False,
            "aspl": aspl,
            "lambda_2": 10 - 2 * aspl,
            "aspl_twin": aspl + rng.normal(0, 0.3, plans),
            "noise": rng.normal(size=plans),
        }
    )
    frame["accuracies"] = [[accuracy(a, rng) for _ in range(seeds)] for a in aspl]
    frame["acc_mean"] = frame["accuracies"].apply(np.mean)
    return frame


def _observed(summary: pd.DataFrame, metrics) -> dict[str, float]:
    return {m: float(stats.spearmanr(summary[m], summary["acc_mean"])[0]) for m in metrics}


def test_holm_rows_equals_holm_on_every_row():
    rng = np.random.default_rng(3)
    p = rng.random((40, 7)) ** 3
    p[2, 4] = np.nan
    p[5, :] = np.nan
    expected = np.array([holm(row) for row in p])
    np.testing.assert_allclose(holm_rows(p), expected, equal_nan=True)


def test_spearman_rows_equals_scipy_row_by_row():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 5, (30, 11)).astype(float)  # ties included
    y = rng.random((30, 11))
    rho, p = spearman_rows(x, y)
    for row in range(30):
        expected = stats.spearmanr(x[row], y[row])
        assert rho[row] == pytest.approx(expected[0], abs=1e-12)
        assert p[row] == pytest.approx(expected[1], rel=1e-9)
    constant, _ = spearman_rows(np.ones((1, 5)), y[:1, :5])
    assert np.isnan(constant[0])


def test_pearson_and_kendall_rows_equal_scipy_row_by_row():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 4, (30, 9)).astype(float)  # ties included: Kendall's tau-b
    y = rng.random((30, 9))
    y[:5] = np.round(y[:5], 1)
    for row, (r, tau) in enumerate(zip(pearson_rows(x, y), kendall_rows(x, y))):
        assert r == pytest.approx(stats.pearsonr(x[row], y[row])[0], abs=1e-12)
        assert tau == pytest.approx(stats.kendalltau(x[row], y[row])[0], abs=1e-12)


def test_seed_draws_take_each_seed_with_replacement():
    draws = Draws.of([[0.0, 1.0], [5.0]])
    index, means = draws.draw(np.random.default_rng(0), 20_000, seeds=True, plans=False)
    assert (index == [0, 1]).all()
    assert (means[:, 1] == 5.0).all()  # one seed: always that seed
    shares = [np.mean(means[:, 0] == value) for value in (0.0, 0.5, 1.0)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=0.02)
    index, means = draws.draw(np.random.default_rng(0), 100, seeds=False, plans=True)
    np.testing.assert_array_equal(means, np.array([0.5, 5.0])[index])


def test_equivalent_metrics_join_rankings_that_are_equal_or_reversed():
    summary = _summary(8, 2, lambda a, rng: 90 - a)
    assert equivalent_metrics(summary, ["aspl", "lambda_2", "noise"]) == {
        "aspl": "aspl",
        "lambda_2": "aspl",
        "noise": "noise",
    }


def test_a_metric_that_sets_accuracy_is_stable_and_noise_is_not():
    summary = _summary(14, 3, lambda a, rng: 90 - 0.4 * a + rng.normal(0, 0.15))
    table = correlation_stability(summary, _observed(summary, ["aspl", "lambda_2", "noise"]), 500, seed=1).set_index(
        "metric"
    )
    assert table.loc["aspl", "holds"] >= 0.9
    assert table.loc["aspl", "holds_seeds"] >= 0.9 and table.loc["aspl", "holds_plans"] >= 0.9
    assert table.loc["aspl", "strongest"] >= 0.9
    assert table.loc["lambda_2", "same_as"] == "aspl" and table.loc["lambda_2", "strongest"] == 0
    assert table.loc["lambda_2", "holds"] == table.loc["aspl", "holds"]  # the same ranking, the same verdicts
    assert table.loc["noise", "holds"] < 0.2
    assert table.loc["noise", "same_sign"] < 0.9
    assert (table["n_plans"] == 14).all() and (table["resamples"] == 500).all()


def test_pure_noise_is_found_unstable():
    summary = _summary(12, 2, lambda a, rng: 88 + rng.normal(0, 0.3))
    table = correlation_stability(summary, _observed(summary, ["aspl", "noise"]), 500)
    assert (table["holds"] < 0.3).all()


def test_two_equally_good_metrics_leave_the_strongest_unresolved():
    rng = np.random.default_rng(5)
    latent = np.linspace(0, 1, 16)  # both metrics measure it with the same error; accuracy follows it
    summary = pd.DataFrame({"is_baseline": False, "first": latent + rng.normal(0, 0.08, 16)})
    summary["second"] = latent + rng.normal(0, 0.08, 16)
    summary["accuracies"] = [list(90 - 2 * z + rng.normal(0, 0.05, 3)) for z in latent]
    summary["acc_mean"] = summary["accuracies"].apply(np.mean)
    table = correlation_stability(summary, _observed(summary, ["first", "second"]), 500)
    table.insert(2, "spearman_p_holm", 0.001)
    assert table["strongest"].max() < 0.9 and table["strongest"].sum() == pytest.approx(1.0)
    lines = stability_lines(table, 3, None)
    assert lines[0].startswith("Stable: accuracy falls as first and second rise")
    assert any("is not resolved by 3 seed(s) and 16 plans" in line for line in lines)


def test_a_significant_but_fragile_finding_is_said_to_be_fragile():
    table = pd.DataFrame(
        {
            "metric": ["clustering", "aspl"],
            "spearman_rho": [-0.7, -0.6],
            "spearman_p_holm": [0.02, 0.2],
            "same_as": ["clustering", "aspl"],
            "holds": [0.62, 0.3],
            "holds_seeds": [0.8, 0.5],
            "holds_plans": [0.7, 0.4],
            "same_sign": [1.0, 0.99],
            "strongest": [0.7, 0.3],
            "n_plans": 13,
            "resamples": 1000,
        }
    )
    lines = stability_lines(table, 2, ("p3", 0.41))
    assert lines[0] == (
        "No relation to accuracy is stable (holding in at least 90% of 1,000 resamples of plans and of seeds within "
        "plans): the most stable, clustering, holds in 62%."
    )
    assert lines[1] == (
        "Significant in this run but not stable: clustering holds in 62% (seeds alone 80%, plans alone 70%)."
    )
    assert "clustering 70%, aspl 30%" in lines[2]
    assert lines[3] == "The best configuration, p3, is best in 41% of resamples of its seeds: not stable."


def test_best_shares_find_a_clear_winner_and_split_a_tie():
    clear = best_shares([[90.0, 90.2, 89.9], [85.0, 85.5, 84.8], [80.0, 80.1, 79.9]], 400)
    np.testing.assert_array_equal(clear, [1.0, 0.0, 0.0])
    tie = best_shares([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], 4000)
    assert tie == pytest.approx([0.5, 0.5], abs=0.03)  # the same seeds: each is ahead as often, ties split
    assert np.isnan(best_shares([[1.0, 2.0], [2.0, 3.0, 4.0]])).all()  # 2 seeds: 3 possible means, no verdict


def test_percent_never_rounds_to_all_or_nothing():
    assert [percent(s) for s in (1.0, 0.996, 0.004, 0.0, 0.905)] == ["100%", ">99%", "<1%", "0%", "90%"]


def test_report_leads_with_stability_and_writes_it(tmp_path):
    table = results_table(lambda m, rng: 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1), plans=10, seeds=3)
    path = tmp_path / "results.csv"
    table.to_csv(path, index=False)
    built = build_report(ReportConfig((path,), tmp_path / "report", resamples=300))
    assert built.findings[1].startswith("Stable: accuracy falls as aspl rises, with the same sign and Holm p < 0.05 in")
    assert "of 300 resamples of plans and of seeds within plans" in built.findings[1]
    written = pd.read_csv(tmp_path / "report" / STABILITY_FILE).set_index("metric")
    assert written.loc["aspl", "holds"] >= 0.9
    assert written.loc["clustering", "holds"] < 0.5  # drawn at random
    summary = pd.read_csv(tmp_path / "report" / "summary.csv")
    best = summary.loc[summary.loc[~summary["is_baseline"], "acc_mean"].idxmax()]
    assert best["best_share"] == pytest.approx(1.0)
    assert (tmp_path / "report" / "figures" / "stability.png").is_file()
    assert "Stability under resampling" in (tmp_path / "report" / "report.html").read_text()


def test_report_without_resamples_has_no_stability(tmp_path):
    table = results_table(lambda m, rng: 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1), plans=6, seeds=2)
    path = tmp_path / "results.csv"
    table.to_csv(path, index=False)
    built = build_report(ReportConfig((path,), tmp_path / "report", resamples=0))
    assert not any(line.startswith("Stable") for line in built.findings)
    assert not (tmp_path / "report" / STABILITY_FILE).exists()


def _two_densities(accuracy, seed: int = 0) -> pd.DataFrame:
    """16 plans at densities 1/16 and 1/4; aspl shorter at the higher density and spread within each."""
    rng = np.random.default_rng(seed)
    density = np.repeat([1 / 16, 1 / 4], 8)
    aspl = np.where(density > 0.1, 2.0, 5.0) + rng.uniform(0, 1.5, 16)
    frame = pd.DataFrame({"is_baseline": False, "density": density, "aspl": aspl})
    frame["accuracies"] = [[accuracy(d, a, rng) for _ in range(3)] for d, a in zip(density, aspl)]
    frame["acc_mean"] = frame["accuracies"].apply(np.mean)
    return frame


def _partial_rho(frame: pd.DataFrame, metric: str) -> float:
    from reports.stats import partial_correlation

    ranks = [stats.rankdata(frame[c]) for c in (metric, "acc_mean", "density")]
    return partial_correlation(*ranks)[0]


def test_a_relation_through_density_is_stable_only_until_density_is_controlled():
    frame = _two_densities(lambda d, a, rng: 80 + 20 * d + rng.normal(0, 0.1))
    observed = {"aspl": float(stats.spearmanr(frame["aspl"], frame["acc_mean"])[0])}
    table = correlation_stability(frame, observed, 500, partial={"aspl": _partial_rho(frame, "aspl")})
    row = table.iloc[0]
    assert row["holds"] >= 0.9 and row["holds_partial"] < 0.2
    table.insert(2, "spearman_p_holm", 0.001)
    lines = stability_lines(table, 3, None)
    assert lines[1].startswith(
        "Controlling for density (the plans keep different fractions of the weights), aspl holds"
    )
    assert lines[1].endswith("at a fixed density that relation is not stable.")


def test_a_relation_that_holds_at_each_density_survives_the_control():
    frame = _two_densities(lambda d, a, rng: 80 + 20 * d - 2 * a + rng.normal(0, 0.1))
    observed = {"aspl": float(stats.spearmanr(frame["aspl"], frame["acc_mean"])[0])}
    table = correlation_stability(frame, observed, 500, partial={"aspl": _partial_rho(frame, "aspl")})
    assert table.iloc[0]["holds"] >= 0.9 and table.iloc[0]["holds_partial"] >= 0.9
    table.insert(2, "spearman_p_holm", 0.001)
    assert "Controlling for density, aspl holds too, in" in " ".join(stability_lines(table, 3, None))


def test_partial_spearman_rows_equal_the_report_partial_correlation():
    from reports.rowstats import partial_spearman_rows
    from reports.stats import partial_correlation

    rng = np.random.default_rng(8)
    x, y, control = rng.random((3, 12, 10))
    r, p = partial_spearman_rows(x, y, control)
    for row in range(12):
        expected = partial_correlation(*(stats.rankdata(a[row]) for a in (x, y, control)))
        assert (r[row], p[row]) == pytest.approx(expected, rel=1e-9)
