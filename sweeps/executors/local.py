"""The local executor: a sweep's jobs on this machine, one or several at a time."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context

from sweeps.executors import ExecutorConfig, ExecutorOutcome
from sweeps.jobs import JobSpec, run_job
from trainer.errors import TrainError


def run_local(
    specs: list[JobSpec], config: ExecutorConfig, on_done: Callable[[JobSpec], None] = lambda spec: None
) -> ExecutorOutcome:
    """Run ``specs`` here, ``config.jobs`` at a time, each with ``cores // jobs`` threads unless its
    configuration sets them. Every job goes through :func:`sweeps.jobs.run_job`: claimed first, so
    several sweeps over one folder train every job once, and continued from its last checkpoint
    when a killed sweep left it half-done. The first failing job stops the sweep with its error.
    """
    workers = config.jobs
    if workers < 1:
        raise TrainError(f"jobs must be at least 1, got {workers}")
    threads = max(1, (os.cpu_count() or 1) // workers)
    specs = [spec.for_worker(threads, quiet=True if workers > 1 else spec.config.quiet) for spec in specs]
    outcome = ExecutorOutcome()
    if workers == 1:
        for spec in specs:
            outcome.count(run_job(spec))
            on_done(spec)
        return outcome
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_job, spec): spec for spec in specs}
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in finished:
                error = future.exception()
                if error is not None:
                    for other in remaining:
                        other.cancel()
                    raise error
                outcome.count(future.result())
                on_done(futures[future])
    return outcome
