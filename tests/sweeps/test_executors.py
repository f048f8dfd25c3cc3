"""Sweep executors: Ray tasks on a local cluster and a Slurm array through submitit's local
executor give the rows the local executor gives, train each job once, and retry a job whose
worker died from its last checkpoint to the identical row."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from sweeps.claims import CLAIMS_DIR
from sweeps.executors import ExecutorConfig
from sweeps.jobs import collect_rows
from sweeps.planning import SweepGrid, job_specs, sweep_jobs
from sweeps.run import run_sweep
from tests.factories import small_config
from tests.trainer.synthetic import write_fashion_like
from trainer.config import TrainConfig
from trainer.results import read_rows

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'topoprune[ray]')")
submitit = pytest.importorskip("submitit", reason="the slurm extra is not installed (pip install 'topoprune[slurm]')")

from sweeps.executors.ray_cluster import run_on_ray  # noqa: E402
from sweeps.executors.slurm_array import read_submissions, slurm_parameters, submit  # noqa: E402
from sweeps.executors.status import DONE, FAILED, sweep_state  # noqa: E402

pytestmark = pytest.mark.slow  # Ray and submitit executors

#: Columns that differ between two runs of one job.
VOLATILE = {"run_id", "created", "train_seconds"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=400, test=100)


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def worker_specs(specs, threads):
    """Jobs as an executor hands them to its workers: quiet, with their threads and absolute paths."""
    return [spec.for_worker(threads, quiet=True, absolute_paths=True) for spec in specs]


def template(data_dir, out, **changes) -> TrainConfig:
    return small_config(data_dir, out, **{"model_options": {"width": 16}, **changes})


def six_jobs():
    return sweep_jobs(None, seeds=2, baseline=True, grid=SweepGrid(("xnet", "rreg-bipartite"), (4,)))


def stable(rows: list[dict]) -> dict:
    return {(r["config_hash"], r["train_seed"]): {k: v for k, v in r.items() if k not in VOLATILE} for r in rows}


@pytest.fixture(scope="module")
def local_rows(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    config = template(data_dir, out)
    run_sweep(config, six_jobs())
    return stable(read_rows(out))


def test_ray_runs_the_sweep_to_the_local_executors_rows(data_dir, tmp_path, cluster, local_rows):
    config = template(data_dir, tmp_path).with_absolute_paths()
    specs = worker_specs(job_specs(config, six_jobs()), 1)
    seen = []
    outcome = run_on_ray(specs, ExecutorConfig("ray"), on_done=seen.append)
    assert outcome.trained == 6 and not outcome.failed and len(seen) == 6
    assert stable(read_rows(tmp_path)) == local_rows


def test_two_drivers_on_one_folder_train_each_job_once(data_dir, tmp_path, cluster):
    config = template(data_dir, tmp_path, epochs=2).with_absolute_paths()
    specs = worker_specs(job_specs(config, six_jobs()), 1)
    outcomes = []
    drivers = [threading.Thread(target=lambda: outcomes.append(run_on_ray(specs, ExecutorConfig("ray")))) for _ in "ab"]
    for driver in drivers:
        driver.start()
    for driver in drivers:
        driver.join()
    assert sum(o.trained for o in outcomes) == 6 and sum(o.skipped for o in outcomes) == 6
    assert len(read_rows(tmp_path)) == 6 and len([p for p in tmp_path.iterdir() if (p / "config.json").exists()]) == 6


def _signal_mid_job(out: Path, signum: int = signal.SIGKILL, timeout: float = 300.0) -> int:
    """Wait for a run with a finished epoch, send ``signum`` to the process holding its claim; its pid."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        claims = list((out / CLAIMS_DIR).glob("*.lock"))
        if claims and any((run / "checkpoint.pt").exists() for run in out.iterdir() if run.is_dir()):
            pid = json.loads(claims[0].read_text())["pid"]
            os.kill(pid, signum)
            return pid
        time.sleep(0.02)
    raise AssertionError("no run reached its first checkpoint")


def long_job(data_dir, out) -> TrainConfig:
    """A job of several seconds, so that it is still running after its first checkpoint."""
    return template(data_dir, out, epochs=8, batch_size=8, model_options={"width": 64}).with_absolute_paths()


def test_a_ray_worker_killed_mid_job_is_retried_to_the_identical_row(data_dir, tmp_path, cluster):
    reference = long_job(data_dir, tmp_path / "reference")
    run_sweep(reference, sweep_jobs(None, seeds=1, baseline=False))
    config = long_job(data_dir, tmp_path / "killed")
    specs = worker_specs(job_specs(config, sweep_jobs(None, seeds=1, baseline=False)), 1)
    result = {}
    driver = threading.Thread(target=lambda: result.update(outcome=run_on_ray(specs, ExecutorConfig("ray"))))
    driver.start()
    killed = _signal_mid_job(config.out)
    driver.join()
    assert result["outcome"].trained == 1 and not result["outcome"].failed
    rows = read_rows(config.out)
    assert len(rows) == 1 and stable(rows) == stable(read_rows(reference.out))
    assert [p.name for p in config.out.iterdir() if (p / "config.json").exists()] == [rows[0]["run_id"]]  # resumed
    with pytest.raises(ProcessLookupError):
        os.kill(killed, 0)


