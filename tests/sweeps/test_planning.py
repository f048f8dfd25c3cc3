"""Sweeps: every job exactly once across shards, resuming after an interruption, parallel jobs."""

import dataclasses

import pytest

from reports.build import ReportConfig, build_report
from sweeps.executors import ExecutorConfig
from sweeps.jobs import unfinished_runs
from sweeps.planning import (
    JobHashes,
    SweepGrid,
    job_specs,
    pending_jobs,
    shard_of,
    sweep_jobs,
    sweep_status,
)
from sweeps.run import run_sweep
from tests.factories import small_config
from tests.trainer.synthetic import write_fashion_like
from topology.build import GenerateConfig, make_plans
from trainer.config import TrainConfig
from trainer.data.mnist_like import SYSTEM_FASHION_MNIST
from trainer.errors import TrainError
from trainer.results import read_rows
from trainer.run import run_training


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=500, test=150)


@pytest.fixture
def plans(tmp_path):
    make_plans(GenerateConfig("swap-chain", {"nodes": 16, "degree": 4}, seed=0, count=3, out=tmp_path / "plans"))
    return tmp_path / "plans"


def template(data_dir, tmp_path, **changes):
    return small_config(data_dir, tmp_path / "runs", **{"model_options": {"width": 32}, **changes})


def test_sharding_covers_every_job_exactly_once(plans):
    jobs = sweep_jobs(plans, seeds=3)
    assert len(jobs) == (3 + 1) * 3
    for count in (1, 2, 5, 7):
        shards = [shard_of(jobs, (i, count)) for i in range(1, count + 1)]
        flattened = [job for shard in shards for job in shard]
        assert sorted(flattened, key=repr) == sorted(jobs, key=repr)
        assert len(flattened) == len(set(flattened))
    with pytest.raises(TrainError, match="shard must be i/N"):
        shard_of(jobs, (0, 3))


def test_interrupted_sweep_resumes_without_duplicates(plans, data_dir, tmp_path):
    config = template(data_dir, tmp_path)
    jobs = sweep_jobs(plans, seeds=2)
    run_sweep(config, pending_jobs(jobs, config)[:3])  # the sweep is "killed" after three runs
    assert len(read_rows(config.out)) == 3
    remaining = pending_jobs(jobs, config)
    assert len(remaining) == len(jobs) - 3
    run_sweep(config, remaining)
    rows = read_rows(config.out)
    keys = [(r["plan_sha256"], r["train_seed"]) for r in rows]
    assert len(rows) == len(jobs) == len(set(keys))
    assert pending_jobs(jobs, config) == []
    assert pending_jobs(jobs, dataclasses.replace(config, epochs=2)) == jobs  # other epochs: new jobs


def test_parallel_jobs(plans, data_dir, tmp_path):
    config = template(data_dir, tmp_path)
    jobs = sweep_jobs(plans, seeds=1, baseline=False)
    done = []
    run_sweep(config, jobs, ExecutorConfig(jobs=2), on_done=done.append)
    assert sorted(spec.config.plan for spec in done) == sorted(job.plan for job in jobs)
    assert len(read_rows(config.out)) == 3


def test_sweep_needs_graph_plans(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainError, match="no graph plans"):
        sweep_jobs(tmp_path / "empty", seeds=1)


