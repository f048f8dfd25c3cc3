"""No run done twice or lost: claimed sweep jobs, torn results tails, rows kept in the run directory."""

import json
import multiprocessing
import os
import time

import pytest
import torch

from common.memory import ENVIRONMENT_VARIABLE, MemoryBudgetError, memory_budget, set_memory_budget
from sweeps import claims
from sweeps.planning import SweepGrid, sweep_jobs
from sweeps.run import run_sweep
from tests.factories import small_config
from trainer import rundir
from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.results import append_row, read_rows
from trainer.run import TrainInterrupted, resume_training, run_training


def tiny(data_dir, out, **overrides):
    values = dict(model_options={"width": 16, "depth": 1}, lr=0.05, max_train=200, batch_size=128)
    return small_config(data_dir, out, **{**values, **overrides})


def _sweep(config: TrainConfig) -> int:
    jobs = sweep_jobs(None, seeds=2, grid=SweepGrid(("xnet",), degrees=(4,)))
    return run_sweep(config, jobs).trained


def test_two_sweeps_on_one_folder_train_every_job_once(data_dir, tmp_path):
    config = tiny(data_dir, tmp_path / "runs")
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        trained = pool.map(_sweep, [config, config])
    rows = read_rows(config.out)
    keys = [(row["config_hash"], row["train_seed"]) for row in rows]
    assert len(rows) == 4 and len(set(keys)) == 4  # dense and xnet, two seeds each: once each
    assert sum(trained) == 4  # between them the two processes trained the four jobs
    assert not list((config.out / claims.CLAIMS_DIR).glob("*.lock"))  # every claim released


def test_a_live_claim_blocks_and_a_dead_holders_claim_is_taken_over(tmp_path):
    path = claims.claim_path(tmp_path, "abc", 0)
    with claims.claimed(path) as first:
        assert first and path.is_file()
        with claims.claimed(path) as second:
            assert not second  # this very process holds it: alive
    assert not path.exists()
    child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    child.start()
    child.join()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": os.uname().nodename, "pid": child.pid, "started": 0}))
    assert claims.is_stale(path)  # same host, process gone
    assert claims.try_claim(path) and json.loads(path.read_text())["pid"] == os.getpid()
    path.write_text(json.dumps({"host": "another-host", "pid": 1, "started": 0}))
    assert not claims.is_stale(path)  # another host, fresh heartbeat
    assert claims.is_stale(path, now=time.time() + claims.STALE_SECONDS + 1)


def test_a_claim_appears_with_its_holder_in_it_and_a_held_one_is_refused(tmp_path):
    path = tmp_path / "claims" / "abc-0.lock"
    assert claims.try_claim(path)
    assert json.loads(path.read_text())["pid"] == os.getpid()  # complete the moment it exists
    assert [p.name for p in path.parent.iterdir()] == ["abc-0.lock"]  # no draft left behind
    assert not claims.try_claim(path)  # held by a live process (this one)
    assert [p.name for p in path.parent.iterdir()] == ["abc-0.lock"]


def test_a_torn_tail_is_repaired_from_its_run_or_set_aside(data_dir, tmp_path, capsys):
    out = tmp_path / "runs"
    first = run_training(tiny(data_dir, out))
    second = run_training(tiny(data_dir, out, train_seed=1))
    results = rundir.results_path(out)
    intact = results.read_text()
    results.write_text(intact[:-30])  # an interrupted writer tore the last row
    append_row(out, {**first.row, "run_id": "extra"})
    rows = read_rows(out)
    assert [row["run_id"] for row in rows] == [first.run_id, second.run_id, "extra"]
    assert rows[1]["best_acc"] == repr(second.row["best_acc"])  # repaired from the run's result.json
    (second.run_dir / rundir.RESULT_FILE).unlink()
    results.write_text(results.read_text()[:-30])
    append_row(out, {**first.row, "run_id": "again"})
    assert [row["run_id"] for row in read_rows(out)] == [first.run_id, second.run_id, "again"]
    assert (out / "results.csv.torn").read_text().startswith("extra,")
    assert "its last row was torn" in capsys.readouterr().err


def test_a_row_whose_append_failed_is_recovered_by_resume(data_dir, tmp_path, monkeypatch):
    out = tmp_path / "runs"

    def full_disk(directory, row):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("trainer.run.append_row", full_disk)
    with pytest.raises(OSError):
        run_training(tiny(data_dir, out), run_id="lost")
    monkeypatch.undo()
    assert read_rows(out) == []
    kept = json.loads((out / "lost" / rundir.RESULT_FILE).read_text())
    outcome = resume_training(out / "lost")
    assert outcome.row == kept and [row["run_id"] for row in read_rows(out)] == ["lost"]
    with pytest.raises(TrainError, match="run already finished all 1 epochs"):
        resume_training(out / "lost")


def test_the_row_and_config_record_the_torch_version(data_dir, tmp_path):
    outcome = run_training(tiny(data_dir, tmp_path / "runs"))
    assert outcome.row["torch_version"] == torch.__version__
    assert rundir.read_config_document(outcome.run_dir)["torch_version"] == torch.__version__


