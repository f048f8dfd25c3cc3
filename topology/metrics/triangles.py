"""Triangles through each node of a sparse graph, by whichever of two methods costs less on
its degrees (docs/architecture.md, "Graphs, metrics and masks").

* **Wedges by degree ordering.** Each edge is oriented from its lower-ranked end to its higher
  (rank: degree, then node id), so a hub keeps a short out-list. A triangle is found exactly
  once, at its lowest-ranked corner v, as a wedge (v; a, b) of two out-neighbours whose edge
  a -> b exists. Cost: W = sum_v C(out_v, 2) wedge look-ups (about m * d / 4 on a d-regular
  graph), each by sorting the wedges' keys and searching the sorted edge keys, in chunks of
  :data:`CHUNK_WEDGES`.
* **Products.** (A @ A * A) row sums / 2, in row blocks of :data:`PRODUCT_ROWS`. Cost: about
  P = sum_v deg_v^2 multiply-adds.

:func:`triangles_per_node` computes W and P from the degrees (O(m)) and runs the method its cost
model calls cheaper; where wedges would be many (:data:`ZERO_CHECK` per edge) it first tests
whether the graph has any triangle at all. Measured on a 2-core AMD EPYC
(2026-12-02): a wedge costs 130-270 ns; a product about 1 ns per multiply-add of P plus 150 ns
per entry of A @ A, of which there are at most min(P, n^2). So wedges run when W <=
:data:`WEDGE_SHARE` * (min(P, n^2) + P / 150): a random 8-regular graph of 10^6 nodes (W = 9.3M,
P = 64M: 2.9 s instead of 9.7 s), not ResNet-50's whole-network graph (27,563 nodes, W = 4.1e9,
P = 7.6e10: products about 100 s, wedges 547 s).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from topology.graph import sparse_index_type
from topology.metrics.threads import dealt, map_on_threads

#: Wedges looked up at once (bounds the working memory to about 60 bytes per wedge).
CHUNK_WEDGES = 2**20


#: A wedge's cost as a share of a product entry's (150 ns): see the module doc.
WEDGE_SHARE = 0.75
#: Rows of A multiplied at once by the product method (bounds A @ A's size).
PRODUCT_ROWS = 2**16
#: Above this many wedges per stored edge, a graph is first tested for having any triangle
#: (:func:`has_triangle`), at a cost far below the wedges' where hubs rank last (ResNet-50's
#: whole-network graph: 8.8e6 list entries against 4.1e9 wedges, 0.07 s). Residual networks'
#: whole-network graphs have no triangle.
ZERO_CHECK = 10
#: List entries per row block of the triangle test (bounds each block's product; four or more
#: blocks share ResNet-50's whole-network graph out among the threads).
PATHS_PER_BLOCK = 2**21


def triangles_per_node(csr: sp.csr_array, chunk: int = CHUNK_WEDGES, method: str | None = None) -> np.ndarray:
    """Triangles through each node (float64, length n) of a simple undirected graph given as a
    symmetric 0/1 CSR adjacency without self-loops; ``method`` ("wedges" or "products") forces
    one, else the cheaper is chosen (see module doc)."""
    if csr.nnz and not csr.data.all():  # a stored zero is no edge
        csr = csr.copy()
        csr.eliminate_zeros()
    nodes = csr.shape[0]
    degree = np.diff(csr.indptr).astype(np.int64)
    order = np.argsort(degree, kind="stable")
    label = np.int32 if nodes < 2**31 else np.int64  # ranks and rows in the narrowest type
    rank = np.empty(nodes, dtype=label)
    rank[order] = np.arange(nodes, dtype=label)
    forward, out = _orientation(csr, rank)
    if method is None:
        wedges, products = int((out * (out - 1) // 2).sum()), int((degree * degree).sum())
        if wedges > ZERO_CHECK * max(csr.nnz, 1) and not has_triangle(
            oriented_adjacency(csr, forward, out), oriented_adjacency(csr, ~forward, degree - out)
        ):
            return np.zeros(nodes)
        cheaper = wedges <= WEDGE_SHARE * (min(products, nodes * nodes) + products / 150)
        method = "wedges" if cheaper else "products"
    if method == "products":
        return _by_products(csr)
    tails = np.repeat(rank, out).astype(np.int64)  # the forward entries' rows, in row order
    counts = _by_wedges(np.sort(tails * nodes + rank[csr.indices[forward]]), nodes, chunk)
    result = np.empty(nodes)
    result[order] = counts  # counted by rank: back to node ids
    return result


#: Edges whose two neighbour bitsets are intersected at once by :func:`stack_triangles_per_node`
#: (with w words per bitset, about 16 * w bytes per edge of working memory).
BITSET_EDGES = 2**20


def stack_triangles_per_node(stack: np.ndarray, union: sp.csr_array) -> np.ndarray:
    """Triangles through each node (float64, (B, n)) of a (B, n, n) stack of 0/1 adjacencies,
    given also as ``union``, their block-diagonal CSR.

    Each node's neighbours are packed into bits, w = ceil(n / 64) words; the triangles at v are
    half the sum, over v's neighbours u, of the popcount of N(u) & N(v). Cost: nnz * w word
    operations (1,000 graphs of 64 nodes: 1 ms against 10 ms by wedges, on a 2-core AMD EPYC).
    """
    count, nodes = stack.shape[0], stack.shape[1]
    words = -(-nodes // 64)
    packed = np.zeros((count, nodes, 8 * words), dtype=np.uint8)
    packed[:, :, : -(-nodes // 8)] = np.packbits(stack, axis=2, bitorder="little")
    bitsets = packed.view(np.uint64).reshape(count * nodes, words)
    columns = np.asarray(union.indices, dtype=np.int64)  # global: graph offset + local column
    rows = np.repeat(np.arange(count * nodes), np.diff(union.indptr))
    common = np.empty(len(columns), dtype=np.int64)
    for start in range(0, len(columns), BITSET_EDGES):
        stop = start + BITSET_EDGES
        shared = bitsets[rows[start:stop]] & bitsets[columns[start:stop]]
        common[start:stop] = np.bitwise_count(shared).sum(axis=1, dtype=np.int64)
    per_node = np.bincount(rows, weights=common, minlength=count * nodes) / 2.0
    return per_node.reshape(count, nodes)


#: Stored entries oriented at once by :func:`_orientation` (its temporaries, reused block after
#: block, stay a few MB however large the graph).
ORIENT_ENTRIES = 2**20


def _orientation(csr: sp.csr_array, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which stored entries point from their row to a higher rank (bool, one per entry), and how
    many per row (int64 out-degrees), worked out in row blocks of about :data:`ORIENT_ENTRIES`
    entries. Fresh memory costs more than the comparisons on a large graph (ResNet-50's whole-network
    graph: 17M entries, whose row and rank arrays of 17M each took longer to allocate than to fill)."""
    indptr = np.asarray(csr.indptr, dtype=np.int64)
    nodes, entries = csr.shape[0], int(indptr[-1])
    forward = np.empty(entries, dtype=bool)
    out = np.zeros(nodes, dtype=np.int64)
    cuts = np.searchsorted(indptr, np.arange(ORIENT_ENTRIES, entries, ORIENT_ENTRIES), "right") - 1
    bounds = np.unique(np.concatenate([[0], cuts, [nodes]]))
    for first, last in zip(bounds[:-1], bounds[1:]):
        start, stop = indptr[first], indptr[last]
        block = forward[start:stop]
        row_ranks = np.repeat(rank[first:last], np.diff(indptr[first : last + 1]))
        np.less(row_ranks, rank[csr.indices[start:stop]], out=block)
        running = np.zeros(stop - start + 1, dtype=np.int64)
        np.cumsum(block, out=running[1:])
        out[first:last] = np.diff(running[indptr[first : last + 1] - start])
    return forward, out


