"""Test helper: run code as if an optional package were not installed."""

import builtins
import importlib


def hide_module(monkeypatch, name: str) -> None:
    """Make ``import name`` and ``importlib.import_module(name)`` raise ImportError."""
    real_import, real_import_module = builtins.__import__, importlib.import_module

    def blocked(module, *args, **kwargs):
        if module == name:
            raise ImportError(f"No module named {name!r}")
        return real_import(module, *args, **kwargs)

    def blocked_module(module, *args):
        if module == name:
            raise ImportError(f"No module named {name!r}")
        return real_import_module(module, *args)

    monkeypatch.setattr(builtins, "__import__", blocked)
    monkeypatch.setattr(importlib, "import_module", blocked_module)