def test_an_interrupted_run_of_every_kind_offers_the_resume_it_accepts(data_dir, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("trainer.run.train_epoch", interrupted)
    for recipe in ("edropout", None):
        with pytest.raises(TrainInterrupted, match="continue with: train --resume"):
            run_training(tiny(data_dir, tmp_path / "runs", recipe=recipe))


def test_a_mac_budget_no_width_reaches_is_refused_before_any_wide_model(data_dir, tmp_path):
    config = tiny(data_dir, tmp_path / "runs", recipe="xnet", degree=4, match_macs=1e20, model_options={"depth": 1})
    with pytest.raises(TrainError, match=r"a budget of 100,000,000,000,000,000,000 MACs needs mlp wider than width="):
        run_training(config)
    assert not (tmp_path / "runs").exists()


def test_the_memory_budget_has_one_rule_for_the_flag_and_the_environment(monkeypatch):
    with pytest.raises(ValueError, match="memory budget must be positive, got 0"):
        set_memory_budget(0)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "0")
    set_memory_budget(None)
    with pytest.raises(MemoryBudgetError, match="TOPOPRUNE_MEMORY_BUDGET: memory budget must be positive, got 0"):
        memory_budget()
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "3M")
    assert memory_budget() == 3 * 2**20


def test_prune_apply_refuses_to_write_into_a_run_directory(data_dir, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cli.prune import prune

    outcome = run_training(tiny(data_dir, tmp_path / "runs"))
    before = (outcome.run_dir / "masks.npz").read_bytes()
    args = ["apply", "--recipe", "xnet", "--degree", "2", "--model", "mlp", "--input-size", "1x28x28", "--out"]
    result = CliRunner().invoke(prune, [*args, str(outcome.run_dir)])
    assert result.exit_code == 1 and "is not empty and not an earlier prune apply output" in result.output
    assert (outcome.run_dir / "masks.npz").read_bytes() == before
    assert CliRunner().invoke(prune, [*args, str(tmp_path / "applied")]).exit_code == 0
    assert CliRunner().invoke(prune, [*args, str(tmp_path / "applied")]).exit_code == 0  # its own output: fine
    assert CliRunner().invoke(prune, [*args, str(outcome.run_dir), "--force"]).exit_code == 0


def test_a_rerun_sweep_clears_what_a_run_killed_before_its_first_checkpoint_left(data_dir, tmp_path, monkeypatch):
    config = tiny(data_dir, tmp_path / "runs")
    jobs = sweep_jobs(None, seeds=1)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("trainer.run.train_epoch", interrupted)
    with pytest.raises(TrainInterrupted):
        run_sweep(config, jobs)
    monkeypatch.undo()
    (orphan,) = list(rundir.run_dirs(config.out))
    assert not rundir.has_checkpoint(orphan) and (orphan / "masks.npz").is_file()
    assert run_sweep(config, jobs).trained == 1
    (finished,) = list(rundir.run_dirs(config.out))  # the orphan is gone, one run directory per job
    assert finished != orphan and rundir.read_result(finished) is not None


def test_the_results_lock_is_exclusive_across_processes_and_leaves_no_file(tmp_path):
    import multiprocessing

    from trainer.results import locked

    path = tmp_path / "results.csv"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_count_under_lock, args=(path, 50)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert path.read_text() == str(150)  # 150 read-modify-write steps, none lost
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]
    with locked(path):
        assert (tmp_path / "results.csv.lock").exists()
    assert not (tmp_path / "results.csv.lock").exists()


def _count_under_lock(path, steps):
    from trainer.results import locked

    for _ in range(steps):
        with locked(path):
            value = int(path.read_text()) if path.exists() else 0
            path.write_text(str(value + 1))


def test_a_write_that_fails_part_way_is_one_line_naming_the_file_and_leaves_the_old_one(tmp_path):
    import subprocess
    import sys

    script = """
import resource, signal, sys, torch
from pathlib import Path
from common.atomic import atomic_write_text
from pruning.storage import save_state
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # a full disk, as the writer sees it
folder = Path(sys.argv[1])
for write in (lambda: save_state(folder / "c.pt", {"w": torch.zeros(100_000)}),
              lambda: atomic_write_text(folder / "t.csv", "x" * 100_000)):
    try:
        write()
    except Exception as error:
        print(type(error).__name__, error)
"""
    (tmp_path / "c.pt").write_bytes(b"old")
    (tmp_path / "t.csv").write_text("old")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"PruningError {tmp_path / 'c.pt'}: could not be written (is the disk full?")
    assert lines[1].startswith("OSError") and lines[1].endswith(f"File too large: '{tmp_path / 't.csv'}'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "t.csv"]  # no temporary file left
    assert (tmp_path / "c.pt").read_bytes() == b"old" and (tmp_path / "t.csv").read_text() == "old"
