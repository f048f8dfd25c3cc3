"""Reports on synthetic results tables whose relations are known."""

import numpy as np
import pandas as pd
import pytest

from reports.build import ReportConfig, build_report
from reports.stats import correlate, partial_correlation, plan_summary, sweet_spot
from reports.table import ReportError, read_results
from reports.wording import span
from tests.reports.synthetic_results import results_table


def write(tmp_path, frame, name="results.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_recovers_a_known_negative_relation_with_aspl(tmp_path):
    frame = results_table(lambda m, rng: 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1), plans=10, seeds=3)
    report = build_report(ReportConfig((write(tmp_path, frame),), tmp_path / "report", bootstrap=500))
    row = report.correlations.set_index("metric").loc["aspl"]
    assert row["spearman_rho"] < -0.9 and row["spearman_p"] < 0.01
    assert row["pearson_r"] == pytest.approx(-1, abs=0.02)
    assert row["spearman_ci_high"] < -0.7  # the bootstrap interval excludes 0
    assert row["kendall_tau"] < -0.7
    assert any("Accuracy falls as aspl rises" in line for line in report.findings)
    # The slope of accuracy on aspl is recovered (the summary averages the seeds).
    plans = report.summary[~report.summary["is_baseline"]]
    slope = np.polyfit(plans["aspl"], plans["acc_mean"], 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.05)


def test_pure_noise_shows_no_significant_relation(tmp_path):
    frame = results_table(lambda m, rng: 88 + rng.normal(0, 0.3), plans=12, seeds=3, seed=4)
    report = build_report(ReportConfig((write(tmp_path, frame),), tmp_path / "report", bootstrap=300))
    tested = report.correlations.dropna(subset=["spearman_p"])
    assert set(tested["metric"]) == {"aspl", "clustering", "transitivity", "spectral_gap"}  # degree_mean is constant
    assert (tested["spearman_p"] > 0.05).all()
    assert any("No graph metric is significantly related" in line for line in report.findings)


def test_false_positive_rate_on_noise_is_near_alpha():
    hits = 0
    for seed in range(60):
        frame = results_table(lambda m, rng: 88 + rng.normal(0, 0.3), plans=10, seeds=2, seed=100 + seed)
        hits += correlate(plan_summary(frame), "aspl", resamples=100).spearman_p < 0.05
    assert hits <= 9  # about 3 expected at alpha = 5%


def test_partial_correlation_removes_a_density_confound():
    rng = np.random.default_rng(1)
    density = rng.uniform(0.05, 0.5, 40)
    aspl = 5 - 6 * density + rng.normal(0, 0.05, 40)  # path length follows density
    accuracy = 80 + 20 * density + rng.normal(0, 0.3, 40)  # accuracy follows density only
    plain = np.corrcoef(aspl, accuracy)[0, 1]
    partial, p = partial_correlation(aspl, accuracy, density)
    assert plain < -0.9
    assert abs(partial) < 0.35 and p > 0.05


def test_sweet_spot():
    rows = []
    for plan, values in {"best": [90.0, 90.1, 89.9], "close": [89.2, 90.8, 89.5], "worse": [80.0, 80.1, 79.9]}.items():
        rows += [
            {"plan": plan, "plan_sha256": plan, "recipe": "relational", "best_acc": v, "density": 0.1} for v in values
        ]
    summary = plan_summary(pd.DataFrame(rows))
    spot = dict(zip(summary["plan"], sweet_spot(summary)))
    assert spot == {"best": True, "close": True, "worse": False}
    single = plan_summary(pd.DataFrame([r for r in rows if r["best_acc"] in (90.0, 80.0)]))
    untested = dict(zip(single["plan"], sweet_spot(single)))
    assert pd.isna(untested["worse"])  # one seed: no test
    assert pd.isna(untested["best"])  # nothing tested against the best: no sweet spot to mark, not even the best


