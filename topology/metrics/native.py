"""Topology's compiled routines (``topology/native/*.c``), built and loaded by
:mod:`common.native` (docs/architecture.md, "Native code").

Each source becomes its own library, loaded once per process with its functions' signatures
declared; :func:`library` raises :class:`common.native.NativeUnavailable` with the reason in one
line where it cannot be had, and every caller then takes its numpy/scipy path.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from common.native import cached_library

SOURCES = Path(__file__).parent.parent / "native"
ADDRESS, SIZE, REAL = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
#: Each source's functions: (name, argument types, result type).
SIGNATURES = {
    "adjacency_extremes": (("adjacency_extremes", (ADDRESS, SIZE, SIZE, ADDRESS), ctypes.c_int),),
    "pattern_product": tuple(
        (name, (ADDRESS,) * 4 + (SIZE, SIZE, REAL), REAL) for name in ("pattern_product32", "pattern_product64")
    ),
}


def library(name: str) -> ctypes.CDLL:
    """The library built from ``topology/native/<name>.c``, or
    :class:`common.native.NativeUnavailable`."""
    return cached_library(SOURCES / f"{name}.c", ("-lm",), SIGNATURES[name])
