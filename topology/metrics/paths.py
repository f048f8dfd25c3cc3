"""All-pairs shortest-path statistics by bit-parallel breadth-first search.

Every node carries one bit per source node of its own graph, packed into uint64 words. One BFS
level is a gather of the neighbours' frontier words and an OR-reduction, so all n sources
advance together and a (B, n, n) stack of small graphs is handled as one disjoint union. The
work is O(diameter * nnz * n / 64) word operations, done in numpy without Python loops over
nodes, which is why it beats per-source BFS for dense-enough batches and for one large graph.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from topology.metrics.threads import map_on_threads, usable_cores

#: Upper bound, in bytes, for the gathered neighbour words of one BFS level.
GATHER_BUDGET_BYTES = 128 * 2**20


@dataclass(frozen=True)
class PathStats:
    """Shortest-path totals per graph.

    Attributes
    ----------
    distance_sum : numpy.ndarray of int64, shape (B,)
        Sum of d(u, v) over ordered reachable pairs u != v.
    reachable_pairs : numpy.ndarray of int64, shape (B,)
        Number of ordered pairs u != v with a path.
    max_distance : numpy.ndarray of int64, shape (B,)
        Largest finite distance (the diameter when the graph is connected).
    nodes : int
        Nodes per graph, n.
    """

    distance_sum: np.ndarray
    reachable_pairs: np.ndarray
    max_distance: np.ndarray
    nodes: int

    @property
    def connected(self) -> np.ndarray:
        """Boolean (B,): every ordered pair is reachable."""
        return self.reachable_pairs == self.nodes * (self.nodes - 1)

    @property
    def aspl(self) -> np.ndarray:
        """Mean shortest-path length over ordered pairs; ``inf`` where disconnected."""
        pairs = self.nodes * (self.nodes - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.distance_sum / pairs if pairs else np.zeros(len(self.distance_sum))
        return np.where(self.connected, mean, np.inf)

    @property
    def diameter(self) -> np.ndarray:
        """Largest distance; ``inf`` where disconnected."""
        return np.where(self.connected, self.max_distance.astype(float), np.inf)


def _neighbour_or(
    padded_frontier: np.ndarray, indptr: np.ndarray, padded_indices: np.ndarray, regular_degree: int | None
) -> np.ndarray:
    """Row v of the result is the OR of the frontier rows of v's neighbours.

    ``padded_frontier`` is (N + 1, W) with an all-zero last row, and ``padded_indices`` ends
    with the index N of that row, so every segment start given to ``reduceat`` is valid and a
    segment that runs to the end of the array only adds zeros. Returns (N, W).
    """
    nodes = len(indptr) - 1
    if regular_degree is not None:
        gathered = padded_frontier[padded_indices[:-1]].reshape(nodes, regular_degree, padded_frontier.shape[1])
        return np.bitwise_or.reduce(gathered, axis=1)
    reduced = np.bitwise_or.reduceat(padded_frontier[padded_indices], indptr[:-1], axis=0)
    reduced[indptr[:-1] == indptr[1:]] = 0  # reduceat returns a stray row for empty segments
    return reduced


#: Bytes of one (nodes, words) frontier array that the padded-slot BFS aims for. With each
#: thread's arrays kept from chunk to chunk, wider chunks pay (fewer, longer numpy calls) up to a
#: few MB. Exact paths on 2 cores of an AMD EPYC: one 10,000-node 8-regular graph 0.037-0.044 s
#: at 1 MB (13 words per chunk), 0.059-0.066 s at 3 words, 0.048-0.056 s at 20; a 100,000-node
#: one 6.0 s at 1 word (0.8 MB), 5.1 s at 2 and 4, 9.2 s at 8.
SLOT_CHUNK_BYTES = 2**20
#: The padded-slot BFS is used while the largest degree is at most this many times the mean.
SLOT_MAX_SKEW = 4.0


def neighbour_slots(indptr: np.ndarray, indices: np.ndarray, nodes: int) -> np.ndarray | None:
    """Neighbour lists as a (max degree, nodes) int64 array padded with ``nodes`` (the index of
    an all-zero frontier row), or None when the degrees are too skewed for padding to pay."""
    degrees = np.diff(indptr)
    if not len(degrees) or not len(indices):
        return None
    largest = int(degrees.max())
    if largest > SLOT_MAX_SKEW * max(1.0, float(degrees.mean())):
        return None
    slots = np.full((largest, nodes), nodes, dtype=np.int64)
    position = np.arange(len(indices)) - np.repeat(indptr[:-1], degrees)
    slots[position, np.repeat(np.arange(nodes), degrees)] = indices[: len(position)]
    return slots


class _SlotGather:
    """``out[v] = OR of frontier[u] over v's neighbours u`` by one ``take`` per neighbour slot
    into a preallocated scratch array (several times faster than one gather of every edge)."""

    def __init__(self, slots: np.ndarray, scratch: np.ndarray) -> None:
        self.slots = slots
        self.tmp = scratch  # (nodes, words)

    def __call__(self, padded_frontier: np.ndarray, out: np.ndarray) -> None:
        np.take(padded_frontier, self.slots[0], axis=0, out=out)
        for row in self.slots[1:]:
            np.take(padded_frontier, row, axis=0, out=self.tmp)
            out |= self.tmp


class _ThreadArrays(threading.local):
    """Each thread's BFS arrays by name and shape, kept from one chunk of sources to the next:
    fresh memory costs more than the levels' work on some machines (on a virtual machine here,
    allocating four frontier-sized arrays per chunk made a 10,000-node graph's exact paths take
    anywhere from 0.06 to 0.3 s)."""

    def __init__(self) -> None:
        self.arrays: dict[tuple[str, tuple[int, ...]], np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The thread's uint64 array ``name`` of ``shape`` (zeros when first made; after that,
        whatever its last user left in it)."""
        key = (name, shape)
        if key not in self.arrays:
            self.arrays[key] = np.zeros(shape, dtype=np.uint64)
        return self.arrays[key]


