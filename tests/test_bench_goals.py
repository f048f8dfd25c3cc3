"""make bench's record of every figure against its goal, and its per-bench time budget (bench/goals.py,
bench/run_all.py)."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))  # the benches import goals as their neighbour
goals = importlib.import_module("goals")
_spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
run_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_all)


def test_a_goal_is_met_in_its_direction_and_recorded_line_by_line(tmp_path, monkeypatch):
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv(goals.RECORD_ENV, str(record))
    assert goals.record(goals.Measured("topology", "networkx / ours", 61.0, goal=60)) == "goal >= 60x (goal met)"
    assert goals.record(goals.Measured("topology", "igraph / ours", 4.9, goal=5)) == "goal >= 5x (goal NOT met)"
    slow = goals.Measured("large", "four metrics", 12.5, unit=" s", goal=10, higher_is_better=False)
    assert goals.record(slow) == "goal <= 10 s (goal NOT met)"
    assert goals.record(goals.Measured("edropout", "step / plain", 4.2)) == "no goal"
    read = goals.read_record(record)
    assert [m.met() for m in read] == [True, False, False, None]
    table = goals.summary_table(read)
    assert table[2] == "| topology | networkx / ours | 61x | >= 60x | yes |"
    assert table[4] == "| large | four metrics | 12.5 s | <= 10 s | **no** |"
    assert table[5] == "| edropout | step / plain | 4.2x | — | — |"


def test_recording_without_a_record_file_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(goals.RECORD_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert goals.record(goals.Measured("data", "ratio", 1.5, goal=1)) == "goal >= 1x (goal met)"
    assert list(tmp_path.iterdir()) == []


def test_a_bench_past_its_budget_is_stopped_and_one_that_fails_says_so(tmp_path):
    slow, failing = tmp_path / "slow.py", tmp_path / "failing.py"
    slow.write_text("import time\ntime.sleep(30)\n")
    failing.write_text("raise SystemExit(3)\n")
    outcome, seconds = run_all.run_one(slow, (), 1.0, tmp_path / "record.jsonl")
    assert outcome == "stopped at its budget" and 1.0 <= seconds < 20
    assert run_all.run_one(failing, (), 30, tmp_path / "record.jsonl")[0] == "failed (exit 3)"


def _running(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.is_file() and "\tZ" not in next(line for line in status.read_text().splitlines() if "State" in line)


def test_stopping_a_bench_stops_the_processes_it_started(tmp_path):
    script, child = tmp_path / "parent.py", tmp_path / "child.pid"
    script.write_text(
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(child)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    assert run_all.run_one(script, (), 3.0, tmp_path / "record.jsonl")[0] == "stopped at its budget"
    pid = int(child.read_text())
    for _ in range(50):
        if not _running(pid):
            break
        time.sleep(0.1)
    assert not _running(pid)


def test_the_budgets_add_up_to_under_twenty_minutes_and_every_bench_script_is_run():
    assert sum(budget for _, _, budget in run_all.BENCHES) < 20 * 60
    scripts = {path.name for path in (ROOT / "bench").glob("*.py")} - {"goals.py", "run_all.py"}
    assert {script for script, _, _ in run_all.BENCHES} == scripts
