"""Sampled vertex expansion of bipartite layer graphs against brute force and known graphs."""

import itertools

import numpy as np
import pytest

from topology.generators import generate
from topology.metrics import compute_metrics
from topology.metrics.expansion import EXPANSION_SAMPLES, expansion_set_sizes, vertex_expansion


def brute_force(matrix: np.ndarray) -> float:
    """min over every set S of outputs with 1 <= |S| <= the sampled bound of |N(S)| / edges(S)."""
    n_out, n_in = matrix.shape
    largest = expansion_set_sizes(n_out, n_in, matrix.sum(axis=1).mean())
    best = np.inf
    for size in range(1, largest + 1):
        for members in itertools.combinations(range(n_out), size):
            rows = matrix[list(members)]
            edges = rows.sum()
            best = min(best, rows.any(axis=0).sum() / edges if edges else 0.0)
    return best


def test_hand_counted_graph():
    # Outputs 0 and 1 read the same two inputs: S = {0, 1} has 4 connections but 2 neighbours.
    matrix = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 0]], dtype=np.uint8)
    assert vertex_expansion(matrix)[0] == 0.5


@pytest.mark.parametrize("generator", ["xnet", "rreg-bipartite", "random-bipartite"])
def test_sampling_finds_the_exact_minimum_on_small_graphs(generator):
    # 8 outputs, sets of up to 3 of them: 92 sets; 4,000 samples draw each 3-set about 24 times.
    params = {"p": 0.3} if generator == "random-bipartite" else {"degree": 3}
    for seed in range(4):
        matrix = generate(generator, nodes=8, nodes_in=9, seed=seed, **params)
        assert vertex_expansion(matrix, samples=4000)[0] == pytest.approx(brute_force(matrix))
        assert vertex_expansion(matrix)[0] >= brute_force(matrix)  # a sample's minimum bounds the true one from above


def test_known_graphs():
    assert vertex_expansion(np.eye(6, dtype=np.uint8))[0] == 1.0  # a matching never overlaps
    assert vertex_expansion(np.ones((6, 6), dtype=np.uint8))[0] == 1.0  # sets of one output only
    dead = np.eye(6, dtype=np.uint8)
    dead[2] = 0
    assert vertex_expansion(dead)[0] == 0.0  # a dead output alone reaches nothing


def test_seeded_and_independent_of_the_batch():
    graphs = [generate("xnet", nodes=32, nodes_in=48, degree=d, seed=1) for d in (2, 4, 8)]
    alone = [vertex_expansion(g)[0] for g in graphs]
    assert vertex_expansion(np.stack(graphs)).tolist() == alone
    assert [m["vertex_expansion"] for m in compute_metrics(graphs, kind="bipartite")] == alone
    assert vertex_expansion(graphs[1], seed=5)[0] == vertex_expansion(graphs[1], seed=5)[0]
    assert (
        vertex_expansion(graphs[1], samples=EXPANSION_SAMPLES * 4)[0] <= alone[1]
    )  # more samples: a lower or equal minimum


def test_bipartite_spectral_gap_is_t1_minus_t2():
    matrix = generate("rreg-bipartite", nodes=12, nodes_in=12, degree=3, seed=0)
    values = np.linalg.svd(matrix.astype(float), compute_uv=False)
    metrics = compute_metrics([matrix], kind="bipartite")[0]
    assert metrics["spectral_gap"] == pytest.approx(values[0] - metrics["singular_2"], abs=1e-12)
