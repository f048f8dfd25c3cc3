"""The generator registry and the call that validates parameters against a generator.

A generator is a plain function with keyword parameters (``nodes``, ``degree``, ``p``, ...), a
``seed`` and a ``form`` (``"auto"``, ``"dense"`` or ``"sparse"``, see
``topology.graph.resolve_form``); it returns one 0/1 matrix, or for a *family* generator
(``swap-chain``) a list of them. Which options a generator takes is read from its signature, so
a new generator needs no CLI change.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common.errors import ParameterError
from common.registry import Registry
from topology.graph import BIPARTITE, FORMS, GRAPH


@dataclass(frozen=True)
class GeneratorSpec:
    """A registered generator.

    Attributes
    ----------
    name : str
    func : callable
        ``func(**params, seed=...) -> ndarray`` (or a list of them when ``family``).
    kind : {"graph", "bipartite"}
    family : bool
        True when one call makes a whole family of ``count`` graphs.
    reference : str
        The paper or book the construction comes from.
    """

    name: str
    func: Callable
    kind: str
    family: bool
    reference: str

    @property
    def parameters(self) -> dict[str, inspect.Parameter]:
        """The generator's parameters other than ``seed`` and ``form``."""
        params = inspect.signature(self.func).parameters
        return {name: p for name, p in params.items() if name not in ("seed", "form")}

    @property
    def required(self) -> list[str]:
        return [name for name, p in self.parameters.items() if p.default is inspect.Parameter.empty]

    @property
    def is_random(self) -> bool:
        return "seed" in inspect.signature(self.func).parameters


GENERATORS: Registry[GeneratorSpec] = Registry("generator")


def register_generator(name: str, kind: str = GRAPH, family: bool = False, reference: str = ""):
    """Decorator: register ``func`` as generator ``name``."""
    if kind not in (GRAPH, BIPARTITE):
        raise ValueError(f"kind must be {GRAPH!r} or {BIPARTITE!r}")

    def decorator(func: Callable) -> Callable:
        GENERATORS.register(name)(GeneratorSpec(name, func, kind, family, reference))
        return func

    return decorator


def generate(name: str, seed: int | np.random.Generator | None = None, form: str = "auto", **params):
    """Run generator ``name`` with ``params``; parameters it does not take are an error.

    Parameters given as None are treated as not given. ``form`` chooses a dense ``ndarray`` or a
    ``scipy.sparse.csr_array`` (``auto``: dense up to ``topology.graph.DENSE_MAX_NODES`` nodes).
    Raises ParameterError naming the parameter for unknown, missing or impossible values, and
    MemoryBudgetError when the result would not fit the memory budget.
    """
    spec = GENERATORS.get(name)
    given = {key: value for key, value in params.items() if value is not None}
    unknown = sorted(set(given) - set(spec.parameters))
    if unknown:
        takes = ", ".join(spec.parameters) or "no parameters"
        raise ParameterError(f"generator {name!r} does not take {', '.join(unknown)} (it takes {takes})")
    missing = [p for p in spec.required if p not in given]
    if missing:
        raise ParameterError(f"generator {name!r} needs {', '.join(missing)}")
    if form not in FORMS:
        raise ParameterError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    if spec.is_random:
        given["seed"] = seed
    return spec.func(**given, form=form)


def require(condition: bool, generator: str, message: str) -> None:
    """Raise ``ParameterError(f"{generator}: {message}")`` unless ``condition`` holds."""
    if not condition:
        raise ParameterError(f"{generator}: {message}")


def as_int(value: float, generator: str, name: str) -> int:
    """``value`` as an int, or a ParameterError if it has a fractional part."""
    if float(value) != int(value):
        raise ParameterError(f"{generator}: {name} must be a whole number, got {value}")
    return int(value)
