"""A model's memory checked before it is built (docs/architecture.md, "Untrusted input").

The model is first built on PyTorch's ``meta`` device, where tensors have shapes and no storage:
every parameter and buffer registered is added up, and the build stops with one
:class:`~common.memory.MemoryBudgetError` as soon as the sum passes the memory budget, so a
``width=1000000`` or a ``1x100000x100000`` input is refused in a second instead of reaching the
allocator. A model whose constructor cannot run on ``meta`` (one that reads a tensor's values) is
built directly.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import torch
from torch import nn

from common.memory import MemoryBudgetError, format_bytes, memory_budget


class _OverBudget(Exception):
    """Raised from the registration hooks to stop a meta build early."""


@contextmanager
def _counting(budget: int):
    """Sum the bytes of every parameter and buffer registered while active; stop over ``budget``."""
    total = [0]

    def count(_module, _name, tensor):
        if tensor is not None:
            total[0] += tensor.numel() * tensor.element_size()
            if total[0] > budget:
                raise _OverBudget()

    handles = [
        nn.modules.module.register_module_parameter_registration_hook(count),
        nn.modules.module.register_module_buffer_registration_hook(count),
    ]
    try:
        yield total
    finally:
        for handle in handles:
            handle.remove()


def require_model_memory(build: Callable[[], nn.Module], what: str) -> None:
    """Raise MemoryBudgetError when the tensors ``build()`` makes would not fit the budget."""
    budget = memory_budget()
    try:
        with _counting(budget), torch.device("meta"):
            build()
    except _OverBudget:
        raise MemoryBudgetError(
            f"{what}: its weights alone would need more than the memory budget of {format_bytes(budget)} "
            "(lower the width, depth or input size, or set --memory-budget / TOPOPRUNE_MEMORY_BUDGET)"
        ) from None
    except Exception as error:  # noqa: BLE001 - our own errors surface from the real build below
        if isinstance(error, MemoryBudgetError):
            raise
        return  # a constructor that cannot run on meta: built for real, unchecked
