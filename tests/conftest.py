"""Fixtures shared across the suite (docs/architecture.md, "Tests").

* ``data_dir``: a small Fashion-MNIST-like data set in the real IDX layout (300 training and 100
  test images), written once per session; a module that needs another size defines its own.
* ``cli``: a click ``CliRunner`` whose ``invoke`` turns every argument into a string.
* the ``slow`` marker: tests over ~20 s (documented commands, executors, DDP, every recipe end
  to end). ``make test`` runs everything; ``make test-fast`` leaves them out.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.trainer.synthetic import write_fashion_like


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=300, test=100)


class Cli:
    """``cli.invoke(command, *args)`` with every argument as a string; the runner's result."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def invoke(self, command, *args, **kwargs):
        return self.runner.invoke(command, [str(a) for a in args], **kwargs)


@pytest.fixture
def cli() -> Cli:
    return Cli()


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: takes over ~20 s (make test-fast leaves it out)")


_SLOW: set[str] = set()


def pytest_collection_modifyitems(config, items) -> None:
    _SLOW.update(item.nodeid for item in items if item.get_closest_marker("slow") is not None)


def pytest_runtest_logstart(nodeid, location) -> None:
    """Name each slow test as it starts (outside output capture), so minutes in one test never
    look like a hang."""
    if nodeid in _SLOW:
        print(f"\nslow test starting: {nodeid}", flush=True)
