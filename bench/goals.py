"""Every figure a bench measures against its goal, recorded for ``make bench``'s closing table.

A bench calls :func:`record` for each ratio (or time) it measures. When ``bench/run_all.py``
runs it, the environment names a JSON-lines file (``BENCH_RECORD``) that each call appends one
line to; run alone, the call only returns the text to print. ``bench/run_all.py`` reads the
file back and prints one table of every figure against its goal.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RECORD_ENV = "BENCH_RECORD"


@dataclass(frozen=True)
class Measured:
    """One measured figure: ``value`` in ``unit`` ("x" for a ratio, "s" for seconds), the goal
    it is held to (None: recorded, no goal) and whether more is better."""

    bench: str
    measure: str
    value: float
    unit: str = "x"
    goal: float | None = None
    higher_is_better: bool = True
    spread: str = ""  # e.g. the range over rounds

    def met(self) -> bool | None:
        if self.goal is None:
            return None
        return self.value >= self.goal if self.higher_is_better else self.value <= self.goal

    def goal_text(self) -> str:
        if self.goal is None:
            return "—"
        return f"{'>=' if self.higher_is_better else '<='} {self.goal:g}{self.unit}"


def record(measured: Measured) -> str:
    """Append ``measured`` to the run's record file (if there is one); the goal as text to print."""
    path = os.environ.get(RECORD_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(measured)) + "\n")
    met = measured.met()
    verdict = "" if met is None else (" (goal met)" if met else " (goal NOT met)")
    return f"goal {measured.goal_text()}{verdict}" if measured.goal is not None else "no goal"


def read_record(path: Path) -> list[Measured]:
    if not path.is_file():
        return []
    return [Measured(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary_table(measured: list[Measured]) -> list[str]:
    """Markdown lines: every figure, its goal, and whether it meets it."""
    lines = ["| bench | measure | value | goal | met |", "|---|---|---:|---:|---|"]
    for m in measured:
        met = {None: "—", True: "yes", False: "**no**"}[m.met()]
        spread = f" ({m.spread})" if m.spread else ""
        lines.append(f"| {m.bench} | {m.measure} | {m.value:.3g}{m.unit}{spread} | {m.goal_text()} | {met} |")
    return lines
