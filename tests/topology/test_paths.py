"""The bit-parallel BFS against networkx, including word chunking and irregular graphs."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from topology.generators import generate
from topology.metrics import paths


def networkx_totals(matrix):
    graph = nx.from_numpy_array(matrix)
    lengths = [d for _, row in nx.all_pairs_shortest_path_length(graph) for d in row.values() if d > 0]
    return sum(lengths), len(lengths), max(lengths, default=0)


@pytest.mark.parametrize("budget", [paths.GATHER_BUDGET_BYTES, 64])
def test_distance_totals_match_networkx(monkeypatch, budget):
    """A tiny budget forces one 64-source word per pass: results must not change."""
    monkeypatch.setattr(paths, "GATHER_BUDGET_BYTES", budget)
    graphs = [
        generate("rreg", nodes=200, degree=3, seed=0),
        generate("er", nodes=150, degree=1.0, seed=1),  # many components and isolated nodes
        generate("ws", nodes=129, degree=4, p=0.05, seed=2),
    ]
    for matrix in graphs:
        stats = paths.path_stats(sp.csr_array(matrix), matrix.shape[0])
        total, pairs, longest = networkx_totals(matrix)
        assert (stats.distance_sum[0], stats.reachable_pairs[0], stats.max_distance[0]) == (total, pairs, longest)


def test_block_diagonal_batch_keeps_graphs_apart():
    graphs = [generate("ring", nodes=70, degree=2), generate("complete", nodes=70), np.zeros((70, 70), np.uint8)]
    union = sp.block_diag([sp.csr_array(g) for g in graphs], format="csr")
    stats = paths.path_stats(sp.csr_array(union), 70)
    assert list(stats.connected) == [True, True, False]
    assert stats.aspl[0] == pytest.approx(nx.average_shortest_path_length(nx.cycle_graph(70)))
    assert stats.aspl[1] == 1.0
    assert stats.reachable_pairs[2] == 0 and np.isinf(stats.aspl[2])


def test_group_size_must_divide_the_nodes():
    with pytest.raises(ValueError, match="do not split"):
        paths.path_stats(sp.csr_array(np.zeros((10, 10), np.uint8)), 3)


def levels_run(monkeypatch) -> list[int]:
    """Record every BFS level that the searches compute."""
    seen = []
    original = paths._BitBfs.levels

    def recorded(self, frontier):
        for level, new in original(self, frontier):
            seen.append(level)
            yield level, new

    monkeypatch.setattr(paths._BitBfs, "levels", recorded)
    return seen


def test_a_connected_graph_stops_at_its_diameter_without_an_empty_level(monkeypatch):
    """Once every source has reached every node, the search ends: a path of 40 nodes (one word of
    sources, diameter 39) computes levels 1..39, not a 40th that would find nothing."""
    seen = levels_run(monkeypatch)
    path = nx.to_numpy_array(nx.path_graph(40), dtype=np.uint8)
    stats = paths.path_stats(sp.csr_array(path), 40)
    assert stats.max_distance[0] == 39 and seen == list(range(1, 40))
    seen.clear()
    totals = paths.source_distances(sp.csr_array(path), np.array([0, 20]))
    assert totals.eccentricity.tolist() == [39, 20] and seen == list(range(1, 40))


def test_a_disconnected_graph_still_ends_on_an_empty_level(monkeypatch):
    seen = levels_run(monkeypatch)
    two_paths = nx.to_numpy_array(nx.disjoint_union(nx.path_graph(5), nx.path_graph(3)), dtype=np.uint8)
    stats = paths.path_stats(sp.csr_array(two_paths), 8)
    assert (stats.distance_sum[0], stats.max_distance[0]) == networkx_totals(two_paths)[::2]
    assert seen == [1, 2, 3, 4, 5]  # the 5-path's diameter 4, then one level that reaches nothing


@pytest.mark.parametrize("cores", [1, 2])
def test_arrays_kept_from_chunk_to_chunk_leave_nothing_behind(monkeypatch, cores):
    """Each thread reuses its arrays for its next chunk of sources: with chunks of 2, 2 and 1
    words (300 nodes, 5 words) on one or two threads, the totals still equal networkx's, for
    exact paths and for per-source distances."""
    monkeypatch.setattr(paths, "usable_cores", lambda: cores)
    monkeypatch.setattr(paths, "SLOT_CHUNK_BYTES", 2 * 8 * 301)
    for matrix in (generate("rreg", nodes=300, degree=3, seed=4), generate("ws", nodes=300, degree=4, p=0.1, seed=5)):
        stats = paths.path_stats(sp.csr_array(matrix), 300)
        total, pairs, longest = networkx_totals(matrix)
        assert (stats.distance_sum[0], stats.reachable_pairs[0], stats.max_distance[0]) == (total, pairs, longest)
        graph = nx.from_numpy_array(matrix)
        sources = np.arange(0, 300, 2)
        totals = paths.source_distances(sp.csr_array(matrix), sources)
        expected = [sum(nx.single_source_shortest_path_length(graph, int(s)).values()) for s in sources]
        assert totals.distance_sum.tolist() == expected
