"""Sweep jobs as Ray tasks (``train sweep --executor ray``).

Each job is one task asking for ``cpus_per_job`` CPUs and ``gpus_per_job`` GPUs, so Ray packs the
jobs onto the cluster; a task whose worker dies is retried up to ``max_retries`` times and, through
:func:`sweeps.jobs.run_job`, continues from the run's last checkpoint. The driver streams results
back as tasks finish: it collects each finished run's row into ``results.csv`` (the worker has
normally appended it already) and advances the progress bar. A job that fails is reported at the
end; the others run on. Paths reach the workers as absolute paths: on a cluster of several
machines the sweep folder and the data must be on a file system every node mounts at the same
place.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from sweeps.executors import RAY, ExecutorConfig, ExecutorOutcome, optional_module
from sweeps.jobs import JobSpec, collect_rows, run_job
from trainer.errors import TrainError

#: Seconds to wait for a cluster's address to answer before saying nothing listens there.
PROBE_SECONDS = 5.0


def _connect(ray, config: ExecutorConfig) -> bool:
    """Join the cluster at ``ray_address`` or start a local one; True when this call started Ray."""
    if ray.is_initialized():
        return False
    options = {"log_to_driver": False, "include_dashboard": False}
    if config.ray_address:
        _probe(config.ray_address)
        ray.init(address=config.ray_address, log_to_driver=False)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, **options)
    return True


def _probe(address: str) -> None:
    """One-line TrainError when nothing accepts a connection at ``address`` (Ray itself would wait)."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_SECONDS).close()
    except OSError as error:
        raise TrainError(f"--ray-address {address}: nothing answers there ({error.strerror or error})") from None


def _check_resources(ray, config: ExecutorConfig) -> None:
    """One-line TrainError when the whole cluster has fewer CPUs or GPUs than one job asks for
    (its tasks would wait for ever)."""
    total = ray.cluster_resources()
    where = (
        f"the Ray cluster at {config.ray_address}" if config.ray_address else "the Ray cluster started on this machine"
    )
    for resource, asked, flag in (
        ("CPU", config.cpus_per_job, "--cpus-per-job"),
        ("GPU", config.gpus_per_job, "--gpus-per-job"),
    ):
        if asked > total.get(resource, 0):
            raise TrainError(f"{flag} {asked:g}: {where} has {total.get(resource, 0):g} {resource}(s) in all")


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def run_on_ray(
    specs: list[JobSpec], config: ExecutorConfig, on_done: Callable[[JobSpec], None] = lambda spec: None
) -> ExecutorOutcome:
    """Run every job as a Ray task and wait for all of them."""
    ray = optional_module("ray", RAY)
    started = _connect(ray, config)
    outcome = ExecutorOutcome()
    try:
        _check_resources(ray, config)
        task = ray.remote(run_job).options(
            num_cpus=config.cpus_per_job,
            num_gpus=config.gpus_per_job,
            max_retries=config.max_retries,
            retry_exceptions=False,  # a job that raises fails; a job whose worker dies is retried
        )
        pending = {task.remote(spec): spec for spec in specs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                spec = pending.pop(ref)
                try:
                    run_id = ray.get(ref)
                except ray.exceptions.RayError as error:
                    outcome.failed.append((spec, _last_line(error)))
                else:
                    outcome.count(run_id)
                collect_rows(spec.config.out)
                on_done(spec)
    finally:
        if started:
            ray.shutdown()
    return outcome
