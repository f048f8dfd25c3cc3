"""Tables as text: CSV at full precision and fixed-width tables for people."""

from __future__ import annotations

import pandas as pd


def to_csv(frame: pd.DataFrame) -> str:
    """CSV text; floats at full precision, ``inf`` for infinite values, empty for missing."""
    return frame.to_csv(index=False, lineterminator="\n")


def to_table(frame: pd.DataFrame, empty: str = "(no rows)") -> str:
    """A fixed-width table for people: floats to 6 significant digits, ``-`` for missing."""
    if frame.empty:
        return empty + "\n"
    shown = frame.copy()
    for column in shown.columns:
        shown[column] = [_short(value) for value in shown[column]]
    return shown.to_string(index=False) + "\n"


def _short(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return f"{value:.6g}" if isinstance(value, float) else str(value)
