"""Errors of the pruning stage."""

from common.errors import TopopruneError


class PruningError(TopopruneError, ValueError):
    """A plan, recipe or mask that does not fit the model (e.g. a layer smaller than the plan)."""
