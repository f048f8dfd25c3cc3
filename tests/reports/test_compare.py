"""Equal-cost comparisons: cost levels, paired statistics against scipy, the ranking."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reports.compare import comparison_findings, cost_levels, paired_difference, rank_at_equal_cost


def test_cost_levels_group_densities_within_five_percent():
    densities = pd.Series([0.0625, 0.25, 0.0631, 0.0656, 0.0661, float("nan"), 0.2502])
    levels = cost_levels(densities)
    assert levels.iloc[0] == levels.iloc[2] == levels.iloc[3] == float(f"{np.mean([0.0625, 0.0631, 0.0656]):.3g}")
    assert levels.iloc[4] != levels.iloc[0]  # 0.0661 is more than 5% above 0.0625: the next level
    assert levels.iloc[1] == levels.iloc[6] == 0.25 and np.isnan(levels.iloc[5])


def test_paired_difference_against_scipy_on_hand_data():
    a = pd.Series([90.1, 89.7, 90.4, 90.0, 89.9], index=[0, 1, 2, 3, 4])
    b = pd.Series([89.5, 89.6, 89.9, 89.2, 89.8, 70.0], index=[0, 1, 2, 3, 4, 5])  # seed 5 has no pair
    result = paired_difference(a, b)
    differences = np.array([0.6, 0.1, 0.5, 0.8, 0.1])
    assert result["n_pairs"] == 5
    assert result["diff"] == pytest.approx(differences.mean())
    half = stats.t.ppf(0.975, 4) * differences.std(ddof=1) / np.sqrt(5)
    assert (result["diff_ci_low"], result["diff_ci_high"]) == pytest.approx(
        (differences.mean() - half, differences.mean() + half)
    )
    assert result["paired_t_p"] == pytest.approx(stats.ttest_rel(a.loc[[0, 1, 2, 3, 4]], b.loc[[0, 1, 2, 3, 4]]).pvalue)
    # Five pairs: Wilcoxon could not reach 5% (2 / 2^5 = 0.0625), so the exact sign-flip test decides;
    # every difference is positive, so only "all +" and "all -" are as extreme: p = 2 / 32.
    assert result["test"] == "sign-flip permutation"
    assert result["p"] == pytest.approx(0.0625) and result["smallest_p"] == pytest.approx(0.0625)
    assert (result["diff_min"], result["diff_max"]) == pytest.approx((0.1, 0.8))
    single = paired_difference(a.iloc[:1], b.iloc[:1])
    assert single["n_pairs"] == 1 and np.isnan(single["paired_t_p"]) and np.isnan(single["diff_ci_low"])
    assert single["test"] == "none" and np.isnan(single["p"])


def rows(values: dict, density: dict) -> pd.DataFrame:
    out = []
    for (recipe, degree), accuracies in values.items():
        for seed, accuracy in enumerate(accuracies):
            out.append(
                {
                    "run_id": f"{recipe}{degree}{seed}",
                    "plan_sha256": "",
                    "recipe": recipe,
                    "degree": degree,
                    "recipe_degree": degree,
                    "train_seed": seed,
                    "density": density[(recipe, degree)],
                    "best_acc": accuracy,
                }
            )
    return pd.DataFrame(out)


def test_ranking_within_each_cost_level():
    values = {
        ("xnet", 4): [88.0, 88.2, 88.1],
        ("rreg-bipartite", 4): [88.4, 88.5, 88.3],
        ("random-bipartite", 4): [86.0, 86.5, 85.9],
        ("xnet", 16): [89.0, 89.1, 89.3],
        ("random-bipartite", 16): [89.2, 89.0, 89.3],
        ("dense", None): [90.0, 90.1, 90.2],
    }
    density = {
        ("xnet", 4): 0.0625,
        ("rreg-bipartite", 4): 0.0625,
        ("random-bipartite", 4): 0.0631,
        ("xnet", 16): 0.25,
        ("random-bipartite", 16): 0.2502,
        ("dense", None): 1.0,
    }
    ranking = rank_at_equal_cost(rows(values, density))
    assert "dense" not in set(ranking["recipe"])  # the baseline is a line, not a contender
    low = ranking[ranking["level"] == 0.0627]
    assert list(low["configuration"]) == ["rreg-bipartite d=4", "xnet d=4", "random-bipartite d=4"]
    assert list(low["rank"]) == [1, 2, 3] and low["diff"].iloc[0] == 0
    assert low["diff"].iloc[1] == pytest.approx(np.mean([88.0 - 88.4, 88.2 - 88.5, 88.1 - 88.3]))
    assert low["paired_t_p"].iloc[2] == pytest.approx(stats.ttest_rel([86.0, 86.5, 85.9], [88.4, 88.5, 88.3]).pvalue)
    # With three seeds the exact sign-flip test cannot go below 2 / 2^3 = 0.25: nothing is called
    # significant, even a 2.27-point gap that a paired t-test (p = 0.004) would flag.
    assert list(low["test"].iloc[1:]) == ["sign-flip permutation"] * 2 and low["p"].iloc[2] == pytest.approx(0.25)
    assert list(low["p_holm"].iloc[1:]) == pytest.approx([0.5, 0.5]) and list(low["family"].iloc[1:]) == [2, 2]
    findings = comparison_findings(ranking)
    assert findings[0].startswith("At density ≈ 0.0627: rreg-bipartite d=4 is best (88.40% over 3 seed(s))")
    assert (
        "no other configuration is significantly worse (sign-flip permutation test over 3 paired seeds, " in findings[0]
    )
    assert "Holm-adjusted over the level's 2 comparison(s))" in findings[0]
    assert (
        "With 3 seeds the test cannot reach the Holm level 0.025 whatever the difference (its smallest p is "
        in (findings[0])
    )
    assert "7 seeds are the least that can" in findings[0]


def test_levels_use_counted_macs_when_the_table_has_them():
    # Grouped convolutions are not masked (density 1.0) but cost what the X-layers of the same
    # density cost: by MACs they meet at one level.
    values = {("model", 4): [87.5, 87.1], ("model", 8): [86.1, 86.7]}
    table = rows(values, {("model", 4): 0.25, ("model", 8): 1.0})
    table["macs_kept"] = 921_824
    ranking = rank_at_equal_cost(table)
    assert set(ranking["level"]) == {922_000.0} and set(ranking["level_by"]) == {"macs"}
    assert list(ranking["rank"]) == [1, 2]
    finding = comparison_findings(ranking)[0]
    assert finding.startswith("At ≈ 922 kMACs per example: model d=4 is best (87.30% over 2 seed(s))")
    assert "with 2 paired seed(s) no difference is tested (at least 3 are needed)" in finding
