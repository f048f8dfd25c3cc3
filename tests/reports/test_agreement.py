"""A fresh run against a stored one (reports.agreement, ``report --check-against``)."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from cli.report import report
from reports.agreement import changed_claims, claims, compare_accuracies
from reports.stats import plan_summary
from tests.reports.synthetic_results import results_table


def _table(shift_plan: str | None = None, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    table = results_table(lambda m, rng: 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1), plans=8, seeds=3, seed=seed)
    if shift_plan:
        table.loc[table["plan"] == shift_plan, "best_acc"] += shift
    return table


def test_the_same_table_agrees_and_a_moved_plan_is_named():
    stored = plan_summary(_table())
    compared, differing, only_one = compare_accuracies(plan_summary(_table()), stored)
    assert (compared, differing, only_one) == (9, [], 0)  # 8 plans and the dense baseline
    compared, differing, _ = compare_accuracies(plan_summary(_table("plans/p2.npy", 3.0)), stored)
    assert compared == 9 and len(differing) == 1
    assert differing[0].startswith("plans/p2.npy: ") and "over 3 and 3 seeds; Holm p = " in differing[0]


def test_other_seeds_of_the_same_experiment_agree_within_their_spread():
    _, differing, _ = compare_accuracies(plan_summary(_table(seed=1)), plan_summary(_table(seed=2)))
    assert differing == []


def test_a_plan_trained_in_one_run_only_is_counted_not_compared():
    fresh = _table()
    fresh = fresh[fresh["plan"] != "plans/p7.npy"]
    compared, _, only_one = compare_accuracies(plan_summary(fresh), plan_summary(_table()))
    assert (compared, only_one) == (8, 1)


def test_claims_say_what_changed_in_words():
    correlations = pd.DataFrame(
        {"metric": ["aspl", "clustering"], "spearman_rho": [-0.8, 0.1], "spearman_p_holm": [0.01, 0.6]}
    )
    stability = pd.DataFrame(
        {
            "metric": ["aspl", "clustering"],
            "same_as": ["aspl", "clustering"],
            "holds": [0.95, 0.1],
            "strongest": [0.93, 0.07],
        }
    )
    summary = pd.DataFrame(
        {"plan": ["a", "b", "dense"], "acc_mean": [88.0, 87.0, 89.0], "best_share": [0.97, 0.03, None],
         "is_baseline": [False, False, True]}
    )  # fmt: skip
    stored = claims(correlations, stability, summary)
    assert stored == {
        "accuracy vs aspl": "falls, Holm-significant",
        "accuracy vs clustering": "not significant",
        "aspl stable": "stable",
        "clustering stable": "not stable",
        "strongest metric": "aspl",
        "best configuration": "a",
    }
    fresh = claims(correlations.assign(spearman_p_holm=[0.2, 0.6]), stability.assign(holds=[0.5, 0.1]), summary)
    assert changed_claims(fresh, stored) == [
        "accuracy vs aspl: falls, Holm-significant -> not significant",
        "aspl stable: stable -> not stable",
    ]


def test_report_check_against_prints_agreement_and_changes(tmp_path):
    stored, fresh = tmp_path / "stored.csv", tmp_path / "fresh.csv"
    _table().to_csv(stored, index=False)
    _table("plans/p0.npy", -4.0).to_csv(fresh, index=False)
    runner = CliRunner()
    same = runner.invoke(report, [str(stored), "--out", str(tmp_path / "a"), "--resamples", "200",
                                  "--check-against", str(stored)])  # fmt: skip
    assert same.exit_code == 0, same.output
    assert (
        f"check: Against the stored run {stored}: agrees. 9 of 9 configurations within the seed spread" in same.output
    )
    moved = runner.invoke(report, [str(fresh), "--out", str(tmp_path / "b"), "--resamples", "200",
                                   "--check-against", str(stored)])  # fmt: skip
    assert moved.exit_code == 0, moved.output
    assert "check: differs: plans/p0.npy: " in moved.output
    assert "claim changed: best configuration:" in moved.output
