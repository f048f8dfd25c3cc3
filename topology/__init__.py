"""topology: generate, score, save and load the graphs that wire pruned networks.

This package never imports torch; ``pruning``, ``trainer`` and ``cli`` build on it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("topoprune")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
