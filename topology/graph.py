"""Adjacency matrices: validation, canonical form and hashing (docs/architecture.md, graphs).

A graph is a symmetric 0/1 ``(n, n)`` array with a zero diagonal; a bipartite layer graph is
an ``(n_out, n_in)`` 0/1 biadjacency (rows are output channels, columns input channels).
Either may be a dense ``numpy.ndarray`` of uint8 or, for large graphs, a
``scipy.sparse.csr_array`` of uint8 with sorted, unique column indices (its *canonical* form).
"""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp

from common.memory import require_memory
from topology.errors import PlanError

GRAPH = "graph"
BIPARTITE = "bipartite"
KINDS = (GRAPH, BIPARTITE)

#: Generators give a dense matrix up to this many nodes (n^2 bytes: 25 MB) and a sparse one above.
DENSE_MAX_NODES = 5000
FORMS = ("auto", "dense", "sparse")
#: Matrices with more entries than this are hashed in CSR form (see :func:`sha256_of`).
DENSE_HASH_MAX_ENTRIES = DENSE_MAX_NODES**2
#: Prefix of the bytes hashed for a large matrix (see :func:`sha256_of`).
CSR_HASH_PREFIX = b"topoprune.csr/1\n"


def non_binary_entry(values: np.ndarray) -> tuple[tuple[int, ...], object] | None:
    """The first entry of a dense array (any shape) that is neither 0 nor 1 (NaN and infinities
    included), as (index, value); None when every entry is 0 or 1. The rule every plan and mask
    reader applies."""
    if values.dtype == np.bool_:
        return None
    if not np.issubdtype(values.dtype, np.number):
        return (), f"dtype {values.dtype}"
    bad = (values != 0) & (values != 1)
    if np.issubdtype(values.dtype, np.inexact):
        bad |= ~np.isfinite(values)
    if not bad.any():
        return None
    index = np.unravel_index(int(np.flatnonzero(bad)[0]), values.shape)
    return tuple(int(i) for i in index), values[index].item()


