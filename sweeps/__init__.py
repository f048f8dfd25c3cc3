"""Sweeps: job lists, claims, and the executors that run them (docs/architecture.md, "Sweeps").

Layering: ``cli -> sweeps -> trainer``. The library entry point is :func:`sweeps.run.run_sweep`.
"""
