"""Error base classes shared by every topoprune package.

Every error a user can cause derives from :class:`TopopruneError` and from a builtin
(``ValueError``, ``OSError`` or ``MemoryError``), so library callers can catch the builtin while
the command-line wrapper turns any :class:`TopopruneError` into a one-line message and a
non-zero exit.
"""


class TopopruneError(Exception):
    """Base class of all errors topoprune raises on purpose."""


class ParameterError(TopopruneError, ValueError):
    """A parameter is impossible, e.g. odd ``n * d`` for a random regular graph."""


class RegistryError(TopopruneError, ValueError):
    """An unknown or duplicate name in a registry."""
