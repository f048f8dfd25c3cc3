"""Extreme eigenvalues of adjacency and Laplacian matrices, dense (batched) or sparse.

Dense stacks of 0/1 adjacency matrices get their extremes from a compiled routine
(:mod:`topology.metrics.native_spectrum`: Householder tridiagonalization and multisection), or,
where no C compiler is found, from ``numpy.linalg.eigvalsh`` on all B matrices at once; both
exact to rounding.
Large single graphs need only a few eigenvalues. A regular graph's lambda_2 and lambda_n are
the two ends of its spectrum once the all-ones eigenvector is projected out, found by plain
Lanczos (``topology/metrics/lanczos.py``). Other graphs use ARPACK
(``scipy.sparse.linalg.eigsh``) with ``tol=0``, i.e. to machine precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

from common.native import NativeUnavailable
from topology.metrics import native_spectrum
from topology.metrics.lanczos import LANCZOS_MAX_STEPS, regular_extremes_by_lanczos
from topology.metrics.threads import blas_controller, map_on_threads, usable_cores

#: Matrices per thread below which a stack is not split over threads (the split costs more).
SPLIT_MIN_MATRICES = 64


def _eigvalsh_float64(stack: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(stack.astype(np.float64, copy=False))


def batched_eigvalsh(stack: np.ndarray) -> np.ndarray:
    """Ascending eigenvalues of each symmetric matrix of a (B, n, n) stack, in float64, (B, n).

    The stack is split over the usable cores, BLAS held to one thread in each (without
    threadpoolctl, one numpy call): 1,000 graphs of 64 nodes, 0.096 s in one call and 0.050 s in
    two halves on 2 cores; the split with BLAS's own threads left on took 0.17 s. Each part is
    converted to float64 on its own thread, so no float64 copy of the whole stack is made. Each
    matrix's eigenvalues do not depend on the split.
    """
    threads = min(usable_cores(), len(stack) // SPLIT_MIN_MATRICES)
    controller = blas_controller() if threads > 1 else None
    if controller is None:
        return _eigvalsh_float64(stack)
    with controller.limit(limits=1, user_api="blas"):
        parts = list(map_on_threads(_eigvalsh_float64, np.array_split(stack, threads)))
    return np.concatenate(parts)


@dataclass(frozen=True)
class AdjacencyExtremes:
    """lambda_1 >= lambda_2 (two largest) and lambda_n (smallest) adjacency eigenvalues, each (B,)."""

    lambda_1: np.ndarray
    lambda_2: np.ndarray
    lambda_n: np.ndarray


def dense_adjacency_extremes(stack: np.ndarray) -> AdjacencyExtremes:
    """Eigenvalue extremes of a (B, n, n) stack of symmetric 0/1 matrices: the compiled routine's,
    else LAPACK's (1,000 graphs of 64 nodes: docs/large-graphs.md, "Small graphs in bulk")."""
    if stack.shape[-1] >= 2 and len(stack):
        try:
            extremes = native_spectrum.adjacency_extremes(stack)
        except NativeUnavailable:
            pass
        else:
            return AdjacencyExtremes(extremes[:, 0], extremes[:, 1], extremes[:, 2])
    values = batched_eigvalsh(stack)
    second = values[:, -2] if stack.shape[-1] > 1 else np.full(len(values), np.nan)
    return AdjacencyExtremes(values[:, -1], second, values[:, 0])


