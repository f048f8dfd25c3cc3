"""How long a run will train, said once its first steps are timed (docs/architecture.md, "A
training run"): the steps left times the mean time of the steps so far, with a warning when a
run on the CPU would take more than an hour."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tqdm import tqdm

from common.durations import format_duration

#: Steps, and seconds, timed before the estimate is said (whichever comes later; the epoch's
#: last step says it anyway).
ESTIMATE_AFTER_STEPS = 20
ESTIMATE_AFTER_SECONDS = 5.0
#: A CPU run longer than this gets a warning.
LONG_CPU_RUN_SECONDS = 3600.0


class TrainingEstimate:
    """Counts the steps of the first epoch this process trains and says, once, how long the
    training steps of the whole run will take (evaluation comes on top)."""

    def __init__(self, steps_per_epoch: int, epochs_left: int, on_cpu: bool, say: Callable[[str], None]) -> None:
        self.total_steps = steps_per_epoch * epochs_left
        self.steps_per_epoch, self.epochs_left, self.on_cpu, self.say = steps_per_epoch, epochs_left, on_cpu, say
        self.steps, self.start, self.done = 0, None, self.total_steps == 0

    def after_step(self) -> None:
        if self.done:
            return
        now = time.perf_counter()
        if self.start is None:  # the first step's time includes warm-up: timing starts after it
            self.start = now
            return
        self.steps += 1
        elapsed = now - self.start
        enough = self.steps >= ESTIMATE_AFTER_STEPS and elapsed >= ESTIMATE_AFTER_SECONDS
        if enough or self.steps + 1 >= self.steps_per_epoch:
            self.done = True
            self.say(self.line(elapsed / self.steps))

    def line(self, seconds_per_step: float) -> str:
        estimate = seconds_per_step * self.total_steps
        text = (
            f"estimated training time: about {format_duration(estimate)} ({self.epochs_left} epoch(s) x "
            f"{self.steps_per_epoch:,} steps at {seconds_per_step:.3g} s per step; evaluation comes on top)"
        )
        if self.on_cpu and estimate > LONG_CPU_RUN_SECONDS:
            text += "\nwarning: that is over an hour on the CPU; --device cuda trains on a GPU where one exists"
        return text


def tqdm_say(text: str) -> None:
    """Print beside a progress bar without breaking it."""
    for line in text.splitlines():
        tqdm.write(line, file=sys.stderr)
