"""RGP-style families of d-regular graphs spanning the average-shortest-path range."""

from __future__ import annotations

import numpy as np

from common.memory import require_memory
from common.seeding import SeedLike, as_generator
from topology.generators.base import as_int, register_generator, require
from topology.generators.deterministic import ring
from topology.graph import DENSE_MAX_NODES, canonical_csr, resolve_form
from topology.metrics.batch import GraphBatch

#: Candidate swaps evaluated together in one batched path computation.
PROPOSALS_PER_ROUND = 16


def _propose(
    adjacency: np.ndarray, edges: np.ndarray, rng: np.random.Generator
) -> tuple[int, int, int, int, int, int] | None:
    """A random double-edge swap (a,b),(c,d) -> (a,c),(b,d) that keeps the graph simple, or None."""
    first, second = rng.choice(len(edges), size=2, replace=False)
    a, b = edges[first]
    c, d = edges[second]
    if rng.random() < 0.5:
        c, d = d, c
    if len({a, b, c, d}) < 4 or adjacency[a, c] or adjacency[b, d]:
        return None
    return int(first), int(second), int(a), int(b), int(c), int(d)


def _apply(adjacency: np.ndarray, edges: np.ndarray, swap: tuple[int, int, int, int, int, int]) -> None:
    first, second, a, b, c, d = swap
    adjacency[a, b] = adjacency[b, a] = adjacency[c, d] = adjacency[d, c] = 0
    adjacency[a, c] = adjacency[c, a] = adjacency[b, d] = adjacency[d, b] = 1
    edges[first] = (a, c)
    edges[second] = (b, d)


def walk_bytes(nodes: int) -> float:
    """Peak memory of the walk: the graph, its replay copy and a round's candidates, each a dense
    uint8 n x n matrix, plus the batched BFS's frontier and visited words for the candidates."""
    matrices = (PROPOSALS_PER_ROUND + 3) * float(nodes) ** 2
    words = -(-nodes // 64)
    return matrices + 4 * 8.0 * PROPOSALS_PER_ROUND * (nodes + 1) * words


def _pick_points(aspl_trajectory: list[float], count: int) -> list[int]:
    """Indices of the trajectory whose ASPL is nearest to ``count`` evenly spaced targets."""
    values = np.asarray(aspl_trajectory)
    targets = np.linspace(values[0], values[-1], count) if count > 1 else values[-1:]
    picks: list[int] = []
    for target in targets:
        order = np.argsort(np.abs(values - target), kind="stable")
        choice = next((int(i) for i in order if int(i) not in picks), int(order[0]))
        picks.append(choice)
    return sorted(set(picks))


@register_generator(
    "swap-chain",
    family=True,
    reference="Chen et al., 'Neural network pruning through its RegularGraph structure' (RGP), 2021",
)
def swap_chain(
    nodes: int,
    degree: int,
    count: int = 8,
    patience: int = 40,
    max_rounds: int = 5000,
    seed: SeedLike = None,
    form: str = "auto",
) -> list[np.ndarray]:
    """d-regular graphs whose ASPL is spread evenly from the ring lattice down to the lowest reached.

    Starting from the ring lattice, random degree-preserving double-edge swaps are accepted when
    the graph stays connected and its average shortest path length drops (of each round of 16
    proposals, the one that lowers it least). The walk stops after ``patience`` rounds without
    improvement or ``max_rounds`` rounds; then ``count`` graphs of the walk are returned whose
    ASPL values are nearest to ``count`` evenly spaced targets between the two ends.

    Parameters
    ----------
    nodes, degree : int
        n and d, as for ``ring`` (d even, 2 <= d < n).
    count : int
        Graphs to return (fewer if the walk visits fewer distinct ASPL values).
    patience, max_rounds : int
        Stopping rule of the walk, in rounds of 16 proposed swaps.
    seed : int, numpy.random.Generator or None

    form : {"auto", "dense", "sparse"}
        Form of the returned matrices. The walk itself runs on a dense matrix (it scores every
        round's swaps by all-pairs BFS, which limits it to a few thousand nodes anyway).

    Returns
    -------
    list of numpy.ndarray of uint8, each (n, n), in order of decreasing ASPL.
    """
    count = as_int(count, "swap-chain", "count")
    require(count >= 1, "swap-chain", f"count must be at least 1, got {count}")
    require(patience >= 1 and max_rounds >= 1, "swap-chain", "patience and max_rounds must be at least 1")
    nodes = as_int(nodes, "swap-chain", "nodes")
    require(
        nodes <= DENSE_MAX_NODES,
        "swap-chain",
        f"the walk scores dense {nodes:,}-node matrices by all-pairs BFS; it runs up to {DENSE_MAX_NODES:,} nodes",
    )
    require_memory(walk_bytes(nodes), f"swap-chain on {nodes:,} nodes: the walk's dense candidate matrices")
    rng = as_generator(seed)
    start = ring(nodes, degree, form="dense")
    adjacency = start.copy()
    edges = np.argwhere(np.triu(adjacency))
    trajectory = [GraphBatch(adjacency).path_stats.aspl[0]]
    accepted: list[tuple[int, int, int, int, int, int]] = []
    idle = 0
    for _ in range(max_rounds):
        proposals = [s for s in (_propose(adjacency, edges, rng) for _ in range(PROPOSALS_PER_ROUND)) if s is not None]
        improved = False
        if proposals:
            candidates = np.repeat(adjacency[None], len(proposals), axis=0)
            for k, swap in enumerate(proposals):
                _apply(candidates[k], edges.copy(), swap)
            aspl = GraphBatch(candidates).path_stats.aspl  # inf when a swap disconnects
            better = np.flatnonzero(aspl < trajectory[-1])
            if len(better):
                # The smallest improvement keeps the walk's steps small, so the ASPL values it
                # visits are dense enough to pick evenly spaced points from.
                best = int(better[np.argmax(aspl[better])])
                _apply(adjacency, edges, proposals[best])
                accepted.append(proposals[best])
                trajectory.append(float(aspl[best]))
                improved = True
        idle = 0 if improved else idle + 1
        if idle >= patience:
            break
    picks = _pick_points(trajectory, count)
    family, replay = [], start.copy()
    replay_edges = np.argwhere(np.triu(replay))
    for step in range(max(picks) + 1):
        if step > 0:
            _apply(replay, replay_edges, accepted[step - 1])
        if step in picks:
            family.append(replay.copy())
    if resolve_form(form, nodes) == "sparse":
        return [canonical_csr(matrix) for matrix in family]
    return family