def dense_algebraic_connectivity(stack: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Second-smallest eigenvalue of L = D - A for each graph of a (B, n, n) stack; NaN if n < 2."""
    if stack.shape[-1] < 2:
        return np.full(stack.shape[0], np.nan)
    laplacian = -stack.astype(np.float64)
    n = stack.shape[-1]
    laplacian[:, np.arange(n), np.arange(n)] = degrees
    return batched_eigvalsh(laplacian)[:, 1]


#: Lanczos vectors ARPACK keeps (more converge faster where the spectrum is crowded, as at the
#: edge of a random regular graph's bulk).
ARPACK_NCV = 64


def _eigsh(matrix, k: int, which: str) -> np.ndarray:
    if isinstance(matrix, sp.sparray | sp.spmatrix):
        matrix = matrix.astype(np.float64)
    ncv = min(matrix.shape[0] - 1, max(ARPACK_NCV, 2 * k + 1))
    return np.sort(spla.eigsh(matrix, k=k, which=which, tol=0, ncv=ncv, return_eigenvectors=False))


def sparse_adjacency_extremes(csr: sp.csr_array, smallest: bool = True) -> AdjacencyExtremes:
    """Eigenvalue extremes of one large sparse graph (lambda_n NaN unless ``smallest``).

    For a d-regular graph lambda_1 = d with the all-ones eigenvector, and Lanczos on the vectors
    orthogonal to it gives lambda_2 and lambda_n from one run (ARPACK on A with all-ones deflated,
    A - d 11^T / n, if Lanczos has not converged within ``LANCZOS_MAX_STEPS``). Other graphs
    use ARPACK for the top two and the bottom one.
    """
    degrees = np.diff(csr.indptr)
    nodes = csr.shape[0]
    nothing = np.full(1, np.nan)
    if nodes > 3 and degrees.min() == degrees.max():
        degree = float(degrees[0])
        ends = regular_extremes_by_lanczos(csr, degree, LANCZOS_MAX_STEPS, smallest=smallest)
        if ends is not None:
            return AdjacencyExtremes(np.array([degree]), np.array([ends[0]]), np.array([ends[1]]))
        adjacency = csr.astype(np.float64)

        def matvec(x: np.ndarray) -> np.ndarray:
            return adjacency @ x - degree * x.sum(axis=0) / nodes

        operator = spla.LinearOperator((nodes, nodes), matvec=matvec, matmat=matvec, dtype=np.float64)
        if not smallest:
            return AdjacencyExtremes(np.array([degree]), _eigsh(operator, 1, "LA"), nothing)
        ends = _eigsh(operator, 2, "BE")
        return AdjacencyExtremes(np.array([degree]), ends[-1:], ends[:1])
    top = _eigsh(csr, 2, "LA")
    bottom = _eigsh(csr, 1, "SA") if smallest else nothing
    return AdjacencyExtremes(top[-1:], top[-2:-1], bottom[:1])


def sparse_algebraic_connectivity(csr: sp.csr_array, degrees: np.ndarray, lambda_2: float | None = None) -> np.ndarray:
    """Algebraic connectivity of one large sparse graph.

    It is exactly 0 for a disconnected graph and ``d - lambda_2`` for a d-regular one (L = dI - A
    shares A's eigenvectors), so ARPACK on L runs only for connected irregular graphs.
    """
    n_components = csgraph.connected_components(csr, directed=False, return_labels=False)
    if n_components > 1:
        return np.zeros(1)
    if degrees.min() == degrees.max():
        if lambda_2 is None:
            lambda_2 = float(sparse_adjacency_extremes(csr).lambda_2[0])
        return np.array([degrees[0] - lambda_2])
    laplacian = sp.diags_array(degrees.astype(np.float64)) - csr.astype(np.float64)
    # Shift so the wanted end of the spectrum is the largest: eigenvalues of c*I - L.
    shift = 2.0 * float(degrees.max())
    flipped = sp.diags_array(np.full(len(degrees), shift)) - laplacian
    top = _eigsh(sp.csr_array(flipped), 2, "LA")
    return np.array([shift - top[0]])


def first_and_next_distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From descending singular values (B, k): t1 and the largest value below t1, each (B,).

    Values within 1e-9 * max(1, t1) of t1 count as t1; t2 is 0 when none is smaller.
    """
    t1 = values[:, 0]
    tolerance = 1e-9 * np.maximum(1.0, t1)
    smaller = np.where(values < (t1 - tolerance)[:, None], values, -np.inf).max(axis=1)
    return t1, np.where(np.isfinite(smaller), smaller, 0.0)


def top_two_distinct_singular_values(matrix: sp.csr_array, max_k: int = 48) -> tuple[float, float]:
    """t1 and the next distinct singular value of a large sparse matrix, by ARPACK.

    Asks for 4 singular values and doubles the request while all of them equal t1 (a
    repeated top value); NaN for t2 if it is repeated more than ``max_k`` times.
    """
    limit = min(matrix.shape) - 1
    if limit < 2:
        values = np.linalg.svd(matrix.toarray().astype(np.float64), compute_uv=False)
        t1, t2 = first_and_next_distinct(values[None])
        return float(t1[0]), float(t2[0])
    k = min(4, limit)
    while True:
        values = np.sort(spla.svds(matrix.astype(np.float64), k=k, tol=0, return_singular_vectors=False))[::-1]
        t1, t2 = first_and_next_distinct(values[None])
        if t2[0] > 0 or k >= min(max_k, limit):
            return float(t1[0]), float(t2[0]) if t2[0] > 0 or k == limit else float("nan")
        k = min(2 * k, max_k, limit)
