"""Deterministic graphs: ring lattices, complete graphs, hypercubes and Paley graphs."""

from __future__ import annotations

import numpy as np

from topology.generators.base import as_int, register_generator, require


def circulant(nodes: int, offsets) -> np.ndarray:
    """Adjacency (n, n) uint8 of the circulant graph C_n(offsets): i ~ j iff (i - j) mod n in ±offsets."""
    index = np.arange(nodes)
    difference = (index[:, None] - index[None, :]) % nodes
    adjacency = np.zeros((nodes, nodes), dtype=np.uint8)
    for offset in offsets:
        adjacency[(difference == offset % nodes) | (difference == (-offset) % nodes)] = 1
    np.fill_diagonal(adjacency, 0)
    return adjacency


@register_generator("ring", reference="Watts & Strogatz, Nature 393 (1998); RGP (Chen et al., 2021) start graph")
def ring(nodes: int, degree: int) -> np.ndarray:
    """Ring lattice C_n(1, ..., d/2): each node joined to its d/2 nearest neighbours on each side.

    Parameters
    ----------
    nodes : int
        n >= 3.
    degree : int
        d, even, 2 <= d < n.

    Returns
    -------
    numpy.ndarray of uint8, shape (n, n); a d-regular graph with n d / 2 edges.
    """
    nodes, degree = as_int(nodes, "ring", "nodes"), as_int(degree, "ring", "degree")
    require(nodes >= 3, "ring", f"nodes must be at least 3, got {nodes}")
    require(degree % 2 == 0, "ring", f"degree must be even, got {degree}")
    require(2 <= degree < nodes, "ring", f"degree must satisfy 2 <= degree < nodes, got degree={degree}, nodes={nodes}")
    return circulant(nodes, range(1, degree // 2 + 1))


@register_generator("complete", reference="the complete graph K_n")
def complete(nodes: int) -> np.ndarray:
    """Complete graph K_n, shape (n, n), n - 1 regular."""
    nodes = as_int(nodes, "complete", "nodes")
    require(nodes >= 1, "complete", f"nodes must be at least 1, got {nodes}")
    adjacency = np.ones((nodes, nodes), dtype=np.uint8)
    np.fill_diagonal(adjacency, 0)
    return adjacency


@register_generator("hypercube", reference="the hypercube graph Q_k (Harary, Hayes & Wu, 1988)")
def hypercube(nodes: int) -> np.ndarray:
    """Hypercube Q_k on n = 2^k nodes: i ~ j iff their binary labels differ in one bit; k-regular."""
    nodes = as_int(nodes, "hypercube", "nodes")
    require(nodes >= 2 and nodes & (nodes - 1) == 0, "hypercube", f"nodes must be a power of two >= 2, got {nodes}")
    index = np.arange(nodes)
    return (np.bitwise_count(index[:, None] ^ index[None, :]) == 1).astype(np.uint8)


def _is_prime(value: int) -> bool:
    if value < 2:
        return False
    return all(value % f for f in range(2, int(value**0.5) + 1))


@register_generator("paley", reference="R. E. A. C. Paley, J. Math. Phys. 12 (1933); strongly regular, Ramanujan")
def paley(nodes: int) -> np.ndarray:
    """Paley graph on the integers mod a prime q = 1 (mod 4): i ~ j iff i - j is a nonzero square mod q.

    It is (q - 1)/2-regular, strongly regular with eigenvalues (q - 1)/2 and (-1 ± sqrt(q))/2, and
    therefore a Ramanujan expander.
    """
    nodes = as_int(nodes, "paley", "nodes")
    require(_is_prime(nodes) and nodes % 4 == 1, "paley", f"nodes must be a prime = 1 (mod 4) such as 5, 13, 17, 29, 37, 41, 53, 61, 101; got {nodes}")
    squares = sorted({(x * x) % nodes for x in range(1, nodes)})
    return circulant(nodes, squares)
