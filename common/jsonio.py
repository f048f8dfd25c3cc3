"""JSON as topoprune writes it: strict (non-finite numbers as the strings "inf", "-inf", "nan"),
numpy scalars as Python numbers, two-space indent, a final newline, written atomically."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from common.atomic import atomic_write_text


def encode_json(value):
    """``value`` with non-finite floats as the strings "inf", "-inf", "nan" and numpy scalars as
    Python numbers, recursively (strict JSON that other tools read)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {key: encode_json(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_json(v) for v in value]
    if isinstance(value, np.generic):
        return encode_json(value.item())
    return value


def decode_json_metrics(metrics: dict) -> dict:
    """Inverse of :func:`encode_json` on a flat dict: "inf", "-inf" and "nan" back to floats."""
    return {key: float(v) if v in ("inf", "-inf", "nan") else v for key, v in metrics.items()}


def json_text(value, indent: int | None = 2) -> str:
    """``value`` encoded by :func:`encode_json` as strict JSON text ending in a newline."""
    return json.dumps(encode_json(value), indent=indent, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, value) -> None:
    """Write :func:`json_text` of ``value`` to ``path`` atomically."""
    atomic_write_text(path, json_text(value))


#: The largest JSON document topoprune reads back (run folders, plans, sweep records): far above
#: any it writes, far below what would exhaust memory.
MAX_JSON_BYTES = 64 * 2**20


def read_json(path: str | os.PathLike, error: type[Exception], what: str):
    """The JSON document at ``path``, read as data from a folder anyone may have written.

    Every way the file can be unreadable — missing, not UTF-8, not JSON, nested deeper than the
    parser recurses, larger than :data:`MAX_JSON_BYTES` — becomes one ``error`` naming the file and
    ``what`` it should have been (see docs/architecture.md, "Untrusted input")."""
    try:
        size = os.stat(path).st_size
        text = None if size > MAX_JSON_BYTES else Path(path).read_text(encoding="utf-8")
        document = None if text is None else json.loads(text)
    except RecursionError:
        raise error(f"{path}: not {what} (nested too deeply)") from None
    except (OSError, ValueError) as problem:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise error(f"{path}: not {what} ({problem})") from None
    if text is None:
        raise error(f"{path}: not {what} ({size:,} bytes, more than the {MAX_JSON_BYTES:,} allowed)")
    return document
