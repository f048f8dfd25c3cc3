"""Bipartite layer graphs for per-layer masks: (n_out, n_in) biadjacencies."""

from __future__ import annotations

import numpy as np

from common.errors import ParameterError
from common.memory import require_memory
from common.seeding import SeedLike, as_generator
from topology.generators.base import as_int, register_generator, require
from topology.graph import BIPARTITE, biadjacency_from_rows


def resolve_degree(generator: str, nodes_in: int, degree: int | None, density: float | None) -> int:
    """Inputs per output channel from ``degree`` or ``density`` (exactly one given)."""
    require((degree is None) != (density is None), generator, "give exactly one of degree and density")
    if density is not None:
        require(0.0 < density <= 1.0, generator, f"density must be in (0, 1], got {density}")
        degree = max(1, int(round(density * nodes_in)))
    degree = as_int(degree, generator, "degree")
    require(
        1 <= degree <= nodes_in,
        generator,
        f"degree must satisfy 1 <= degree <= nodes_in, got degree={degree}, nodes_in={nodes_in}",
    )
    return degree


def _sizes(generator: str, nodes: int, nodes_in: int | None) -> tuple[int, int]:
    n_out = as_int(nodes, generator, "nodes")
    n_in = n_out if nodes_in is None else as_int(nodes_in, generator, "nodes_in")
    require(n_out >= 1 and n_in >= 1, generator, f"nodes and nodes_in must be at least 1, got {n_out} and {n_in}")
    return n_out, n_in


@register_generator(
    "xnet", kind=BIPARTITE, reference="A. Prabhu, G. Varma, A. Namboodiri, 'Deep Expander Networks', ECCV 2018"
)
def xnet(
    nodes: int,
    nodes_in: int | None = None,
    degree: int | None = None,
    density: float | None = None,
    seed: SeedLike = None,
    form: str = "auto",
):
    """Random left-regular bipartite graph: every output channel gets exactly d distinct inputs.

    Parameters
    ----------
    nodes : int
        Output channels n_out (rows).
    nodes_in : int, optional
        Input channels n_in (columns); default ``nodes``.
    degree : int, optional
        d, inputs per output (1 <= d <= n_in); or give ``density`` (d = round(density n_in)).
    seed : int, numpy.random.Generator or None
    form : {"auto", "dense", "sparse"}
        Dense or CSR (auto: CSR when a side exceeds ``topology.graph.DENSE_MAX_NODES``).

    Returns
    -------
    numpy.ndarray of uint8, shape (n_out, n_in), every row summing to d (or its CSR).
    """
    n_out, n_in = _sizes("xnet", nodes, nodes_in)
    degree = resolve_degree("xnet", n_in, degree, density)
    rng = as_generator(seed)
    chosen = np.concatenate(
        [np.argpartition(block, degree - 1, axis=1)[:, :degree] for block in _uniform_rows(rng, n_out, n_in)]
    )
    return biadjacency_from_rows(n_out, n_in, np.repeat(np.arange(n_out), degree), chosen.ravel(), form)


