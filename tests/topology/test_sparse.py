"""Large graphs: sparse generators, .npz/.edges plan files, the memory budget and sampled ASPL."""

import io
import json

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from common.memory import MemoryBudgetError, parse_size, set_memory_budget
from topology.discovery import find_plans
from topology.errors import PlanError
from topology.generators import GENERATORS, generate
from topology.graph import DENSE_HASH_MAX_ENTRIES, DENSE_MAX_NODES, canonical_csr, sha256_of
from topology.metrics import PathOptions, compute_metrics
from topology.metrics.lanczos import regular_extremes_by_lanczos
from topology.metrics.paths import path_stats, sampled_path_stats, source_distances
from topology.metrics.spectrum import sparse_adjacency_extremes
from topology.plans import Plan, load_plan, save_plan

SMALL_PARAMS = {
    "rreg": {"nodes": 40, "degree": 5 * 2},
    "er": {"nodes": 50, "degree": 4.5},
    "ws": {"nodes": 30, "degree": 4, "p": 0.3},
    "ws-flex": {"nodes": 33, "degree": 4.6, "p": 0.25},
    "ring": {"nodes": 20, "degree": 6},
    "complete": {"nodes": 9},
    "hypercube": {"nodes": 32},
    "paley": {"nodes": 29},
    "swap-chain": {"nodes": 24, "degree": 4, "count": 3},
    "xnet": {"nodes": 30, "nodes_in": 17, "degree": 4},
    "rreg-bipartite": {"nodes": 24, "nodes_in": 36, "degree": 5},
    "random-bipartite": {"nodes": 21, "nodes_in": 13, "p": 0.3},
}


@pytest.fixture(autouse=True)
def default_budget():
    yield
    set_memory_budget(None)


def test_every_generator_is_covered():
    assert set(SMALL_PARAMS) == set(GENERATORS)


@pytest.mark.parametrize("name", sorted(SMALL_PARAMS))
@pytest.mark.parametrize("seed", [0, 3])
def test_sparse_and_dense_forms_are_the_same_graph(name, seed):
    dense = generate(name, seed=seed, form="dense", **SMALL_PARAMS[name])
    sparse = generate(name, seed=seed, form="sparse", **SMALL_PARAMS[name])
    dense, sparse = (dense, sparse) if isinstance(dense, list) else ([dense], [sparse])
    assert len(dense) == len(sparse)
    for d, s in zip(dense, sparse):
        assert isinstance(d, np.ndarray) and sp.issparse(s)
        assert s.dtype == np.uint8 and s.has_sorted_indices
        np.testing.assert_array_equal(s.toarray(), d)
        assert sha256_of(s) == sha256_of(d)


def test_auto_form_is_sparse_above_the_dense_size():
    small = generate("ring", nodes=DENSE_MAX_NODES, degree=2)
    large = generate("rreg", seed=1, nodes=DENSE_MAX_NODES + 2, degree=3 * 2)
    assert isinstance(small, np.ndarray)
    assert sp.issparse(large) and large.shape == (DENSE_MAX_NODES + 2,) * 2
    degrees = np.diff(large.indptr)
    assert (degrees == 6).all() and (large != large.T).nnz == 0 and large.diagonal().sum() == 0


def test_large_matrices_hash_in_csr_form_whatever_their_form():
    n = int(np.sqrt(DENSE_HASH_MAX_ENTRIES)) + 1
    sparse = generate("ring", nodes=n, degree=2, form="sparse")
    dense = generate("ring", nodes=n, degree=2, form="dense")
    assert sha256_of(sparse) == sha256_of(dense)
    assert sha256_of(sparse) != sha256_of(sparse[: n - 1, : n - 1])


@pytest.mark.parametrize("formats", [("npz", "json"), ("npz",), ("edges", "json"), ("edges",), ("auto",)])
def test_graph_plan_round_trips(tmp_path, formats):
    matrix = generate("ws", seed=2, nodes=50, degree=4, p=0.2)
    plan = Plan(matrix, generator="ws", params={"nodes": 50}, seed=2)
    path = save_plan(plan, tmp_path, "g", formats)
    loaded = load_plan(path)
    np.testing.assert_array_equal(loaded.dense(), matrix)
    assert loaded.sha256 == plan.sha256 and loaded.edges == 100
    if "json" in formats or formats == ("auto",):
        assert loaded.generator == "ws" and loaded.seed == 2


