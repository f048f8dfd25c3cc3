"""Training runs: learning, reproducibility, resuming, results rows, locking, DDP, real data."""

import csv
import multiprocessing
from pathlib import Path

import pytest

from pruning.errors import PruningError
from tests.factories import small_config
from tests.trainer.synthetic import write_fashion_like
from topology.generators import generate
from topology.plans import Plan, save_plan
from trainer.config import TrainConfig
from trainer.data.mnist_like import SYSTEM_FASHION_MNIST
from trainer.ddp import launch
from trainer.errors import TrainError
from trainer.results import COLUMNS, VOLATILE_COLUMNS, append_row, read_rows
from trainer.run import resume_training, run_training


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=1200, test=400)


@pytest.fixture
def plan(tmp_path):
    return save_plan(
        Plan(generate("rreg", nodes=16, degree=4, seed=2), generator="rreg", params={"nodes": 16, "degree": 4}, seed=2),
        tmp_path,
        "p",
    )


def config(data_dir, tmp_path, **changes):
    values = dict(model_options={"width": 64}, epochs=3, lr=0.05)
    return small_config(data_dir, tmp_path / "runs", **{**values, **changes})


def stable(row):
    return {k: v for k, v in row.items() if k not in VOLATILE_COLUMNS}


def test_masked_mlp_learns_and_writes_one_row(data_dir, tmp_path, plan):
    outcome = run_training(config(data_dir, tmp_path, plan=plan))
    row = outcome.row
    assert row["best_acc"] > 60  # chance is 10%
    assert row["density"] == 4 / 16
    assert (
        row["recipe"] == "relational" and row["generator"] == "rreg" and row["graph_seed"] == 2 and row["degree"] == 4
    )
    rows = read_rows(tmp_path / "runs")
    assert len(rows) == 1 and list(rows[0]) == COLUMNS
    assert rows[0]["run_id"] == outcome.run_id
    run_dir = outcome.run_dir
    assert {"config.json", "log.csv", "checkpoint.pt", "best.pt", "masks.csv", "masks.json"} <= {
        p.name for p in run_dir.iterdir()
    }
    with (run_dir / "log.csv").open() as handle:
        log = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in log] == [1, 2, 3]
    best = max(log, key=lambda r: float(r["val_acc"]))
    assert float(best["test_acc"]) == pytest.approx(row["best_acc"])
    assert float(log[-1]["test_acc"]) == pytest.approx(row["final_acc"])


def test_same_seeds_give_the_same_row(data_dir, tmp_path, plan):
    first = run_training(config(data_dir, tmp_path, plan=plan, epochs=2)).row
    second = run_training(config(data_dir, tmp_path, plan=plan, epochs=2)).row
    assert stable(first) == stable(second)
    third = run_training(config(data_dir, tmp_path, plan=plan, epochs=2, train_seed=1)).row
    assert third["best_acc"] != first["best_acc"] or third["test_loss"] != first["test_loss"]


def test_resume_ends_like_an_uninterrupted_run(data_dir, tmp_path, plan):
    straight = run_training(config(data_dir, tmp_path, plan=plan)).row
    assert run_training(config(data_dir, tmp_path, plan=plan), run_id="halfway", stop_after_epochs=1) is None
    assert len(read_rows(tmp_path / "runs")) == 1  # an unfinished run writes no row
    resumed = resume_training(tmp_path / "runs" / "halfway").row
    assert stable(resumed) == stable(straight)
    with pytest.raises(TrainError, match="already finished"):
        resume_training(tmp_path / "runs" / "halfway")


