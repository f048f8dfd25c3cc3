"""How the report words numbers: a range whose ends read the same is one number, never
"1.37 to 1.37", and a rounded zero has no sign."""

from __future__ import annotations


def number(value: float, spec: str = ".2f") -> str:
    """``value`` formatted by ``spec``, a rounded zero without a sign (never ``-0.00``)."""
    text = format(value, spec)
    return format(0.0, spec) if float(text.replace(",", "")) == 0 else text


def span(low: float, high: float, spec: str = ".2f") -> str:
    """``"low to high"``, or one number when both read the same."""
    first, last = number(low, spec), number(high, spec)
    return first if first == last else f"{first} to {last}"
