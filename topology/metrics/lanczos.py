"""The two ends of a regular graph's spectrum off the all-ones vector, by plain Lanczos split
over threads (docs/large-graphs.md, "How the metrics scale").

A d-regular graph's adjacency A maps the vectors orthogonal to all-ones onto themselves, so the
ends of its spectrum there are lambda_2 (largest) and lambda_n (smallest). Plain Lanczos keeps
three vectors and no reorthogonalisation (the ends converge regardless) and finds both from one
Krylov space. Each step costs one sparse product (m multiply-adds) and about ten passes over
n-vectors; it stops when the residual bound of each end asked for is below
:data:`LANCZOS_TOLERANCE` x d (lambda_n is skipped when no metric needs it: on large random regular
graphs it converges last).

The rows are cut into :data:`ROW_BLOCKS` blocks of equal stored entries (one block for graphs
below :data:`THREADED_MIN_ENTRIES` entries). Every step runs its product and vector updates
block by block on a pool of threads (scipy's sparse product and numpy's element-wise passes
release the GIL), and adds the blocks' partial sums in block order.
The blocks do not depend on the thread count, so the result is the same on any machine. Dot
products are element-wise passes plus numpy sums rather than BLAS calls: a BLAS library's own
threads, spinning after a call, would compete with the pool for the cores.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigh_tridiagonal

from common.native import NativeUnavailable
from topology.metrics.native import library
from topology.metrics.threads import usable_cores

#: Lanczos stops when the residual bound of the ends asked for is below this times the degree.
#: The top Ritz value rises towards lambda_2 from below and is within its residual bound of it
#: (the bottom one likewise from above); in practice it is far closer, about the bound's square
#: over the gap to the next eigenvalue. 10^6-node 8-regular graph: 900 steps instead of 1,350 at
#: 1e-10, and the values differ from those by 4e-10 (docs/large-graphs.md).
LANCZOS_TOLERANCE = 1e-6
#: Lanczos steps between convergence checks (each check costs O(steps) on the tridiagonal).
LANCZOS_CHECK_EVERY = 25
#: Lanczos steps before giving up on the ends (the caller then asks ARPACK).
LANCZOS_MAX_STEPS = 20_000
#: Row blocks of equal stored entries; fixed, so the partial sums do not depend on the threads.
ROW_BLOCKS = 8
#: Below this many stored entries the rows are one block, run in the calling thread (the blocks'
#: and threads' overhead would cost more than the step). The block count depends on the graph
#: alone, never on the cores.
THREADED_MIN_ENTRIES = 2**20


class RowBlocks:
    """A 0/1 CSR matrix cut into row blocks, its product with a vector block by block, and a way
    to run one function on every block.

    The product reads the pattern alone with the compiled routine of
    ``topology/native/pattern_product.c`` (no float64 copy of the matrix); without a C compiler,
    scipy's product of float64 row blocks (docs/large-graphs.md, "How the metrics scale")."""

    def __init__(self, matrix: sp.csr_array, threads: int) -> None:
        nodes = matrix.shape[0]
        count = ROW_BLOCKS if matrix.nnz >= THREADED_MIN_ENTRIES else 1
        cuts = np.searchsorted(matrix.indptr, np.linspace(0, matrix.nnz, count + 1)).tolist()
        cuts[0], cuts[-1] = 0, nodes
        bounds = sorted(set(cuts))
        self.slices = [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]
        self._pattern, self.matrices = self._native_pattern(matrix), []
        if self._pattern is None:
            float_matrix = matrix.astype(np.float64)
            self.matrices = [float_matrix[part] for part in self.slices]
        workers = max(1, min(threads, len(self.slices)))
        # Each thread takes a run of consecutive blocks: one task per thread and phase.
        edges = np.linspace(0, len(self.slices), workers + 1).round().astype(int)
        self._groups = [range(start, stop) for start, stop in zip(edges[:-1], edges[1:])]
        self._pool = ThreadPoolExecutor(workers) if workers > 1 else None

    @staticmethod
    def _native_pattern(matrix: sp.csr_array) -> tuple | None:
        """(product function, indptr, indices) of the compiled product, or None without it."""
        try:
            routines = library("pattern_product")
        except NativeUnavailable:
            return None
        narrow = matrix.indptr.dtype == np.int32 and matrix.indices.dtype == np.int32
        index_type = np.int32 if narrow else np.int64
        indptr = np.ascontiguousarray(matrix.indptr, dtype=index_type)
        indices = np.ascontiguousarray(matrix.indices, dtype=index_type)
        name = "pattern_product32" if narrow else "pattern_product64"
        return getattr(routines, name), indptr, indices

    def product(self, block: int, vector: np.ndarray, out: np.ndarray, scale: float) -> float:
        """``out`` (the block's rows) = scale * (block's rows of A) @ ``vector``; their sum."""
        if self._pattern is None:
            np.multiply(self.matrices[block] @ vector, scale, out=out)
            return float(out.sum())
        function, indptr, indices = self._pattern
        rows = self.slices[block]
        # out is the block's slice of a whole-graph array: shift its address back to row 0
        origin = out.ctypes.data - rows.start * out.itemsize
        return function(
            indptr.ctypes.data, indices.ctypes.data, vector.ctypes.data, origin, rows.start, rows.stop, scale
        )

    def each(self, function: Callable[[int], float]) -> float:
        """function(block) for every block, and the sum of what they return, in block order."""

        def run(group: range) -> list[float]:
            return [function(block) for block in group]

        parts = map(run, self._groups) if self._pool is None else self._pool.map(run, self._groups)
        return float(sum(value for part in parts for value in part))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