def test_corrupt_checkpoint_is_a_clear_error(data_dir, tmp_path, plan):
    run_training(config(data_dir, tmp_path, plan=plan), run_id="broken", stop_after_epochs=1)
    (tmp_path / "runs" / "broken" / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(TrainError, match="checkpoint.pt: corrupt checkpoint"):
        resume_training(tmp_path / "runs" / "broken")


def test_failed_run_writes_no_row(data_dir, tmp_path):
    big = save_plan(Plan(generate("rreg", nodes=128, degree=4, seed=0)), tmp_path, "big")
    with pytest.raises(PruningError, match="fewer than the plan's 128 nodes"):
        run_training(config(data_dir, tmp_path, plan=big))
    assert read_rows(tmp_path / "runs") == []


def test_config_validation():
    with pytest.raises(TrainError, match="--epochs: 0 is out of range: it must be >= 1"):
        TrainConfig(epochs=0).validate()
    with pytest.raises(TrainError, match="relational recipe needs --plan"):
        TrainConfig(recipe="relational").validate()
    with pytest.raises(TrainError, match="only used by --recipe relational"):
        TrainConfig(plan=Path("p.npy"), recipe="xnet", degree=4).validate()
    assert TrainConfig.from_dict(TrainConfig(include=("a",)).to_dict()) == TrainConfig(include=("a",))


def _append_many(directory, worker):
    for index in range(15):
        append_row(directory, {"run_id": f"w{worker}-{index}", "model": "mlp", "best_acc": 50.0 + index})


def test_parallel_appends_never_lose_or_interleave_rows(tmp_path):
    processes = [
        multiprocessing.get_context("spawn").Process(target=_append_many, args=(tmp_path, w)) for w in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    rows = read_rows(tmp_path)
    assert sorted(r["run_id"] for r in rows) == sorted(f"w{w}-{i}" for w in range(4) for i in range(15))
    assert all(list(r) == COLUMNS for r in rows)


@pytest.mark.slow
def test_ddp_with_two_gloo_processes(data_dir, tmp_path, plan):
    outcome = launch(config(data_dir, tmp_path, plan=plan, epochs=2, threads=None), world=2)
    assert outcome.row["world_size"] == "2"
    assert float(outcome.row["best_acc"]) > 50
    assert len(read_rows(tmp_path / "runs")) == 1


@pytest.mark.skipif(
    not (SYSTEM_FASHION_MNIST / "train-images-idx3-ubyte.gz").exists(),
    reason=f"Fashion-MNIST is not installed in {SYSTEM_FASHION_MNIST} (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_mlp_with_64_node_degree_8_plan_beats_80_percent(tmp_path):
    plan = save_plan(Plan(generate("rreg", nodes=64, degree=8, seed=0)), tmp_path, "rreg64")
    row = run_training(TrainConfig(plan=plan, epochs=1, out=tmp_path / "runs", quiet=True)).row
    assert row["density"] == 8 / 64
    assert row["best_acc"] > 80.0


def test_resnet20_on_cifar10_batches_with_augmentation(tmp_path):
    from tests.trainer.synthetic import write_cifar_like

    write_cifar_like(tmp_path / "cifar", 10, per_batch=60)
    config = TrainConfig(
        model="resnet20",
        dataset="cifar10",
        data_dir=tmp_path / "cifar",
        recipe="xnet",
        degree=4,
        epochs=1,
        batch_size=32,
        out=tmp_path / "runs",
        quiet=True,
        threads=1,
    )
    row = run_training(config).row
    assert row["recipe"] == "xnet" and row["generator"] == "xnet" and row["degree"] == 4
    assert 0 < row["density"] < 1 and row["params_kept"] < row["params_total"]


def test_a_finished_run_keeps_its_model_and_drops_the_optimiser_state_unless_asked(data_dir, tmp_path):
    import torch

    from pruning.storage import load_state
    from trainer.evaluation import evaluate_checkpoint

    dropped = run_training(small_config(data_dir, tmp_path / "a", epochs=2))
    kept = run_training(small_config(data_dir, tmp_path / "b", epochs=2, keep_checkpoint=True))
    small = torch.load(dropped.run_dir / "checkpoint.pt", weights_only=True)
    full = torch.load(kept.run_dir / "checkpoint.pt", weights_only=True)
    assert set(small) == {"model", "epoch", "history", "hooks"} and {"optimizer", "scheduler", "rng"} <= set(full)
    assert small["epoch"] == full["epoch"] == 1
    assert [h["test_acc"] for h in small["history"]] == [h["test_acc"] for h in full["history"]]
    for key, value in full["model"].items():  # the same final weights (same seed): nothing but state dropped
        assert torch.equal(small["model"][key], value), key
    size = (dropped.run_dir / "checkpoint.pt").stat().st_size
    assert size < 0.6 * (kept.run_dir / "checkpoint.pt").stat().st_size  # momentum is as large as the weights
    assert load_state(dropped.run_dir / "checkpoint.pt").keys() == small["model"].keys()
    score = evaluate_checkpoint(dropped.run_dir / "checkpoint.pt", small_config(data_dir, tmp_path / "a"))
    assert score.scores[-1].top1 == pytest.approx(dropped.row["final_acc"])
    with pytest.raises(TrainError, match="already finished all 2 epochs"):
        resume_training(dropped.run_dir)


def test_tensorboard_gets_every_logged_value_of_every_epoch(data_dir, tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    outcome = run_training(small_config(data_dir, tmp_path, epochs=2, tensorboard=True))
    events = EventAccumulator(str(outcome.run_dir / "tensorboard"))
    events.Reload()
    logged = list(csv.DictReader(open(outcome.run_dir / "log.csv")))
    for name in ("train_loss", "val_acc", "test_acc", "lr"):
        values = [event.value for event in events.Scalars(name)]
        assert values == pytest.approx([float(line[name]) for line in logged], rel=1e-6), name
        assert [event.step for event in events.Scalars(name)] == [1, 2]
