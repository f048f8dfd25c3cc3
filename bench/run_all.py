"""``make bench``: every bench in its own process with a time budget and a progress line, then
one table of every measured figure against its goal (bench/goals.py).

A bench that runs past its budget is stopped, and the table says so; the budgets add up to
under 20 minutes on 2 cores. Output of each bench streams as it comes.

Usage: python bench/run_all.py [--only NAME[,NAME]] [--record FILE] [--budget-factor F]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from goals import RECORD_ENV, read_record, summary_table

HERE = Path(__file__).resolve().parent

#: (script, arguments, budget in seconds), in the order they run: each above its time measured on
#: a quiet 2-core AMD EPYC (2026-12-02), 1,100 s in all.
BENCHES = (
    ("structure.py", (), 60),
    ("topology_bench.py", (), 60),
    ("large_graph_bench.py", (), 180),
    ("train_bench.py", ("--repeats", "3"), 200),
    ("data_bench.py", (), 90),
    ("model_costs.py", (), 60),
    ("shared_basis_costs.py", (), 90),
    ("compile_bench.py", (), 150),
    ("edropout_bench.py", ("--steps", "4"), 120),
    ("executor_bench.py", (), 90),
)


def run_one(script: Path, arguments: tuple[str, ...], budget: float, record: Path) -> tuple[str, float]:
    """Run one bench, streaming its output; ("ok" | "failed (exit N)" | "stopped at its budget", seconds)."""
    start = time.perf_counter()
    environment = {**os.environ, RECORD_ENV: str(record)}
    # its own process group, so that stopping it also stops the processes it started
    process = subprocess.Popen([sys.executable, str(script), *arguments], env=environment, start_new_session=True)
    try:
        code = process.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return "stopped at its budget", time.perf_counter() - start
    return ("ok" if code == 0 else f"failed (exit {code})"), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated bench scripts (e.g. topology_bench.py)")
    parser.add_argument("--record", type=Path, help="keep the measured figures in this JSON-lines file")
    parser.add_argument(
        "--budget-factor", type=float, default=1.0, help="multiply every budget (a slower or busier machine)"
    )
    args = parser.parse_args()
    if not args.budget_factor > 0:
        print(f"bench: --budget-factor {args.budget_factor}: must be a positive number")
        return 2
    chosen = [b for b in BENCHES if not args.only or b[0] in args.only.split(",")]
    if not chosen:
        print(f"bench: --only {args.only}: no such bench (the benches: {', '.join(b[0] for b in BENCHES)})")
        return 2
    record = args.record or Path(tempfile.mkstemp(prefix="bench-", suffix=".jsonl")[1])
    record.write_text("", encoding="utf-8")
    outcomes = []
    total = time.perf_counter()
    for number, (script, arguments, budget) in enumerate(chosen, start=1):
        budget = round(budget * args.budget_factor)
        print(f"\n=== [{number}/{len(chosen)}] {script} (budget {budget} s) ===", flush=True)
        outcome, seconds = run_one(HERE / script, arguments, budget, record)
        print(f"=== {script}: {outcome} in {seconds:.0f} s ===", flush=True)
        outcomes.append((script, outcome, seconds, budget))
    print(f"\n## Summary ({time.perf_counter() - total:.0f} s in all)\n")
    print("| bench | outcome | seconds | budget |\n|---|---|---:|---:|")
    for script, outcome, seconds, budget in outcomes:
        print(f"| {script} | {outcome} | {seconds:.0f} | {budget} |")
    print()
    print("\n".join(summary_table(read_record(record))))
    return 0 if all(o[1] == "ok" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
