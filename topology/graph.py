"""Adjacency matrices: validation, canonical form and hashing (DESIGN.md 2.1).

A graph is a symmetric 0/1 ``(n, n)`` array with a zero diagonal; a bipartite layer graph is
an ``(n_out, n_in)`` 0/1 biadjacency (rows are output channels, columns input channels).
"""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp

from topology.errors import PlanError

GRAPH = "graph"
BIPARTITE = "bipartite"
KINDS = (GRAPH, BIPARTITE)


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
    numpy.ndarray of uint8, same shape.

    Raises
    ------
    PlanError
        With a message that names ``source`` and the exact problem.
    """
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
            raise PlanError(f"{source}: matrix has value {array[r, c].item()!r} at row {r}, column {c}; only 0 and 1 are allowed")
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
            raise PlanError(f"{source}: matrix is not symmetric: entry ({r}, {c}) is {array[r, c]} but ({c}, {r}) is {array[c, r]}")
    return array


def sha256_of(matrix: np.ndarray) -> str:
    """SHA-256 hex digest of the canonical bytes: C-order uint8 values, shape not included."""
    return hashlib.sha256(np.ascontiguousarray(matrix, dtype=np.uint8).tobytes()).hexdigest()


def edge_count(matrix: np.ndarray, kind: str = GRAPH) -> int:
    """Number of edges: ones above the diagonal for a graph, all ones for a biadjacency."""
    total = int(np.count_nonzero(matrix))
    return total // 2 if kind == GRAPH else total


def from_edges(n: int, edges: np.ndarray) -> np.ndarray:
    """Symmetric uint8 adjacency of shape ``(n, n)`` from an ``(m, 2)`` array of node pairs."""
    adjacency = np.zeros((n, n), dtype=np.uint8)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    adjacency[edges[:, 0], edges[:, 1]] = 1
    adjacency[edges[:, 1], edges[:, 0]] = 1
    return adjacency


def to_csr(matrix: np.ndarray | sp.sparray) -> sp.csr_array:
    """The matrix as a ``scipy.sparse.csr_array`` of int8 with sorted indices."""
    csr = sp.csr_array(matrix, dtype=np.int8)
    csr.sort_indices()
    return csr
