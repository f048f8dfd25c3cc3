"""Finding plans among files, directories and glob patterns."""

import numpy as np
import pytest

from topology.discovery import find_plans
from topology.errors import PlanError
from topology.generators import generate
from topology.plans import Plan, save_plan
from topology.tables import update_metrics_file


@pytest.fixture
def tree(tmp_path):
    for seed in range(3):
        save_plan(Plan(generate("rreg", nodes=10, degree=3, seed=seed)), tmp_path / "a", f"p{seed}")
    save_plan(Plan(generate("ring", nodes=8, degree=2)), tmp_path / "a" / "deep", "only_csv", ("csv",))
    update_metrics_file(tmp_path / "a", [("p0.npy", {"edges": 15})])
    (tmp_path / "a" / "notes.json").write_text('{"not": "a plan"}')
    return tmp_path


def test_directory_is_searched_recursively_one_row_per_plan(tree):
    found = find_plans([tree / "a"])
    assert [p.relative_to(tree).as_posix() for p in found] == [
        "a/deep/only_csv.csv",
        "a/p0.npy",
        "a/p1.npy",
        "a/p2.npy",
    ]


def test_files_of_one_plan_count_once(tree):
    found = find_plans([tree / "a" / "p1.json", tree / "a" / "p1.csv", tree / "a" / "p1.npy"])
    assert found == [tree / "a" / "p1.npy"]


def test_glob_patterns(tree):
    assert len(find_plans([str(tree / "a" / "*.json")])) == 3
    assert len(find_plans([str(tree / "**" / "*.csv")])) == 4  # metrics.csv is not a plan


def test_nothing_found_is_an_error(tree):
    with pytest.raises(PlanError, match="missing: no such file or directory"):
        find_plans([tree / "missing"])
    with pytest.raises(PlanError, match="no plan files match"):
        find_plans([str(tree / "*.npz")])
    (tree / "x.txt").write_text("")
    with pytest.raises(PlanError, match="x.txt: not a plan file"):
        find_plans([tree / "x.txt"])


def test_rgp_information_csv_is_not_a_plan(tmp_path):
    folder = tmp_path / "Adjacency" / "8" / "2"
    folder.mkdir(parents=True)
    np.save(folder / "M0.npy", generate("ring", nodes=8, degree=2).astype(float), allow_pickle=False)
    (folder / "8_2_information.csv").write_text("Date Finished, Nodes, Degree, Dir, Path, Cluster, Tranvity\n")
    assert find_plans([tmp_path]) == [folder / "M0.npy"]
