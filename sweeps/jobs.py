"""One sweep job as every executor runs it, and the rows that land in a sweep's folder
(docs/architecture.md, "Sweeps").

:func:`run_job` is the whole contract between a sweep and whatever runs its jobs (this process,
a process pool, a Ray task, a Slurm array task): claim the job, skip it when another process
holds or finished it, continue a run a dead worker left half-done from its last checkpoint, else
train it. The run writes its row into its own directory (``result.json``) before appending it to
``results.csv``; :func:`collect_rows` appends any row that only reached its run directory, so a
sweep finished by any mix of executors and restarts ends with one table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from sweeps.claims import claim_path, claimed
from trainer import rundir
from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.results import append_row, read_rows
from trainer.run import resume_training, run_training


@dataclass(frozen=True)
class JobSpec:
    """A job ready to run anywhere: its configuration and the ``config_hash`` its row will carry,
    computed once by the driver (the worker checks it: :func:`run_job`)."""

    config: TrainConfig
    config_hash: str
    plan_sha256: str = ""  # the plan's content hash as the job list read it ("" without a plan)

    def for_worker(self, threads: int | None, quiet: bool, absolute_paths: bool = False) -> JobSpec:
        """The same job with a worker's run settings (none of them is part of the identity)."""
        config = dataclasses.replace(self.config, threads=self.config.threads or threads, quiet=quiet)
        return dataclasses.replace(self, config=config.with_absolute_paths() if absolute_paths else config)

    @property
    def key(self) -> tuple[str, str]:
        """(config_hash, training seed): what identifies the job's row."""
        return self.config_hash, str(self.config.train_seed)

    def describe(self) -> str:
        config = self.config
        what = config.plan.name if config.plan is not None else config.resolved_recipe
        return f"{what} seed {config.train_seed} ({self.config_hash})"


def done_keys(out: Path) -> set[tuple[str, str]]:
    """(config_hash, seed) of every row of ``out/results.csv``."""
    rows = read_rows(out)
    return {(row["config_hash"], row["train_seed"]) for row in rows if row.get("config_hash") and row.get("train_seed")}


def unfinished_runs(out: Path) -> dict[tuple[str, str], Path]:
    """(config_hash, train seed) -> run directory, for runs in ``out`` with a checkpoint but no row.

    These are runs a killed worker left half-done; the job continues them from their checkpoint.
    When several exist for one key, the newest (by name) is continued.
    """
    finished = {row["run_id"] for row in read_rows(out)}
    found: dict[tuple[str, str], Path] = {}
    for run_dir in rundir.run_dirs(out):
        if run_dir.name in finished or not rundir.has_checkpoint(run_dir):
            continue
        try:
            stored = rundir.read_config_document(run_dir)
            key = (stored["config_hash"], str(stored["config"]["train_seed"]))
        except (TrainError, KeyError, TypeError):
            continue  # a run directory of another version, or damaged: not continued
        found[key] = run_dir
    return found


def run_job(spec: JobSpec) -> str | None:
    """Train one job unless another process holds its claim or has finished it; a run a dead
    worker left half-done is continued from its checkpoint. Returns the run id, or None when
    this process did not train it."""
    out = spec.config.out
    with claimed(claim_path(out, spec.config_hash, spec.config.train_seed)) as ours:
        if not ours or spec.key in done_keys(out):
            return None
        resume = unfinished_runs(out).get(spec.key)
        if resume is None:  # holding the claim, no one else trains this job: what a killed run left goes
            for orphan in rundir.orphans(out, spec.config_hash, spec.config.train_seed):
                rundir.remove_orphan(orphan)
        if resume is not None:
            outcome = resume_training(resume)
        else:  # refuses to train when the configuration's identity is no longer the claimed one
            outcome = run_training(spec.config, expected_hash=spec.config_hash)
        return outcome.run_id


def collect_rows(out: Path) -> int:
    """Append to ``out/results.csv`` every finished run's row (its ``result.json``) that is not
    there yet, unless its (config_hash, seed) already has a row; returns how many were added."""
    present = read_rows(out)
    run_ids = {row["run_id"] for row in present}
    keys = {(row.get("config_hash"), row.get("train_seed")) for row in present}
    added = 0
    for run_dir in rundir.run_dirs(out):
        if run_dir.name in run_ids:
            continue
        try:
            row = rundir.read_result(run_dir)
        except TrainError:
            continue  # a damaged result.json: the run directory keeps it for a person to look at
        if row is None or (row.get("config_hash"), str(row.get("train_seed"))) in keys:
            continue
        append_row(out, row)
        keys.add((row.get("config_hash"), str(row.get("train_seed"))))
        added += 1
    return added
