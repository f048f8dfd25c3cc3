"""Deterministic graphs: ring lattices, complete graphs, hypercubes and Paley graphs."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from common.memory import require_memory
from topology.generators.base import as_int, register_generator, require
from topology.graph import graph_from_edges, require_dense, resolve_form, sparse_from_pairs


def circulant(nodes: int, offsets, form: str = "dense") -> np.ndarray | sp.csr_array:
    """The circulant graph C_n(offsets): i ~ j iff (i - j) mod n in ±offsets, as an (n, n) 0/1
    matrix (dense or CSR by ``form``); offsets that are 0 mod n give no self-loop."""
    offsets = sorted({offset % nodes for offset in offsets} - {0})
    require_memory(48.0 * nodes * max(1, len(offsets)), f"circulant graph on {nodes:,} nodes")
    index = np.arange(nodes, dtype=np.int64)
    edges = (
        np.concatenate([np.stack([index, (index + offset) % nodes], axis=1) for offset in offsets])
        if offsets
        else np.zeros((0, 2), np.int64)
    )
    return graph_from_edges(nodes, edges, form)


@register_generator("ring", reference="Watts & Strogatz, Nature 393 (1998); RGP (Chen et al., 2021) start graph")
def ring(nodes: int, degree: int, form: str = "auto") -> np.ndarray | sp.csr_array:
    """Ring lattice C_n(1, ..., d/2): each node joined to its d/2 nearest neighbours on each side.

    Parameters
    ----------
    nodes : int
        n >= 3.
    degree : int
        d, even, 2 <= d < n.

    Returns
    -------
    numpy.ndarray of uint8, shape (n, n) (CSR above the dense size, see ``form``); a d-regular
    graph with n d / 2 edges.
    """
    nodes, degree = as_int(nodes, "ring", "nodes"), as_int(degree, "ring", "degree")
    require(nodes >= 3, "ring", f"nodes must be at least 3, got {nodes}")
    require(degree % 2 == 0, "ring", f"degree must be even, got {degree}")
    require(2 <= degree < nodes, "ring", f"degree must satisfy 2 <= degree < nodes, got degree={degree}, nodes={nodes}")
    return circulant(nodes, range(1, degree // 2 + 1), form)


@register_generator("complete", reference="the complete graph K_n")
def complete(nodes: int, form: str = "auto") -> np.ndarray | sp.csr_array:
    """Complete graph K_n, shape (n, n), n - 1 regular."""
    nodes = as_int(nodes, "complete", "nodes")
    require(nodes >= 1, "complete", f"nodes must be at least 1, got {nodes}")
    if resolve_form(form, nodes) == "sparse":
        require_memory(24.0 * nodes * (nodes - 1), f"complete graph on {nodes:,} nodes")
        rows, cols = np.triu_indices(nodes, 1)
        return sparse_from_pairs((nodes, nodes), rows, cols, symmetric=True)
    require_dense(nodes, nodes, "complete graph")
    adjacency = np.ones((nodes, nodes), dtype=np.uint8)
    np.fill_diagonal(adjacency, 0)
    return adjacency


@register_generator("hypercube", reference="the hypercube graph Q_k (Harary, Hayes & Wu, 1988)")
def hypercube(nodes: int, form: str = "auto") -> np.ndarray | sp.csr_array:
    """Hypercube Q_k on n = 2^k nodes: i ~ j iff their binary labels differ in one bit; k-regular."""
    nodes = as_int(nodes, "hypercube", "nodes")
    require(nodes >= 2 and nodes & (nodes - 1) == 0, "hypercube", f"nodes must be a power of two >= 2, got {nodes}")
    index = np.arange(nodes, dtype=np.int64)
    bits = nodes.bit_length() - 1
    edges = np.concatenate([np.stack([index, index ^ (1 << b)], axis=1) for b in range(bits)])
    return graph_from_edges(nodes, edges, form)


def _is_prime(value: int) -> bool:
    if value < 2:
        return False
    return all(value % f for f in range(2, int(value**0.5) + 1))


@register_generator("paley", reference="R. E. A. C. Paley, J. Math. Phys. 12 (1933); strongly regular, Ramanujan")
def paley(nodes: int, form: str = "auto") -> np.ndarray | sp.csr_array:
    """Paley graph on the integers mod a prime q = 1 (mod 4): i ~ j iff i - j is a nonzero square mod q.

    It is (q - 1)/2-regular, strongly regular with eigenvalues (q - 1)/2 and (-1 ± sqrt(q))/2, and
    therefore a Ramanujan expander.
    """
    nodes = as_int(nodes, "paley", "nodes")
    require(
        _is_prime(nodes) and nodes % 4 == 1,
        "paley",
        f"nodes must be a prime = 1 (mod 4) such as 5, 13, 17, 29, 37, 41, 53, 61, 101; got {nodes}",
    )
    squares = sorted({(x * x) % nodes for x in range(1, nodes)})
    return circulant(nodes, squares, form)
