"""Build and load the C kernels of ``pruning/native/`` (docs/compile.md, "The native kernel").

The source is compiled once per machine with the system C compiler (``$CC``, else ``cc``) for
this CPU (``-march=native``) and OpenMP, into a cache directory keyed by the source, the flags,
the compiler and the CPU; later processes load the cached library. ``torch`` is imported first,
so the library's OpenMP binds to the runtime PyTorch loaded and both share one thread pool.
Where no compiler is found or the build fails, :func:`native_library` raises
:class:`NativeUnavailable` with the reason in one line, and ``prune compile`` leaves the kernel out.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch  # noqa: F401 - loaded before the library, whose OpenMP then binds to torch's

SOURCE = Path(__file__).with_name("native") / "sparse_conv2d.c"
FLAGS = ("-O3", "-march=native", "-fopenmp", "-std=gnu11", "-shared", "-fPIC")
BUILD_TIMEOUT_SECONDS = 300


class NativeUnavailable(RuntimeError):
    """The native kernel cannot be built or loaded here; the message says why, in one line."""


def cache_directory() -> Path:
    """Where built libraries are kept: ``$TOPOPRUNE_CACHE``, else ``$XDG_CACHE_HOME/topoprune``,
    else ``~/.cache/topoprune``; a ``native`` folder inside it."""
    root = os.environ.get("TOPOPRUNE_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "topoprune"
    )
    return Path(root) / "native"


def _compiler() -> str:
    name = os.environ.get("CC", "cc")
    path = shutil.which(name)
    if path is None:
        raise NativeUnavailable(f"no C compiler {name!r} on PATH (set CC, or install one: Debian's gcc)")
    return path


def _cpu_identity() -> str:
    """The CPU's model and feature flags (what ``-march=native`` compiles for), where Linux says."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine()
    wanted = [line for line in lines if line.split(":")[0].strip() in ("model name", "flags", "Features")]
    return platform.machine() + "\n" + "\n".join(dict.fromkeys(wanted))


def _compiler_version(compiler: str) -> str:
    try:
        run = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as failure:
        raise NativeUnavailable(f"C compiler {compiler} did not run: {failure}") from None
    return run.stdout.strip()


def library_path(compiler: str) -> Path:
    """The cached library's path for this source, flags, compiler and CPU."""
    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), " ".join(FLAGS).encode(), _compiler_version(compiler).encode()):
        key.update(part + b"\0")
    key.update(_cpu_identity().encode())
    return cache_directory() / key.hexdigest()[:20] / f"{SOURCE.stem}.so"


def _build(compiler: str, target: Path) -> None:
    """Compile into a temporary file beside ``target``, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        try:
            run = subprocess.run(
                [compiler, *FLAGS, "-o", str(built), str(SOURCE)],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired) as failure:
            raise NativeUnavailable(f"building {SOURCE.name} failed: {failure}") from None
        if run.returncode != 0:
            lines = run.stderr.strip().splitlines()
            fallback = lines[0] if lines else f"exit status {run.returncode}"
            first = next((line for line in lines if "error" in line), fallback)
            raise NativeUnavailable(f"building {SOURCE.name} with {compiler} failed: {first.strip()}")
        os.replace(built, target)


def _bind(library: ctypes.CDLL) -> ctypes.CDLL:
    function = library.sparse_conv2d
    function.argtypes = [ctypes.c_void_p] * 11 + [ctypes.c_int64]
    function.restype = ctypes.c_int
    return library


@functools.cache
def _load() -> tuple[ctypes.CDLL | None, str]:
    try:
        compiler = _compiler()
        target = library_path(compiler)
        if not target.exists():
            _build(compiler, target)
        return _bind(ctypes.CDLL(str(target))), ""
    except NativeUnavailable as reason:
        return None, str(reason)
    except OSError as failure:  # a cache folder that cannot be written, a library that cannot load
        return None, f"native kernel library unavailable: {failure}"


def native_library() -> ctypes.CDLL:
    """The loaded library (built on first use in this cache), or :class:`NativeUnavailable`."""
    library, reason = _load()
    if library is None:
        raise NativeUnavailable(reason)
    return library
