"""A sweep as a library call: ``run_sweep(template, jobs, executor=...)`` (docs/architecture.md,
"Sweeps"); ``train sweep`` only wraps it (progress bar, messages)."""

from __future__ import annotations

from collections.abc import Callable

from sweeps.executors import EXECUTOR_REGISTRY, ExecutorConfig, ExecutorOutcome
from sweeps.jobs import JobSpec
from sweeps.planning import SweepJob, job_specs, sweep_status
from trainer.config import TrainConfig


def run_specs(
    specs: list[JobSpec], executor: ExecutorConfig | None = None, on_done: Callable[[JobSpec], None] | None = None
) -> ExecutorOutcome:
    """Run (or, for a submitting executor, submit) these jobs with the executor ``executor.kind``
    from the registry, each with that executor's threads and, for workers elsewhere, absolute paths."""
    executor = (executor or ExecutorConfig()).validate()
    chosen = EXECUTOR_REGISTRY.get(executor.kind)
    threads = chosen.threads(executor)
    ready = [spec.for_worker(threads, spec.config.quiet, chosen.absolute_paths) for spec in specs]
    return chosen.run(ready, executor, on_done or (lambda spec: None))


def run_sweep(
    template: TrainConfig,
    jobs: list[SweepJob],
    executor: ExecutorConfig | None = None,
    on_done: Callable[[JobSpec], None] | None = None,
) -> ExecutorOutcome:
    """Every job of ``jobs`` (:func:`sweeps.planning.sweep_jobs`) without a row in
    ``template.out/results.csv``, run by ``executor``; each job's identity is computed once, here,
    and checked by the worker that trains it."""
    pending = sweep_status(job_specs(template, jobs), template.out).pending
    return run_specs(pending, executor, on_done)