def validate_matrix(matrix: np.ndarray, kind: str = GRAPH, source: str = "matrix") -> np.ndarray:
    """Check a graph or biadjacency matrix and return it as a C-contiguous uint8 array.

    Parameters
    ----------
    matrix : array_like
        Any numeric dtype (RGP ships float64 and int64 matrices) holding only 0 and 1.
    kind : {"graph", "bipartite"}
        ``graph`` also requires a square, symmetric matrix with a zero diagonal.
    source : str
        Named in error messages (usually the file path).

    Returns
    -------
    numpy.ndarray of uint8, same shape; a sparse input is checked by :func:`validate_sparse` and
    returned in canonical CSR form.

    Raises
    ------
    PlanError
        With a message that names ``source`` and the exact problem.
    """
    if sp.issparse(matrix):
        return validate_sparse(matrix, kind, source)
    if kind not in KINDS:
        raise PlanError(f"{source}: kind {kind!r} is not one of {', '.join(KINDS)}")
    array = np.asarray(matrix)
    if array.ndim != 2:
        raise PlanError(f"{source}: expected a 2-D matrix, got {array.ndim} dimension(s) of shape {array.shape}")
    if array.size == 0:
        raise PlanError(f"{source}: matrix is empty (shape {array.shape})")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise PlanError(f"{source}: matrix has non-numeric dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.complexfloating):
        if not np.all(np.isfinite(array)):
            bad = np.argwhere(~np.isfinite(array))[0]
            raise PlanError(f"{source}: matrix has a NaN or infinite value at row {bad[0]}, column {bad[1]}")
    if array.dtype != np.bool_:
        off = (array != 0) & (array != 1)
        if off.any():
            r, c = np.argwhere(off)[0]
            raise PlanError(
                f"{source}: matrix has value {array[r, c].item()!r} at row {r}, column {c}; only 0 and 1 are allowed"
            )
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if kind == GRAPH:
        rows, cols = array.shape
        if rows != cols:
            raise PlanError(f"{source}: matrix is {rows}x{cols}, expected square")
        if array.diagonal().any():
            i = int(np.flatnonzero(array.diagonal())[0])
            raise PlanError(f"{source}: diagonal entry {i} is 1; self-loops are not allowed")
        asym = array != array.T
        if asym.any():
            r, c = np.argwhere(asym)[0]
            raise PlanError(
                f"{source}: matrix is not symmetric: entry ({r}, {c}) is {array[r, c]} but ({c}, {r}) is {array[c, r]}"
            )
    return array


def validate_sparse(matrix: sp.sparray | sp.spmatrix, kind: str = GRAPH, source: str = "matrix") -> sp.csr_array:
    """Check a sparse graph or biadjacency; return it in canonical CSR form (uint8, sorted
    unique indices, no stored zeros).

    Raises
    ------
    PlanError
        With a message that names ``source`` and the exact problem (as :func:`validate_matrix`).
    """
    if kind not in KINDS:
        raise PlanError(f"{source}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if len(matrix.shape) != 2:
        raise PlanError(f"{source}: expected a 2-D matrix, got shape {matrix.shape}")
    rows, cols = matrix.shape
    if rows == 0 or cols == 0:
        raise PlanError(f"{source}: matrix is empty (shape {matrix.shape})")
    csr = sp.csr_array(matrix)
    if not (np.issubdtype(csr.dtype, np.number) or csr.dtype == np.bool_):
        raise PlanError(f"{source}: matrix has non-numeric dtype {csr.dtype}")
    csr.sum_duplicates()
    csr.eliminate_zeros()
    data = csr.data
    if data.dtype != np.bool_:
        bad = ~np.isfinite(data) if np.issubdtype(data.dtype, np.inexact) else np.zeros(len(data), dtype=bool)
        bad |= data != 1
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            row = int(np.searchsorted(csr.indptr, index, side="right") - 1)
            raise PlanError(
                f"{source}: matrix has value {data[index].item()!r} at row {row}, column {csr.indices[index]}; only 0 "
                "and 1 are allowed"
            )
    csr = sp.csr_array((np.ones(len(data), dtype=np.uint8), csr.indices, csr.indptr), shape=(rows, cols))
    if kind == GRAPH:
        if rows != cols:
            raise PlanError(f"{source}: matrix is {rows}x{cols}, expected square")
        row_of = np.repeat(np.arange(rows), np.diff(csr.indptr))
        loops = row_of == csr.indices
        if loops.any():
            raise PlanError(f"{source}: diagonal entry {int(row_of[loops][0])} is 1; self-loops are not allowed")
        transpose = sp.csr_array(csr.T)
        transpose.sort_indices()
        if not (np.array_equal(csr.indptr, transpose.indptr) and np.array_equal(csr.indices, transpose.indices)):
            difference = sp.csr_array(csr.astype(np.int8) - transpose.astype(np.int8))
            difference.eliminate_zeros()
            r, c = (int(v[0]) for v in difference.nonzero())
            raise PlanError(
                f"{source}: matrix is not symmetric: entry ({r}, {c}) is {int(csr[r, c])} but ({c}, {r}) is "
                f"{int(csr[c, r])}"
            )
    return csr


def sha256_of(matrix: np.ndarray | sp.sparray) -> str:
    """SHA-256 hex digest of a matrix's canonical bytes, the same for its dense and sparse forms.

    Up to :data:`DENSE_HASH_MAX_ENTRIES` entries: the C-order uint8 values, shape not included.
    Larger: the bytes of ``b"topoprune.csr/1\\n"``, then the shape, the row pointer and the
    column indices of the canonical CSR (sorted unique indices), each as little-endian int64.
    """
    rows, cols = matrix.shape
    if rows * cols > DENSE_HASH_MAX_ENTRIES:
        csr = canonical_csr(matrix)
        digest = hashlib.sha256(CSR_HASH_PREFIX)
        for array in (np.array(csr.shape), csr.indptr, csr.indices):
            digest.update(np.ascontiguousarray(array, dtype="<i8").tobytes())
        return digest.hexdigest()
    dense = matrix.toarray() if sp.issparse(matrix) else matrix
    return hashlib.sha256(np.ascontiguousarray(dense, dtype=np.uint8).tobytes()).hexdigest()


def canonical_csr(matrix: np.ndarray | sp.sparray) -> sp.csr_array:
    """The 0/1 matrix as CSR of uint8 with sorted unique indices and no stored zeros."""
    csr = sp.csr_array(matrix)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    if csr.dtype != np.uint8:
        csr = sp.csr_array((np.ones(csr.nnz, dtype=np.uint8), csr.indices, csr.indptr), shape=csr.shape)
    return csr


def edge_count(matrix: np.ndarray | sp.sparray, kind: str = GRAPH) -> int:
    """Number of edges: ones above the diagonal for a graph, all ones for a biadjacency."""
    total = int(matrix.count_nonzero()) if sp.issparse(matrix) else int(np.count_nonzero(matrix))
    return total // 2 if kind == GRAPH else total


def dense_bytes(rows: int, cols: int, itemsize: int = 1) -> int:
    """Bytes of a dense ``(rows, cols)`` array."""
    return int(rows) * int(cols) * itemsize


def require_dense(rows: int, cols: int, what: str, itemsize: int = 1) -> None:
    """Check the memory budget before making a dense ``(rows, cols)`` matrix (see common.memory)."""
    require_memory(dense_bytes(rows, cols, itemsize), f"{what}: a dense {rows:,} x {cols:,} matrix")


def as_dense(matrix: np.ndarray | sp.sparray, what: str = "matrix") -> np.ndarray:
    """The matrix as a dense uint8 array; checks the memory budget first for a sparse one."""
    if sp.issparse(matrix):
        require_dense(*matrix.shape, what)
        return matrix.toarray().astype(np.uint8, copy=False)
    return np.asarray(matrix, dtype=np.uint8)


def from_edges(n: int, edges: np.ndarray) -> np.ndarray:
    """Symmetric uint8 adjacency of shape ``(n, n)`` from an ``(m, 2)`` array of node pairs."""
    require_dense(n, n, "graph")
    adjacency = np.zeros((n, n), dtype=np.uint8)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    adjacency[edges[:, 0], edges[:, 1]] = 1
    adjacency[edges[:, 1], edges[:, 0]] = 1
    return adjacency


def sparse_index_type(shape: tuple[int, int], entries: int) -> type:
    """The narrowest index type of a CSR matrix of this shape and this many stored entries. Indices
    and pointers given to scipy in one type: mixed, it copies the indices to int64 (50-150 ms for
    ResNet-50's whole-network graph) and its products on int64 run slower."""
    return np.int32 if max(shape) < 2**31 and entries < 2**31 else np.int64


def sparse_from_pairs(
    shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, symmetric: bool = False
) -> sp.csr_array:
    """Canonical CSR of uint8 with ones at ``(rows[k], cols[k])`` (and the mirrored entries when
    ``symmetric``); repeated pairs count once."""
    rows = np.asarray(rows, dtype=np.int64).ravel()
    cols = np.asarray(cols, dtype=np.int64).ravel()
    if symmetric:
        rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    require_memory(
        24.0 * len(rows) + 8.0 * (shape[0] + 1),
        f"a sparse {shape[0]:,} x {shape[1]:,} matrix with {len(rows):,} entries",
    )
    index_type = sparse_index_type(shape, len(rows))
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols = rows[keep], cols[keep]
    indptr = np.zeros(shape[0] + 1, dtype=index_type)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_array((np.ones(len(cols), dtype=np.uint8), cols.astype(index_type), indptr), shape=shape)


def resolve_form(form: str, rows: int, cols: int | None = None) -> str:
    """``"dense"`` or ``"sparse"``: ``auto`` is dense when both sides are at most
    :data:`DENSE_MAX_NODES`."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    if form != "auto":
        return form
    return "dense" if max(rows, cols if cols is not None else rows) <= DENSE_MAX_NODES else "sparse"


def graph_from_edges(n: int, edges: np.ndarray, form: str = "auto") -> np.ndarray | sp.csr_array:
    """An n-node graph from an ``(m, 2)`` array of node pairs, dense or canonical CSR by ``form``."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if resolve_form(form, n) == "dense":
        return from_edges(n, edges)
    return sparse_from_pairs((n, n), edges[:, 0], edges[:, 1], symmetric=True)


def biadjacency_from_rows(
    n_out: int, n_in: int, rows: np.ndarray, cols: np.ndarray, form: str = "auto"
) -> np.ndarray | sp.csr_array:
    """An ``(n_out, n_in)`` biadjacency with ones at ``(rows[k], cols[k])``, dense or CSR by ``form``."""
    if resolve_form(form, n_out, n_in) == "dense":
        require_dense(n_out, n_in, "biadjacency")
        matrix = np.zeros((n_out, n_in), dtype=np.uint8)
        matrix[np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)] = 1
        return matrix
    return sparse_from_pairs((n_out, n_in), rows, cols)


def to_csr(matrix: np.ndarray | sp.sparray) -> sp.csr_array:
    """The matrix as a ``scipy.sparse.csr_array`` of int8 with sorted indices."""
    csr = sp.csr_array(matrix, dtype=np.int8)
    csr.sort_indices()
    return csr
