"""Plan files: round trips through each format, validation errors, RGP layout, metrics tables."""

import json

import numpy as np
import pytest

from topology.errors import PlanError
from topology.generators import generate
from topology.graph import sha256_of
from topology.metrics import compute_metrics
from topology.plans import Plan, load_plan, save_plan
from topology.tables import read_metrics_file, update_metrics_file


@pytest.fixture
def plan():
    matrix = generate("rreg", nodes=20, degree=3, seed=4)
    metrics = compute_metrics([matrix])[0]
    return Plan(matrix, "graph", "rreg", {"nodes": 20, "degree": 3}, 4, metrics)


@pytest.mark.parametrize(
    "formats, load_from",
    [
        (("npy", "csv", "json"), ".npy"),
        (("npy",), ".npy"),
        (("csv",), ".csv"),
        (("csv", "json"), ".json"),
        (("npy", "json"), ""),
    ],
)
def test_round_trip(tmp_path, plan, formats, load_from):
    first = save_plan(plan, tmp_path, "p", formats)
    assert first == tmp_path / f"p.{formats[0]}"
    loaded = load_plan(tmp_path / f"p{load_from}")
    assert loaded.matrix.dtype == np.uint8
    assert (loaded.matrix == plan.matrix).all()
    if "json" in formats:
        assert loaded.generator == "rreg" and loaded.seed == 4 and loaded.params == {"nodes": 20, "degree": 3}
        assert loaded.metrics == pytest.approx(plan.metrics)


def test_json_document_follows_the_contract(tmp_path, plan):
    save_plan(plan, tmp_path, "p")
    document = json.loads((tmp_path / "p.json").read_text())
    assert document["format"] == "topoprune.plan/1"
    assert document["kind"] == "graph"
    assert document["nodes"] == 20 and document["edges"] == 30
    assert document["sha256"] == sha256_of(plan.matrix)
    assert {"generator", "params", "seed", "metrics", "created", "topoprune_version"} <= set(document)
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == ",".join(map(str, plan.matrix[0]))


def test_infinite_metrics_survive_as_strict_json(tmp_path):
    disconnected = np.zeros((4, 4), dtype=np.uint8)
    disconnected[0, 1] = disconnected[1, 0] = 1
    saved = Plan(disconnected, metrics=compute_metrics([disconnected])[0])
    save_plan(saved, tmp_path, "d")
    text = (tmp_path / "d.json").read_text()
    assert "Infinity" not in text and '"aspl": "inf"' in text
    assert load_plan(tmp_path / "d.json").metrics["aspl"] == float("inf")


def test_bipartite_plan_round_trip(tmp_path):
    matrix = generate("xnet", nodes=6, nodes_in=9, degree=2, seed=0)
    save_plan(Plan(matrix, "bipartite", "xnet"), tmp_path, "b")
    loaded = load_plan(tmp_path / "b.csv")
    assert loaded.kind == "bipartite" and loaded.matrix.shape == (6, 9)


def write_npy(path, array):
    np.save(path, array, allow_pickle=False)
    return path


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((4, 3)), "matrix is 4x3, expected square"),
        (np.array([[0, 1], [0, 0]]), "not symmetric: entry \\(0, 1\\) is 1 but \\(1, 0\\) is 0"),
        (np.array([[0, 2], [2, 0]]), "value 2 at row 0, column 1"),
        (np.array([[0, np.nan], [np.nan, 0]]), "NaN or infinite value at row 0, column 1"),
        (np.array([[1, 0], [0, 0]]), "diagonal entry 0 is 1"),
        (np.zeros((2, 2, 2)), "expected a 2-D matrix"),
    ],
)
def test_invalid_matrices_name_the_file_and_the_problem(tmp_path, array, message):
    path = write_npy(tmp_path / "bad.npy", array)
    with pytest.raises(PlanError, match=f"^{tmp_path}/bad.npy: .*{message}"):
        load_plan(path)


def test_pickled_npy_is_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(PlanError, match="obj.npy: not a readable .npy"):
        load_plan(path)


def test_missing_file(tmp_path):
    with pytest.raises(PlanError, match="nope.npy: no such file"):
        load_plan(tmp_path / "nope.npy")


