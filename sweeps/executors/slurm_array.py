"""Sweep jobs as one Slurm array job through submitit (``train sweep --executor slurm``).

The sweep command submits and returns with the job ids; each array task runs one job through
:func:`sweeps.jobs.run_job` (claimed, continued from its last checkpoint when an earlier attempt
died). A task that is pre-empted or reaches its time limit checkpoints through submitit and is
requeued, up to ``max_retries`` times. What was submitted is recorded in ``OUT/slurm/`` (the
submission record beside submitit's own files), which ``train sweep --status OUT`` reads;
rerunning the same sweep command submits again only the jobs that are neither done, running nor
queued, so a failed or lost job is retried by rerunning it.
"""

from __future__ import annotations

import json
import pickletools
import re
import time
from dataclasses import dataclass
from pathlib import Path

from common.atomic import atomic_write_text
from common.jsonio import read_json
from sweeps.executors import SLURM, ExecutorConfig, ExecutorOutcome, optional_module
from sweeps.jobs import JobSpec, run_job
from trainer.errors import TrainError

#: Folder of submitit's files and of the submission record, inside the sweep folder.
SLURM_DIR = "slurm"
SUBMISSIONS_FILE = "submissions.json"
#: A Slurm job id as submitit records it: an array job's id, "_" and the task index.
_JOB_ID = re.compile(r"[0-9]+(_[0-9]+)?")


class SweepTask:
    """The callable each array task runs: one job. Its ``checkpoint`` makes submitit requeue the
    task when it is pre-empted or times out (the run itself is checkpointed every epoch)."""

    def __call__(self, spec: JobSpec) -> str | None:
        return run_job(spec)

    def checkpoint(self, spec: JobSpec):
        submitit = optional_module("submitit", SLURM)
        return submitit.helpers.DelayedSubmission(self, spec)


@dataclass(frozen=True)
class Submission:
    """One submitted job: its row's key, the scheduler's job id and when it was submitted."""

    config_hash: str
    train_seed: str
    job_id: str
    what: str
    submitted: float

    @property
    def key(self) -> tuple[str, str]:
        return self.config_hash, self.train_seed


def slurm_parameters(config: ExecutorConfig) -> dict:
    """submitit's ``SlurmExecutor`` parameters (sbatch options) for the sweep's array tasks."""
    parameters = {
        "time": config.slurm_time,
        "gpus_per_node": config.slurm_gpus_per_job or None,
        "cpus_per_task": config.slurm_cpus_per_job,
        "array_parallelism": config.slurm_array_parallelism,
        "job_name": "topoprune-sweep",
    }
    if config.slurm_partition:
        parameters["partition"] = config.slurm_partition
    if config.slurm_options:
        parameters["additional_parameters"] = dict(config.slurm_options)
    return {key: value for key, value in parameters.items() if value is not None}


def _executor(folder: Path, config: ExecutorConfig, cluster: str):
    submitit = optional_module("submitit", SLURM)
    if cluster == "local":  # submitit's local executor: the same tasks as local processes (tests)
        executor = submitit.LocalExecutor(folder, max_num_timeout=config.max_retries)
        executor.update_parameters(timeout_min=config.slurm_time)
        return executor
    try:
        executor = submitit.SlurmExecutor(folder, max_num_timeout=config.max_retries)
    except RuntimeError:
        raise TrainError(
            "--executor slurm: no Slurm here (srun and sbatch not found); run the sweep on a Slurm login node"
        ) from None
    executor.update_parameters(**slurm_parameters(config))
    return executor


@dataclass
class Submitted:
    """What :func:`submit` submitted: the recorded submissions and submitit's job handles (to wait
    on them in this process)."""

    submissions: list[Submission]
    jobs: list


