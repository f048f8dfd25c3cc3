"""The same sweep run by the local executor and by Ray, on this machine, in one run.

A 12-job sweep (the dense mlp and two per-layer recipes at one degree, 4 seeds each) on
Fashion-MNIST (the first 2,000 training images, 1 epoch), run once with ``--executor local
--jobs 2`` and once with ``--executor ray`` on a local Ray cluster of 2 CPUs (one CPU, one
torch thread per job, as the local executor gives each of its 2 workers), into separate folders.
Prints wall times, Ray's overhead per job (the difference over 12 jobs, Ray's start-up included)
and checks that both sweeps wrote the same rows apart from run ids and timings.

Usage: python bench/executor_bench.py [--jobs-per-recipe SEEDS]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from sweeps.executors import ExecutorConfig
from sweeps.planning import SweepGrid, job_specs, sweep_jobs
from sweeps.run import run_sweep
from trainer.config import TrainConfig
from trainer.results import read_rows

VOLATILE = {"run_id", "created", "train_seconds"}


def worker_specs(specs, threads):
    """Jobs as an executor hands them to its workers: quiet, with their threads and absolute paths."""
    return [spec.for_worker(threads, quiet=True, absolute_paths=True) for spec in specs]


def template(out: Path) -> TrainConfig:
    return TrainConfig(model="mlp", epochs=1, max_train=2000, out=out, quiet=True, threads=1)


def rows(out: Path) -> dict:
    return {
        (r["config_hash"], r["train_seed"]): {k: v for k, v in r.items() if k not in VOLATILE} for r in read_rows(out)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="seeds per configuration (3 configurations)")
    args = parser.parse_args()
    import ray

    from sweeps.executors.ray_cluster import run_on_ray

    jobs = sweep_jobs(None, args.seeds, baseline=True, grid=SweepGrid(("xnet", "rreg-bipartite"), (8,)))
    with tempfile.TemporaryDirectory() as folder:
        local_out, ray_out = Path(folder) / "local", Path(folder) / "ray"
        start = time.perf_counter()
        run_sweep(template(local_out), jobs, ExecutorConfig(jobs=2))
        local = time.perf_counter() - start
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        started = time.perf_counter() - start
        outcome = run_on_ray(worker_specs(job_specs(template(ray_out), jobs), 1), ExecutorConfig("ray"))
        on_ray = time.perf_counter() - start
        ray.shutdown()
        same = rows(local_out) == rows(ray_out)
    print(f"{len(jobs)} jobs (mlp, Fashion-MNIST, 2,000 images, 1 epoch), 2 CPUs\n")
    print("| executor | wall time | per job |")
    print("|---|---:|---:|")
    print(f"| local, --jobs 2 | {local:.1f} s | {local / len(jobs):.2f} s |")
    label = f"ray, local cluster of 2 CPUs (start-up {started:.1f} s included)"
    print(f"| {label} | {on_ray:.1f} s | {on_ray / len(jobs):.2f} s |")
    print(f"\nRay's overhead: {(on_ray - local) / len(jobs):+.2f} s per job; {outcome.trained} trained by Ray")
    print(f"same rows (apart from run ids and timings): {same}")
    print(f"peak RSS of the driver {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