def oriented_adjacency(csr: sp.csr_array, forward: np.ndarray, out: np.ndarray) -> sp.csr_array:
    """The adjacency keeping only its stored entries where ``forward`` (each edge once, from its
    lower-ranked end), with ``out`` of them per row: built row by row, no sorting."""
    index_type = sparse_index_type(csr.shape, int(out.sum()))
    indptr = np.zeros(csr.shape[0] + 1, dtype=index_type)
    np.cumsum(out, out=indptr[1:])
    data = np.ones(int(indptr[-1]), dtype=bool)  # boolean products: a path exists or not
    return sp.csr_array((data, csr.indices[forward].astype(index_type, copy=False), indptr), shape=csr.shape)


def has_triangle(oriented: sp.csr_array, reverse: sp.csr_array, paths_per_block: int = PATHS_PER_BLOCK) -> bool:
    """Whether the graph whose edges, oriented by rank, are ``oriented`` (O; ``reverse`` is its
    transpose, the adjacency's other half) has a triangle v -> u -> w with v -> w, looked for at
    each triangle's middle corner u by whichever of two sparse products costs less for that u:

    * row u of (O^T @ O) * O: for each v -> u, the out-list of v (cost: the sum of their
      out-degrees);
    * row u of (O @ O^T) * O^T: for each u -> w, the in-list of w (the sum of their in-degrees).

    Both costs come from two sparse products with degree vectors. On ResNet-50's whole-network
    graph the cheaper side sums to 8.8e6 list entries, against 1.9e8 paths v -> u -> w for the
    product (O @ O) * O. The rows run in blocks of about ``paths_per_block`` entries, dealt out to
    one thread per usable core (scipy's product releases the GIL); a thread stops at its first
    triangle.
    """
    via_in = reverse @ np.diff(oriented.indptr).astype(np.int64)
    via_out = oriented @ np.diff(reverse.indptr).astype(np.int64)
    sides = ((reverse, oriented, via_in), (oriented, reverse, via_out))
    pick_in = via_in <= via_out
    blocks = []
    for (left, right, cost), picked in zip(sides, (pick_in, ~pick_in)):
        middles = np.flatnonzero(picked & (cost > 0))
        blocks += [(left, right, rows) for rows in _blocks_by_cost(middles, cost[middles], paths_per_block)]

    def closes(share: list[tuple[sp.csr_array, sp.csr_array, np.ndarray]]) -> bool:
        for left, right, rows in share:
            if (left[rows] @ right).multiply(right[rows]).nnz:
                return True
        return False

    return any(list(map_on_threads(closes, dealt(blocks))))


