"""Experiments that compare a few arms seed by seed: models at their counted cost (make
shared-bases) and a recipe against its control (make edropout-compare)."""

import pandas as pd
import pytest

from reports.build import PAIRED_FILE, ReportConfig, build_report
from reports.experiments import split_experiments
from reports.paired import model_labels
from reports.stats import SEED_DRAWN, merge_seed_draws, plan_summary
from tests.reports.shipped import SHARED_ARMS, edropout_table, shared_bases_table


def build(tmp_path, table, **options):
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "results.csv"
    table.to_csv(path, index=False)
    return build_report(ReportConfig((path,), tmp_path / "report", bootstrap=100, **options))


def test_dense_runs_of_several_models_are_one_model_comparison(tmp_path):
    table = shared_bases_table()
    experiments = split_experiments(table)
    assert len(experiments) == 1 and experiments[0].compares_models and len(experiments[0].rows) == 10
    assert experiments[0].title == "resnet32 vs resnet32_shared · fashion-mnist · 3 epochs · models compared"
    labels = set(model_labels(table))
    assert labels == {
        "resnet32",
        "resnet32_shared bases=single orth_lambda=10 shared_rank=8",
        "resnet32_shared bases=single orth_lambda=0 shared_rank=8",
        "resnet32_shared bases=double orth_lambda=10 shared_rank=16",
        "resnet32_shared bases=double orth_lambda=0 shared_rank=16",
    }  # unique_rank is 1 in every shared run: not named
    # Another data set is another experiment, never a model compared.
    other = table[table["model"] == "resnet32"].assign(dataset="cifar10", run_id=lambda t: t["run_id"] + "c")
    assert len(split_experiments(pd.concat([table, other], ignore_index=True))) == 2


def test_models_are_compared_at_their_counted_cost_paired_by_seed(tmp_path):
    table = shared_bases_table()
    report = build(tmp_path, table)
    section = report.sections[0]
    pairs = section.pairs.set_index("configuration")
    assert list(pairs.index)[0] == "resnet32"  # the largest counted model is the reference, first
    label = "resnet32_shared bases=single orth_lambda=10 shared_rank=8"
    params, macs = SHARED_ARMS[0][2], SHARED_ARMS[0][3]
    assert pairs.loc[label, "params_kept_share"] == pytest.approx(138_000 / params)
    assert pairs.loc[label, "macs_kept_share"] == pytest.approx(60e6 / macs)
    by_seed = table.assign(label=model_labels(table)).set_index(["label", "train_seed"])["best_acc"]
    differences = [by_seed[label, s] - by_seed["resnet32", s] for s in (0, 1)]
    assert pairs.loc[label, "diff"] == pytest.approx(sum(differences) / 2) and pairs.loc[label, "n_pairs"] == 2
    lead = report.findings[0]
    assert lead.startswith("Against resnet32 (464,154 parameters") and f"{label}: 30% of the parameters" in lead
    assert "no difference can be tested" in report.findings[1]  # 2 seeds: described, never tested
    assert section.main_figure.name == "models.png" and section.main_figure.is_file()
    assert set(pd.read_csv(tmp_path / "report" / PAIRED_FILE)["configuration"]) == set(model_labels(table))
    assert "dense baseline" not in report.html.read_text()


def test_a_per_seed_draw_is_one_configuration():
    table = edropout_table()
    merged = merge_seed_draws(table)
    assert set(merged.loc[merged["recipe"] == "random-filters", "masks_sha256"]) == {SEED_DRAWN}
    summary = plan_summary(merged).set_index("plan")
    assert summary.loc[f"random-filters ({SEED_DRAWN})", "n_seeds"] == 3
    # The same masks under two seeds are one configuration already: nothing is merged.
    shared = table.assign(masks_sha256=lambda t: t["masks_sha256"].where(t["recipe"] != "random-filters", "ab" * 32))
    assert SEED_DRAWN not in set(merge_seed_draws(shared)["masks_sha256"])


def test_a_recipe_and_its_control_lead_with_their_paired_difference(tmp_path):
    table = edropout_table()
    report = build(tmp_path, table)
    section = report.sections[0]
    by_seed = table.set_index(["recipe", "train_seed"])["best_acc"]
    differences = [by_seed["edropout", s] - by_seed["random-filters", s] for s in range(3)]
    line = section.pairs[(section.pairs["recipe"] == "edropout") & (section.pairs["accuracy"] == "best_acc")].iloc[0]
    assert line["diff"] == pytest.approx(sum(differences) / 3) and line["n_pairs"] == 3
    assert report.findings[0].startswith("edropout - random-filters (best_acc, 3 paired seeds): +")
    assert section.main_figure.name == "paired.png"
    assert not list((tmp_path / "report" / "figures").glob("scatter_*.png"))  # no accuracy vs a layer metric
    assert "too few seeds" not in report.html.read_text()
    # --pair-recipes names the reference; dense as the reference pairs both recipes with it.
    dense = build(tmp_path / "d", table, pair_with="dense")
    assert set(dense.sections[0].pairs["recipe"]) == {"dense", "edropout", "random-filters"}
    assert dense.findings[0].startswith("edropout - dense")
