"""common: the infrastructure every topoprune package shares (see docs/architecture.md).

Registries, error base classes, atomic writes, JSON encoding, seeding, the memory budget and
plain-text tables. It imports no other topoprune package and never imports torch, so every
package, ``topology`` included, may build on it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("topoprune")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