def test_bipartite_plan_round_trips_through_npz_and_edges(tmp_path):
    matrix = generate("xnet", seed=1, nodes=12, nodes_in=30, degree=3)
    matrix[:, 29] = 0  # an unused last input: the size must come from the JSON, not the ids
    for fmt in ("npz", "edges"):
        path = save_plan(Plan(matrix, kind="bipartite"), tmp_path / fmt, "b", (fmt, "json"))
        loaded = load_plan(path)
        assert loaded.kind == "bipartite" and loaded.matrix.shape == (12, 30)
        np.testing.assert_array_equal(loaded.dense(), matrix)


def test_scipy_reads_our_npz_and_we_read_scipys(tmp_path):
    matrix = generate("rreg", seed=0, nodes=30, degree=4)
    path = save_plan(Plan(matrix), tmp_path, "g", ("npz",))
    np.testing.assert_array_equal(sp.load_npz(path).toarray(), matrix)
    for fmt in ("csr", "csc", "coo"):
        sp.save_npz(tmp_path / f"{fmt}.npz", sp.csr_array(matrix).asformat(fmt))
        np.testing.assert_array_equal(load_plan(tmp_path / f"{fmt}.npz").dense(), matrix)


def test_edges_files_written_by_hand(tmp_path):
    path = tmp_path / "hand.edges"
    path.write_text("# a 4-cycle, one edge twice and one reversed\n0 1\n1 2\n2 3\n3 0\n1 0\n")
    loaded = load_plan(path)
    expected = nx.to_numpy_array(nx.cycle_graph(4), dtype=np.uint8)
    np.testing.assert_array_equal(loaded.dense(), expected)
    assert sp.issparse(loaded.matrix)


def _write_npz(path, **arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


@pytest.mark.parametrize(
    "arrays, message",
    [
        (
            {
                "indices": np.array([1, 0]),
                "indptr": np.array([0, 1, 2, 2]),
                "format": np.array(b"csr"),
                "shape": np.array([2, 2]),
            },
            "index pointer does not fit",
        ),
        (
            {
                "indices": np.array([1]),
                "indptr": np.array([0, 1, 1]),
                "format": np.array(b"csr"),
                "shape": np.array([2, 2]),
            },
            "not symmetric",
        ),
        (
            {
                "indices": np.array([0]),
                "indptr": np.array([0, 1, 1]),
                "format": np.array(b"csr"),
                "shape": np.array([2, 2]),
            },
            "self-loops",
        ),
        (
            {
                "indices": np.array([1, 7]),
                "indptr": np.array([0, 1, 2]),
                "format": np.array(b"csr"),
                "shape": np.array([2, 2]),
            },
            "column index 7 is out of range",
        ),
        (
            {
                "indices": np.array([1, 0]),
                "indptr": np.array([0, 1, 2]),
                "format": np.array(b"csr"),
                "shape": np.array([2, 2]),
                "data": np.array([1, 3]),
            },
            "value 3",
        ),
        (
            {
                "indices": np.array([1, 0]),
                "indptr": np.array([0, 1, 2]),
                "format": np.array(b"dia"),
                "shape": np.array([2, 2]),
            },
            "format 'dia'",
        ),
        ({"mask": np.ones(3)}, "not a sparse matrix .npz"),
        (
            {
                "indices": np.array([1, 0]),
                "indptr": np.array([0, 1, 2]),
                "format": np.array(b"csr"),
                "shape": np.array([2, 2, 2]),
            },
            "not a 2-D matrix shape",
        ),
    ],
)
def test_bad_npz_files_name_the_file_and_the_problem(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    _write_npz(path, **arrays)
    with pytest.raises(PlanError, match=message) as error:
        load_plan(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0 1\n1 1\n", "joins node 1 to itself"),
        ("0 1\n-1 2\n", "node index -1 is out of range"),
        ("0 1 2\n", "two node ids per line"),
        ("0 x\n", "not an edge list"),
        ("# nothing\n", "no edges"),
    ],
)
def test_bad_edges_files(tmp_path, text, message):
    path = tmp_path / "bad.edges"
    path.write_text(text)
    with pytest.raises(PlanError, match=message):
        load_plan(path)


def test_edges_ids_beyond_the_json_node_count(tmp_path):
    save_plan(Plan(generate("ring", nodes=5, degree=2)), tmp_path, "r", ("edges", "json"))
    (tmp_path / "r.edges").write_text("0 1\n1 9\n")
    with pytest.raises(PlanError, match="node index 9 is out of range for 5 nodes"):
        load_plan(tmp_path / "r.edges")


def test_a_huge_declared_npy_shape_fails_before_allocating(tmp_path):
    path = tmp_path / "huge.npy"
    with path.open("wb") as handle:  # a header claiming 10^6 x 10^6 and no data
        np.lib.format.write_array_header_1_0(handle, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 10**6)})
    with pytest.raises(MemoryBudgetError, match=r"huge.npy: a 1,000,000 x 1,000,000 uint8 matrix would need 4.5 TB"):
        load_plan(path)


