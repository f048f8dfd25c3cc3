"""Triangles by degree ordering against networkx, node by node."""

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from topology.metrics import triangles
from topology.metrics.triangles import triangles_per_node


def adjacency(graph) -> sp.csr_array:
    matrix = sp.csr_array(
        nx.to_scipy_sparse_array(graph, nodelist=range(len(graph)), weight=None, format="csr", dtype=np.int8)
    )
    matrix.sort_indices()
    return matrix


def hub_and_cliques() -> nx.Graph:
    """A node joined to everything (a network graph's wide layer) plus cliques and a path."""
    graph = nx.disjoint_union_all([nx.complete_graph(5), nx.complete_graph(4), nx.path_graph(6)])
    graph.add_edges_from((15, node) for node in range(15))
    return graph


GRAPHS = {
    "karate": nx.karate_club_graph(),
    "complete 6": nx.complete_graph(6),
    "star": nx.star_graph(10),
    "empty": nx.empty_graph(5),
    "scale-free": nx.barabasi_albert_graph(400, 5, seed=1),
    "small world": nx.watts_strogatz_graph(300, 8, 0.1, seed=2),
    "hub and cliques": hub_and_cliques(),
}


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("chunk", [1, 7, 2**23])  # wedges looked up in many chunks or in one
def test_triangles_per_node_equal_networkx(name, chunk):
    graph = GRAPHS[name]
    expected = [nx.triangles(graph)[node] for node in range(len(graph))]
    assert triangles_per_node(adjacency(graph), chunk, "wedges").tolist() == expected
    assert triangles_per_node(adjacency(graph), chunk, "products").tolist() == expected
    assert triangles_per_node(adjacency(graph), chunk).tolist() == expected


def test_the_cheaper_method_is_chosen_from_the_degrees(monkeypatch):
    from topology.metrics import triangles

    chosen = []
    monkeypatch.setattr(triangles, "_by_products", lambda csr: chosen.append("products") or np.zeros(csr.shape[0]))
    monkeypatch.setattr(triangles, "_by_wedges", lambda keys, n, chunk: chosen.append("wedges") or np.zeros(n))
    triangles_per_node(adjacency(nx.random_regular_graph(8, 1000, seed=0)))  # few wedges, A @ A of 57 per row
    # complete bipartite K(40, 40): W = 40 * C(40, 2) = 31,200 wedges, while A @ A has only 80 * 40 entries
    triangles_per_node(adjacency(nx.complete_bipartite_graph(40, 40)))
    assert chosen == ["wedges", "products"]


def test_a_stored_zero_is_no_edge():
    matrix = adjacency(nx.complete_graph(4)).astype(np.int8)
    matrix.data[(matrix.indices == 3)[: len(matrix.data)] & (np.repeat(np.arange(4), 3) == 2)] = 0
    matrix.data[(matrix.indices == 2) & (np.repeat(np.arange(4), 3) == 3)] = 0  # edge 2-3 stored as zeros
    assert triangles_per_node(matrix).tolist() == [2, 2, 1, 1]


def blown_up_cycle(length: int, size: int) -> nx.Graph:
    """A cycle whose every node is an independent set of ``size`` nodes joined completely to the
    next: no triangle for length >= 4, not bipartite for an odd length, many wedges."""
    graph = nx.empty_graph(length * size)
    graph.add_edges_from(
        (i * size + a, ((i + 1) % length) * size + b) for i in range(length) for a in range(size) for b in range(size)
    )
    return graph


