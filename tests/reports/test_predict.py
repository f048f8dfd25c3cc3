"""Accuracy predicted from graph metrics for plans never trained (report --predict, topo rank)."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli.report import report
from cli.topo import topo
from reports.predict import Predictor, leave_one_plan_out, plan_points, predict_accuracy, rank_plans, usable_metrics
from reports.table import ReportError
from tests.reports.synthetic_results import results_table


def test_a_metric_that_sets_accuracy_is_predicted_and_noise_is_not():
    signal = results_table(lambda m, rng: 90 - 0.8 * m["aspl"] + rng.normal(0, 0.05), plans=12, seeds=2, seed=4)
    predictor, scores, points = predict_accuracy(signal, "best_acc", resamples=500)
    assert scores[0].rho > 0.9 and scores[0].ci_low > 0.5 and predictor.n_plans == 12
    assert np.corrcoef(points["predicted"], points["acc_mean"])[0, 1] > 0.9
    noise = results_table(lambda m, rng: 88 + rng.normal(0, 0.3), plans=12, seeds=2, seed=5)
    _, scores, _ = predict_accuracy(noise, "best_acc", resamples=500)
    assert abs(scores[0].rho) < 0.6 and scores[0].ci_low < 0 < scores[0].ci_high


def test_each_held_out_plan_is_predicted_by_a_fit_without_it():
    table = results_table(lambda m, rng: 90 - 0.8 * m["aspl"] + rng.normal(0, 0.05), plans=8, seeds=2, seed=4)
    points = plan_points(table, "best_acc")
    predicted = leave_one_plan_out(points, usable_metrics)
    from reports.predict import fit

    by_hand = fit(points.drop(index=points.index[3]), usable_metrics(points)).predict(points.iloc[[3]])[0]
    assert predicted[3] == pytest.approx(by_hand)
    with pytest.raises(ReportError, match="needs at least 6 plans"):
        predict_accuracy(results_table(lambda m, rng: 90.0, plans=4, seeds=2), "best_acc")


def hand_predictor():
    return Predictor(["aspl", "clustering"], [3.0, 0.2], [1.0, 0.1], [-1.0, 0.5], 90.0,
                     {"aspl": [2.0, 4.0], "clustering": [0.1, 0.3]}, 0.5, 10, "best_acc")  # fmt: skip


def test_plans_are_ranked_by_predicted_accuracy_with_an_interval(tmp_path):
    rows = [
        ("a", {"aspl": 2.5, "clustering": 0.2}),
        ("b", {"aspl": 3.5, "clustering": 0.3}),
        ("c", {"aspl": 2.0, "clustering": 0.1}),
    ]
    ranked = rank_plans(hand_predictor(), rows)
    # 90 - (aspl - 3) + 0.5 (clustering - 0.2) / 0.1: a 90.5, b 90.0, c 90.5
    assert ranked["plan"].tolist() == ["a", "c", "b"] and ranked["predicted"].tolist() == pytest.approx(
        [90.5, 90.5, 90.0]
    )
    assert (ranked["high"] - ranked["predicted"]).tolist() == pytest.approx([0.98] * 3)
    with pytest.raises(ReportError, match=r"^d: aspl = 9 is outside the range the predictor was fitted on \(2 to 4"):
        rank_plans(hand_predictor(), rows + [("d", {"aspl": 9.0, "clustering": 0.2})])
    path = hand_predictor().save(tmp_path / "p.json")
    assert Predictor.load(path) == hand_predictor()
    path.write_text(json.dumps({"metrics": ["aspl"]}))
    with pytest.raises(ReportError, match="p.json: not a predictor written by report --predict"):
        Predictor.load(path)


def test_report_predict_then_topo_rank_on_real_plans(tmp_path):
    from topology.analysis import analyze_plans
    from topology.discovery import find_plans

    runner = CliRunner()
    for p in (0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0):
        result = runner.invoke(topo, ["gen", "-g", "ws-flex", "-n", "32", "-d", "4", "--p", str(p), "--seed", "1",
                                      "--out", str(tmp_path / "plans"), "-q"])  # fmt: skip
        assert result.exit_code == 0, result.output
    measured = analyze_plans(find_plans([tmp_path / "plans"]))
    rng, lines = np.random.default_rng(0), []
    for index, (path, metrics) in enumerate(measured):
        for seed in range(2):
            line = {"run_id": f"r{index}-{seed}", "plan": path, "plan_sha256": f"sha{index}", "recipe": "relational"}
            line.update(model="mlp", dataset="fashion-mnist", epochs=1, train_seed=seed, density=0.2, final_acc=50.0)
            line["best_acc"] = 95 - 2 * metrics["aspl"] + rng.normal(0, 0.02)
            line["plan_density"] = metrics["density"]
            lines.append({**line, **{k: metrics[k] for k in ("aspl", "clustering", "spectral_gap")}})
    pd.DataFrame(lines).to_csv(tmp_path / "results.csv", index=False)
    result = runner.invoke(
        report, [str(tmp_path / "results.csv"), "--out", str(tmp_path / "report"), "--predict", "--bootstrap", "200"]
    )
    assert result.exit_code == 0, result.output
    assert "Accuracy predicted for plans left out of the fit (leave-one-plan-out over 8 plans" in result.output
    assert f"predictor: {tmp_path / 'report' / 'predictor.json'}" in result.output
    ranked = runner.invoke(
        topo, ["rank", "--predictor", str(tmp_path / "report" / "predictor.json"), str(tmp_path / "plans")]
    )
    assert ranked.exit_code == 0, ranked.output
    order = [line.split()[1] for line in ranked.output.splitlines()[1:]]
    by_aspl = [path for path, _ in sorted(measured, key=lambda item: item[1]["aspl"])]
    assert order[0] == by_aspl[0] and order[-1] == by_aspl[-1]  # shortest paths first
    runner.invoke(topo, ["gen", "-g", "complete", "-n", "32", "--out", str(tmp_path / "far"), "-q"])
    refused = runner.invoke(
        topo, ["rank", "--predictor", str(tmp_path / "report" / "predictor.json"), str(tmp_path / "far")]
    )
    assert refused.exit_code == 1 and "is outside the range the predictor was fitted on" in refused.output
    assert "Traceback" not in refused.output and len(refused.output.strip().splitlines()) == 1
