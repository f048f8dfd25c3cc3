"""Errors of the pruning stage."""

from topology.errors import TopopruneError


class PruningError(TopopruneError, ValueError):
    """A plan, recipe or mask that does not fit the model (e.g. a layer smaller than the plan)."""
