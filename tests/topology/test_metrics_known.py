"""Metrics of graphs whose values are known in closed form."""

import math

import networkx as nx
import numpy as np
import pytest

from topology.generators import generate
from topology.metrics import compute_metrics


def adjacency(graph: nx.Graph) -> np.ndarray:
    return nx.to_numpy_array(graph, nodelist=sorted(graph), dtype=np.uint8)


def metrics_of(matrix: np.ndarray, **kwargs) -> dict:
    return compute_metrics([matrix], **kwargs)[0]


def test_petersen():
    m = metrics_of(adjacency(nx.petersen_graph()))
    assert m["nodes"] == 10 and m["edges"] == 15
    assert m["aspl"] == pytest.approx(5 / 3, abs=1e-12)
    assert m["diameter"] == 2
    assert m["clustering"] == 0 and m["transitivity"] == 0
    assert m["lambda_1"] == pytest.approx(3, abs=1e-9)
    assert m["lambda_2"] == pytest.approx(1, abs=1e-9)
    assert m["lambda_n"] == pytest.approx(-2, abs=1e-9)
    assert m["spectral_gap"] == pytest.approx(2, abs=1e-9)
    assert m["lambda_nontrivial"] == pytest.approx(2, abs=1e-9)
    assert m["algebraic_connectivity"] == pytest.approx(2, abs=1e-9)
    assert m["ramanujan"] is True
    assert m["connected"] is True


@pytest.mark.parametrize("n", [2, 3, 5, 12])
def test_complete_graph(n):
    m = metrics_of(generate("complete", nodes=n))
    assert m["edges"] == n * (n - 1) // 2
    assert m["aspl"] == 1 and m["diameter"] == 1 and m["density"] == 1
    expected_clustering = 1.0 if n >= 3 else 0.0
    assert m["clustering"] == pytest.approx(expected_clustering) and m["transitivity"] == pytest.approx(
        expected_clustering
    )
    assert m["lambda_1"] == pytest.approx(n - 1, abs=1e-9)
    assert m["lambda_2"] == pytest.approx(-1, abs=1e-9)
    assert m["algebraic_connectivity"] == pytest.approx(n, abs=1e-9)
    assert m["ramanujan"] is (n >= 3)  # K_2 is 1-regular: bound 2 sqrt(0) = 0 < |lambda_n| = 1


