"""JSON as topoprune writes it: strict (non-finite numbers as the strings "inf", "-inf", "nan"),
numpy scalars as Python numbers, two-space indent, a final newline, written atomically."""

from __future__ import annotations

import json
import math
import os

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