def test_figures_keep_to_the_plans_range_and_name_a_baseline_beyond_it():
    from matplotlib.figure import Figure

    from reports.figures import scatter_axes

    summary = plan_summary(
        pd.DataFrame(
            [
                {"plan": p, "plan_sha256": p, "recipe": "relational", "best_acc": a, "density": 0.1, "aspl": x}
                for p, a, x in (("a", 80.0, 2.0), ("b", 81.0, 3.0), ("c", 80.5, 4.0), ("d", 82.0, 50.0))
            ]
            + [{"plan": "", "plan_sha256": "", "recipe": "dense", "best_acc": 95.0, "density": 1.0, "aspl": None}]
        )
    )
    axes = Figure().subplots()
    scatter_axes(axes, summary, "aspl", None)
    low, high = axes.get_ylim()
    assert low > 79 and high < 83  # the plans' spread, neither squashed by the baseline nor stretched by the fit
    assert [t.get_text() for t in axes.texts] == ["↑ dense baseline 95.00% (off this scale)"]
    legend = axes.get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > axes.get_window_extent().x1 - 1  # beside the plot


def test_too_few_plans_and_constant_metrics_say_so(tmp_path):
    frame = results_table(lambda m, rng: 90 - m["aspl"], plans=3, seeds=2)
    summary = plan_summary(frame)
    assert "too few plans (3)" in correlate(summary, "aspl").note
    frame = results_table(lambda m, rng: 90 - m["aspl"] + rng.normal(0, 0.1), plans=6, seeds=2)
    assert "degree_mean is the same for every plan" in correlate(plan_summary(frame), "degree_mean").note


def test_outputs_are_written_and_missing_metrics_reported(tmp_path):
    frame = results_table(lambda m, rng: 90 - 0.3 * m["aspl"] + rng.normal(0, 0.1), plans=8, seeds=2)
    frame.loc[frame["plan_sha256"] == "sha3", "aspl"] = np.nan
    out = tmp_path / "report"
    report = build_report(ReportConfig((write(tmp_path, frame),), out, bootstrap=200))
    for name in (
        "summary.csv",
        "correlations.csv",
        "report.html",
        "report.md",
        "figures/main.png",
        "figures/clustering_aspl.png",
        "figures/scatter_aspl.png",
    ):
        assert (out / name).stat().st_size > 500, name
    # Every plan keeps the same fraction of weights: accuracy vs density would be one column of dots.
    assert not (out / "figures" / "density.png").exists()
    assert not (out / "figures" / "recipes.png").exists()  # one recipe at one cost: no by-recipe chart
    assert report.sections[0].content[0] == ("Main figure", out / "figures" / "main.png")
    assert (out / "figures" / "main.png").read_bytes()[:4] == b"\x89PNG"
    html = report.html.read_text()
    assert html.count("data:image/png;base64,") >= 4 and "<table" in html
    assert any("missing graph metrics" in line for line in report.findings)
    assert "Rows with missing metrics" in html
    assert report.correlations.set_index("metric").loc["aspl", "n_plans"] == 7
    summary = pd.read_csv(out / "summary.csv")
    assert {"acc_mean", "acc_std", "n_seeds", "sweet_spot"} <= set(summary.columns)
    assert summary["n_seeds"].tolist() == [2] * 9


def test_merged_shards_and_duplicate_rows(tmp_path):
    frame = results_table(lambda m, rng: 90 - 0.2 * m["aspl"], plans=6, seeds=2)
    first, second = write(tmp_path, frame.iloc[:7], "a.csv"), write(tmp_path, frame.iloc[5:], "b.csv")
    merged = read_results([first, second])
    assert len(merged) == len(frame)


def test_bad_tables(tmp_path):
    with pytest.raises(ReportError, match="nope.csv: no such file"):
        read_results([tmp_path / "nope.csv"])
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ReportError, match="x.csv: not a topoprune results table"):
        read_results([tmp_path / "x.csv"])