def test_the_memory_check_fires_before_allocation():
    set_memory_budget(parse_size("1M"))
    with pytest.raises(
        MemoryBudgetError,
        match=r"a dense 2,000 x 2,000 matrix would need 3.8 MB, more than the memory budget of 1.0 MB",
    ):
        generate("rreg", seed=0, nodes=2000, degree=4, form="dense")
    with pytest.raises(MemoryBudgetError, match="pairing 200,000 x 8 stubs"):
        generate("rreg", seed=0, nodes=200_000, degree=8)
    set_memory_budget(None)
    assert generate("rreg", seed=0, nodes=2000, degree=4, form="sparse").nnz == 8000


def test_memory_sizes_parse():
    assert (
        parse_size("2G") == 2 * 2**30 and parse_size("512m") == 512 * 2**20 and parse_size("1.5GB") == int(1.5 * 2**30)
    )
    assert parse_size("1000") == 1000
    with pytest.raises(ValueError, match="not a memory size"):
        parse_size("lots")


def test_discovery_finds_sparse_plans_but_not_masks(tmp_path):
    save_plan(Plan(generate("ring", nodes=10, degree=2)), tmp_path, "ring", ("npz", "json"))
    save_plan(Plan(generate("ring", nodes=8, degree=2)), tmp_path, "edgy", ("edges",))
    np.savez(tmp_path / "masks.npz", **{"layer1.weight": np.ones((3, 3), dtype=bool)})
    assert [p.name for p in find_plans([tmp_path])] == ["edgy.edges", "ring.npz"]


@pytest.mark.parametrize(
    "graph",
    [nx.petersen_graph(), nx.hypercube_graph(5), nx.cycle_graph(40), nx.barbell_graph(6, 3)],
    ids=["petersen", "Q5", "C40", "barbell"],
)
def test_sparse_metrics_equal_dense_ones(graph):
    dense = nx.to_numpy_array(graph, dtype=np.uint8)
    expected = compute_metrics([dense])[0]
    got = compute_metrics([sp.csr_array(dense)], dense_spectrum_max_nodes=4)[0]
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, float):
            assert got[name] == pytest.approx(value, abs=1e-9), name
        else:
            assert got[name] == value, name


@pytest.mark.parametrize(
    "name, params, seed",
    [
        ("ws", {"nodes": 2000, "degree": 6, "p": 0.05}, 1),
        ("rreg", {"nodes": 3000, "degree": 4}, 2),
        ("er", {"nodes": 1500, "degree": 6, "connected": True}, 3),
        ("ring", {"nodes": 1000, "degree": 4}, None),
    ],
)
def test_sampled_aspl_interval_contains_the_exact_value(name, params, seed):
    csr = canonical_csr(generate(name, seed=seed, form="sparse", **params))
    exact = float(path_stats(csr, csr.shape[0]).aspl[0])
    sampled = sampled_path_stats(csr, 200, seed=7)
    assert sampled.ci_low <= exact <= sampled.ci_high
    assert sampled.ci_high - sampled.ci_low < 0.1 * exact
    full = sampled_path_stats(csr, csr.shape[0])
    assert full.aspl == pytest.approx(exact, rel=1e-12) and full.ci_low == full.ci_high


def test_sampled_aspl_intervals_cover_the_exact_value_95_percent_of_the_time():
    csr = canonical_csr(generate("rreg", seed=0, nodes=3000, degree=4, form="sparse"))
    exact = float(path_stats(csr, csr.shape[0]).aspl[0])
    hits = [s.ci_low <= exact <= s.ci_high for s in (sampled_path_stats(csr, 64, seed=k) for k in range(200))]
    assert 0.9 <= np.mean(hits) <= 0.99