def _blocks_by_cost(items: np.ndarray, cost: np.ndarray, per_block: int) -> list[np.ndarray]:
    """``items`` cut, in order, into runs of about ``per_block`` summed ``cost`` each."""
    if not len(items):
        return []
    running = np.cumsum(cost)
    cuts = np.searchsorted(running, np.arange(per_block, int(running[-1]), per_block), "right")
    return [part for part in np.split(items, np.unique(cuts)) if len(part)]


def _by_products(csr: sp.csr_array) -> np.ndarray:
    adjacency = sp.csr_array((np.ones(csr.nnz, dtype=np.int32), csr.indices, csr.indptr), shape=csr.shape)
    closed_walks = np.empty(adjacency.shape[0], dtype=np.float64)
    for start in range(0, adjacency.shape[0], PRODUCT_ROWS):
        rows = adjacency[start : start + PRODUCT_ROWS]
        closed_walks[start : start + len(rows.indptr) - 1] = np.asarray(
            (rows @ adjacency).multiply(rows).sum(axis=1)
        ).ravel()
    return closed_walks / 2.0


def _by_wedges(keys: np.ndarray, nodes: int, chunk: int) -> np.ndarray:
    """Triangles per node rank from the sorted oriented edge keys (tail rank * n + head rank).

    The wedges are looked up a chunk at a time, the chunks dealt out to one thread per usable
    core (numpy's sort and search release the GIL), each adding into its own counts; the counts
    are integers, so the order they are added in does not matter.
    """
    tail, head = keys // nodes, keys % nodes
    starts = np.searchsorted(tail, np.arange(nodes + 1))
    partners = np.repeat(starts[1:], np.diff(starts)) - np.arange(len(keys)) - 1  # later heads in its list
    bounds = np.concatenate([[0], np.cumsum(partners)])
    spans = []
    position = 0
    while position < len(keys):
        stop = min(len(keys), max(position + 1, int(np.searchsorted(bounds, bounds[position] + chunk, "right")) - 1))
        spans.append((position, stop))
        position = stop

    def count(span: tuple[int, int]) -> np.ndarray:
        position, stop = span
        repeats = partners[position:stop]
        first = np.repeat(np.arange(position, stop), repeats)
        second = first + 1 + np.arange(len(first)) - np.repeat(bounds[position:stop] - bounds[position], repeats)
        a, b = head[first], head[second]
        closed = _is_edge(keys, a * nodes + b)
        corners = np.concatenate([tail[first[closed]], a[closed], b[closed]])
        return np.bincount(corners, minlength=nodes)

    def count_all(share: list[tuple[int, int]]) -> np.ndarray:
        counts = np.zeros(nodes, dtype=np.int64)
        for span in share:
            counts += count(span)
        return counts

    return sum(map_on_threads(count_all, dealt(spans)))  # each thread its own counts


def _is_edge(keys: np.ndarray, wedges: np.ndarray) -> np.ndarray:
    """Whether each wedge key is among the sorted edge ``keys`` (queries sorted first, so the
    search walks ``keys`` in order)."""
    order = np.argsort(wedges)
    ordered = wedges[order]
    found = np.minimum(np.searchsorted(keys, ordered), len(keys) - 1)
    closed = np.zeros(len(wedges), dtype=bool)
    if len(keys):
        closed[order[keys[found] == ordered]] = True
    return closed