def test_a_table_of_baselines_only_still_gives_a_report(tmp_path):
    frame = results_table(lambda m, rng: 90.0, plans=0, seeds=2)
    assert set(frame["recipe"]) == {"dense"}
    report = build_report(
        ReportConfig(
            (
                write(
                    tmp_path,
                    frame[
                        [
                            "plan_sha256",
                            "model",
                            "dataset",
                            "recipe",
                            "epochs",
                            "train_seed",
                            "density",
                            "best_acc",
                            "final_acc",
                        ]
                    ],
                ),
            ),
            tmp_path / "r",
        )
    )
    # Nothing is compared, so no figure would say anything: the page has the findings and tables only.
    assert report.html.exists() and report.main_figure is None
    assert any("No correlation could be computed" in line for line in report.findings)
    assert any("dense baseline reached" in line for line in report.findings)


def test_a_mixed_table_gives_one_section_per_differing_configuration(tmp_path):
    def accuracy(m, rng):
        return 90 - 0.5 * m["aspl"] + rng.normal(0, 0.1)

    rgp = results_table(accuracy, plans=5, seeds=2, seed=1)  # with the dense baseline
    rgp["self_loops"], rgp["lr"] = "False", 0.1
    graph2nn = results_table(accuracy, plans=5, seeds=2, seed=2, baseline=False)
    graph2nn["self_loops"], graph2nn["lr"] = "True", 0.1
    slower = results_table(accuracy, plans=5, seeds=2, seed=3)
    slower["self_loops"], slower["lr"] = "False", 0.01
    for frame, tag in ((rgp, "a"), (graph2nn, "b"), (slower, "c")):
        frame["run_id"] = tag + frame["run_id"]
    for frame in (rgp, slower):
        frame.loc[frame["recipe"] == "dense", "self_loops"] = np.nan  # the dense baseline reads no recipe option
    xnet = pd.DataFrame(
        [
            {
                "run_id": f"x{s}",
                "plan_sha256": "",
                "model": "mlp",
                "dataset": "fashion-mnist",
                "recipe": "xnet",
                "degree": 8,
                "recipe_degree": 8,
                "train_seed": s,
                "epochs": 3,
                "density": 0.125,
                "best_acc": 89.0 + s,
                "final_acc": 0.0,
                "self_loops": np.nan,
                "lr": 0.1,
            }
            for s in range(2)
        ]
    )
    table = pd.concat([rgp, graph2nn, slower, xnet], ignore_index=True)
    report = build_report(ReportConfig((write(tmp_path, table),), tmp_path / "report", bootstrap=100))
    titles = [section.title for section in report.sections]
    # The X-Net rows read no self_loops (empty): they join the first lr=0.1 experiment instead of
    # making a fourth section of their own.
    assert len(titles) == 3
    assert "mlp · fashion-mnist · 3 epochs · self_loops=False · lr=0.1" in titles
    assert "mlp · fashion-mnist · 3 epochs · self_loops=True · lr=0.1" in titles
    assert "mlp · fashion-mnist · 3 epochs · self_loops=False · lr=0.01" in titles
    by_title = {section.title: section for section in report.sections}
    # One dense baseline serves the A and the A + I sections (same lr); the lr=0.01 one has its own.
    for title in (
        "mlp · fashion-mnist · 3 epochs · self_loops=False · lr=0.1",
        "mlp · fashion-mnist · 3 epochs · self_loops=True · lr=0.1",
    ):
        baseline = by_title[title].summary[by_title[title].summary["is_baseline"]]
        assert len(baseline) == 1 and baseline["n_seeds"].iloc[0] == 2
    # The X-Net rows (no plan) are a compared configuration, never a "dense baseline".
    xnet_section = next(s for s in report.sections if "xnet d=8" in set(s.summary["plan"]))
    assert xnet_section.title == "mlp · fashion-mnist · 3 epochs · self_loops=False · lr=0.1"
    assert sum("xnet d=8" in set(s.summary["plan"]) for s in report.sections) == 1
    assert not xnet_section.summary.set_index("plan").loc["xnet d=8", "is_baseline"]
    assert all(
        "dense baseline" not in plan for plan in xnet_section.summary[~xnet_section.summary["is_baseline"]]["plan"]
    )
    html = report.html.read_text()
    assert "<h2>Contents</h2>" in html and all(f"href='#{s.slug}'" in html for s in report.sections)
    assert len({s.slug for s in report.sections}) == 3
    for section in report.sections:
        assert section.main_figure.parent == tmp_path / "report" / "figures" / section.slug
        assert section.main_figure.is_file()
    assert set(pd.read_csv(tmp_path / "report" / "summary.csv")["experiment"]) == set(titles)


