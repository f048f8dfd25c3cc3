"""Lazily computed shared quantities for a batch of graphs or biadjacencies.

Metric functions read what they need from a batch object (degrees, path statistics, spectra,
triangle counts); each piece is computed once, on first use, for all B graphs together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from topology.graph import as_dense, sparse_index_type
from topology.metrics import paths, spectrum
from topology.metrics.triangles import stack_triangles_per_node, triangles_per_node

#: Graphs with more nodes than this use sparse (ARPACK) eigenvalues instead of dense ones.
DENSE_SPECTRUM_MAX_NODES = 1024


@dataclass(frozen=True)
class PathOptions:
    """How shortest paths are computed.

    Attributes
    ----------
    sample_sources : int
        0: exact (all-pairs BFS). K > 0: the ASPL of a graph with more than K nodes is estimated
        from K random BFS sources with a 95% interval (see ``paths.sampled_path_stats``); its
        diameter is then not computed (NaN).
    seed : int
        Seed of the sampled sources.
    progress : callable, optional
        ``progress(done, total)`` after each chunk of sources of an exact computation.
    metric_progress : callable, optional
        ``metric_progress(metrics, nodes)`` wraps the metrics of one large graph (a sparse one, or
        one computed alone) as they are computed, e.g. in a progress bar naming each.
    """

    sample_sources: int = 0
    seed: int = 0
    progress: Callable[[int, int], None] | None = None
    metric_progress: Callable[[list, int], Iterable] | None = None


class SampledPaths:
    """The path statistics of one graph from sampled sources, in :class:`paths.PathStats`'s shape."""

    def __init__(self, sampled: paths.SampledPathStats) -> None:
        self.sampled = sampled
        self.connected = np.array([sampled.connected])
        self.aspl = np.array([sampled.aspl])
        self.diameter = np.array([np.nan])