def submit(specs: list[JobSpec], config: ExecutorConfig, out: Path, cluster: str = "slurm") -> Submitted:
    """Submit every job as one array job (``cluster="local"``: submitit's local executor, which runs
    the same tasks as local processes) and record the submissions in ``out/slurm``."""
    folder = Path(out) / SLURM_DIR
    executor = _executor(folder, config, cluster)  # first: without Slurm, nothing is written
    folder.mkdir(parents=True, exist_ok=True)
    task = SweepTask()
    jobs = executor.map_array(task, specs) if len(specs) > 1 else [executor.submit(task, spec) for spec in specs]
    now = time.time()
    submitted = [
        Submission(spec.config_hash, str(spec.config.train_seed), str(job.job_id), spec.describe(), now)
        for spec, job in zip(specs, jobs)
    ]
    record_submissions(out, submitted)
    return Submitted(submitted, list(jobs))


def read_submissions(out: Path) -> list[Submission]:
    """Every submission recorded in ``out/slurm`` (oldest first; empty when none)."""
    path = Path(out) / SLURM_DIR / SUBMISSIONS_FILE
    if not path.is_file():
        return []
    entries = read_json(path, TrainError, "a submission record")
    if not isinstance(entries, list):
        raise TrainError(f"{path}: not a submission record (expected a JSON list)")
    return [_submission(path, entry) for entry in entries]


def _submission(path: Path, entry) -> Submission:
    """One recorded submission, checked field by field (the job id names files: digits only)."""
    fields = {name: str for name in ("config_hash", "train_seed", "job_id", "what")} | {"submitted": (int, float)}
    if not isinstance(entry, dict) or set(entry) != set(fields):
        raise TrainError(f"{path}: not a submission record (each entry holds exactly {', '.join(fields)})")
    wrong = [name for name, kind in fields.items() if not isinstance(entry[name], kind)]
    if wrong or not _JOB_ID.fullmatch(entry["job_id"]):
        bad = ", ".join(wrong) or "job_id"
        raise TrainError(f"{path}: not a submission record (an entry with a bad {bad})")
    return Submission(**entry)


def record_submissions(out: Path, submitted: list[Submission]) -> None:
    entries = [vars(s) for s in read_submissions(out)] + [vars(s) for s in submitted]
    atomic_write_text(Path(out) / SLURM_DIR / SUBMISSIONS_FILE, json.dumps(entries, indent=1) + "\n")


def task_outcome(out: Path, job_id: str) -> str | None:
    """What submitit recorded for a finished task: ``"success"``, ``"error"``, or None (no result yet).

    The result file is a pickle, and a results folder may come from anyone: it is never
    unpickled. Its opcodes are read (``pickletools``, which executes nothing) up to the first
    text, which submitit writes as ``"success"`` or ``"error"``; anything else is an error."""
    submitit = optional_module("submitit", SLURM)
    path = submitit.core.utils.JobPaths(Path(out) / SLURM_DIR, job_id).result_pickle
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            for _opcode, argument, _position in pickletools.genops(handle):
                if isinstance(argument, str):
                    return argument if argument in ("success", "error") else "error"
    except Exception:  # a result pickle cut short by a dying task, or not a pickle at all
        return "error"
    return "error"


def scheduler_state(out: Path, job_id: str) -> str:
    """Slurm's state of a task (``PENDING``, ``RUNNING``, ``FAILED``, ...; ``UNKNOWN`` without Slurm)."""
    submitit = optional_module("submitit", SLURM)
    try:
        return str(submitit.SlurmJob(Path(out) / SLURM_DIR, job_id).state)
    except Exception:  # sacct unavailable (not on a Slurm cluster) or the job long gone
        return "UNKNOWN"


def submit_pending(specs: list[JobSpec], config: ExecutorConfig, on_done=None) -> ExecutorOutcome:
    """The slurm executor: submit the jobs that are neither running nor queued (a rerun of the
    same sweep resubmits only pending and failed ones) as one array job, and return at once."""
    from sweeps.executors.status import FAILED, PENDING, sweep_state

    outcome = ExecutorOutcome()
    if not specs:
        return outcome
    out = specs[0].config.out
    state = sweep_state(out, [spec.key for spec in specs])
    again = set(state.keys[PENDING]) | set(state.keys[FAILED])
    chosen = [spec for spec in specs if spec.key in again]
    outcome.waiting = len(specs) - len(chosen)
    if chosen:
        outcome.submitted = submit(chosen, config, out).submissions
        outcome.job_ids = sorted({s.job_id.split("_")[0] for s in outcome.submitted})
    return outcome
