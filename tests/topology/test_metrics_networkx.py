"""Every graph metric against networkx, on seeded graphs from every registered graph generator."""

import math

import networkx as nx
import numpy as np
import pytest

from topology.generators import GENERATORS, generate
from topology.metrics import GRAPH_METRICS, compute_metrics

TOLERANCE = 1e-9

#: Small, valid parameters for each graph generator (a new generator must be added here).
PARAMS = {
    "ring": dict(nodes=30, degree=4),
    "rreg": dict(nodes=40, degree=3),
    "er": dict(nodes=35, degree=3.0),
    "ws": dict(nodes=36, degree=4, p=0.3),
    "ws-flex": dict(nodes=33, degree=5.5, p=0.4),
    "complete": dict(nodes=9),
    "hypercube": dict(nodes=32),
    "paley": dict(nodes=37),
    "swap-chain": dict(nodes=24, degree=4, count=3),
}
GRAPH_GENERATORS = sorted(name for name, spec in GENERATORS.items() if spec.kind == "graph")


def test_every_graph_generator_has_test_parameters():
    assert set(GRAPH_GENERATORS) == set(PARAMS)


def networkx_metrics(matrix: np.ndarray) -> dict:
    graph = nx.from_numpy_array(matrix)
    connected = nx.is_connected(graph)
    adjacency_spectrum = np.sort(np.linalg.eigvalsh(nx.to_numpy_array(graph)))
    laplacian_spectrum = np.sort(nx.laplacian_spectrum(graph))
    degrees = [d for _, d in graph.degree()]
    return {
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "density": nx.density(graph),
        "degree_min": min(degrees),
        "degree_mean": float(np.mean(degrees)),
        "degree_max": max(degrees),
        "connected": connected,
        "aspl": nx.average_shortest_path_length(graph) if connected else math.inf,
        "diameter": nx.diameter(graph) if connected else math.inf,
        "clustering": nx.average_clustering(graph),
        "transitivity": nx.transitivity(graph),
        "lambda_1": adjacency_spectrum[-1],
        "lambda_2": adjacency_spectrum[-2],
        "lambda_n": adjacency_spectrum[0],
        "algebraic_connectivity": laplacian_spectrum[1],
    }


def graphs_for(name: str, seeds=range(4)) -> list[np.ndarray]:
    spec = GENERATORS[name]
    if not spec.is_random:
        return [generate(name, **PARAMS[name])]
    out = []
    for seed in seeds:
        made = generate(name, seed=seed, **PARAMS[name])
        out.extend(made if spec.family else [made])
    return out


def assert_close_to_networkx(ours: dict, matrix: np.ndarray) -> None:
    reference = networkx_metrics(matrix)
    for key, expected in reference.items():
        value = ours[key]
        if isinstance(expected, bool) or math.isinf(expected):
            assert value == expected, key
        else:
            assert value == pytest.approx(expected, abs=TOLERANCE), key
    assert ours["spectral_gap"] == pytest.approx(reference["lambda_1"] - reference["lambda_2"], abs=TOLERANCE)
    assert ours["lambda_nontrivial"] == pytest.approx(
        max(abs(reference["lambda_2"]), abs(reference["lambda_n"])), abs=TOLERANCE
    )


@pytest.mark.parametrize("name", GRAPH_GENERATORS)
def test_metrics_agree_with_networkx(name):
    graphs = graphs_for(name)
    for matrix, ours in zip(graphs, compute_metrics(graphs)):
        assert set(ours) == set(GRAPH_METRICS)
        assert_close_to_networkx(ours, matrix)


def test_disconnected_and_irregular_graphs_agree_with_networkx():
    graphs = [generate("er", nodes=40, degree=1.5, seed=s) for s in range(6)]  # sparse: disconnected, isolated nodes
    assert any(not nx.is_connected(nx.from_numpy_array(g)) for g in graphs)
    for matrix, ours in zip(graphs, compute_metrics(graphs)):
        assert_close_to_networkx(ours, matrix)


def test_multiword_bitsets_and_sparse_spectrum_agree_with_networkx():
    """n > 64 uses several 64-bit words per node; a low threshold forces the ARPACK path."""
    graphs = [
        generate("rreg", nodes=150, degree=5, seed=1),
        generate("ws", nodes=130, degree=4, p=0.2, seed=2),  # irregular: Laplacian by ARPACK
        generate("er", nodes=140, degree=1.2, seed=3),  # disconnected
    ]
    for matrix in graphs:
        ours = compute_metrics([matrix], dense_spectrum_max_nodes=100)[0]
        assert_close_to_networkx(ours, matrix)


def test_batches_of_mixed_sizes_keep_input_order():
    graphs = [generate("ring", nodes=10, degree=2), generate("complete", nodes=4), generate("ring", nodes=12, degree=4)]
    results = compute_metrics(graphs, names=["nodes", "aspl"])
    assert [r["nodes"] for r in results] == [10, 4, 12]
    assert results[1]["aspl"] == 1
