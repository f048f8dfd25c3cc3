"""The native convolution's library (``pruning/native/sparse_conv2d.c``), built and loaded by
:mod:`common.native` with OpenMP (docs/compile.md, "The native kernel").

``torch`` is imported first, so the library's OpenMP binds to the runtime PyTorch loaded
(its ``libgomp``) and both share one pool of threads. Where the library cannot be had,
:func:`native_library` raises :class:`NativeUnavailable` with the reason in one line, and
``prune compile`` leaves the kernel out.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import torch  # noqa: F401 - loaded before the library, whose OpenMP then binds to torch's

from common.native import NativeUnavailable, load_library

SOURCE = Path(__file__).with_name("native") / "sparse_conv2d.c"
OPENMP = ("-fopenmp",)

__all__ = ["NativeUnavailable", "native_library"]


@functools.cache
def _load() -> tuple[ctypes.CDLL | None, str]:
    try:
        library = load_library(SOURCE, OPENMP)
    except NativeUnavailable as reason:
        return None, str(reason)
    function = library.sparse_conv2d
    function.argtypes = [ctypes.c_void_p] * 11 + [ctypes.c_int64]
    function.restype = ctypes.c_int
    return library, ""


def native_library() -> ctypes.CDLL:
    """The loaded library (built on first use in this cache), or :class:`NativeUnavailable`."""
    library, reason = _load()
    if library is None:
        raise NativeUnavailable(reason)
    return library