def test_a_triangle_free_graph_with_many_wedges_is_not_counted(monkeypatch):
    from topology.metrics import triangles

    def refuse(*args):
        raise AssertionError("a graph without triangles needs no count")

    monkeypatch.setattr(triangles, "_by_products", refuse)
    monkeypatch.setattr(triangles, "_by_wedges", refuse)
    for graph in (nx.complete_bipartite_graph(60, 60), blown_up_cycle(5, 30)):  # W > 10 x stored edges
        assert triangles_per_node(adjacency(graph)).tolist() == [0.0] * graph.number_of_nodes()
    graph = nx.complete_bipartite_graph(60, 60)
    graph.add_edge(0, 1)  # 60 triangles through 0 and 1, one through each node of the other side
    with pytest.raises(AssertionError, match="needs no count"):
        triangles_per_node(adjacency(graph))
    monkeypatch.undo()
    expected = nx.triangles(graph)
    assert triangles_per_node(adjacency(graph)).tolist() == [expected[v] for v in range(120)]
    three = blown_up_cycle(3, 20)  # every node in 400 triangles
    assert triangles_per_node(adjacency(three)).tolist() == [400.0] * 60


@pytest.mark.parametrize("edges_at_once", [triangles.BITSET_EDGES, 5])
def test_a_stacks_triangles_by_bitsets_equal_networkx(monkeypatch, edges_at_once):
    """Graphs of 70 nodes (two words per bitset, the second partly used), with isolated nodes,
    a clique and a triangle-free ring; a tiny edge budget intersects them a few edges at a time."""
    monkeypatch.setattr(triangles, "BITSET_EDGES", edges_at_once)
    graphs = [
        nx.gnp_random_graph(70, 0.1, seed=3),
        nx.disjoint_union(nx.complete_graph(12), nx.empty_graph(58)),
        nx.cycle_graph(70),
        nx.barabasi_albert_graph(70, 6, seed=4),
    ]
    stack = np.stack([nx.to_numpy_array(g, nodelist=range(70), dtype=np.uint8) for g in graphs])
    union = sp.block_diag([sp.csr_array(matrix) for matrix in stack], format="csr")
    union.sort_indices()
    counted = triangles.stack_triangles_per_node(stack, sp.csr_array(union))
    assert counted.shape == (4, 70)
    for row, graph in zip(counted, graphs):
        assert row.tolist() == [nx.triangles(graph)[node] for node in range(70)]


def oriented_halves(matrix: sp.csr_array) -> tuple[sp.csr_array, sp.csr_array]:
    """The adjacency's edges oriented by rank, and their reverse, as triangles_per_node builds them."""
    degree = np.diff(matrix.indptr)
    rank = np.empty(len(degree), dtype=np.int32)
    rank[np.argsort(degree, kind="stable")] = np.arange(len(degree))
    forward, out = triangles._orientation(matrix, rank)
    return (
        triangles.oriented_adjacency(matrix, forward, out),
        triangles.oriented_adjacency(matrix, ~forward, degree - out),
    )


def test_the_triangle_test_at_middle_corners_agrees_with_networkx():
    """Random graphs, bipartite ones and blown-up cycles (with and without one extra edge), in
    row blocks of one list entry or all at once; a triangle's middle corner is looked at by
    in-lists or out-lists, and both kinds occur here."""
    rng = np.random.default_rng(0)
    graphs = [nx.gnp_random_graph(int(rng.integers(3, 40)), rng.random() * 0.3, seed=seed) for seed in range(120)]
    graphs += [nx.bipartite.random_graph(15, 20, 0.3, seed=seed) for seed in range(20)]
    graphs += [blown_up_cycle(5, 6), blown_up_cycle(4, 3), blown_up_cycle(3, 2), GRAPHS["hub and cliques"]]
    with_edge = blown_up_cycle(5, 6)
    with_edge.add_edge(0, 1)  # 0 and 1 lie in one part: with each node of the next part, a triangle
    graphs.append(with_edge)
    sides = set()
    for graph in graphs:
        oriented, reverse = oriented_halves(adjacency(graph))
        via_in = reverse @ np.diff(oriented.indptr)
        via_out = oriented @ np.diff(reverse.indptr)
        sides |= {bool(side) for side in (via_in <= via_out)[np.minimum(via_in, via_out) > 0]}
        expected = sum(nx.triangles(graph).values()) > 0
        for per_block in (1, triangles.PATHS_PER_BLOCK):
            assert triangles.has_triangle(oriented, reverse, per_block) == expected
    assert sides == {True, False}
