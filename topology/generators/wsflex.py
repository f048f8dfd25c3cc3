"""graph2nn's WS-flex graphs: Watts–Strogatz with a real-valued average degree."""

from __future__ import annotations

import random

import numpy as np

from common.errors import ParameterError
from common.memory import require_memory
from common.seeding import SeedLike
from topology.generators.base import as_int, register_generator, require
from topology.graph import graph_from_edges

#: graph2nn tries the whole construction this many times to get a connected graph.
CONNECT_TRIES = 100


def _python_seed(seed: SeedLike) -> int:
    """WS-flex uses Python's ``random.Random`` (as graph2nn does); a Generator supplies an int."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    return 0 if seed is None else int(seed)


def _forward_counts(nodes: int, edges: int) -> list[int]:
    """c_i = E // n + (1 if i < E % n else 0): forward edges of node i."""
    return [edges // nodes + (1 if i < edges % nodes else 0) for i in range(nodes)]


def _ws_flex_once(nodes: int, degree: float, p: float, rng: random.Random) -> list[set[int]]:
    counts = _forward_counts(nodes, int(round(degree * nodes / 2)))
    neighbours: list[set[int]] = [set() for _ in range(nodes)]
    for i in range(nodes):
        for step in range(1, counts[i] + 1):
            v = (i + step) % nodes
            neighbours[i].add(v)
            neighbours[v].add(i)
    population = list(range(nodes))
    for i in range(nodes):
        for step in range(1, counts[i] + 1):
            v = (i + step) % nodes
            if rng.random() < p:
                w = rng.choice(population)
                gave_up = False
                while w == i or w in neighbours[i]:
                    w = rng.choice(population)
                    if len(neighbours[i]) >= nodes - 1:
                        gave_up = True
                        break
                if gave_up:
                    continue
                if v not in neighbours[i]:
                    raise ParameterError(
                        f"ws-flex: degree={degree} is too high for nodes={nodes}: forward edges wrap around and collide"
                    )
                neighbours[i].discard(v)
                neighbours[v].discard(i)
                neighbours[i].add(w)
                neighbours[w].add(i)
    return neighbours


def _connected(neighbours: list[set[int]]) -> bool:
    seen, stack = {0}, [0]
    while stack:
        for v in neighbours[stack.pop()]:
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return len(seen) == len(neighbours)


@register_generator(
    "ws-flex", reference="J. You, J. Leskovec, K. He, S. Xie, 'Graph Structure of Neural Networks', ICML 2020"
)
def ws_flex(nodes: int, degree: float, p: float, connected: bool = True, seed: SeedLike = None, form: str = "auto"):
    """WS-flex graph with real-valued average degree, identical to graph2nn's for the same seed.

    ``E = round(k n / 2)`` edges are laid out as forward edges ``i -> i+1 .. i+c_i (mod n)`` with
    ``c_i = E // n + [i < E % n]``; then, from one ``random.Random(seed)`` stream, each forward edge
    (i, v) in node order is rewired with probability p to (i, w), w uniform, redrawn while it
    is i or already a neighbour (giving up once i is adjacent to all). With ``connected`` the
    whole construction repeats on the same stream, up to 100 times, until connected.

    Parameters
    ----------
    nodes : int
    degree : float
        Average degree k, 2 <= k <= n - 1 (graph2nn stores sparsity = k / n).
    p : float
        Rewiring probability in [0, 1].
    connected : bool
    seed : int (the ``random.Random`` seed), numpy.random.Generator or None (= 0)
    """
    nodes = as_int(nodes, "ws-flex", "nodes")
    require(nodes >= 3, "ws-flex", f"nodes must be at least 3, got {nodes}")
    require(
        2 <= degree <= nodes - 1,
        "ws-flex",
        f"degree must satisfy 2 <= degree <= nodes - 1, got degree={degree}, nodes={nodes}",
    )
    require(0.0 <= p <= 1.0, "ws-flex", f"p must be in [0, 1], got {p}")
    rng = random.Random(_python_seed(seed))
    require_memory(120.0 * nodes * degree, f"ws-flex: neighbour sets of {nodes:,} nodes")
    for _ in range(CONNECT_TRIES if connected else 1):
        neighbours = _ws_flex_once(nodes, float(degree), float(p), rng)
        if not connected or _connected(neighbours):
            edges = [(u, v) for u in range(nodes) for v in neighbours[u] if u < v]
            return graph_from_edges(nodes, np.array(edges, dtype=np.int64), form)
    raise ParameterError(
        f"ws-flex: no connected graph with nodes={nodes}, degree={degree}, p={p} in {CONNECT_TRIES} tries"
    )
