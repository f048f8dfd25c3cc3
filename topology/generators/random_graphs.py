"""Random graphs: random regular, Erdős–Rényi and Watts–Strogatz, all seeded."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

from common.errors import ParameterError
from common.memory import require_memory
from common.seeding import SeedLike, as_generator
from topology.generators.base import as_int, register_generator, require
from topology.graph import graph_from_edges

#: How many times a generator redraws a graph that came out disconnected before giving up.
MAX_CONNECT_ATTEMPTS = 100


def is_connected(adjacency: np.ndarray | sp.sparray) -> bool:
    """True when the (n, n) adjacency (dense or sparse) has one connected component."""
    return csgraph.connected_components(adjacency, directed=False, return_labels=False) == 1


def _pair_stubs(nodes: int, degree: int, rng: np.random.Generator) -> np.ndarray | None:
    """One attempt of the Steger–Wormald pairing: pair random stubs, never a loop or a repeat.

    Each pass shuffles the stubs left and pairs them in order; a pair is kept unless it is a loop,
    an edge kept before, or a repeat of an earlier pair of the same pass, and the stubs of the
    pairs not kept go round again. Vectorised over each pass; the same seed gives the same graph
    as pairing one stub at a time.

    Returns the kept edges as sorted keys ``u * n + v`` (u < v), or None when the stubs left
    over cannot be paired any more.
    """
    require_memory(40.0 * nodes * degree, f"rreg: pairing {nodes:,} x {degree} stubs")
    stubs = np.repeat(np.arange(nodes, dtype=np.int64), degree)
    kept = np.zeros(0, dtype=np.int64)
    while len(stubs):
        rng.shuffle(stubs)
        a, b = stubs[0::2], stubs[1::2]
        keys = np.minimum(a, b) * nodes + np.maximum(a, b)
        candidates = np.flatnonzero((a != b) & ~_contains(kept, keys))
        _, first = np.unique(keys[candidates], return_index=True)
        accept = np.zeros(len(keys), dtype=bool)
        accept[candidates[first]] = True
        kept = np.union1d(kept, keys[accept])
        leftover = np.stack([a[~accept], b[~accept]], axis=1).ravel()
        # Nodes with stubs left have fewer than d edges, so among r > d of them some pair is free.
        remaining = np.unique(leftover)
        if len(remaining) and len(remaining) <= degree + 1:
            u, v = np.triu_indices(len(remaining), 1)
            if _contains(kept, remaining[u] * nodes + remaining[v]).all():
                return None
        stubs = leftover
    return kept


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Boolean array: which ``keys`` are in the sorted array ``sorted_keys``."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[position] == keys


@register_generator("rreg", reference="A. Steger & N. C. Wormald, Combin. Probab. Comput. 8 (1999)")
def random_regular(nodes: int, degree: int, seed: SeedLike = None, form: str = "auto") -> np.ndarray | sp.csr_array:
    """Random connected d-regular graph (Steger–Wormald pairing, redrawn until connected).

    The pairing algorithm samples d-regular graphs asymptotically uniformly.

    Parameters
    ----------
    nodes, degree : int
        n and d with n * d even, 0 <= d < n; d >= 2 when n > 2 (else no connected graph exists).
    seed : int, numpy.random.Generator or None
    form : {"auto", "dense", "sparse"}
        Dense ``ndarray`` or ``scipy.sparse.csr_array`` (auto: CSR above
        ``topology.graph.DENSE_MAX_NODES`` nodes).

    Returns
    -------
    numpy.ndarray of uint8, shape (n, n), or its canonical CSR.
    """
    nodes, degree = as_int(nodes, "rreg", "nodes"), as_int(degree, "rreg", "degree")
    require(nodes >= 1, "rreg", f"nodes must be at least 1, got {nodes}")
    require(0 <= degree < nodes, "rreg", f"degree must satisfy 0 <= degree < nodes, got degree={degree}, nodes={nodes}")
    require(nodes * degree % 2 == 0, "rreg", f"nodes * degree must be even, got {nodes} * {degree} = {nodes * degree}")
    require(
        degree >= 2 or nodes <= 2,
        "rreg",
        f"no connected {degree}-regular graph on {nodes} nodes exists; use degree >= 2",
    )
    rng = as_generator(seed)
    for _ in range(MAX_CONNECT_ATTEMPTS):
        keys = _pair_stubs(nodes, degree, rng)
        if keys is None:
            continue
        adjacency = graph_from_edges(nodes, np.stack([keys // nodes, keys % nodes], axis=1), form)
        if is_connected(adjacency):
            return adjacency
    raise no_graph_error("rreg", nodes, degree)


def no_graph_error(generator: str, nodes: int, degree) -> ParameterError:
    """The error for a connected graph that could not be drawn."""
    return ParameterError(
        f"{generator}: no connected graph with nodes={nodes}, degree={degree} after {MAX_CONNECT_ATTEMPTS} attempts; "
        "raise the degree"
    )


def _pairs_from_ranks(nodes: int, ranks: np.ndarray) -> np.ndarray:
    """Map ranks 0 .. n(n-1)/2 - 1 of the upper triangle (row-major) to (i, j) pairs, shape (m, 2)."""
    ranks = np.asarray(ranks, dtype=np.int64)
    # Rows start at s(i) = i n - i (i + 1) / 2; invert with the quadratic formula, then correct.
    i = np.floor((2 * nodes - 1 - np.sqrt((2.0 * nodes - 1) ** 2 - 8.0 * ranks)) / 2).astype(np.int64)
    start = i * nodes - i * (i + 1) // 2
    i = np.where(start > ranks, i - 1, i)
    start = i * nodes - i * (i + 1) // 2
    next_start = (i + 1) * nodes - (i + 1) * (i + 2) // 2
    i = np.where(ranks >= next_start, i + 1, i)
    start = i * nodes - i * (i + 1) // 2
    j = ranks - start + i + 1
    return np.stack([i, j], axis=1)


def _gnm(nodes: int, edges: int, rng: np.random.Generator, form: str) -> np.ndarray | sp.csr_array:
    total = nodes * (nodes - 1) // 2
    require_memory(64.0 * edges, f"er: drawing {edges:,} edges")
    ranks = rng.choice(total, size=edges, replace=False) if total else np.zeros(0, dtype=np.int64)
    return graph_from_edges(nodes, _pairs_from_ranks(nodes, np.sort(ranks)), form)


@register_generator("er", reference="P. Erdős & A. Rényi, Publ. Math. Debrecen 6 (1959); E. N. Gilbert (1959)")
def erdos_renyi(
    nodes: int,
    degree: float | None = None,
    p: float | None = None,
    connected: bool = False,
    seed: SeedLike = None,
    form: str = "auto",
) -> np.ndarray | sp.csr_array:
    """Erdős–Rényi graph: G(n, m) with m = round(n d / 2), or G(n, p) when ``p`` is given.

    Parameters
    ----------
    nodes : int
    degree : float, optional
        Mean degree d (0 <= d <= n - 1); exactly one of ``degree`` and ``p`` must be given.
    p : float, optional
        Edge probability in [0, 1].
    connected : bool
        Redraw (up to 100 times) until the graph is connected.
    seed : int, numpy.random.Generator or None
    """
    nodes = as_int(nodes, "er", "nodes")
    require(nodes >= 1, "er", f"nodes must be at least 1, got {nodes}")
    require((degree is None) != (p is None), "er", "give exactly one of degree and p")
    if p is not None:
        require(0.0 <= p <= 1.0, "er", f"p must be in [0, 1], got {p}")
    else:
        require(
            0 <= degree <= nodes - 1,
            "er",
            f"degree must satisfy 0 <= degree <= nodes - 1, got degree={degree}, nodes={nodes}",
        )
    rng = as_generator(seed)
    total = nodes * (nodes - 1) // 2
    for _ in range(MAX_CONNECT_ATTEMPTS if connected else 1):
        edges = int(rng.binomial(total, p)) if p is not None else int(round(nodes * degree / 2))
        adjacency = _gnm(nodes, edges, rng, form)
        if not connected or is_connected(adjacency):
            return adjacency
    raise no_graph_error("er", nodes, degree if p is None else f"(p={p})")


@register_generator("ws", reference="D. J. Watts & S. H. Strogatz, Nature 393 (1998)")
def watts_strogatz(
    nodes: int, degree: int, p: float, seed: SeedLike = None, form: str = "auto"
) -> np.ndarray | sp.csr_array:
    """Watts–Strogatz small world: a ring lattice whose edges (u, u + j) are rewired with probability p.

    For j = 1 .. d/2 and each node u in order, with probability p the edge (u, u + j) is replaced
    by (u, w) with w uniform among nodes that are neither u nor already adjacent to u (skipped
    when u is adjacent to every node). The edge count n d / 2 is preserved.
    """
    nodes, degree = as_int(nodes, "ws", "nodes"), as_int(degree, "ws", "degree")
    require(degree % 2 == 0, "ws", f"degree must be even, got {degree}")
    require(2 <= degree < nodes, "ws", f"degree must satisfy 2 <= degree < nodes, got degree={degree}, nodes={nodes}")
    require(0.0 <= p <= 1.0, "ws", f"p must be in [0, 1], got {p}")
    rng = as_generator(seed)
    require_memory(120.0 * nodes * degree, f"ws: neighbour sets of {nodes:,} nodes")
    neighbours = [set() for _ in range(nodes)]
    for u in range(nodes):
        for j in range(1, degree // 2 + 1):
            v = (u + j) % nodes
            neighbours[u].add(v)
            neighbours[v].add(u)
    for j in range(1, degree // 2 + 1):
        for u in range(nodes):
            v = (u + j) % nodes
            if rng.random() >= p or v not in neighbours[u] or len(neighbours[u]) >= nodes - 1:
                continue
            w = int(rng.integers(nodes))
            while w == u or w in neighbours[u]:
                w = int(rng.integers(nodes))
            neighbours[u].discard(v)
            neighbours[v].discard(u)
            neighbours[u].add(w)
            neighbours[w].add(u)
    edges = [(u, v) for u in range(nodes) for v in neighbours[u] if u < v]
    return graph_from_edges(nodes, np.array(edges, dtype=np.int64), form)
