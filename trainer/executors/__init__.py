"""Where a sweep's jobs run (``train sweep --executor``): this machine (``local``), a Ray cluster
(``ray``) or a Slurm array job through submitit (``slurm``). Every executor runs each job through
:func:`trainer.jobs.run_job`, so the guarantees are the same: each job trained once (claims),
resumed from its last checkpoint after a worker died, its row in one ``results.csv``
(docs/architecture.md, "Sweeps").
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from trainer.errors import TrainError

LOCAL, RAY, SLURM = "local", "ray", "slurm"
EXECUTORS = (LOCAL, RAY, SLURM)


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
            (self.kind in EXECUTORS, f"executor must be one of {', '.join(EXECUTORS)}, got {self.kind!r}"),
            (self.jobs >= 1, f"jobs must be at least 1, got {self.jobs}"),
            (self.max_retries >= 0, f"max retries must be 0 or more, got {self.max_retries}"),
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
