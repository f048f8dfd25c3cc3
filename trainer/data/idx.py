"""The IDX file format of MNIST and Fashion-MNIST (optionally gzip-compressed)."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from common.memory import require_memory
from trainer.errors import DataError

#: IDX type codes -> numpy dtypes (big-endian).
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into an array of its stored shape and dtype.

    Raises
    ------
    DataError
        Naming the file, for a bad magic number, a truncated file or an unreadable gzip.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            shape, dtype = _header(path, handle)
            expected = math.prod(shape) * dtype.itemsize  # Python integers: absurd sizes do not wrap
            require_memory(expected, f"{path}: an IDX array of shape {shape}")
            data = handle.read(expected + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: cannot read IDX file ({error})") from None
    if len(data) != expected:
        raise DataError(f"{path}: IDX body has {len(data)} bytes, expected {expected} for shape {shape}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _header(path: Path, handle) -> tuple[tuple[int, ...], np.dtype]:
    """The stored shape and the dtype of an IDX file open at its start (read past its header)."""
    magic = handle.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dims = magic[3]
    sizes = handle.read(4 * dims)
    if len(sizes) < 4 * dims:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(sizes[4 * i : 4 + 4 * i], "big") for i in range(dims))
    return shape, np.dtype(IDX_TYPES[magic[2]])


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as an IDX file, gzip-compressed when ``path`` ends in ``.gz``."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(header + array.tobytes())