def test_source_distances_match_networkx():
    graph = nx.random_regular_graph(3, 100, seed=4)
    csr = sp.csr_array(nx.to_scipy_sparse_array(graph, dtype=np.uint8))
    csr.sort_indices()
    sources = np.array([0, 17, 63, 64, 99])
    totals = source_distances(csr, sources)
    for position, source in enumerate(sources):
        lengths = nx.single_source_shortest_path_length(graph, int(source))
        assert totals.distance_sum[position] == sum(lengths.values())
        assert totals.eccentricity[position] == max(lengths.values())
        assert totals.reached[position] == len(lengths) - 1


def test_sampled_metrics_add_the_interval_and_leave_the_diameter_empty():
    graph = generate("rreg", seed=0, nodes=600, degree=4, form="sparse")
    metrics = compute_metrics(
        [graph], names=["aspl", "diameter", "clustering"], path_options=PathOptions(sample_sources=100, seed=1)
    )[0]
    assert metrics["aspl_sources"] == 100 and metrics["aspl_ci95_low"] < metrics["aspl"] < metrics["aspl_ci95_high"]
    assert np.isnan(metrics["diameter"])
    exact = compute_metrics([graph], names=["aspl"])[0]
    assert "aspl_sources" not in exact and metrics["aspl_ci95_low"] <= exact["aspl"] <= metrics["aspl_ci95_high"]


def test_plan_json_edges_field_is_checked(tmp_path):
    save_plan(Plan(generate("ring", nodes=12, degree=2)), tmp_path, "r", ("npz", "json"))
    document = json.loads((tmp_path / "r.json").read_text())
    document["sha256"] = None
    document["edges"] = 13
    (tmp_path / "r.json").write_text(json.dumps(document))
    with pytest.raises(PlanError, match="says 13 edges but the matrix has 12"):
        load_plan(tmp_path / "r.npz")


def test_lanczos_ends_of_regular_graphs_match_dense_eigenvalues():
    graph = generate("rreg", seed=3, nodes=1500, degree=6, form="sparse")
    values = np.linalg.eigvalsh(graph.toarray().astype(np.float64))
    lambda_2, lambda_n = regular_extremes_by_lanczos(sp.csr_array(graph), 6.0)
    assert lambda_2 == pytest.approx(values[-2], abs=1e-9) and lambda_n == pytest.approx(values[0], abs=1e-9)
    # Q10: eigenvalues 10 - 2k, so lambda_2 = 8 and lambda_n = -10 (bipartite).
    cube = sp.csr_array(nx.to_scipy_sparse_array(nx.hypercube_graph(10), dtype=np.uint8))
    assert regular_extremes_by_lanczos(cube, 10.0) == pytest.approx((8.0, -10.0), abs=1e-9)
    # Two disjoint cycles: a second all-ones-like vector, so lambda_2 = d = 2.
    cycles = sp.csr_array(
        sp.block_diag([nx.to_scipy_sparse_array(nx.cycle_graph(n), dtype=np.uint8) for n in (301, 400)])
    )
    assert regular_extremes_by_lanczos(cycles, 2.0) == pytest.approx((2.0, -2.0), abs=1e-9)


def test_lanczos_that_does_not_converge_falls_back_to_arpack(monkeypatch):
    graph = sp.csr_array(generate("rreg", seed=3, nodes=1500, degree=6, form="sparse"))
    assert regular_extremes_by_lanczos(graph, 6.0, max_steps=10) is None
    expected = sparse_adjacency_extremes(graph)
    monkeypatch.setattr("topology.metrics.spectrum.LANCZOS_MAX_STEPS", 10)
    fallback = sparse_adjacency_extremes(graph)
    assert fallback.lambda_2[0] == pytest.approx(expected.lambda_2[0], abs=1e-9)
    assert fallback.lambda_n[0] == pytest.approx(expected.lambda_n[0], abs=1e-9)


def test_the_metrics_of_a_large_graph_report_their_progress_one_by_one():
    from topology.generators import generate
    from topology.metrics import PathOptions, compute_metrics

    seen = []

    def each(metrics, nodes):
        for metric in metrics:
            seen.append((metric.name, nodes))
            yield metric

    options = PathOptions(metric_progress=each)
    sparse = generate("rreg", nodes=2000, degree=4, seed=0, form="sparse")
    (values,) = compute_metrics([sparse], names=["clustering", "aspl"], path_options=options)
    assert seen == [("clustering", 2000), ("aspl", 2000)] and set(values) == {"clustering", "aspl"}
    seen.clear()
    compute_metrics([generate("rreg", nodes=16, degree=4, seed=s) for s in range(3)], path_options=options)
    assert seen == []  # small graphs are computed in one batch, in well under a second
