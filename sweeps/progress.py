"""Where each running job of a sweep is: its epoch, its time per epoch and the time it still
needs, read from its run directory's ``log.csv`` (one line per finished epoch). ``train sweep``
shows it beside its job bar, refreshed every few seconds, and ``train sweep --status`` lists it
(docs/architecture.md, "Sweeps"). Any executor's workers write there, so this reads the same for
local, Ray and Slurm sweeps.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.durations import format_duration
from sweeps.executors.status import RUNNING, sweep_state
from trainer import rundir
from trainer.errors import TrainError
from trainer.results import read_rows

#: How often the live line beside the job bar is refreshed.
REFRESH_SECONDS = 5.0


@dataclass(frozen=True)
class JobProgress:
    """One running job: its run, finished epochs out of all, and its mean seconds per epoch."""

    run_id: str
    epoch: int
    epochs: int
    seconds_per_epoch: float | None

    @property
    def seconds_left(self) -> float | None:
        if self.seconds_per_epoch is None:
            return None
        return self.seconds_per_epoch * max(0, self.epochs - self.epoch)

    def describe(self, short: bool = False) -> str:
        """``run id: epoch 3/200, 41 s/epoch, 2.3 h left`` (no estimate before its first epoch);
        ``short`` names the run by its model and tag only (``mlp-0e9f4a``)."""
        name = "-".join(self.run_id.split("-")[2:]) if short and self.run_id.count("-") >= 3 else self.run_id
        text = f"{name}: epoch {self.epoch}/{self.epochs}"
        if self.seconds_per_epoch is None:
            return f"{text}, first epoch running"
        return f"{text}, {format_duration(self.seconds_per_epoch)}/epoch, {format_duration(self.seconds_left)} left"


def running_progress(out: Path) -> list[JobProgress]:
    """The progress of every job a live worker holds in ``out`` (newest run directory per job)."""
    running = set(sweep_state(out).keys[RUNNING])
    if not running:
        return []
    finished = {row["run_id"] for row in read_rows(out)}
    found: dict[tuple[str, str], JobProgress] = {}
    for run_dir in sorted(rundir.run_dirs(out)):  # names begin with their start time: the newest last
        if run_dir.name in finished:
            continue
        try:
            stored = rundir.read_config_document(run_dir)
            key = (stored["config_hash"], str(stored["config"]["train_seed"]))
            epochs = int(stored["config"]["epochs"])
        except (TrainError, KeyError, TypeError, ValueError):
            continue  # another version's or a damaged run directory: not shown
        if key in running:
            found[key] = _progress(run_dir, epochs)
    return list(found.values())


def _progress(run_dir: Path, epochs: int) -> JobProgress:
    try:
        with open(run_dir / rundir.LOG_FILE, newline="", encoding="utf-8") as handle:
            seconds = [float(line["seconds"]) for line in csv.DictReader(handle) if line.get("seconds")]
    except (OSError, ValueError, UnicodeDecodeError, csv.Error):
        seconds = []  # no epoch finished yet (or a log being replaced): no estimate
    return JobProgress(run_dir.name, len(seconds), epochs, sum(seconds) / len(seconds) if seconds else None)


#: Running jobs named on the job bar's line; more are counted.
SHOWN_JOBS = 3


def progress_line(out: Path) -> str:
    """One line for the job bar: the running jobs' epochs and time left (the first
    :data:`SHOWN_JOBS`, then how many more), ``;``-separated."""
    jobs = running_progress(out)
    shown = [job.describe(short=True) for job in jobs[:SHOWN_JOBS]]
    more = [f"{len(jobs) - SHOWN_JOBS} more running"] if len(jobs) > SHOWN_JOBS else []
    return "; ".join(shown + more)


class LiveProgress:
    """While open, calls ``show(progress_line(out))`` every :data:`REFRESH_SECONDS` from a thread."""

    def __init__(self, out: Path, show: Callable[[str], None], every: float = REFRESH_SECONDS):
        self.out, self.show, self.every = Path(out), show, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweep-progress", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.show(progress_line(self.out))
            except (OSError, TrainError):
                continue  # a folder changing under the reader: the next refresh reads it again

    def __enter__(self) -> LiveProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.show("")  # nothing runs any more: no stale line left beside the finished bar
