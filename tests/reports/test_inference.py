"""Tests that can mean something: Holm's correction, the test n seeds allow, power, seeds as the unit."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reports.compare import comparison_findings, rank_at_equal_cost
from reports.inference import (
    detectable_difference,
    holm,
    paired_test,
    seeds_needed,
    sign_flip_p,
    smallest_p,
    t_power,
)
from reports.stats import plan_summary
from reports.table import read_results
from tests.reports.synthetic_results import results_table


def test_holm_against_hand_computed_values():
    # Sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> the running max keeps 0.06.
    assert holm([0.01, 0.04, 0.03, float("nan"), 0.005]) == pytest.approx([0.03, 0.06, 0.06, np.nan, 0.02], nan_ok=True)
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])  # a family of one is not adjusted
    assert np.isnan(holm([float("nan")])).all()


def test_the_sign_flip_test_on_a_hand_made_table():
    # |d| = 1, 2, 1, 3, observed sum 5 of 7. Flipping a set of absolute sum S gives 7 - 2S, as
    # extreme when S <= 1 or S >= 6: {}, {1}, {1'}, {2, 1', 3}, {1, 2, 3}, {all}: 6 of 16.
    assert sign_flip_p([1, 2, -1, 3]) == pytest.approx(6 / 16)
    assert sign_flip_p([0.6, 0.1, 0.5]) == pytest.approx(0.25) == smallest_p(3)


def test_which_test_each_number_of_seeds_allows():
    assert paired_test([-0.09, -0.09]).method == "none"  # two seeds: nothing is tested
    three = paired_test([-0.09, -0.09, -0.09])
    assert three.method == "sign-flip permutation" and three.p == pytest.approx(0.25) and np.isnan(three.t_p)
    five = paired_test([0.6, 0.1, 0.5, 0.8, 0.1])
    assert five.method == "sign-flip permutation" and five.smallest_p == pytest.approx(0.0625)
    six = paired_test([0.6, 0.1, 0.5, 0.8, 0.1, 0.3])
    assert six.method == "Wilcoxon signed-rank" and six.p == pytest.approx(
        stats.wilcoxon([0.6, 0.1, 0.5, 0.8, 0.1, 0.3]).pvalue
    )
    assert six.t_p == pytest.approx(stats.ttest_1samp([0.6, 0.1, 0.5, 0.8, 0.1, 0.3], 0).pvalue)


def _two_seed_rows(gap: float) -> pd.DataFrame:
    rows = []
    for recipe, base in (("rreg-bipartite", 88.60), ("xnet", 88.60 - gap), ("random-bipartite", 88.40)):
        for seed, shift in enumerate((0.0, -0.35)):
            rows.append({"run_id": f"{recipe}{seed}", "plan_sha256": "", "recipe": recipe, "recipe_degree": 8,
                         "train_seed": seed, "density": 0.0156, "best_acc": base + shift})  # fmt: skip
    return pd.DataFrame(rows)


def test_two_seeds_that_happen_to_agree_are_not_evidence():
    # X-Net trails random-regular by exactly 0.09 points in both seeds (the expanders case).
    ranking = rank_at_equal_cost(_two_seed_rows(0.09))
    xnet = ranking.set_index("configuration").loc["xnet d=8"]
    assert xnet["test"] == "none" and np.isnan(xnet["p"]) and np.isnan(xnet["p_holm"])
    assert xnet["diff"] == pytest.approx(-0.09) and xnet["diff_min"] == pytest.approx(-0.09)
    finding = comparison_findings(ranking)[0]
    assert "significantly" not in finding
    assert "with 2 paired seed(s) no difference is tested (at least 3 are needed)" in finding
    assert "The paired differences do not vary, so the power of the comparison cannot be estimated." in finding


def test_with_six_seeds_a_real_gap_is_found_and_holm_names_its_family():
    rows = []
    for recipe, base in (("rreg-bipartite", 88.6), ("xnet", 88.0), ("random-bipartite", 88.55)):
        for seed in range(7):
            accuracy = base + 0.1 * np.sin(seed + len(recipe))
            rows.append({"run_id": f"{recipe}{seed}", "plan_sha256": "", "recipe": recipe, "recipe_degree": 8,
                         "train_seed": seed, "density": 0.0156, "best_acc": accuracy})  # fmt: skip
    ranking = rank_at_equal_cost(pd.DataFrame(rows))
    xnet = ranking.set_index("configuration").loc["xnet d=8"]
    assert xnet["test"] == "Wilcoxon signed-rank" and xnet["p"] == pytest.approx(2 / 2**7)  # every seed worse
    assert xnet["p_holm"] == pytest.approx(2 * 2 / 2**7)  # the smaller of the level's two p-values, times 2
    finding = comparison_findings(ranking)[0]
    assert (
        "significantly worse: xnet d=8 (-0.6" in finding and "Holm-adjusted over the level's 2 comparison(s)" in finding
    )


def test_power_against_a_hand_calculation():
    # Large n: the normal approximation (z_0.975 + z_0.8) sd / sqrt(n) = 2.8016 / sqrt(200).
    assert detectable_difference(1.0, 200) == pytest.approx(2.8016 / np.sqrt(200), rel=0.01)
    # Ten pairs: the noncentral t at the detectable difference has power 0.8 by construction, and a
    # seeded simulation of the paired t-test agrees.
    delta = detectable_difference(1.0, 10)
    assert t_power(delta, 1.0, 10) == pytest.approx(0.8, abs=1e-6)
    rng = np.random.default_rng(0)
    samples = rng.normal(delta, 1.0, size=(20_000, 10))
    simulated = np.mean(stats.ttest_1samp(samples, 0.0, axis=1).pvalue < 0.05)
    assert simulated == pytest.approx(0.8, abs=0.015)
    needed = seeds_needed(0.5, 1.0)
    assert t_power(0.5, 1.0, int(needed)) >= 0.8 > t_power(0.5, 1.0, int(needed) - 1)
    assert np.isnan(seeds_needed(0.0, 1.0)) and np.isnan(detectable_difference(0.0, 10))
    assert detectable_difference(1.0, 10, alpha=0.05 / 12) > delta  # a stricter Holm level needs a larger difference


def test_duplicate_rows_do_not_count_as_extra_seeds(tmp_path):
    frame = results_table(lambda metrics, rng: 80 - metrics["aspl"], plans=4, seeds=2)
    frame["config_hash"] = frame["plan_sha256"].replace("", "dense").map(lambda sha: f"hash-{sha}")
    again = frame.copy()
    again["run_id"] = again["run_id"] + "-again"  # the same jobs trained twice by two sweeps
    path = tmp_path / "results.csv"
    pd.concat([frame, again]).to_csv(path, index=False)
    table = read_results([path])
    assert len(table) == len(frame)
    assert table.attrs["notices"] == [
        f"{len(frame)} row(s) repeat a (config_hash, train_seed) pair already in the table (the same run trained "
        "twice); each seed counts once, the first row is kept"
    ]
    assert set(plan_summary(table)["n_seeds"]) == {2}


def test_float_noise_is_not_a_spread():
    differences = np.array([88.51, 88.16, 88.40]) - np.array([88.60, 88.25, 88.49])  # -0.09 each, up to float noise
    assert np.ptp(differences) > 0  # the noise is there
    test = paired_test(differences)
    assert np.isnan(test.t_p)  # not the p = 5e-14 a t-test of noise gives
    assert test.method == "sign-flip permutation" and test.p == pytest.approx(0.25)
