"""The training-time estimate: said once, from the steps after the first, with a warning for a
CPU run of over an hour."""

import itertools

import pytest

import trainer.eta as eta
from common.durations import format_duration
from trainer.eta import TrainingEstimate


@pytest.fixture
def clock(monkeypatch):
    """perf_counter advancing 1.5 s per call (one call per step)."""
    ticks = itertools.count(0.0, 1.5)
    monkeypatch.setattr(eta.time, "perf_counter", lambda: next(ticks))


@pytest.mark.parametrize(("on_cpu", "warned"), [(True, True), (False, False)])
def test_the_estimate_is_said_once_after_twenty_timed_steps(clock, on_cpu, warned):
    said = []
    estimate = TrainingEstimate(steps_per_epoch=100, epochs_left=40, on_cpu=on_cpu, say=said.append)
    for _ in range(300):
        estimate.after_step()
    assert len(said) == 1  # once, after the first step (warm-up) and 20 timed ones
    line = said[0].splitlines()[0]
    assert line == (
        "estimated training time: about 1.7 h (40 epoch(s) x 100 steps at 1.5 s per step; evaluation comes on top)"
    )  # 1.5 s x 4,000 steps = 6,000 s
    assert ("warning: that is over an hour on the CPU" in said[0]) is warned


def test_a_short_epoch_says_it_at_its_last_step_and_nothing_without_steps(clock):
    said = []
    estimate = TrainingEstimate(steps_per_epoch=4, epochs_left=2, on_cpu=True, say=said.append)
    for _ in range(3):
        estimate.after_step()
    assert said == []  # not before the epoch's last (fourth) step
    estimate.after_step()
    expected = "estimated training time: about 12 s (2 epoch(s) x 4 steps at 1.5 s per step; evaluation comes on top)"
    assert said == [expected]
    silent = TrainingEstimate(steps_per_epoch=4, epochs_left=0, on_cpu=True, say=said.append)
    silent.after_step()
    assert len(said) == 1
    assert (format_duration(42), format_duration(450), format_duration(7200)) == ("42 s", "7.5 min", "2.0 h")
