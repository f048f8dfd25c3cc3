"""The per-seed table and design sentence a stored run of arms is quoted with (tests/stored_arms.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from reports.arms import pair_arms
from reports.paired import compare_models
from tests.stored_arms import arms_design, arms_table


def _rows() -> pd.DataFrame:
    accuracy = {"dense": [89.0, 89.5, 89.25], "edropout": [88.0, 88.5, 88.75], "random-filters": [88.5, 88.0, 89.25]}
    kept = {"dense": [1000] * 3, "edropout": [640, 630, 620], "random-filters": [640, 630, 620]}
    return pd.DataFrame(
        [
            {
                "recipe": recipe, "train_seed": seed, "best_acc": accuracy[recipe][seed], "model": "mlp",
                "dataset": "fashion-mnist", "epochs": 5, "params_kept": kept[recipe][seed], "params_total": 1000,
                "macs_kept": kept[recipe][seed] * 20_000, "max_train": None,
                "edropout_frozen_step": 855.0 if recipe == "edropout" else None,
            }
            for recipe in accuracy for seed in (2, 0, 1)
        ]
    )  # fmt: skip


def test_the_arms_table_has_every_seed_its_counts_and_the_paired_interval():
    rows = _rows()
    pairs = pair_arms(rows, "recipe", "random-filters", ("best_acc",))
    head, rule, dense, edropout, control = arms_table(pairs, rows, "best_acc")
    assert head.split(" | ")[-3:] == ["seed 2", "mean ± std (best_acc, %)", "− random-filters (points) |"]
    assert rule.count("|") == head.count("|")
    cells = [c.strip() for c in edropout.strip("|").split("|")]
    assert cells[:4] == ["edropout", "640 / 630 / 620 (64.0% / 63.0% / 62.0%)", "12.8 M / 12.6 M / 12.4 M", "855"]
    assert cells[4:7] == ["88.00", "88.50", "88.75"]  # seeds 0, 1, 2 in order
    assert cells[7] == "88.42 ± 0.38"
    differences = [-0.5, 0.5, -0.5]
    half = stats.t.ppf(0.975, 2) * pd.Series(differences).std() / 3**0.5
    mean = sum(differences) / 3
    assert cells[8] == f"{mean:+.2f} [{mean - half:+.2f}, {mean + half:+.2f}]"
    assert [c.strip() for c in control.strip("|").split("|")][-1] == "reference"
    assert [c.strip() for c in dense.strip("|").split("|")][1:4] == ["1,000 (100.0%)", "20.0 M", "—"]


def test_two_seeds_give_the_difference_without_an_interval_and_the_design_reads_the_table():
    rows = _rows()
    rows = rows[rows["train_seed"] < 2]
    pairs = pair_arms(rows, "recipe", "random-filters", ("best_acc",))
    edropout = arms_table(pairs, rows, "best_acc")[3]
    assert edropout.rstrip(" |").endswith("| +0.00") and "[" not in edropout
    assert arms_design(pairs, rows) == (
        "3 recipes (dense, edropout, random-filters); training seeds 0, 1; 5 epochs of mlp on fashion-mnist"
    )
    with_subset = arms_design(pairs, rows.assign(max_train=6000))
    assert with_subset.endswith("on fashion-mnist (the first 6,000 training examples)")


@pytest.mark.parametrize("column", ["params_kept", "macs_kept"])
def test_a_missing_count_is_a_dash(column):
    rows = _rows().drop(columns=[column])
    pairs = pair_arms(rows, "recipe", "random-filters", ("best_acc",))
    cells = [c.strip() for c in arms_table(pairs, rows, "best_acc")[2].strip("|").split("|")]
    assert cells[1 if column == "params_kept" else 2] == "—"


def test_models_are_shown_against_the_reference_models_parameters():
    options = {"resnet32": "{}", "resnet32_shared": '{"shared_rank":8}'}
    params = {"resnet32": 400, "resnet32_shared": 100}
    rows = pd.DataFrame(
        [
            {
                "recipe": "dense", "model": model, "model_options": options[model], "train_seed": seed,
                "best_acc": 80.0 + seed + (model == "resnet32"), "dataset": "fashion-mnist", "epochs": 3,
                "params_kept": params[model], "params_total": params[model], "macs_kept": 5e7,
            }
            for model in options for seed in range(3)
        ]
    )  # fmt: skip
    table, reference = compare_models(rows, "best_acc")
    head, _, dense, shared = arms_table(table, rows, "best_acc")
    assert reference == "resnet32" and "params (share of resnet32's)" in head
    shared_cells = [c.strip() for c in shared.strip("|").split("|")]
    assert shared_cells[:3] == ["resnet32_shared", "100 (25.0%)", "50.0 M"]
    assert shared_cells[-1] == "-1.00 [-1.00, -1.00]" and dense.rstrip(" |").endswith("reference")
    assert arms_design(table, rows).startswith("2 models (resnet32, resnet32_shared); training seeds 0")