class GraphBatch:
    """B undirected simple graphs with the same number of nodes n.

    Parameters
    ----------
    graphs : numpy.ndarray, shape (B, n, n) or (n, n), or scipy.sparse array (n, n)
        Validated symmetric 0/1 adjacency matrices (see ``topology.graph.validate_matrix``).
    dense_spectrum_max_nodes : int
        Graphs larger than this get sparse eigenvalue solvers (one graph at a time).
    path_options : PathOptions, optional
        Exact or sampled shortest paths (sampling needs a batch of one graph).
    smallest_eigenvalue : bool
        Whether lambda_n is wanted; a large graph's solver then also waits for it (else its
        ``adjacency_extremes.lambda_n`` is NaN).
    """

    def __init__(
        self,
        graphs: np.ndarray | sp.sparray,
        dense_spectrum_max_nodes: int = DENSE_SPECTRUM_MAX_NODES,
        path_options: PathOptions | None = None,
        smallest_eigenvalue: bool = True,
    ) -> None:
        self.path_options = path_options or PathOptions()
        self.smallest_eigenvalue = smallest_eigenvalue
        if sp.issparse(graphs):
            self._sparse = sp.csr_array(graphs, dtype=np.int8)
            self._stack = None
            self.count, self.nodes = 1, graphs.shape[0]
        else:
            stack = np.asarray(graphs, dtype=np.uint8)
            if stack.ndim == 2:
                stack = stack[None]
            self._stack = stack
            self._sparse = None
            self.count, self.nodes = stack.shape[0], stack.shape[1]
        self.use_sparse_spectrum = self.nodes > dense_spectrum_max_nodes
        if self.use_sparse_spectrum and self.count != 1:
            raise ValueError(
                f"batches of graphs with more than {dense_spectrum_max_nodes} nodes are computed one at a time"
            )

    @cached_property
    def union_csr(self) -> sp.csr_array:
        """The B graphs as one block-diagonal CSR matrix of B * n nodes (sorted indices)."""
        if self._sparse is not None:
            if self._sparse.has_sorted_indices:
                return self._sparse  # read only by the metrics: no copy of a large graph
            csr = self._sparse.copy()
            csr.sort_indices()
            return csr
        nodes, total = self.nodes, self.count * self.nodes
        # Flat positions in (graph, row, column) order are CSR order: the global row is
        # position // n, the global column the local one plus the graph's offset.
        flat = np.flatnonzero(self._stack.view(bool))
        global_rows = flat // nodes
        global_cols = flat % nodes + (flat // (nodes * nodes)) * nodes
        index_type = sparse_index_type((total, total), len(flat))
        indptr = np.zeros(total + 1, dtype=index_type)
        np.cumsum(np.bincount(global_rows, minlength=total), out=indptr[1:])
        data = np.ones(len(flat), dtype=np.int8)
        return sp.csr_array((data, global_cols.astype(index_type), indptr), shape=(total, total))

    @cached_property
    def degrees(self) -> np.ndarray:
        """Node degrees, int64 (B, n)."""
        if self._stack is not None:
            return self._stack.sum(axis=2, dtype=np.int64)
        return np.diff(self._sparse.indptr).astype(np.int64)[None]

    @cached_property
    def edges(self) -> np.ndarray:
        """Edge counts, int64 (B,)."""
        return self.degrees.sum(axis=1) // 2

    @property
    def sampled(self) -> bool:
        """Whether shortest paths are estimated from sampled sources (see :class:`PathOptions`)."""
        return 0 < self.path_options.sample_sources < self.nodes

    @cached_property
    def path_stats(self) -> paths.PathStats | SampledPaths:
        """Shortest-path totals for every graph (bit-parallel BFS), or the sampled estimate."""
        if self.sampled:
            if self.count != 1:
                raise ValueError("sampled shortest paths are computed one graph at a time")
            options = self.path_options
            return SampledPaths(paths.sampled_path_stats(self.union_csr, options.sample_sources, options.seed))
        return paths.path_stats(self.union_csr, self.nodes, self.path_options.progress)

    @cached_property
    def triangles(self) -> np.ndarray:
        """Triangles through each node, float64 (B, n): a dense stack's by neighbour bitsets, a
        sparse graph's by degree ordering or products (:mod:`.triangles`)."""
        if self._stack is not None:
            return stack_triangles_per_node(self._stack, self.union_csr)
        return triangles_per_node(self.union_csr).reshape(self.count, self.nodes)

    @cached_property
    def adjacency_extremes(self) -> spectrum.AdjacencyExtremes:
        """lambda_1, lambda_2, lambda_n for every graph."""
        if self.use_sparse_spectrum:
            return spectrum.sparse_adjacency_extremes(self.union_csr, self.smallest_eigenvalue)
        return spectrum.dense_adjacency_extremes(self._dense_stack)

    @cached_property
    def algebraic_connectivity(self) -> np.ndarray:
        """Second-smallest Laplacian eigenvalue, float64 (B,)."""
        if self.use_sparse_spectrum:
            degrees = self.degrees[0]
            # A regular graph's answer is d - lambda_2: share the cached extremes with spectral_gap
            # (computed once, whichever metric asks first).
            lambda_2 = None
            if "adjacency_extremes" in self.__dict__ or degrees.min() == degrees.max():
                lambda_2 = float(self.adjacency_extremes.lambda_2[0])
            return spectrum.sparse_algebraic_connectivity(self.union_csr, degrees, lambda_2)
        regular = np.isfinite(self.regular_degree)
        result = np.empty(self.count)
        # For a d-regular graph L = dI - A, so its second-smallest eigenvalue is d - lambda_2.
        if regular.any():
            result[regular] = self.regular_degree[regular] - self.adjacency_extremes.lambda_2[regular]
        if not regular.all():
            irregular = ~regular
            result[irregular] = spectrum.dense_algebraic_connectivity(
                self._dense_stack[irregular], self.degrees[irregular]
            )
        return result

    @cached_property
    def regular_degree(self) -> np.ndarray:
        """The common degree of each regular graph, NaN where the graph is not regular (B,)."""
        regular = self.degrees.min(axis=1) == self.degrees.max(axis=1)
        return np.where(regular, self.degrees[:, 0].astype(float), np.nan)

    @property
    def _dense_stack(self) -> np.ndarray:
        if self._stack is not None:
            return self._stack
        return self._sparse.toarray().astype(np.uint8)[None]


#: Biadjacencies with more entries than this get their top singular values from ARPACK.
DENSE_SVD_MAX_ENTRIES = 2**20


class BipartiteBatch:
    """B bipartite layer graphs given as (B, n_out, n_in) 0/1 biadjacencies."""

    def __init__(self, matrices: np.ndarray | sp.sparray, dense_svd_max_entries: int = DENSE_SVD_MAX_ENTRIES) -> None:
        # Layer graphs are at most a few thousand channels a side; the expansion sampler wants rows.
        stack = as_dense(matrices, "biadjacency") if sp.issparse(matrices) else np.asarray(matrices, dtype=np.uint8)
        if stack.ndim == 2:
            stack = stack[None]
        self._stack = stack
        self.count, self.nodes_out, self.nodes_in = stack.shape
        self.use_sparse_svd = self.nodes_out * self.nodes_in > dense_svd_max_entries

    @property
    def matrices(self) -> np.ndarray:
        """The biadjacencies, uint8 (B, n_out, n_in)."""
        return self._stack

    @cached_property
    def out_degrees(self) -> np.ndarray:
        """Inputs per output channel (row sums), int64 (B, n_out)."""
        return self._stack.sum(axis=2, dtype=np.int64)

    @cached_property
    def in_degrees(self) -> np.ndarray:
        """Outputs per input channel (column sums), int64 (B, n_in)."""
        return self._stack.sum(axis=1, dtype=np.int64)

    @cached_property
    def edges(self) -> np.ndarray:
        """Edge counts, int64 (B,)."""
        return self.out_degrees.sum(axis=1)

    @cached_property
    def top_singular_values(self) -> tuple[np.ndarray, np.ndarray]:
        """(t1, t2): the largest and the largest *distinct* smaller singular value, each (B,).

        Values within 1e-9 * max(1, t1) of t1 count as equal to t1 (docs/architecture.md, metric definitions); t2 is 0
        when every singular value equals t1.
        """
        if self.use_sparse_svd:
            pairs = [spectrum.top_two_distinct_singular_values(sp.csr_array(matrix)) for matrix in self._stack]
            return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        values = np.linalg.svd(self._stack.astype(np.float64), compute_uv=False)
        return spectrum.first_and_next_distinct(values)
