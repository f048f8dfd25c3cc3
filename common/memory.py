"""A memory budget checked before large allocations, so big inputs fail at once with one line.

The budget is, in order: what :func:`set_memory_budget` set (``--memory-budget`` on the
commands), the ``TOPOPRUNE_MEMORY_BUDGET`` environment variable (``"2G"``, ``"512M"``,
``"3000000000"``), or the memory the machine has available now (``MemAvailable`` of
``/proc/meminfo``, else physical memory, and no more than the address space ``ulimit -v`` leaves).
"""

from __future__ import annotations

import os
import re
import resource

from common.errors import TopopruneError

ENVIRONMENT_VARIABLE = "TOPOPRUNE_MEMORY_BUDGET"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_budget_override: int | None = None


class MemoryBudgetError(TopopruneError, MemoryError):
    """An input or parameter would need more memory than the budget allows."""


def parse_size(text: str) -> int:
    """Bytes from ``"3G"``, ``"512M"``, ``"1.5g"``, ``"2GB"`` or a plain number (binary units).

    Raises
    ------
    ValueError
        If ``text`` is not a size.
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:I?B)?\s*", str(text), flags=re.IGNORECASE)
    if not match:
        raise ValueError(f"{text!r} is not a memory size (e.g. 2G, 512M, 3000000000)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_bytes(count: float) -> str:
    """``1.5 GB``-style text (binary units, as ``free -h`` prints them)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1024 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def available_bytes() -> int:
    """Memory available to new allocations now, in bytes: the machine's, or less where this
    process's address-space limit (``ulimit -v``) leaves less room."""
    return min(_machine_available(), _address_space_left())


def _address_space_left() -> int:
    """Bytes of address space this process may still map under ``RLIMIT_AS`` (unlimited: a huge number)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return 2**62
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            mapped = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        mapped = 0
    return max(soft - mapped, 0)


def _machine_available() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def positive_budget(budget: int) -> int:
    """``budget`` if positive; the one rule for ``--memory-budget`` and the environment variable alike."""
    if budget <= 0:
        raise ValueError(f"memory budget must be positive, got {budget}")
    return budget


def set_memory_budget(budget: int | None) -> None:
    """Set the budget for this process (None: back to the environment or available memory)."""
    global _budget_override
    _budget_override = None if budget is None else positive_budget(budget)


def memory_budget() -> int:
    """The budget in bytes (see the module docstring for where it comes from)."""
    if _budget_override is not None:
        return _budget_override
    text = os.environ.get(ENVIRONMENT_VARIABLE)
    if text:
        try:
            return positive_budget(parse_size(text))
        except ValueError as error:
            raise MemoryBudgetError(f"{ENVIRONMENT_VARIABLE}: {error}") from None
    return available_bytes()


def require_memory(needed: float, what: str) -> None:
    """Raise :class:`MemoryBudgetError` before an allocation of ``needed`` bytes over the budget.

    Parameters
    ----------
    needed : float
        Bytes the operation would allocate (an estimate of its peak).
    what : str
        Names the input and the operation, e.g. ``"plans/big.npy: a 1000000 x 1000000 matrix"``.
    """
    budget = memory_budget()
    if needed > budget:
        raise MemoryBudgetError(
            f"{what} would need {format_bytes(needed)}, more than the memory budget of {format_bytes(budget)} "
            f"(set --memory-budget or {ENVIRONMENT_VARIABLE} to change it)"
        )
