"""The native convolution's library (``pruning/native/sparse_conv2d.c``), built and loaded by
:mod:`common.native` with OpenMP (docs/compile.md, "The native kernel").

``torch`` is imported first, so the library's OpenMP binds to the runtime PyTorch loaded
(its ``libgomp``) and both share one pool of threads. Where the library cannot be had,
:func:`native_library` raises :class:`NativeUnavailable` with the reason in one line, and
``prune compile`` leaves the kernel out.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch  # noqa: F401 - loaded before the library, whose OpenMP then binds to torch's

from common.native import NativeUnavailable, cached_library

SOURCE = Path(__file__).with_name("native") / "sparse_conv2d.c"
OPENMP = ("-fopenmp",)
SIGNATURES = (("sparse_conv2d", (ctypes.c_void_p,) * 11 + (ctypes.c_int64,), ctypes.c_int),)

__all__ = ["NativeUnavailable", "native_library"]


def native_library() -> ctypes.CDLL:
    """The loaded library (built on first use in this cache), or :class:`NativeUnavailable`."""
    return cached_library(SOURCE, OPENMP, SIGNATURES)