def _uniform_rows(rng: np.random.Generator, n_out: int, n_in: int):
    """The rows of ``rng.random((n_out, n_in))`` in blocks of at most 32 MB: the same numbers
    as one call (the stream is consumed in order), without the whole float64 matrix at once."""
    step = max(1, 2**22 // n_in)
    for start in range(0, n_out, step):
        yield rng.random((min(step, n_out - start), n_in))


#: Fresh configurations tried before giving up (a repair can, rarely, reach a dead end).
REPAIR_RESTARTS = 50


def _configuration_rows(n_out: int, n_in: int, degree: int, rng: np.random.Generator) -> np.ndarray:
    """Input stubs (in-degrees floor/ceil of n_out d / n_in) shuffled into (n_out, d) rows."""
    base, extra = divmod(n_out * degree, n_in)
    in_degree = np.full(n_in, base)
    in_degree[rng.choice(n_in, size=extra, replace=False)] += 1
    stubs = np.repeat(np.arange(n_in), in_degree)
    rng.shuffle(stubs)
    return stubs.reshape(n_out, degree)


def _remove_repeats(rows: np.ndarray, rng: np.random.Generator) -> bool:
    """Exchange stubs between rows, in place, until no row repeats an input; False at a dead end.

    Each exchange moves a repeated input out of its row into a row that lacks it, taking back an
    input the first row lacks: every exchange removes one repeat and keeps all degrees.
    """
    n_out, degree = rows.shape
    for o, slot in _repeated_slots(rows):
        column = rows[o, slot]
        if np.count_nonzero(rows[o] == column) < 2:
            continue  # an earlier exchange already removed this repeat
        for _ in range(20 * rows.size):
            other, other_slot = int(rng.integers(n_out)), int(rng.integers(degree))
            other_column = rows[other, other_slot]
            if other_column not in rows[o] and column not in rows[other]:
                rows[other, other_slot], rows[o, slot] = column, other_column
                break
        else:
            return False
    return True


def _repeated_slots(rows: np.ndarray) -> list[tuple[int, int]]:
    """(row, slot) of every entry that repeats an earlier entry of the same row."""
    repeated = []
    for o, row in enumerate(rows):
        seen: set[int] = set()
        for slot, column in enumerate(row.tolist()):
            if column in seen:
                repeated.append((o, slot))
            seen.add(column)
    return repeated


@register_generator(
    "rreg-bipartite",
    kind=BIPARTITE,
    reference="configuration model with switch repair; Hoang et al., ICLR 2023 (Ramanujan PaI)",
)
def rreg_bipartite(
    nodes: int,
    nodes_in: int | None = None,
    degree: int | None = None,
    density: float | None = None,
    seed: SeedLike = None,
    form: str = "auto",
):
    """Random biregular bipartite graph: every output has exactly d inputs and input degrees
    differ by at most one (floor or ceil of n_out d / n_in), with no repeated edge.

    Built by the configuration model (input stubs shuffled into rows of d) followed by random
    stub exchanges that remove repeated inputs within a row, preserving all degrees.
    """
    n_out, n_in = _sizes("rreg-bipartite", nodes, nodes_in)
    degree = resolve_degree("rreg-bipartite", n_in, degree, density)
    if degree == n_in:  # the only biregular graph of full degree
        return biadjacency_from_rows(
            n_out, n_in, np.repeat(np.arange(n_out), n_in), np.tile(np.arange(n_in), n_out), form
        )
    require_memory(24.0 * n_out * degree, f"rreg-bipartite: {n_out:,} x {degree} stubs")
    rng = as_generator(seed)
    for _ in range(REPAIR_RESTARTS):
        rows = _configuration_rows(n_out, n_in, degree, rng)
        if _remove_repeats(rows, rng):
            break
    else:
        raise ParameterError(
            f"rreg-bipartite: could not remove repeated edges for nodes={n_out}, nodes_in={n_in}, degree={degree}"
        )
    return biadjacency_from_rows(n_out, n_in, np.repeat(np.arange(n_out), degree), rows.ravel(), form)


@register_generator(
    "random-bipartite",
    kind=BIPARTITE,
    reference="E. N. Gilbert, Ann. Math. Stat. 30 (1959), bipartite G(n_out, n_in, p)",
)
def random_bipartite(
    nodes: int,
    nodes_in: int | None = None,
    p: float | None = None,
    density: float | None = None,
    seed: SeedLike = None,
    form: str = "auto",
):
    """Each (output, input) pair is an edge independently with probability p (or ``density``)."""
    n_out, n_in = _sizes("random-bipartite", nodes, nodes_in)
    require((p is None) != (density is None), "random-bipartite", "give exactly one of p and density")
    probability = p if p is not None else density
    require(0.0 <= probability <= 1.0, "random-bipartite", f"p must be in [0, 1], got {probability}")
    rows, cols, offset = [], [], 0
    for block in _uniform_rows(as_generator(seed), n_out, n_in):
        r, c = np.nonzero(block < probability)
        rows.append(r + offset)
        cols.append(c)
        offset += len(block)
    return biadjacency_from_rows(n_out, n_in, np.concatenate(rows), np.concatenate(cols), form)
