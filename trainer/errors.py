"""Errors of the training stage."""

from common.errors import TopopruneError


class DataError(TopopruneError, OSError):
    """A data set's files are missing or unreadable (the message says where it looked)."""


class TrainError(TopopruneError, ValueError):
    """A training configuration or checkpoint that cannot be used."""
