"""``report --pair-recipes``: recipes against a reference, paired seed by seed."""

import math

import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from cli.report import report
from reports.arms import pair_recipes, pairing_findings
from reports.inference import holm
from reports.table import ReportError

DENSE = [90.0, 91.0, 89.5, 90.5]
EDROPOUT = [88.0, 90.0, 88.5, 88.0]  # differences to random: -1, +0.5, -0.5, -2 (seed 3 below)
RANDOM = [89.0, 89.5, 89.0, 90.0]


def rows():
    lines = []
    for recipe, accuracies in (("dense", DENSE), ("edropout", EDROPOUT), ("random-filters", RANDOM)):
        for seed, accuracy in enumerate(accuracies):
            lines.append(
                {
                    "run_id": f"{recipe}-{seed}",
                    "plan_sha256": "",
                    "model": "mlp",
                    "dataset": "fashion-mnist",
                    "recipe": recipe,
                    "epochs": 5,
                    "train_seed": seed,
                    "density": 1.0 if recipe == "dense" else 0.6 + 0.01 * seed,
                    "best_acc": accuracy,
                    "final_acc": accuracy - 0.25,
                }
            )
    return pd.DataFrame(lines)


def test_differences_intervals_and_holm_by_hand():
    table = pair_recipes(rows(), "random-filters")
    line = table[(table["recipe"] == "edropout") & (table["accuracy"] == "best_acc")].iloc[0]
    differences = [a - b for a, b in zip(EDROPOUT, RANDOM)]
    mean, sd = sum(differences) / 4, pd.Series(differences).std(ddof=1)
    half = stats.t.ppf(0.975, 3) * sd / math.sqrt(4)
    assert line["n_pairs"] == 4 and line["diff"] == pytest.approx(mean)
    assert (line["diff_ci_low"], line["diff_ci_high"]) == pytest.approx((mean - half, mean + half))
    assert line["test"] == "sign-flip permutation" and line["smallest_p"] == pytest.approx(2 / 16)
    reference = table[table["recipe"] == "random-filters"].iloc[0]
    assert reference["acc_mean"] == pytest.approx(sum(RANDOM) / 4) and math.isnan(reference["p"])
    assert table["p_holm"].tolist() == pytest.approx(holm(table["p"]).tolist(), nan_ok=True)
    assert len(table) == 6  # 3 recipes x best_acc, final_acc
    findings = pairing_findings(table, "random-filters")
    assert len(findings) == 4 and "95% t-interval" in findings[0] and "cannot reach the 5% level" in findings[0]
    more = rows().assign(train_seed=lambda t: t["train_seed"] + 4, run_id=lambda t: t["run_id"] + "b")
    eight = pair_recipes(pd.concat([rows(), more]), "random-filters")  # 8 pairs: Wilcoxon can reach 5%
    line = next(f for f in pairing_findings(eight, "random-filters") if f.startswith("edropout"))
    assert "Holm p =" in line and "by the Wilcoxon signed-rank test" in line


def test_too_few_seeds_are_not_tested_and_bad_tables_are_refused():
    two = rows()[rows()["train_seed"] < 2]
    table = pair_recipes(two, "dense")
    assert set(table.loc[table["recipe"] != "dense", "test"]) == {"none"}
    assert all("too few seeds" in line for line in pairing_findings(table, "dense"))
    with pytest.raises(ReportError, match="no rows of that recipe"):
        pair_recipes(rows(), "xnet")
    doubled = pd.concat([rows(), rows().assign(run_id=lambda t: t["run_id"] + "b")])
    with pytest.raises(ReportError, match="one row per recipe and seed"):
        pair_recipes(doubled, "dense")


def test_the_report_command_prints_and_writes_the_pairs(tmp_path):
    path = tmp_path / "results.csv"
    rows().to_csv(path, index=False)
    result = CliRunner().invoke(
        report, [str(path), "--out", str(tmp_path / "out"), "--pair-recipes", "random-filters", "--bootstrap", "100"]
    )
    assert result.exit_code == 0, result.output
    assert "recipes against random-filters, seed by seed" in result.output
    assert "edropout - random-filters (best_acc, 4 paired seeds)" in result.output
    written = pd.read_csv(tmp_path / "out" / "paired_recipes.csv")
    assert len(written) == 6
    bad = CliRunner().invoke(report, [str(path), "--out", str(tmp_path / "o2"), "--pair-recipes", "xnet"])
    assert bad.exit_code != 0 and "no rows of that recipe" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "o2").exists()  # refused before anything was written


def test_edropout_its_control_and_dense_are_one_experiment():
    from reports.experiments import split_experiments

    table = rows()
    table["lr"] = 0.1
    table["mask_seed"] = [None if r == "dense" else 0 for r in table["recipe"]]
    table["edropout"] = ['{"coverage":"paper"}' if r == "edropout" else None for r in table["recipe"]]
    table["random_filters_draw"] = ["per training seed" if r == "random-filters" else None for r in table["recipe"]]
    table["edropout_paper_r"] = [0.4 if r == "edropout" else None for r in table["recipe"]]
    (experiment,) = split_experiments(table)
    assert len(experiment.rows) == 12
    other = table.assign(edropout=['{"coverage":"all-convs"}' if r == "edropout" else None for r in table["recipe"]])
    both = pd.concat([table, other[other["recipe"] == "edropout"].assign(run_id=lambda t: t["run_id"] + "x")])
    assert len(split_experiments(both)) == 2  # two EDropout settings are two experiments


def test_a_ranked_configuration_without_a_seed_in_common_shows_no_number():
    from reports.compare import rank_at_equal_cost, ranking_for_people

    table = rows()[rows()["recipe"] != "dense"].copy()
    table["masks_sha256"] = [
        f"m{s}" if r == "random-filters" else "" for r, s in zip(table["recipe"], table["train_seed"])
    ]
    table["density"] = 0.6
    shown = ranking_for_people(rank_at_equal_cost(table)).astype(str)
    assert not shown.apply(lambda column: column.str.contains("nan")).any().any()
    assert shown.apply(lambda column: column.str.contains("no seed in common")).any().any()