@pytest.mark.skipif(
    not (SYSTEM_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists(),
    reason=f"Fashion-MNIST is not installed in {SYSTEM_FASHION_MNIST} (apt-get install dataset-fashion-mnist)",
)
def test_tiny_end_to_end_sweep_on_a_fashion_mnist_subset(plans, tmp_path):
    config = TrainConfig(
        model_options={"width": 64}, max_train=3000, epochs=1, out=tmp_path / "runs", quiet=True, threads=1
    )
    jobs = sweep_jobs(plans, seeds=2)
    run_sweep(config, pending_jobs(jobs, config))
    rows = read_rows(config.out)
    assert len(rows) == 8 and all(float(r["best_acc"]) > 30 for r in rows)
    report = build_report(ReportConfig((config.out / "results.csv",), tmp_path / "report", bootstrap=200))
    assert report.html.exists() and len(report.summary) == 4


@pytest.mark.parametrize("change", [{"model_options": {"width": 24}}, {"self_loops": True}, {"lr": 0.01}])
def test_a_sweep_differing_in_any_option_runs_and_then_skips(plans, data_dir, tmp_path, change):
    config = template(data_dir, tmp_path)
    jobs = sweep_jobs(plans, seeds=1)
    run_sweep(config, pending_jobs(jobs, config))
    changed = dataclasses.replace(config, **change)
    todo = pending_jobs(jobs, changed)
    # Everything runs again, except the dense baseline when only a recipe option changed (it reads none).
    expected = [job for job in jobs if job.plan is not None] if "self_loops" in change else jobs
    assert todo == expected
    run_sweep(changed, todo)
    assert pending_jobs(jobs, changed) == [] and pending_jobs(jobs, config) == []  # a rerun of either skips everything
    rows = read_rows(config.out)
    assert len(rows) == len(jobs) + len(expected)
    assert len({(r["config_hash"], r["train_seed"]) for r in rows}) == len(rows)


def test_rows_without_config_hash_count_by_their_legacy_key_with_a_notice(plans, data_dir, tmp_path):
    config = template(data_dir, tmp_path)
    jobs = sweep_jobs(plans, seeds=1)
    run_sweep(config, jobs[:2])
    path = config.out / "results.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    at = header.index("config_hash")
    path.write_text(
        "\n".join(
            [lines[0]] + [",".join(c if i != at else "" for i, c in enumerate(line.split(","))) for line in lines[1:]]
        )
        + "\n"
    )
    status = sweep_status(job_specs(config, jobs), config.out)
    assert (
        [spec.config for spec in status.pending] == [job.config(config) for job in jobs[2:]]
        and status.done == 2
        and status.done_by_legacy_key == 2
    )
    assert any("2 of them count as done by rows without config_hash" in line for line in status.describe(len(jobs)))
    changed = dataclasses.replace(config, epochs=2)
    assert len(sweep_status(job_specs(changed, jobs), config.out).pending) == len(jobs)  # another legacy key


def test_recipe_grid_expands_recipe_by_level_by_seed(plans):
    grid = SweepGrid(("xnet", "rreg-bipartite"), degrees=(2, 8))
    jobs = sweep_jobs(plans, seeds=2, grid=grid)
    assert len(jobs) == 2 + 3 * 2 + 2 * 2 * 2  # baseline, 3 plans, 2 recipes x 2 degrees; each x 2 seeds
    grid_jobs = [job for job in jobs if job.recipe]
    assert [(j.recipe, j.degree, j.train_seed) for j in grid_jobs] == [
        (r, d, s) for r in ("xnet", "rreg-bipartite") for d in (2, 8) for s in (0, 1)
    ]
    config = grid_jobs[0].config(TrainConfig(plan=None))
    assert (config.recipe, config.degree, config.plan) == ("xnet", 2, None)
    densities = sweep_jobs(None, seeds=1, grid=SweepGrid(("random-bipartite",), densities=(0.25,)))
    assert [(j.baseline, j.recipe, j.density) for j in densities] == [
        (True, None, None),
        (False, "random-bipartite", 0.25),
    ]
    for bad, message in (
        (SweepGrid(("xnet",)), "exactly one of --degrees and --densities"),
        (SweepGrid(("relational",), degrees=(2,)), "relational cannot be swept"),
        (SweepGrid(degrees=(2,)), "need --recipes"),
    ):
        with pytest.raises(TrainError, match=message):
            sweep_jobs(None, seeds=1, grid=bad)


def test_a_killed_sweep_finishes_every_run_once_and_continues_the_half_done_one(data_dir, tmp_path):
    config = template(data_dir, tmp_path, epochs=2)
    jobs = sweep_jobs(None, seeds=1, grid=SweepGrid(("xnet", "rreg-bipartite"), degrees=(4,)))
    assert len(jobs) == 3
    run_sweep(config, jobs[:1])  # the baseline finished
    # The sweep is killed during the second job's second epoch: one epoch is checkpointed, no row.
    half = dataclasses.replace(jobs[1].config(config), threads=1)
    assert run_training(half, run_id="killed", stop_after_epochs=1) is None
    first_epoch = (config.out / "killed" / "log.csv").read_text()
    assert list(unfinished_runs(config.out)) == [(JobHashes()(jobs[1].config(config)), "0")]
    remaining = pending_jobs(jobs, config)
    assert remaining == jobs[1:]
    run_sweep(config, remaining)
    rows = read_rows(config.out)
    assert len(rows) == 3 and len({r["config_hash"] for r in rows}) == 3 and pending_jobs(jobs, config) == []
    resumed = next(r for r in rows if r["run_id"] == "killed")  # continued in its own directory
    assert (config.out / "killed" / "log.csv").read_text().startswith(first_epoch)
    # ... and it ends with the row an uninterrupted run gives.
    fresh = run_training(dataclasses.replace(half, out=tmp_path / "fresh")).row
    for key in (
        "best_acc",
        "final_acc",
        "test_loss",
        "best_top5",
        "params_kept",
        "applied_masks_sha256",
        "config_hash",
    ):
        assert str(fresh[key]) == resumed[key], key
    assert unfinished_runs(config.out) == {}
