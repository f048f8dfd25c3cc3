"""Where a sweep's jobs run (``train sweep --executor``): this machine (``local``), a Ray cluster
(``ray``) or a Slurm array job through submitit (``slurm``). Every executor runs each job through
:func:`sweeps.jobs.run_job`, so the guarantees are the same: each job trained once (claims),
resumed from its last checkpoint after a worker died, its row in one ``results.csv``
(docs/architecture.md, "Sweeps").
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from common.registry import Registry
from trainer.errors import TrainError

LOCAL, RAY, SLURM = "local", "ray", "slurm"


@dataclass(frozen=True)
class Executor:
    """A registered way to run a sweep's jobs: ``function`` in ``module`` (imported when used, so
    an extra that is not installed costs nothing until chosen) takes ``(specs, ExecutorConfig,
    on_done)`` and returns an :class:`ExecutorOutcome`. ``threads`` gives each job's torch threads
    from the config; ``absolute_paths``: its workers may start in another folder or machine."""

    name: str
    module: str
    function: str
    threads: Callable[[ExecutorConfig], int | None] = lambda config: None
    absolute_paths: bool = True

    def run(self, specs: list, config: ExecutorConfig, on_done) -> ExecutorOutcome:
        return getattr(importlib.import_module(self.module), self.function)(specs, config, on_done)


@dataclass
class ExecutorOutcome:
    """What an executor did: jobs it trained, jobs another process had, failures (job, why), and
    for a submitting executor the jobs it submitted and those already running or queued."""

    trained: int = 0
    skipped: int = 0
    failed: list = field(default_factory=list)
    submitted: list = field(default_factory=list)
    waiting: int = 0
    job_ids: list[str] = field(default_factory=list)

    def count(self, run_id: str | None) -> None:
        self.trained += run_id is not None
        self.skipped += run_id is None


EXECUTOR_REGISTRY: Registry[Executor] = Registry("executor")


def register_executor(executor: Executor) -> Executor:
    return EXECUTOR_REGISTRY.register(executor.name)(executor)


register_executor(Executor(LOCAL, "sweeps.executors.local", "run_local", absolute_paths=False))
register_executor(
    Executor(RAY, "sweeps.executors.ray_cluster", "run_on_ray", threads=lambda c: max(1, int(c.cpus_per_job)))
)
register_executor(
    Executor(SLURM, "sweeps.executors.slurm_array", "submit_pending", threads=lambda c: c.slurm_cpus_per_job)
)
#: The executors' names, in the order --help lists them.
EXECUTORS = tuple(EXECUTOR_REGISTRY)


#: A Ray cluster's address: "auto" (the cluster this machine belongs to) or [ray://]HOST:PORT.
RAY_ADDRESS = re.compile(r"auto|(ray://)?[A-Za-z0-9][A-Za-z0-9.-]*:[0-9]{1,5}")


@dataclass(frozen=True)
class ExecutorConfig:
    """How a sweep's jobs are run; each field is a ``train sweep`` option."""

    kind: str = LOCAL
    jobs: int = 1  # local: trainings at once on this machine
    max_retries: int = 2  # ray: reruns of a job whose worker died; slurm: requeues after pre-emption or time-out
    ray_address: str | None = None  # ray: "auto", "HOST:PORT", or None to start a local cluster for the sweep
    cpus_per_job: float = 1.0  # ray: CPUs each job asks for (its torch threads, rounded down, at least 1)
    gpus_per_job: float = 0.0  # ray: GPUs each job asks for
    slurm_partition: str | None = None
    slurm_time: int = 60  # minutes per array task
    slurm_gpus_per_job: int = 0
    slurm_cpus_per_job: int = 1
    slurm_array_parallelism: int = 64  # array tasks running at once
    slurm_options: tuple[tuple[str, str], ...] = ()  # further #SBATCH KEY=VALUE options

    def validate(self) -> ExecutorConfig:
        checks = [
            (
                self.kind in EXECUTOR_REGISTRY,
                f"executor must be one of {', '.join(EXECUTOR_REGISTRY)}, got {self.kind!r}",
            ),
            (self.jobs >= 1, f"jobs must be at least 1, got {self.jobs}"),
            (self.max_retries >= 0, f"max retries must be 0 or more, got {self.max_retries}"),
            (
                self.ray_address is None or RAY_ADDRESS.fullmatch(self.ray_address) is not None,
                f"--ray-address is 'auto', HOST:PORT or ray://HOST:PORT, got {self.ray_address!r:.60}",
            ),
            (self.cpus_per_job > 0, f"CPUs per job must be positive, got {self.cpus_per_job}"),
            (self.gpus_per_job >= 0, f"GPUs per job must be 0 or more, got {self.gpus_per_job}"),
            (self.slurm_time >= 1, f"Slurm time must be at least 1 minute, got {self.slurm_time}"),
            (self.slurm_gpus_per_job >= 0, f"Slurm GPUs per job must be 0 or more, got {self.slurm_gpus_per_job}"),
            (self.slurm_cpus_per_job >= 1, f"Slurm CPUs per job must be at least 1, got {self.slurm_cpus_per_job}"),
            (
                self.slurm_array_parallelism >= 1,
                f"Slurm array parallelism must be at least 1, got {self.slurm_array_parallelism}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainError(message)
        return self


def optional_module(name: str, executor: str):
    """Import an optional extra's module, or one line naming the extra to install."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise TrainError(
            f"--executor {executor} needs the {executor} extra, which is not installed: "
            f"pip install 'topoprune[{executor}]'"
        ) from None