@pytest.mark.parametrize("n", [5, 8, 13, 64])
def test_cycle(n):
    m = metrics_of(generate("ring", nodes=n, degree=2))
    # Ordered-pair mean distance of C_n: floor(n^2 / 4) * n / (n (n - 1)).
    assert m["aspl"] == pytest.approx((n * n // 4) / (n - 1), abs=1e-12)
    assert m["diameter"] == n // 2
    assert m["clustering"] == 0
    assert m["lambda_1"] == pytest.approx(2, abs=1e-9)
    assert m["lambda_2"] == pytest.approx(2 * math.cos(2 * math.pi / n), abs=1e-9)
    assert m["lambda_n"] == pytest.approx(2 * math.cos(2 * math.pi * (n // 2) / n), abs=1e-9)
    assert m["algebraic_connectivity"] == pytest.approx(2 - 2 * math.cos(2 * math.pi / n), abs=1e-9)
    assert m["ramanujan"] is True  # |lambda| <= 2 = 2 sqrt(1) for every cycle


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
def test_hypercube(k):
    n = 2**k
    m = metrics_of(generate("hypercube", nodes=n))
    assert m["edges"] == k * n // 2
    assert m["degree_min"] == m["degree_max"] == k
    # Mean Hamming distance between distinct k-bit labels: k 2^(k-1) / (2^k - 1).
    assert m["aspl"] == pytest.approx(k * 2 ** (k - 1) / (n - 1), abs=1e-12)
    assert m["diameter"] == k
    assert m["lambda_1"] == pytest.approx(k, abs=1e-9)
    assert m["lambda_2"] == pytest.approx(k - 2, abs=1e-9)
    assert m["lambda_n"] == pytest.approx(-k, abs=1e-9)
    assert m["algebraic_connectivity"] == pytest.approx(2, abs=1e-9)
    assert m["clustering"] == 0


@pytest.mark.parametrize("q", [5, 13, 17, 29])
def test_paley_is_strongly_regular_ramanujan(q):
    m = metrics_of(generate("paley", nodes=q))
    assert m["degree_min"] == m["degree_max"] == (q - 1) // 2
    assert m["lambda_2"] == pytest.approx((-1 + math.sqrt(q)) / 2, abs=1e-9)
    assert m["lambda_n"] == pytest.approx((-1 - math.sqrt(q)) / 2, abs=1e-9)
    assert m["diameter"] == 2
    assert m["ramanujan"] is True


def test_disconnected_graph_reports_infinite_paths_not_a_number():
    two_triangles = adjacency(nx.disjoint_union(nx.complete_graph(3), nx.complete_graph(3)))
    m = metrics_of(two_triangles)
    assert m["connected"] is False
    assert math.isinf(m["aspl"]) and math.isinf(m["diameter"])
    assert m["algebraic_connectivity"] == pytest.approx(0, abs=1e-9)
    assert m["lambda_2"] == pytest.approx(2, abs=1e-9)  # two components: lambda_1 = lambda_2 = 2
    assert m["clustering"] == 1


def test_disconnected_regular_graph_is_not_ramanujan():
    two_k4 = adjacency(nx.disjoint_union(nx.complete_graph(4), nx.complete_graph(4)))
    m = metrics_of(two_k4)
    assert m["lambda_2"] == pytest.approx(3, abs=1e-9)  # > 2 sqrt(2)
    assert m["ramanujan"] is False


def test_ramanujan_is_none_for_irregular_graphs():
    assert metrics_of(adjacency(nx.path_graph(5)))["ramanujan"] is None


def test_isolated_nodes_count_zero_in_clustering():
    graph = nx.complete_graph(3)
    graph.add_nodes_from([3, 4])
    m = metrics_of(adjacency(graph))
    assert m["clustering"] == pytest.approx(3 / 5)
    assert m["transitivity"] == 1
    assert m["degree_min"] == 0


def test_selected_metrics_only():
    m = metrics_of(generate("ring", nodes=10, degree=2), names=["aspl", "edges"])
    assert set(m) == {"aspl", "edges"}


def test_bipartite_metrics_by_hand():
    # Outputs 0,1,2; inputs 0..3. Input 3 feeds nothing; output 2 has no input.
    matrix = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=np.uint8)
    m = compute_metrics([matrix], kind="bipartite")[0]
    assert (m["nodes_out"], m["nodes_in"], m["edges"]) == (3, 4, 4)
    assert m["density"] == pytest.approx(4 / 12)
    assert (m["out_degree_min"], m["out_degree_max"]) == (0, 2)
    assert m["out_degree_mean"] == pytest.approx(4 / 3)
    assert (m["in_degree_min"], m["in_degree_max"]) == (0, 2)
    assert (m["isolated_outputs"], m["isolated_inputs"]) == (1, 1)
    singular = np.linalg.svd(matrix.astype(float), compute_uv=False)  # sqrt(3), 1, 0
    assert m["singular_1"] == pytest.approx(singular[0])
    assert m["singular_2"] == pytest.approx(singular[1])
    expected = math.sqrt(4 / 3 - 1) + math.sqrt(1 - 1) - singular[1]
    assert m["ramanujan_margin"] == pytest.approx(expected)


def test_bipartite_second_singular_value_is_the_next_distinct_one():
    # Two disjoint complete bipartite blocks: t1 appears twice; t2 is the next distinct value.
    block = np.ones((2, 2), dtype=np.uint8)
    matrix = np.block([[block, np.zeros((2, 2), np.uint8)], [np.zeros((2, 2), np.uint8), block]])
    m = compute_metrics([matrix], kind="bipartite")[0]
    assert m["singular_1"] == pytest.approx(2)
    assert m["singular_2"] == pytest.approx(0, abs=1e-12)


def test_large_biadjacencies_use_arpack_and_agree_with_the_dense_svd():
    from topology.metrics.batch import BipartiteBatch

    block = generate("rreg-bipartite", nodes=40, nodes_in=30, degree=6, seed=3)
    repeated_top = np.block([[block, np.zeros_like(block)], [np.zeros_like(block), block]])  # t1 twice
    for matrix in (generate("xnet", nodes=120, nodes_in=90, degree=5, seed=1), repeated_top):
        dense = BipartiteBatch(matrix).top_singular_values
        sparse = BipartiteBatch(matrix, dense_svd_max_entries=100).top_singular_values
        assert sparse[0][0] == pytest.approx(dense[0][0], abs=1e-9)
        assert sparse[1][0] == pytest.approx(dense[1][0], abs=1e-9)
        assert sparse[1][0] < sparse[0][0] - 1e-6


def test_values_are_plain_python_numbers():
    """Plans, CSV and JSON writers get bool, int, float or None, never numpy scalars."""
    ring, path = generate("ring", nodes=10, degree=2), adjacency(nx.path_graph(10))
    for m in compute_metrics([ring, path]):
        assert type(m["connected"]) is bool and type(m["edges"]) is int and type(m["nodes"]) is int
        assert type(m["aspl"]) is float and type(m["lambda_2"]) is float
    assert [type(m["ramanujan"]) for m in compute_metrics([ring, path])] == [bool, type(None)]
