"""Errors of the topology stage (the shared base classes are in :mod:`common.errors`)."""

from common.errors import TopopruneError


class PlanError(TopopruneError, ValueError):
    """A plan file is missing, unreadable or does not hold a valid graph."""
