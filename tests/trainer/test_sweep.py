"""Sweeps: every job exactly once across shards, resuming after an interruption, parallel jobs."""

import dataclasses

import pytest

from reports.build import ReportConfig, build_report
from tests.trainer.synthetic import write_fashion_like
from topology.build import GenerateConfig, make_plans
from trainer.config import TrainConfig
from trainer.data.mnist_like import SYSTEM_FASHION_MNIST
from trainer.errors import TrainError
from trainer.results import read_rows
from trainer.sweep import pending_jobs, run_sweep, shard_of, sweep_jobs


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=500, test=150)


@pytest.fixture
def plans(tmp_path):
    make_plans(GenerateConfig("swap-chain", {"nodes": 16, "degree": 4}, seed=0, count=3, out=tmp_path / "plans"))
    return tmp_path / "plans"


def template(data_dir, tmp_path, **changes):
    values = dict(model="mlp", model_options={"width": 32}, data_dir=data_dir, epochs=1, batch_size=64, out=tmp_path / "runs", quiet=True, threads=1)
    return TrainConfig(**{**values, **changes})


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
    run_sweep(config, jobs, workers=2, on_done=done.append)
    assert sorted(done, key=repr) == sorted(jobs, key=repr)
    assert len(read_rows(config.out)) == 3


def test_sweep_needs_graph_plans(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainError, match="no graph plans"):
        sweep_jobs(tmp_path / "empty", seeds=1)


@pytest.mark.skipif(not (SYSTEM_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists(),
                    reason=f"Fashion-MNIST is not installed in {SYSTEM_FASHION_MNIST} (apt-get install dataset-fashion-mnist)")
def test_tiny_end_to_end_sweep_on_a_fashion_mnist_subset(plans, tmp_path):
    config = TrainConfig(model_options={"width": 64}, max_train=3000, epochs=1, out=tmp_path / "runs", quiet=True, threads=1)
    jobs = sweep_jobs(plans, seeds=2)
    run_sweep(config, pending_jobs(jobs, config))
    rows = read_rows(config.out)
    assert len(rows) == 8 and all(float(r["best_acc"]) > 30 for r in rows)
    report = build_report(ReportConfig((config.out / "results.csv",), tmp_path / "report", bootstrap=200))
    assert report.html.exists() and len(report.summary) == 4
