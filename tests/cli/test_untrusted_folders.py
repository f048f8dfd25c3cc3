"""Folders and names from elsewhere are data, never instructions: a sweep's status reads no
pickle, a plan name is not a path, a run's config.json does not choose where its row goes, an
output folder is never the folder being read, and a run killed after its last checkpoint is
finished by --resume (the audit's security and data-loss cases S39, G21-G22, T83-T84, X27, S53)."""

import json
import os
import pickle
import shutil

import pytest

from cli.prune import prune
from cli.topo import topo
from cli.train import train
from tests.factories import small_config
from trainer.results import read_rows
from trainer.run import run_training


class Payload:
    """Unpickling this touches a marker file: what a crafted result pickle would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_sweep_status_never_unpickles_a_result_file(cli, tmp_path):
    pytest.importorskip("submitit", reason="the slurm extra is not installed")
    from sweeps.executors.slurm_array import task_outcome

    folder = tmp_path / "s" / "slurm"
    folder.mkdir(parents=True)
    marker = tmp_path / "PWNED"
    entry = {"config_hash": "abc", "train_seed": "0", "job_id": "4242", "what": "x", "submitted": 0}
    (folder / "submissions.json").write_text(json.dumps([entry]))
    (folder / "4242_0_result.pkl").write_bytes(pickle.dumps(Payload(marker)))
    result = cli.invoke(train, "sweep", "--status", tmp_path / "s")
    assert result.exit_code == 0, result.output
    assert not marker.exists() and "1 failed" in result.output
    (folder / "4242_0_result.pkl").write_bytes(pickle.dumps(("success", {"row": 1})))
    (folder / "4243_0_result.pkl").write_bytes(pickle.dumps(("error", "Traceback ...")))
    assert (task_outcome(tmp_path / "s", "4242"), task_outcome(tmp_path / "s", "4243")) == ("success", "error")
    (folder / "4244_0_result.pkl").write_bytes(b"not a pickle")
    assert task_outcome(tmp_path / "s", "4244") == "error" and not marker.exists()


@pytest.mark.parametrize("name", ["../escaped", "{abs}", "", "..", "a\\b", "tab\tname"])
def test_a_plan_name_is_a_name_not_a_path(cli, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    name = name.replace("{abs}", str(tmp_path / "abs"))
    result = cli.invoke(topo, "gen", "-n", 8, "-d", 2, "--out", "o", "--name", name, "-q")
    assert result.exit_code == 1 and "is not a plain file name" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, inside or outside --out
    ok = cli.invoke(topo, "gen", "-n", 8, "-d", 2, "--out", "o", "--name", "my-plan_1", "-q")
    assert ok.exit_code == 0 and (tmp_path / "o" / "my-plan_1.npy").is_file()


def test_resume_writes_the_row_beside_the_run_whatever_config_json_names(data_dir, tmp_path):
    run_training(small_config(data_dir, tmp_path / "runs", epochs=2), run_id="r", stop_after_epochs=1)
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "runs", moved)
    stored = json.loads((moved / "r" / "config.json").read_text())
    stored["config"]["out"] = str(tmp_path / "escaped")  # a file that tries to send the row elsewhere
    (moved / "r" / "config.json").write_text(json.dumps(stored))
    from trainer.run import resume_training

    outcome = resume_training(moved / "r")
    assert [row["run_id"] for row in read_rows(moved)] == ["r"] and outcome.run_dir == moved / "r"
    assert not (tmp_path / "escaped").exists()


def test_a_run_killed_after_its_last_checkpoint_is_finished_by_resume(data_dir, tmp_path):
    """The window between the last checkpoint and result.json: --resume finishes the run from the
    checkpoint (the same row as an uninterrupted run) instead of calling it finished."""
    whole = run_training(small_config(data_dir, tmp_path / "whole", epochs=2), run_id="w").row
    run_training(small_config(data_dir, tmp_path / "runs", epochs=2), run_id="k")
    (tmp_path / "runs" / "k" / "result.json").unlink()
    rows = tmp_path / "runs" / "results.csv"
    rows.write_text(rows.read_text().splitlines()[0] + "\n")  # the row never written
    from trainer.run import resume_training

    finished = resume_training(tmp_path / "runs" / "k").row
    volatile = {"run_id", "created", "train_seconds"}
    assert {k: v for k, v in finished.items() if k not in volatile} == {
        k: v for k, v in whole.items() if k not in volatile
    }
    assert [row["run_id"] for row in read_rows(tmp_path / "runs")] == ["k"]
    with pytest.raises(Exception, match="already finished all 2 epochs"):
        resume_training(tmp_path / "runs" / "k")


def test_compile_never_writes_into_the_folder_it_reads(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    applied = cli.invoke(prune, "apply", "--recipe", "xnet", "--degree", 4, "--model", "mlp", "--input-size",
                         "1x8x8", "--out", "p")  # fmt: skip
    assert applied.exit_code == 0, applied.output
    before = (tmp_path / "p" / "model.pt").read_bytes()
    result = cli.invoke(prune, "compile", "p", "--out", "p", "--repeats", 1, "--batch-size", 4)
    assert result.exit_code == 1 and "is the folder p is read from" in result.output
    assert (tmp_path / "p" / "model.pt").read_bytes() == before and not (tmp_path / "p" / "compile.json").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not a submission record (Expecting property name"),
        ("[" * 100_000 + "]" * 100_000, "not a submission record (nested too deeply)"),
        ('[{"config_hash": "x"}]', "each entry holds exactly config_hash, train_seed, job_id, what, submitted"),
        (
            '[{"config_hash": "x", "train_seed": "0", "job_id": "../../etc/x", "what": "w", "submitted": 0}]',
            "an entry with a bad job_id",
        ),
        ('{"config_hash": "x"}', "expected a JSON list"),
    ],
    ids=["garbage", "deep", "fields", "job id path", "not a list"],
)
def test_sweep_status_reads_a_damaged_submission_record_as_one_line(cli, tmp_path, text, message):
    (tmp_path / "s" / "slurm").mkdir(parents=True)
    (tmp_path / "s" / "slurm" / "submissions.json").write_text(text)
    result = cli.invoke(train, "sweep", "--status", tmp_path / "s")
    assert result.exit_code == 1 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_sweep_status_reads_a_results_table_that_is_no_table_as_one_line(cli, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "results.csv").write_bytes(bytes(range(128, 256)) * 8)
    result = cli.invoke(train, "sweep", "--status", tmp_path / "s")
    assert result.exit_code == 1 and "results.csv: not a readable results table" in result.output
    (tmp_path / "s" / "results.csv").write_text("run_id,config_hash\nr1,abc\n")  # no train_seed: no job known
    result = cli.invoke(train, "sweep", "--status", tmp_path / "s")
    assert result.exit_code == 0 and result.output.startswith("0 job(s)")
    (tmp_path / "s" / "results.csv").write_text("a,b\n1,2\n")
    result = cli.invoke(train, "sweep", "--status", tmp_path / "s")
    assert result.exit_code == 1 and "not a topoprune results table (no run_id column)" in result.output


def test_a_sweep_config_reads_its_plans_beside_the_file(cli, tmp_path, monkeypatch):
    from topology.generators import generate
    from topology.plans import Plan, save_plan

    monkeypatch.chdir(tmp_path)
    for folder, seed in ((tmp_path / "cfg" / "plans", 0), (tmp_path / "plans", 1)):
        save_plan(Plan(generate("rreg", nodes=16, degree=4, seed=seed), generator="rreg"), folder, "p")
    (tmp_path / "cfg" / "sweep.yaml").write_text("plans: plans\nmodel: mlp\nmodel-option: {width: 16, depth: 2}\n")
    result = cli.invoke(train, "sweep", "--config", tmp_path / "cfg" / "sweep.yaml", "--print-config")
    assert result.exit_code == 0, result.output
    assert f"plans: {tmp_path / 'cfg' / 'plans'}" in result.output


@pytest.mark.parametrize("damage", ["model", "optimizer", "history"])
def test_resume_from_a_checkpoint_that_does_not_fit_is_one_line(cli, data_dir, tmp_path, damage):
    import torch

    run_training(small_config(data_dir, tmp_path / "runs", epochs=2), run_id="r", stop_after_epochs=1)
    path = tmp_path / "runs" / "r" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    if damage == "model":
        state["model"]["stem.weight"] = torch.zeros(3, 784)
    elif damage == "optimizer":
        state["optimizer"]["param_groups"] = []
    else:
        state["history"] = 7
    torch.save(state, path)
    result = cli.invoke(train, "--resume", tmp_path / "runs" / "r")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}: does not fit this run's model and training state (" in result.output
    assert len(result.output.strip().splitlines()) == 1 and read_rows(tmp_path / "runs") == []


def test_a_results_table_that_is_not_utf8_is_left_as_it_is_and_the_row_kept(data_dir, tmp_path):
    from trainer.errors import TrainError

    (tmp_path / "runs").mkdir()
    table = tmp_path / "runs" / "results.csv"
    table.write_bytes(b"run_id,config_hash,best_acc\n\xff\xfe,abc,1\n")
    with pytest.raises(TrainError, match="results.csv: not a readable results table .*nothing was appended"):
        run_training(small_config(data_dir, tmp_path / "runs"), run_id="r")
    assert table.read_bytes() == b"run_id,config_hash,best_acc\n\xff\xfe,abc,1\n"
    assert json.loads((tmp_path / "runs" / "r" / "result.json").read_text())["run_id"] == "r"


def test_a_results_table_linked_from_the_output_folder_gets_the_row(data_dir, tmp_path):
    shared = tmp_path / "shared.csv"
    run_training(small_config(data_dir, tmp_path / "first"), run_id="a")
    shutil.copy(tmp_path / "first" / "results.csv", shared)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "results.csv").symlink_to(shared)
    run_training(small_config(data_dir, tmp_path / "runs"), run_id="b")
    assert (tmp_path / "runs" / "results.csv").is_symlink()
    assert [row["run_id"] for row in read_rows(tmp_path / "runs")] == ["a", "b"]
    assert not list(tmp_path.glob("*.lock")) and not list((tmp_path / "runs").glob("*.lock"))
