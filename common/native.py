"""Build and load a C source of this package as a shared library (docs/architecture.md, "Native
code").

A source is compiled once per machine with the system C compiler (``$CC``, else ``cc``) for this
CPU (``-march=native``), into a cache directory keyed by the source, the flags, the compiler and
the CPU; later processes load the cached library with ctypes. The build writes into a temporary
folder beside the target and renames the library into place, so concurrent builds never load a
half-written file. Where no compiler is found or the build fails, :class:`NativeUnavailable`
says why in one line, and the caller falls back to its Python path.
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

#: Flags every build gets; a caller adds its own (OpenMP, libraries).
BASE_FLAGS = ("-O3", "-march=native", "-std=gnu11", "-shared", "-fPIC")
BUILD_TIMEOUT_SECONDS = 300


class NativeUnavailable(RuntimeError):
    """A native library cannot be built or loaded here; the message says why, in one line."""


def cache_directory() -> Path:
    """Where built libraries are kept: ``$TOPOPRUNE_CACHE``, else ``$XDG_CACHE_HOME/topoprune``,
    else ``~/.cache/topoprune``; a ``native`` folder inside it."""
    root = os.environ.get("TOPOPRUNE_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "topoprune"
    )
    return Path(root) / "native"


def compiler() -> str:
    """The C compiler's path: ``$CC`` or ``cc`` on PATH."""
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


def _compiler_version(path: str) -> str:
    try:
        run = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as failure:
        raise NativeUnavailable(f"C compiler {path} did not run: {failure}") from None
    return run.stdout.strip()


def library_path(source: Path, flags: tuple[str, ...], path: str) -> Path:
    """The cached library's path for this source, flags, compiler and CPU."""
    key = hashlib.sha256()
    for part in (source.read_bytes(), " ".join(flags).encode(), _compiler_version(path).encode()):
        key.update(part + b"\0")
    key.update(_cpu_identity().encode())
    return cache_directory() / key.hexdigest()[:20] / f"{source.stem}.so"


def _build(source: Path, flags: tuple[str, ...], path: str, target: Path) -> None:
    """Compile into a temporary folder beside ``target``, then rename the library over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        try:
            run = subprocess.run(
                [path, *flags, "-o", str(built), str(source)],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_SECONDS,
            )
        except (OSError, subprocess.TimeoutExpired) as failure:
            raise NativeUnavailable(f"building {source.name} failed: {failure}") from None
        if run.returncode != 0:
            lines = run.stderr.strip().splitlines()
            fallback = lines[0] if lines else f"exit status {run.returncode}"
            first = next((line for line in lines if "error" in line), fallback)
            raise NativeUnavailable(f"building {source.name} with {path} failed: {first.strip()}")
        os.replace(built, target)


def load_library(source: Path, extra_flags: tuple[str, ...] = ()) -> ctypes.CDLL:
    """``source`` built (once per cache) and loaded, or :class:`NativeUnavailable`."""
    flags = (*BASE_FLAGS, *extra_flags)
    try:
        path = compiler()
        target = library_path(source, flags, path)
        if not target.exists():
            _build(source, flags, path, target)
        return ctypes.CDLL(str(target))
    except OSError as failure:  # a cache folder that cannot be written, a library that cannot load
        raise NativeUnavailable(f"{source.name}: native library unavailable: {failure}") from None


#: A library's functions: (name, argument types, result type) each, declared once it loads.
Signatures = tuple[tuple[str, tuple[type, ...], type], ...]


@functools.cache
def _loaded(source: Path, extra_flags: tuple[str, ...], signatures: Signatures) -> tuple[ctypes.CDLL | None, str]:
    try:
        library = load_library(source, extra_flags)
    except NativeUnavailable as reason:
        return None, str(reason)
    for name, arguments, result in signatures:
        getattr(library, name).argtypes = list(arguments)
        getattr(library, name).restype = result
    return library, ""


def cached_library(source: Path, extra_flags: tuple[str, ...] = (), signatures: Signatures = ()) -> ctypes.CDLL:
    """``source``'s library, loaded once per process with ``signatures`` declared; a failure is
    remembered too, and raised again as :class:`NativeUnavailable` at every call."""
    library, reason = _loaded(source, tuple(extra_flags), tuple(signatures))
    if library is None:
        raise NativeUnavailable(reason)
    return library


def forget_libraries() -> None:
    """Forget what was loaded or failed (tests that change the compiler or the cache)."""
    _loaded.cache_clear()
