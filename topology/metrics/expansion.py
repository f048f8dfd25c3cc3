"""Sampled vertex expansion of bipartite layer graphs.

For a set S of output channels, its neighbourhood N(S) is the set of input channels that feed
at least one member of S. The *lossless expansion ratio* of S is ``|N(S)| / sum_{o in S} deg(o)``:
1 when every kept connection of S reaches an input no other member of S uses, lower when the
members' inputs overlap, and 0 for a set of dead outputs. Minimising it over all small sets is
the (alpha, 1 - epsilon) expansion of lossless expanders; exact minimisation is exponential, so
we minimise over a seeded random sample of sets, which gives an upper bound of the true minimum.

References
----------
.. [1] M. Capalbo, O. Reingold, S. Vadhan, A. Wigderson, "Randomness conductors and
   constant-degree lossless expanders", STOC 2002.
.. [2] S. Hoory, N. Linial, A. Wigderson, "Expander graphs and their applications",
   Bull. AMS 43 (2006), section 10.
"""

from __future__ import annotations

import math

import numpy as np

from common.seeding import SeedLike, as_generator

#: Random sets of output channels drawn per graph by the registered ``vertex_expansion`` metric.
EXPANSION_SAMPLES = 256
#: Seed of the registered metric's sample (the same sets for every graph of the same shape).
EXPANSION_SEED = 0
#: Biadjacency entries converted to float32 at a time (large layers are done in column blocks).
CHUNK_ENTRIES = 2**22


def expansion_set_sizes(nodes_out: int, nodes_in: int, mean_degree: float) -> int:
    """Largest sampled set size: ``max(1, min(n_out // 2, n_in // d))``, d = mean out-degree.

    Sets larger than ``n_in / d`` cannot expand losslessly even in the best graph (they have
    more connections than there are inputs), so they say nothing about the wiring.
    """
    by_inputs = nodes_in // max(1, int(np.ceil(mean_degree))) if mean_degree > 0 else nodes_in
    return max(1, min(nodes_out // 2, by_inputs))


def sample_output_sets(nodes_out: int, largest: np.ndarray, samples: int, seed: SeedLike) -> np.ndarray:
    """Random sets of output channels as a (B, samples, n_out) bool array, one row of sets per graph.

    ``largest`` (B,) is each graph's largest set size; sizes are uniform in 1..largest and
    members uniform without replacement. The draws do not depend on the other graphs of the
    batch: graph b gets the same sets alone or in any batch with the same ``largest[b]``.
    """
    rng = as_generator(seed)
    fractions = rng.random(samples)
    ranks = np.argsort(np.argsort(rng.random((samples, nodes_out)), axis=1), axis=1)  # a random order per set
    sizes = 1 + np.floor(fractions[None, :] * np.asarray(largest)[:, None]).astype(np.int64)  # (B, K)
    return ranks[None, :, :] < sizes[:, :, None]


def vertex_expansion(
    stack: np.ndarray, samples: int = EXPANSION_SAMPLES, seed: SeedLike = EXPANSION_SEED
) -> np.ndarray:
    """Minimum lossless expansion ratio over sampled sets of output channels, per graph.

    Parameters
    ----------
    stack : numpy.ndarray, shape (B, n_out, n_in) or (n_out, n_in)
        0/1 biadjacencies (rows are output channels).
    samples : int
        Random sets per graph (sizes 1..:func:`expansion_set_sizes`).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of float64, shape (B,), values in [0, 1].
    """
    stack = np.asarray(stack, dtype=np.uint8)
    if stack.ndim == 2:
        stack = stack[None]
    count, nodes_out, nodes_in = stack.shape
    if count == 0:
        return np.zeros(0)
    degrees = stack.sum(axis=2, dtype=np.int64)  # (B, n_out)
    largest = np.array([expansion_set_sizes(nodes_out, nodes_in, float(d.mean())) for d in degrees])
    sets = sample_output_sets(nodes_out, largest, samples, seed)  # (B, K, n_out)
    neighbours = np.zeros((count, samples), dtype=np.int64)
    step = max(1, CHUNK_ENTRIES // max(1, nodes_out))  # input columns per matrix product (bounds memory)
    for b in range(count):
        chosen = sets[b].astype(np.float32)
        for start in range(0, nodes_in, step):
            block = stack[b, :, start : start + step].astype(np.float32)
            neighbours[b] += (chosen @ block > 0).sum(axis=1)
    connections = np.einsum("bko,bo->bk", sets.astype(np.int64), degrees)
    ratios = np.where(connections > 0, neighbours / np.maximum(connections, 1), 0.0)
    return ratios.min(axis=1)


#: Sets per side that :func:`mean_set_expansion` samples, as the expanders paper's selection does.
MEAN_EXPANSION_SAMPLES = 1000


def _random_sets(nodes: int, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(samples, nodes) bool indicators of uniform random sets and their sizes, each size uniform on
    1 .. ceil(nodes / 2) - 1 (1 for nodes <= 2)."""
    upper = max(2, math.ceil(nodes / 2))
    sizes = rng.integers(1, upper, size=samples)
    ranks = rng.random((samples, nodes)).argsort(axis=1).argsort(axis=1)
    return ranks < sizes[:, None], sizes


def mean_set_expansion(
    stack: np.ndarray, samples: int = MEAN_EXPANSION_SAMPLES, seed: SeedLike = EXPANSION_SEED
) -> np.ndarray:
    """Mean over sampled sets of |N(S)| / |S|, sets of inputs and of outputs alike, per graph: the
    estimate the expanders paper ranks its random-regular draws by (docs/fidelity.md).

    Parameters
    ----------
    stack : numpy.ndarray, shape (B, n_out, n_in) or (n_out, n_in)
        0/1 biadjacencies (rows are output channels).
    samples : int
        Sets per side per graph.
    seed : int, numpy.random.Generator or None
        An int draws the same sets for every graph of the stack (graphs are compared on common
        sets, so a best-of selection does not depend on their order); a Generator is shared.

    Returns
    -------
    numpy.ndarray of float64, shape (B,).
    """
    stack = np.asarray(stack, dtype=np.float32)
    if stack.ndim == 2:
        stack = stack[None]
    shared = seed if isinstance(seed, np.random.Generator) else None
    result = np.zeros(stack.shape[0])
    for b, matrix in enumerate(stack):
        rng = shared if shared is not None else np.random.default_rng(seed)
        inputs, input_sizes = _random_sets(matrix.shape[1], samples, rng)
        outputs, output_sizes = _random_sets(matrix.shape[0], samples, rng)
        from_inputs = ((inputs.astype(np.float32) @ matrix.T) > 0).sum(axis=1) / input_sizes
        from_outputs = ((outputs.astype(np.float32) @ matrix) > 0).sum(axis=1) / output_sizes
        result[b] = (from_inputs.sum() + from_outputs.sum()) / (2 * samples)
    return result