class _Krylov:
    """Lanczos vectors and recurrence of a regular graph's adjacency, run block by block."""

    def __init__(self, start: np.ndarray, blocks: RowBlocks) -> None:
        nodes = len(start)
        self.nodes, self.blocks = nodes, blocks
        start = start - start.mean()
        self.vector = start / np.linalg.norm(start)  # q_k, or q_k * norm until normalised
        self.previous = np.zeros(nodes)
        self.product = np.empty(nodes)
        self.scratch = np.empty(nodes)
        self.norm = 1.0  # the pending scale of ``vector``
        self.beta = 0.0
        self.alpha = 0.0
        self.shift = 0.0

    def step(self) -> tuple[float, float]:
        """One Lanczos step: alpha_k and beta_k."""
        total = self.blocks.each(self._multiply)
        self.shift = total / self.nodes  # rounding drift back out of the all-ones direction
        self.alpha = self.blocks.each(self._orthogonalise)
        self.beta = float(np.sqrt(self.blocks.each(self._remove_alpha)))
        return self.alpha, self.beta

    def advance(self) -> None:
        """Rotate the vectors; the new q_{k+1} stays unnormalised until the next step."""
        self.previous, self.vector, self.product = self.vector, self.product, self.previous
        self.norm = self.beta

    def _multiply(self, block: int) -> float:
        rows = self.blocks.slices[block]
        return self.blocks.product(block, self.vector, self.product[rows], 1.0 / self.norm)

    def _orthogonalise(self, block: int) -> float:
        rows = self.blocks.slices[block]
        vector, product, scratch = self.vector[rows], self.product[rows], self.scratch[rows]
        if self.norm != 1.0:
            vector *= 1.0 / self.norm
        product -= self.shift
        np.multiply(self.previous[rows], self.beta, out=scratch)
        product -= scratch
        np.multiply(vector, product, out=scratch)
        return float(scratch.sum())

    def _remove_alpha(self, block: int) -> float:
        rows = self.blocks.slices[block]
        vector, product, scratch = self.vector[rows], self.product[rows], self.scratch[rows]
        np.multiply(vector, self.alpha, out=scratch)
        product -= scratch
        np.multiply(product, product, out=scratch)
        return float(scratch.sum())


def _tridiagonal_end(alphas: np.ndarray, betas: np.ndarray, last_beta: float, index: int) -> tuple[float, float]:
    """Ritz value number ``index`` (0: smallest, -1: largest) of the Lanczos tridiagonal, and
    its residual bound |last_beta * s_m|, s_m the last entry of its eigenvector."""
    position = index % len(alphas)
    values, vectors = eigh_tridiagonal(alphas, betas, select="i", select_range=(position, position))
    return float(values[0]), abs(last_beta * float(vectors[-1, 0]))


def regular_extremes_by_lanczos(
    csr: sp.csr_array,
    degree: float,
    max_steps: int = LANCZOS_MAX_STEPS,
    threads: int | None = None,
    smallest: bool = True,
) -> tuple[float, float] | None:
    """lambda_2 and lambda_n of a d-regular graph by Lanczos on the complement of all-ones
    (lambda_n NaN, and not waited for, when ``smallest`` is False).

    The start vector is fixed (seed 0), so the result is the same on every run and does not
    depend on the threads. Returns None when the ends have not converged within ``max_steps``
    steps.

    Parameters
    ----------
    csr : scipy.sparse.csr_array, shape (n, n)
        Symmetric 0/1 adjacency with every row sum equal to ``degree``; n > 3.
    threads : int, optional
        Threads for the row blocks (default: the usable cores).
    """
    nodes = csr.shape[0]
    blocks = RowBlocks(csr, usable_cores() if threads is None else threads)
    krylov = _Krylov(np.random.default_rng(0).standard_normal(nodes), blocks)
    alphas: list[float] = []
    betas: list[float] = []
    tolerance = LANCZOS_TOLERANCE * max(1.0, degree)
    # The Krylov space has at most n - 1 dimensions; a tiny beta means it is invariant, so its
    # Ritz values are eigenvalues.
    limit = min(nodes - 1, max_steps)
    try:
        for step in range(1, limit + 1):
            alpha, beta = krylov.step()
            alphas.append(alpha)
            invariant = beta <= 1e-13 * max(1.0, degree)
            if invariant or step % LANCZOS_CHECK_EVERY == 0 or step == limit:
                diagonal, off_diagonal = np.array(alphas), np.array(betas)
                high, high_residual = _tridiagonal_end(diagonal, off_diagonal, beta, -1)
                low, low_residual = _tridiagonal_end(diagonal, off_diagonal, beta, 0) if smallest else (np.nan, 0.0)
                if invariant or max(low_residual, high_residual) <= tolerance:
                    return high, low
            betas.append(beta)
            krylov.advance()
    finally:
        blocks.close()
    return None
