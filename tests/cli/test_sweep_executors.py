"""``train sweep --executor`` and ``--status`` through CliRunner."""

import pytest
from click.testing import CliRunner

from cli.train import train
from tests.imports import hide_module
from trainer.results import append_row, read_rows

pytestmark = pytest.mark.slow  # executors from the CLI


def sweep(data_dir, *extra):
    common = ["sweep", "--model", "mlp", "--model-option", "width=16", "--data-dir", data_dir, "--epochs", "1"]
    result = CliRunner().invoke(train, [str(a) for a in [*common, "--seeds", "2", "--threads", "1", "-q", *extra]])
    return result


def test_ray_sweep_from_the_command_line_then_status_and_a_rerun_that_skips_everything(data_dir, tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'topoprune[ray]')")
    result = sweep(data_dir, "--executor", "ray", "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    rows = read_rows(tmp_path / "runs")
    assert len(rows) == 2 and {r["train_seed"] for r in rows} == {"0", "1"}
    status = CliRunner().invoke(train, ["sweep", "--status", str(tmp_path / "runs")])
    assert status.exit_code == 0 and "2 job(s): 2 done, 0 running, 0 failed, 0 queued, 0 pending" in status.output
    again = sweep(data_dir, "--executor", "ray", "--out", tmp_path / "runs")
    assert again.exit_code == 0 and "2 already done, 0 to run" in again.output
    assert len(read_rows(tmp_path / "runs")) == 2
    append_row(tmp_path / "runs", rows[0])  # a row already there is not appended twice
    assert len(read_rows(tmp_path / "runs")) == 2


def test_executor_errors_are_one_line(data_dir, tmp_path, monkeypatch):
    jobs = sweep(data_dir, "--executor", "ray", "--jobs", "2", "--out", tmp_path / "a")
    assert jobs.exit_code == 2 and "--jobs is for --executor local" in jobs.output
    option = sweep(data_dir, "--executor", "slurm", "--slurm-option", "account", "--out", tmp_path / "b")
    assert option.exit_code == 2 and "expected KEY=VALUE" in option.output
    pytest.importorskip("submitit", reason="the slurm extra is not installed (pip install 'topoprune[slurm]')")
    no_slurm = sweep(data_dir, "--executor", "slurm", "--out", tmp_path / "c")
    assert no_slurm.exit_code == 1 and "no Slurm here" in no_slurm.output and "Traceback" not in no_slurm.output
    hide_module(monkeypatch, "ray")
    missing = sweep(data_dir, "--executor", "ray", "--out", tmp_path / "d")
    assert missing.exit_code == 1 and "pip install 'topoprune[ray]'" in missing.output
    assert len(missing.output.strip().splitlines()[-1]) < 200 and "Traceback" not in missing.output