class _BitBfs:
    """One graph's adjacency prepared for bit-parallel BFS: 64 sources per machine word, each
    level one OR of the neighbours' frontier words (by neighbour slot where degrees allow)."""

    def __init__(self, csr: sp.csr_array) -> None:
        self.nodes = csr.shape[0]
        self.indptr = np.asarray(csr.indptr, dtype=np.int64)
        self.padded_indices = np.append(np.asarray(csr.indices, dtype=np.int64), self.nodes)
        degrees = np.diff(self.indptr)
        self.regular_degree = int(degrees[0]) if len(degrees) and np.all(degrees == degrees[0]) else None
        self.slots = neighbour_slots(self.indptr, self.padded_indices[:-1], self.nodes)
        self.arrays = _ThreadArrays()

    def start_frontier(self, words: int) -> np.ndarray:
        """This thread's zeroed (nodes + 1, words) frontier, for the caller to set its sources in
        and pass to :meth:`levels` (the last row stays zero)."""
        frontier = self.arrays.get("frontier", (self.nodes + 1, words))
        frontier.fill(0)
        return frontier

    def words_per_chunk(self, words: int) -> int:
        """Source words per pass that keep the frontier (or the gathered edges) within budget, and
        leave at least one pass per usable core where there are enough words."""
        if self.slots is not None:
            budget = SLOT_CHUNK_BYTES // (8 * self.nodes)
        else:
            budget = GATHER_BUDGET_BYTES // (8 * max(1, len(self.padded_indices) - 1))
        return max(1, min(words, budget, -(-words // usable_cores())))

    def levels(self, frontier: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """``(level, newly reached bits)`` for level 1, 2, ... from the sources set in ``frontier``
        (from :meth:`start_frontier`); the caller stops when nothing new is reached, or when
        every source has reached every node it can (the next level would be empty).

        Two padded buffers take turns as the frontier read and the one written, so a level copies
        nothing; the yielded array is overwritten by the level after next. Only their first
        ``nodes`` rows are ever written, so the second's last row stays zero from its making.
        """
        words = frontier.shape[1]
        scratch = self.arrays.get("scratch", (self.nodes, words))
        gather = _SlotGather(self.slots, scratch) if self.slots is not None else None
        unvisited = np.invert(frontier[: self.nodes], out=self.arrays.get("unvisited", (self.nodes, words)))
        buffers = (frontier, self.arrays.get("second frontier", frontier.shape))
        level = 0
        while True:
            level += 1
            read, written = buffers[(level + 1) % 2], buffers[level % 2]
            new = written[: self.nodes]
            if gather is not None:
                gather(read, out=new)
            else:
                new[...] = _neighbour_or(read, self.indptr, self.padded_indices, self.regular_degree)
            new &= unvisited
            unvisited ^= new  # new is a subset of unvisited: this clears its bits
            yield level, new


def path_stats(csr: sp.csr_array, group_size: int, progress: Callable[[int, int], None] | None = None) -> PathStats:
    """Shortest-path statistics of each ``group_size``-node block of a block-diagonal graph.

    Parameters
    ----------
    csr : scipy.sparse.csr_array, shape (B * n, B * n)
        Symmetric adjacency of a disjoint union of B graphs of n = ``group_size`` nodes each,
        graph b owning nodes b*n .. b*n + n - 1, with no edges between blocks.
    group_size : int
        n, the nodes per graph.
    progress : callable, optional
        Called as ``progress(done, total)`` at the start (done = 0) and after each chunk of sources
        (words of 64 sources per node, as many as fit the gather budget), e.g. to print a time estimate after the first.

    Returns
    -------
    PathStats
    """
    total = csr.shape[0]
    if group_size <= 0 or total % group_size:
        raise ValueError(f"{total} nodes do not split into graphs of {group_size}")
    groups = total // group_size
    distance_sum = np.zeros(groups, dtype=np.int64)
    reachable = np.zeros(groups, dtype=np.int64)
    max_distance = np.zeros(groups, dtype=np.int64)
    if csr.nnz == 0:
        return PathStats(distance_sum, reachable, max_distance, group_size)

    bfs = _BitBfs(csr)
    words = -(-group_size // 64)
    words_per_chunk = bfs.words_per_chunk(words)
    if progress is not None:
        progress(0, words)
    local = np.arange(total) % group_size

    def chunk_totals(first_word: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distance sums, reached pairs and eccentricities per graph from one chunk of sources:
        local indices 64*first_word .. 64*(first_word+chunk) - 1."""
        chunk = min(words_per_chunk, words - first_word)
        sums, reached, farthest = (np.zeros(groups, dtype=np.int64) for _ in range(3))
        frontier = bfs.start_frontier(chunk)
        is_source = (local >= 64 * first_word) & (local < 64 * (first_word + chunk))
        word = local[is_source] // 64 - first_word
        frontier[np.flatnonzero(is_source), word] = np.left_shift(
            np.uint64(1), (local[is_source] % 64).astype(np.uint64)
        )
        reachable_here = int(is_source.sum()) * (group_size - 1)
        for level, new in bfs.levels(frontier):
            # One reduction per graph over its contiguous block of rows (a per-row sum of a few
            # words first was seven times slower on the 10,000-node graph).
            per_graph = np.bitwise_count(new).reshape(groups, -1).sum(axis=1, dtype=np.int64)
            if not per_graph.any():
                break
            sums += level * per_graph
            reached += per_graph
            farthest[per_graph > 0] = level
            if reached.sum() == reachable_here:
                break
        return sums, reached, farthest

    # Chunks run on the usable cores; integer sums and maxima do not depend on their order.
    firsts = range(0, words, words_per_chunk)
    for first_word, (sums, reached, farthest) in zip(firsts, map_on_threads(chunk_totals, firsts)):
        distance_sum += sums
        reachable += reached
        np.maximum(max_distance, farthest, out=max_distance)
        if progress is not None:
            progress(min(words, first_word + words_per_chunk), words)
    return PathStats(distance_sum, reachable, max_distance, group_size)


#: Rows unpacked at once when counting newly reached nodes per source (bounds memory).
UNPACK_ROWS = 2**16


@dataclass(frozen=True)
class SourceDistances:
    """Breadth-first search totals from a set of source nodes of one graph.

    Attributes
    ----------
    sources : numpy.ndarray of int64, shape (K,)
    distance_sum : numpy.ndarray of int64, shape (K,)
        Sum of d(s, v) over the nodes v != s that s reaches, in hops.
    reached : numpy.ndarray of int64, shape (K,)
        Nodes v != s that s reaches.
    eccentricity : numpy.ndarray of int64, shape (K,)
        Largest distance from s to a node it reaches.
    nodes : int
    """

    sources: np.ndarray
    distance_sum: np.ndarray
    reached: np.ndarray
    eccentricity: np.ndarray
    nodes: int


def _reached_per_bit(new: np.ndarray, words: int) -> np.ndarray:
    """Nodes newly reached by each of the ``64 * words`` sources (bits), unpacked in row blocks."""
    per_bit = np.zeros(64 * words, dtype=np.int64)
    for start in range(0, new.shape[0], UNPACK_ROWS):
        block = new[start : start + UNPACK_ROWS]
        if block.any():
            per_bit += np.unpackbits(block.view(np.uint8), axis=1, bitorder="little").sum(axis=0, dtype=np.int64)
    return per_bit


def source_distances(csr: sp.csr_array, sources: np.ndarray) -> SourceDistances:
    """Per-source BFS totals of one graph, 64 sources per machine word (as :func:`path_stats`).

    Parameters
    ----------
    csr : scipy.sparse.csr_array, shape (n, n)
        Symmetric adjacency with sorted indices.
    sources : array of int, shape (K,)
        Distinct source nodes.

    Returns
    -------
    SourceDistances
    """
    nodes = csr.shape[0]
    sources = np.asarray(sources, dtype=np.int64)
    count = len(sources)
    distance_sum = np.zeros(count, dtype=np.int64)
    reached = np.zeros(count, dtype=np.int64)
    eccentricity = np.zeros(count, dtype=np.int64)
    bfs = _BitBfs(csr)
    words = -(-count // 64)
    words_per_chunk = bfs.words_per_chunk(words)

    def chunk_totals(first_word: int) -> None:
        """BFS from one chunk of sources; each chunk writes only its own sources' entries."""
        chunk = min(words_per_chunk, words - first_word)
        positions = np.arange(64 * first_word, min(count, 64 * (first_word + chunk)))
        frontier = bfs.start_frontier(chunk)
        bit = np.left_shift(np.uint64(1), (positions % 64).astype(np.uint64))
        np.bitwise_or.at(frontier, (sources[positions], positions // 64 - first_word), bit)
        for level, new in bfs.levels(frontier):
            counts = _reached_per_bit(new, chunk)[positions - 64 * first_word]
            if not counts.any():
                break
            distance_sum[positions] += level * counts
            reached[positions] += counts
            eccentricity[positions[counts > 0]] = level
            if np.all(reached[positions] == nodes - 1):
                break

    for _ in map_on_threads(chunk_totals, range(0, words, words_per_chunk)):
        pass
    return SourceDistances(sources, distance_sum, reached, eccentricity, nodes)


@dataclass(frozen=True)
class SampledPathStats:
    """ASPL of one graph estimated from K uniformly sampled BFS sources, with a 95% interval.

    The ASPL is the mean over sources s of m(s) = (sum of d(s, v)) / (n - 1). Sampling K of the
    n sources without replacement, the estimate is the sample mean of m and the interval is
    mean ± t(0.975, K - 1) × sd / sqrt(K) × sqrt((n - K) / (n - 1)) (finite population
    correction; 0 width when K = n). Disconnected graphs give ``inf`` (connectivity is exact).
    """

    aspl: float
    ci_low: float
    ci_high: float
    sources: int
    connected: bool
    max_eccentricity: int


def sampled_path_stats(csr: sp.csr_array, sources: int, seed: int = 0) -> SampledPathStats:
    """Estimate the ASPL of one graph from ``sources`` BFS sources drawn with ``seed``."""
    import scipy.sparse.csgraph as csgraph
    import scipy.stats

    nodes = csr.shape[0]
    count = min(int(sources), nodes)
    connected = nodes <= 1 or csgraph.connected_components(csr, directed=False, return_labels=False) == 1
    if not connected:
        return SampledPathStats(float("inf"), float("inf"), float("inf"), count, False, 0)
    chosen = np.sort(np.random.default_rng(seed).choice(nodes, size=count, replace=False))
    totals = source_distances(csr, chosen)
    per_source = totals.distance_sum / max(1, nodes - 1)
    mean = float(per_source.mean())
    if count < 2 or count == nodes:
        return SampledPathStats(mean, mean, mean, count, True, int(totals.eccentricity.max()))
    half = float(
        scipy.stats.t.ppf(0.975, count - 1)
        * per_source.std(ddof=1)
        / np.sqrt(count)
        * np.sqrt((nodes - count) / (nodes - 1))
    )
    return SampledPathStats(mean, mean - half, mean + half, count, True, int(totals.eccentricity.max()))
