"""Adjacency eigenvalue extremes of many small graphs by the C routine of
``topology/native/adjacency_extremes.c`` (docs/large-graphs.md, "Small graphs in bulk").

The library is built once per machine by :mod:`common.native`; without a C compiler
:func:`adjacency_extremes` raises :class:`common.native.NativeUnavailable` and
:mod:`topology.metrics.spectrum` uses LAPACK (``numpy.linalg.eigvalsh``) instead. The stack is
split over the usable cores; ctypes releases the GIL for each part.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

from common.native import NativeUnavailable, load_library
from topology.metrics.threads import map_on_threads, usable_cores

SOURCE = Path(__file__).parent.parent / "native" / "adjacency_extremes.c"
#: Matrices per thread below which a stack is not split over threads (the split costs more).
SPLIT_MIN_MATRICES = 64


@functools.cache
def _load() -> tuple[ctypes.CDLL | None, str]:
    try:
        library = load_library(SOURCE, ("-lm",))
    except NativeUnavailable as reason:
        return None, str(reason)
    function = library.adjacency_extremes
    function.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    function.restype = ctypes.c_int
    return library, ""


def _library() -> ctypes.CDLL:
    library, reason = _load()
    if library is None:
        raise NativeUnavailable(reason)
    return library


def _extremes_of(part: np.ndarray) -> np.ndarray:
    out = np.empty((len(part), 3))
    status = _library().adjacency_extremes(part.ctypes.data, len(part), part.shape[-1], out.ctypes.data)
    if status:
        raise MemoryError("adjacency_extremes: out of memory")
    return out


def adjacency_extremes(stack: np.ndarray) -> np.ndarray:
    """(B, 3): lambda_1, lambda_2 and lambda_n of each 0/1 symmetric matrix of a (B, n, n) stack
    (n >= 2), in float64, exact to rounding."""
    library = _library()  # noqa: F841 - raises before any thread starts when unavailable
    stack = np.ascontiguousarray(stack, dtype=np.uint8)
    threads = max(1, min(usable_cores(), len(stack) // SPLIT_MIN_MATRICES))
    parts = np.array_split(stack, threads)
    return np.concatenate(list(map_on_threads(_extremes_of, parts)))
