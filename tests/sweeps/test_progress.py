"""Each running job's epoch and time left, read from its run directory (sweeps/progress.py)."""

import json
import time

from click.testing import CliRunner

from cli.train import train
from sweeps.claims import claim_path, claimed
from sweeps.progress import JobProgress, LiveProgress, progress_line, running_progress


def run_directory(out, name, config_hash, seed, epochs, seconds):
    folder = out / name
    folder.mkdir(parents=True)
    document = {"config_hash": config_hash, "config": {"train_seed": seed, "epochs": epochs}}
    (folder / "config.json").write_text(json.dumps(document))
    if seconds:
        lines = ["epoch,test_acc,seconds", *[f"{i + 1},50.0,{s}" for i, s in enumerate(seconds)]]
        (folder / "log.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_a_held_job_shows_its_epoch_its_pace_and_its_time_left(tmp_path):
    run_directory(tmp_path, "20261202-100000-mlp-aaaaaa", "h1", 0, 10, [2.0, 4.0])
    run_directory(tmp_path, "20261202-100001-mlp-bbbbbb", "h2", 1, 200, [])
    run_directory(tmp_path, "20261202-100002-mlp-cccccc", "h3", 0, 5, [1.0])  # nobody holds it: not running
    assert running_progress(tmp_path) == []
    with claimed(claim_path(tmp_path, "h1", 0)), claimed(claim_path(tmp_path, "h2", 1)):
        jobs = running_progress(tmp_path)
        assert jobs == [
            JobProgress("20261202-100000-mlp-aaaaaa", 2, 10, 3.0),
            JobProgress("20261202-100001-mlp-bbbbbb", 0, 200, None),
        ]
        assert jobs[0].seconds_left == 24.0
        assert progress_line(tmp_path) == (
            "mlp-aaaaaa: epoch 2/10, 3 s/epoch, 24 s left; mlp-bbbbbb: epoch 0/200, first epoch running"
        )
        status = CliRunner().invoke(train, ["sweep", "--status", str(tmp_path)])
        assert status.exit_code == 0, status.output
        assert "running: 20261202-100000-mlp-aaaaaa: epoch 2/10, 3 s/epoch, 24 s left" in status.output
        shown = []
        with LiveProgress(tmp_path, shown.append, every=0.05):
            time.sleep(0.5)
        assert len(shown) > 1 and shown[-2] == progress_line(tmp_path) and shown[-1] == ""  # cleared at the end
    for n in range(4):
        run_directory(tmp_path, f"20261202-11000{n}-mlp-d{n}", f"m{n}", 0, 3, [1.0])
    with claimed(claim_path(tmp_path, "h1", 0)):
        holds = [claimed(claim_path(tmp_path, f"m{n}", 0)) for n in range(4)]
        for hold in holds:
            hold.__enter__()
        assert progress_line(tmp_path).endswith("; 2 more running") and progress_line(tmp_path).count(": epoch") == 3
        for hold in holds:
            hold.__exit__(None, None, None)