def test_an_equal_cost_sweep_says_how_closely_cost_was_held_and_leads_with_the_map(tmp_path):
    def accuracy(m, rng):  # a peak at middling clustering, as graph2nn reports
        return 90 - 20 * (m["clustering"] - 0.25) ** 2 * 10 + rng.normal(0, 0.05)

    frame = results_table(accuracy, plans=8, seeds=3, seed=5)
    budget = 1_192_960
    offsets = {f"sha{i}": (i - 4) * 300 for i in range(8)}  # the solver's residual error, at most 1,200 MACs (0.10%)
    frame["macs_budget"] = budget
    frame["match_macs"] = "dense"
    frame["macs_kept"] = [budget + offsets.get(sha, 0) for sha in frame["plan_sha256"]]
    frame["width"] = [900 + 10 * int(sha[3:]) if sha else 512 for sha in frame["plan_sha256"]]
    report = build_report(ReportConfig((write(tmp_path, frame),), tmp_path / "report", bootstrap=100))
    cost = next(line for line in report.findings if line.startswith("Cost was held equal"))
    assert "1,192,960 MACs per example" in cost and "within 0.10%" in cost and "widths 512 to 970" in cost
    section = report.sections[0]
    assert section.main_figure.name == "clustering_aspl.png" and section.main_figure.is_file()
    plans_table = next(table for heading, table in section.content if heading.startswith("Plans"))
    headings = [heading for heading, _ in section.content]
    # One recipe at one cost: no by-recipe plot (24 lines of one point each), the ranking follows the plans table.
    assert not any(h.startswith("Accuracy at equal cost") for h in headings)
    assert headings[headings.index(next(h for h in headings if h.startswith("Plans"))) + 1].startswith(
        "Ranked at each cost level"
    )
    assert {"width", "macs_kept"} <= set(plans_table.columns)
    spot = section.summary[section.summary["sweet_spot"] == True]  # noqa: E712
    region = next(line for line in report.findings if line.startswith("The sweet spot's"))
    assert f"clustering {span(spot['clustering'].min(), spot['clustering'].max())} and" in region
    # A table without budgets says nothing about equal cost.
    plain = build_report(
        ReportConfig(
            (write(tmp_path, results_table(accuracy, plans=8, seeds=2, seed=5), "plain.csv"),),
            tmp_path / "plain",
            bootstrap=100,
        )
    )
    assert not any("Cost was held equal" in line for line in plain.findings)
    assert plain.sections[0].main_figure.name == "main.png"


def test_long_experiment_titles_give_readable_unique_folder_names():
    from reports.experiments import MAX_SLUG, _slug

    base = "mlp · fashion-mnist · 1 epoch · macs_budget=1455104 · self_loops=True · match_macs=dense · width_step="
    first, second = _slug(base + "1"), _slug(base + "2")
    assert len(first) <= MAX_SLUG and first.startswith("mlp-fashion-mnist-1-epoch-macs-budget") and first != second
    assert _slug("mlp · cifar10 · 3 epochs") == "mlp-cifar10-3-epochs"
