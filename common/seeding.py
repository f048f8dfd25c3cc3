"""One helper that turns every accepted seed form into a ``numpy.random.Generator``."""

from __future__ import annotations

import hashlib

import numpy as np

SeedLike = int | np.random.Generator | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Normalise ``seed`` to a Generator.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        An int seeds a fresh PCG64 stream; a Generator is returned unchanged (so callers can
        pass one stream down); None draws fresh OS entropy (not reproducible).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(None if seed is None else int(seed))
    raise TypeError(f"seed must be an int, a numpy Generator or None, not {type(seed).__name__}")


def derive_seed(seed: int, *labels: str) -> int:
    """A stable 63-bit seed derived from ``seed`` and text labels (e.g. a layer name).

    The same inputs give the same seed on every machine and Python version (unlike ``hash``).
    """
    text = "\x1f".join([str(int(seed)), *labels]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1