def test_slurm_array_through_submitits_local_executor_twice_trains_each_job_once(data_dir, tmp_path, local_rows):
    config = template(data_dir, tmp_path).with_absolute_paths()
    specs = worker_specs(job_specs(config, six_jobs()), 1)
    first = submit(specs, ExecutorConfig("slurm"), tmp_path, cluster="local")
    second = submit(specs, ExecutorConfig("slurm"), tmp_path, cluster="local")  # a resubmitted array, at once
    assert [s.key for s in first.submissions] == [spec.key for spec in specs]
    assert [s.key for s in read_submissions(tmp_path)] == [spec.key for spec in specs] * 2
    for job in first.jobs + second.jobs:
        job.wait()
    assert stable(read_rows(tmp_path)) == local_rows
    assert len([p for p in tmp_path.iterdir() if (p / "config.json").exists()]) == 6  # each job trained once
    state = sweep_state(tmp_path)
    assert len(state.keys[DONE]) == 6 and not state.keys[FAILED]


def test_a_killed_slurm_task_is_failed_and_a_rerun_resumes_it_to_the_identical_row(data_dir, tmp_path):
    reference = long_job(data_dir, tmp_path / "reference")
    run_sweep(reference, sweep_jobs(None, seeds=1, baseline=False))
    config = long_job(data_dir, tmp_path / "killed")
    specs = worker_specs(job_specs(config, sweep_jobs(None, seeds=1, baseline=False)), 1)
    (first,) = submit(specs, ExecutorConfig("slurm"), config.out, cluster="local").jobs
    _signal_mid_job(config.out)
    first.wait()
    state = sweep_state(config.out)
    assert state.keys[FAILED] == [specs[0].key] and specs[0].key in state.resumable
    assert "worker died" in state.describe()[1]
    (second,) = submit(specs, ExecutorConfig("slurm"), config.out, cluster="local").jobs
    second.wait()
    rows = read_rows(config.out)
    assert stable(rows) == stable(read_rows(reference.out))
    assert [p.name for p in config.out.iterdir() if (p / "config.json").exists()] == [rows[0]["run_id"]]  # resumed
    assert sweep_state(config.out).keys[DONE] == [specs[0].key]


def test_a_preempted_slurm_task_is_requeued_and_resumes_to_the_identical_row(data_dir, tmp_path):
    reference = long_job(data_dir, tmp_path / "reference")
    run_sweep(reference, sweep_jobs(None, seeds=1, baseline=False))
    config = long_job(data_dir, tmp_path / "preempted")
    specs = worker_specs(job_specs(config, sweep_jobs(None, seeds=1, baseline=False)), 1)
    (job,) = submit(specs, ExecutorConfig("slurm", max_retries=1), config.out, cluster="local").jobs
    _signal_mid_job(config.out, signal.SIGUSR2)  # what Slurm sends a task before pre-empting it
    job.wait()
    rows = read_rows(config.out)
    assert stable(rows) == stable(read_rows(reference.out))
    assert [p.name for p in config.out.iterdir() if (p / "config.json").exists()] == [rows[0]["run_id"]]  # resumed
    log = job.stdout() + (job.stderr() or "")
    assert "Requeued" in log and log.count("Starting with JobEnvironment") == 2


def test_the_sbatch_script_carries_the_requested_resources(tmp_path):
    from submitit.slurm.slurm import _make_sbatch_string

    config = ExecutorConfig(
        "slurm",
        slurm_partition="gpu",
        slurm_time=90,
        slurm_gpus_per_job=2,
        slurm_cpus_per_job=8,
        slurm_array_parallelism=4,
        slurm_options=(("account", "lab"), ("qos", "high")),
    )
    script = _make_sbatch_string(command="python -m x", folder=tmp_path, map_count=6, **slurm_parameters(config))
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=90",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --array=0-5%4",
        "#SBATCH --account=lab",
        "#SBATCH --qos=high",
    ):
        assert line in script, line


def test_collect_rows_appends_rows_that_only_reached_their_run_directory(data_dir, tmp_path):
    config = template(data_dir, tmp_path)
    run_sweep(config, sweep_jobs(None, seeds=2))
    rows = read_rows(tmp_path)
    (tmp_path / "results.csv").unlink()
    assert collect_rows(tmp_path) == 2 and collect_rows(tmp_path) == 0
    assert stable(read_rows(tmp_path)) == stable(rows)
