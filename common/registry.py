"""A tiny name -> object registry used for every extensible family.

Generators, metrics, mask recipes, models and data sets each live in one
:class:`Registry`; ``@REGISTRY.register("name")`` adds an entry and refuses duplicates,
``REGISTRY.get(name)`` returns it or raises an error listing the valid names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from common.errors import RegistryError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """A read-only mapping from names to registered objects.

    Parameters
    ----------
    family : str
        What the entries are ("generator", "metric", ...), used in error messages.
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that stores the decorated object under ``name``.

        Raises
        ------
        RegistryError
            If ``name`` is already registered.
        """

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise RegistryError(f"{self.family} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:  # type: ignore[override]
        """Return the entry called ``name``.

        Raises
        ------
        RegistryError
            If there is no such entry; the message lists the valid names.
        """
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(sorted(self._entries))
            raise RegistryError(f"unknown {self.family} {name!r}; valid: {valid}") from None

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