def test_csv_errors(tmp_path):
    (tmp_path / "ragged.csv").write_text("0,1\n1\n")
    with pytest.raises(PlanError, match="ragged.csv: rows have different lengths"):
        load_plan(tmp_path / "ragged.csv")
    (tmp_path / "text.csv").write_text("0,a\na,0\n")
    with pytest.raises(PlanError, match="text.csv: not a comma-separated numeric matrix"):
        load_plan(tmp_path / "text.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(PlanError, match="empty.csv: file is empty"):
        load_plan(tmp_path / "empty.csv")


def test_hash_mismatch_is_detected(tmp_path, plan):
    save_plan(plan, tmp_path, "p")
    other = generate("rreg", nodes=20, degree=3, seed=5)
    np.save(tmp_path / "p.npy", other, allow_pickle=False)
    with pytest.raises(PlanError, match="p.json: sha256 does not match"):
        load_plan(tmp_path / "p.npy")


def test_foreign_json_is_refused(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    np.save(tmp_path / "x.npy", np.zeros((2, 2)), allow_pickle=False)
    with pytest.raises(PlanError, match="x.json: not a topoprune plan"):
        load_plan(tmp_path / "x.npy")


def test_failed_save_leaves_no_partial_file(tmp_path):
    bad = Plan(np.array([[0, 1], [0, 0]], dtype=np.uint8))
    with pytest.raises(PlanError):
        save_plan(bad, tmp_path, "bad")
    assert list(tmp_path.iterdir()) == []


def make_rgp_tree(root, separator=", "):
    """A small copy of RGP's published layout: float64 / int64 matrices and the information CSV."""
    folder = root / "Adjacency" / "16" / "4"
    folder.mkdir(parents=True)
    header = ["Date Finished", "Nodes", "Degree", "Dir", "Path", "Cluster", "Tranvity"]
    lines = [separator.join(header)]
    for k, dtype in enumerate([np.float64, np.int64, np.int32]):
        matrix = generate("rreg", nodes=16, degree=4, seed=k).astype(dtype)
        np.save(folder / f"M{k}.npy", matrix, allow_pickle=False)
        m = compute_metrics([matrix.astype(np.uint8)])[0]
        row = [
            "03-20-21_17:32:30",
            "16",
            "4",
            f"Adjacency/16/4/M{k}.npy",
            repr(m["aspl"]),
            repr(m["clustering"]),
            repr(m["transitivity"]),
        ]
        lines.append(separator.join(row))
    (folder / "16_4_information.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize("separator", [", ", ","])
def test_rgp_layout_loads_with_reference_metrics(tmp_path, separator):
    folder = make_rgp_tree(tmp_path, separator)
    for k in range(3):
        loaded = load_plan(folder / f"M{k}.npy")
        assert loaded.generator == "rgp" and loaded.params == {"nodes": 16, "degree": 4}
        assert (loaded.matrix == generate("rreg", nodes=16, degree=4, seed=k)).all()
        ours = compute_metrics([loaded.matrix])[0]
        for key in ("aspl", "clustering", "transitivity"):
            assert loaded.reference[key] == pytest.approx(ours[key], abs=1e-12)


def test_metrics_file_merges_and_replaces_rows(tmp_path):
    update_metrics_file(tmp_path, [("a.npy", {"aspl": 2.0, "edges": 5}), ("b.npy", {"aspl": float("inf"), "edges": 3})])
    update_metrics_file(tmp_path, [("a.npy", {"aspl": 1.5, "edges": 6}), ("c.npy", {"density": 0.5, "edges": 1})])
    table = read_metrics_file(tmp_path / "metrics.csv")
    assert list(table.columns[:1]) == ["plan"]
    assert list(table["plan"]) == ["a.npy", "b.npy", "c.npy"]
    assert list(table["edges"]) == [6, 3, 1]
    assert table.loc[1, "aspl"] == float("inf")


def test_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    save_plan(Plan(generate("ring", nodes=6, degree=2)), tmp_path, "r")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "r.npy").stat().st_mode) == 0o666 & ~umask


def test_rgp_reference_values_are_checked(tmp_path):
    from topology.analysis import analyze_plans, reference_mismatches

    folder = make_rgp_tree(tmp_path, ", ")
    assert all(reference_mismatches(load_plan(folder / f"M{k}.npy")) == [] for k in range(3))
    info = folder / "16_4_information.csv"
    lines = info.read_text().splitlines()
    cells = lines[2].split(", ")  # M1's row: publish a wrong ASPL
    cells[4] = repr(float(cells[4]) + 1e-6)
    lines[2] = ", ".join(cells)
    info.write_text("\n".join(lines) + "\n")
    mismatches = reference_mismatches(load_plan(folder / "M1.npy"))
    assert len(mismatches) == 1 and "M1.npy: published aspl" in mismatches[0] and "by 1e-06" in mismatches[0]
    reported = []
    rows = analyze_plans(sorted(folder.glob("M*.npy")), ["aspl"], reference=True, on_mismatch=reported.append)
    assert reported == mismatches
    metrics = dict(rows)[str(folder / "M1.npy")]
    assert list(metrics) == ["aspl", "aspl_reference"] and metrics["aspl_reference"] - metrics["aspl"] == pytest.approx(
        1e-6
    )


def test_plan_names_write_whole_numbers_in_full():
    from topology.build import default_name

    assert default_name("rreg", {"nodes": 1_000_000, "degree": 8}, 0) == "rreg_n1000000_d8_s0"
    assert default_name("ws", {"nodes": 64, "degree": 4, "p": 0.1}, 3) == "ws_n64_d4_p0.1_s3"
