"""Channel -> node assignment of relational plans (docs/architecture.md, from a plan to masks)."""

from __future__ import annotations

import numpy as np

from common.seeding import derive_seed


def channel_nodes(channels: int, nodes: int, seed: int) -> np.ndarray:
    """The node of each channel when ``channels`` are split into ``nodes`` contiguous blocks.

    Block sizes differ by at most one: ``channels % nodes`` blocks get one extra channel, and
    which blocks get it is a seeded permutation. The permutation depends only on (seed,
    channels, nodes), so consecutive layers of equal width split their channels the same way
    and channel block j is node j on both sides of a layer boundary.

    Returns
    -------
    numpy.ndarray of int64, shape (channels,), non-decreasing node indices in [0, nodes).
    """
    base, extra = divmod(channels, nodes)
    sizes = np.array([base + 1] * extra + [base] * (nodes - extra))
    if extra:
        sizes = np.random.default_rng(derive_seed(seed, "blocks", str(channels), str(nodes))).permutation(sizes)
    return np.repeat(np.arange(nodes), sizes)


def relational_mask(adjacency: np.ndarray, out_channels: int, in_channels: int, seed: int) -> np.ndarray:
    """``mask[o, i] = adjacency[node(o), node(i)]``: a (C_out, C_in) bool channel mask."""
    nodes = adjacency.shape[0]
    rows = channel_nodes(out_channels, nodes, seed)
    cols = channel_nodes(in_channels, nodes, seed)
    return adjacency.astype(bool)[rows[:, None], cols[None, :]]
