"""Adjacency eigenvalue extremes of many small graphs by the C routine of
``topology/native/adjacency_extremes.c`` (docs/large-graphs.md, "Small graphs in bulk").

The library is built once per machine (:mod:`topology.metrics.native`); without a C compiler
:func:`adjacency_extremes` raises :class:`common.native.NativeUnavailable` and
:mod:`topology.metrics.spectrum` uses LAPACK (``numpy.linalg.eigvalsh``) instead. The stack is
split over the usable cores; ctypes releases the GIL for each part.
"""

from __future__ import annotations

import numpy as np

from topology.metrics.native import library
from topology.metrics.threads import map_on_threads, usable_cores

#: Matrices per thread below which a stack is not split over threads (the split costs more).
SPLIT_MIN_MATRICES = 64


def _extremes_of(part: np.ndarray) -> np.ndarray:
    out = np.empty((len(part), 3))
    status = library("adjacency_extremes").adjacency_extremes(
        part.ctypes.data, len(part), part.shape[-1], out.ctypes.data
    )
    if status:
        raise MemoryError("adjacency_extremes: out of memory")
    return out


def adjacency_extremes(stack: np.ndarray) -> np.ndarray:
    """(B, 3): lambda_1, lambda_2 and lambda_n of each 0/1 symmetric matrix of a (B, n, n) stack
    (n >= 2), in float64, exact to rounding."""
    library("adjacency_extremes")  # raises before any thread starts when unavailable
    stack = np.ascontiguousarray(stack, dtype=np.uint8)
    threads = max(1, min(usable_cores(), len(stack) // SPLIT_MIN_MATRICES))
    parts = np.array_split(stack, threads)
    return np.concatenate(list(map_on_threads(_extremes_of, parts)))
