"""What a sweep folder says about its jobs: done, running, failed, queued or pending
(``train sweep --status DIR``, and what a rerun of a Slurm sweep submits again).

* done — a row with the job's (config_hash, seed) is in ``results.csv``;
* running — a live process holds the job's claim (:mod:`sweeps.claims`);
* failed — a claim whose holder died (a killed worker, a lost node), or an array task that ended
  in an error or a failed Slurm state;
* queued — submitted to Slurm and not finished, not yet claimed;
* pending — none of these: never started, or waiting to be submitted.

A job with a checkpoint and no row resumes from it whenever it runs again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sweeps.claims import CLAIMS_DIR, is_stale
from sweeps.executors.slurm_array import SLURM_DIR, Submission, read_submissions, scheduler_state, task_outcome
from sweeps.jobs import done_keys, unfinished_runs
from trainer import rundir
from trainer.errors import TrainError

DONE, RUNNING, FAILED, QUEUED, PENDING = "done", "running", "failed", "queued", "pending"
#: Slurm states of a task that ended without success (its job will not run again by itself).
SLURM_FAILED = ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE")
SLURM_WAITING = ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED", "UNKNOWN")


@dataclass
class SweepState:
    """Each known job's state (``keys[state]`` lists their (config_hash, seed)), why the failed ones
    failed, and which can resume from a checkpoint."""

    keys: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: {s: [] for s in _STATES})
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)
    resumable: set[tuple[str, str]] = field(default_factory=set)

    def describe(self) -> list[str]:
        counts = ", ".join(f"{len(self.keys[s])} {s}" for s in _STATES)
        lines = [f"{sum(len(v) for v in self.keys.values())} job(s): {counts}"]
        for key in self.keys[FAILED]:
            resume = " (resumes from its checkpoint)" if key in self.resumable else ""
            lines.append(f"failed: {key[0]} seed {key[1]}: {self.reasons.get(key, 'unknown')}{resume}")
        return lines


_STATES = (DONE, RUNNING, FAILED, QUEUED, PENDING)


def _claims(out: Path) -> dict[tuple[str, str], Path]:
    found = {}
    for path in sorted((Path(out) / CLAIMS_DIR).glob("*.lock")):
        config_hash, _, seed = path.stem.rpartition("-")
        found[(config_hash, seed)] = path
    return found


def _submitted_state(out: Path, submission: Submission) -> tuple[str, str]:
    """(state, reason) of a job from its latest submission: failed, queued or pending."""
    outcome = task_outcome(out, submission.job_id)
    if outcome == "error":
        return FAILED, f"array task {submission.job_id} ended in an error (its log is in {out}/slurm)"
    if outcome == "success":
        return PENDING, ""  # finished without a row: another process had it, or its row is still to collect
    slurm = scheduler_state(out, submission.job_id)
    if slurm.split()[0] in SLURM_FAILED:
        return FAILED, f"array task {submission.job_id}: Slurm state {slurm}"
    return QUEUED, ""


def check_sweep_folder(out: Path) -> None:
    """One-line TrainError unless ``out`` holds what a sweep leaves: a results table, claims, a
    Slurm submission record or run directories (so ``--status`` never calls any folder a sweep)."""
    out = Path(out)
    marks = (rundir.results_path(out), out / CLAIMS_DIR, out / SLURM_DIR)
    if not any(path.exists() for path in marks) and next(rundir.run_dirs(out), None) is None:
        raise TrainError(f"{out}: not a sweep folder (no results.csv, {CLAIMS_DIR}/, {SLURM_DIR}/ or run directories)")


def sweep_state(out: Path, keys: list[tuple[str, str]] | None = None) -> SweepState:
    """The state of ``keys`` (default: every job the folder knows of: rows, claims, submissions)."""
    done, claims = done_keys(out), _claims(out)
    submissions = {s.key: s for s in read_submissions(out)}  # the latest submission of each job
    if keys is None:
        keys = list(dict.fromkeys([*sorted(done), *claims, *submissions]))
    state = SweepState(resumable=set(unfinished_runs(out)))
    for key in keys:
        if key in done:
            state.keys[DONE].append(key)
        elif key in claims and not is_stale(claims[key]):
            state.keys[RUNNING].append(key)
        elif key in claims:
            state.keys[FAILED].append(key)
            state.reasons[key] = "its worker died while training it (stale claim)"
        elif key in submissions:
            kind, reason = _submitted_state(out, submissions[key])
            state.keys[kind].append(key)
            if reason:
                state.reasons[key] = reason
        else:
            state.keys[PENDING].append(key)
    return state
