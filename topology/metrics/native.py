"""Topology's compiled routines (``topology/native/*.c``), built and loaded by
:mod:`common.native` (docs/architecture.md, "Native code").

Each source becomes its own library, loaded once per process with its functions' signatures
declared; :func:`library` raises :class:`common.native.NativeUnavailable` with the reason in one
line where it cannot be had, and every caller then takes its numpy/scipy path.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

from common.native import NativeUnavailable, load_library

SOURCES = Path(__file__).parent.parent / "native"
ADDRESS, SIZE, REAL = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
#: Each source's functions: argument types and result type.
SIGNATURES = {
    "adjacency_extremes": {"adjacency_extremes": ([ADDRESS, SIZE, SIZE, ADDRESS], ctypes.c_int)},
    "pattern_product": {
        name: ([ADDRESS] * 4 + [SIZE, SIZE, REAL], REAL) for name in ("pattern_product32", "pattern_product64")
    },
}


@functools.cache
def _load(name: str) -> tuple[ctypes.CDLL | None, str]:
    try:
        loaded = load_library(SOURCES / f"{name}.c", ("-lm",))
    except NativeUnavailable as reason:
        return None, str(reason)
    for function, (arguments, result) in SIGNATURES[name].items():
        getattr(loaded, function).argtypes = arguments
        getattr(loaded, function).restype = result
    return loaded, ""


def library(name: str) -> ctypes.CDLL:
    """The library built from ``topology/native/<name>.c``, or :class:`NativeUnavailable`."""
    loaded, reason = _load(name)
    if loaded is None:
        raise NativeUnavailable(reason)
    return loaded


def clear() -> None:
    """Forget what was loaded or failed (tests that change the compiler or the cache)."""
    _load.cache_clear()
