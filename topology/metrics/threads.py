"""Independent pieces of one metric run on the usable cores (docs/large-graphs.md, "How the
metrics scale"): numpy's and scipy's array loops release the GIL, so threads share the work
without copying the graph. Every caller combines the pieces in an order-free way (integer sums,
maxima) or in item order, so a result does not depend on the number of cores.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def usable_cores() -> int:
    """Cores this process may run on (its affinity where the platform reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def map_on_threads(
    function: Callable[[Item], Result], items: Iterable[Item], threads: int | None = None
) -> Iterator[Result]:
    """``function`` of every item, yielded in item order, on up to ``threads`` threads (default:
    the usable cores; one thread runs them in the calling thread)."""
    items = list(items)
    workers = min(usable_cores() if threads is None else threads, len(items))
    if workers <= 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        yield from pool.map(function, items)


def dealt(items: list[Item]) -> list[list[Item]]:
    """``items`` dealt round-robin into one share per usable core (at least one share, at most one
    per item), for work where each thread keeps its own running result."""
    shares = max(1, min(usable_cores(), len(items)))
    return [items[share::shares] for share in range(shares)]


@functools.cache
def blas_controller() -> Any | None:
    """threadpoolctl's controller of the BLAS libraries loaded (created once), or None without
    threadpoolctl. Work split over our own threads holds BLAS to one thread inside each: its own
    threads, spinning after a call, would compete with ours for the cores."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()
