"""The train command through CliRunner."""

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from cli.train import train
from tests.cli.helpers import assert_error
from tests.trainer.synthetic import write_fashion_like
from topology.generators import generate
from topology.plans import Plan, save_plan
from trainer.results import read_rows


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=600, test=200)


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args: runner.invoke(train, [str(a) for a in args], catch_exceptions=False)


def quick(data_dir):
    return ["--data-dir", data_dir, "--epochs", 1, "--model-option", "width=32", "--threads", 1, "-q"]


def test_help(run):
    assert "run" in run("--help").output
    assert "--plan" in run("run", "--help").output
    assert "--plan" in run("--plan", "x", "--help").output  # default command


def test_train_with_a_plan_prints_the_run_and_row(run, data_dir, tmp_path):
    plan = save_plan(Plan(generate("rreg", nodes=16, degree=4, seed=0)), tmp_path, "p")
    result = run("--plan", plan, *quick(data_dir))
    assert result.exit_code == 0, result.output
    assert "run directory: runs/" in result.output and "best_acc" in result.output
    rows = read_rows(tmp_path / "runs")
    assert len(rows) == 1 and rows[0]["density"] == "0.25" and rows[0]["recipe"] == "relational"


def test_dense_baseline_and_per_layer_recipe(run, data_dir, tmp_path):
    assert run(*quick(data_dir)).exit_code == 0
    assert run("--recipe", "xnet", "--degree", 4, *quick(data_dir)).exit_code == 0
    rows = read_rows(tmp_path / "runs")
    assert [r["recipe"] for r in rows] == ["dense", "xnet"]
    assert [float(r["density"]) for r in rows] == [1.0, 4 / 32]


def test_errors(run, data_dir, tmp_path):
    assert_error(
        run("--data-dir", tmp_path / "none", "--epochs", 1),
        "fashion-mnist",
        str(tmp_path / "none"),
        "apt-get install dataset-fashion-mnist",
    )
    assert_error(run("--model", "nope"), "unknown model 'nope'; valid:", code=2)
    big = save_plan(Plan(generate("rreg", nodes=64, degree=4, seed=0)), tmp_path, "big")
    assert_error(run("--plan", big, *quick(data_dir)), "fewer than the plan's 64 nodes")
    assert_error(run("--plan", big, "--recipe", "xnet", *quick(data_dir)), "--plan is only used by --recipe relational")
    assert_error(run("--plan", tmp_path / "missing.npy", *quick(data_dir)), "missing.npy: no such file")
    assert read_rows(tmp_path / "runs") == []


def test_resume_errors(run, tmp_path):
    assert_error(run("--resume", tmp_path), "not a run directory")


def test_ctrl_c_keeps_the_last_checkpoint_and_says_how_to_resume(data_dir, tmp_path):
    import signal
    import subprocess
    import sys

    command = [
        sys.executable,
        "-m",
        "cli.train",
        "--data-dir",
        str(data_dir),
        "--epochs",
        "200",
        "--model-option",
        "width=32",
        "--threads",
        "1",
        "--out",
        str(tmp_path / "runs"),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2]
    )
    for line in process.stdout:
        if line.startswith("epoch 2/200"):
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "continue with: train --resume" in stderr and "Traceback" not in stderr
    run_dir = next((tmp_path / "runs").iterdir())
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "log.csv").is_file()
    assert read_rows(tmp_path / "runs") == []


def test_corrupt_checkpoint_on_resume(run, data_dir, tmp_path):
    from trainer.config import TrainConfig
    from trainer.run import run_training

    config = TrainConfig(
        model_options={"width": 32}, data_dir=data_dir, epochs=3, out=tmp_path / "runs", quiet=True, threads=1
    )
    run_training(config, run_id="r", stop_after_epochs=1)
    (tmp_path / "runs" / "r" / "checkpoint.pt").write_bytes(b"\0" * 10)
    assert_error(run("--resume", tmp_path / "runs" / "r"), "checkpoint.pt: corrupt checkpoint")


def test_masks_travel_from_prune_apply_and_an_export_and_eval_only(run, data_dir, tmp_path):
    from cli.prune import prune
    from pruning.masking import masks_in_state_dict
    from pruning.storage import load_masks, load_state, masks_sha256

    runner = CliRunner()
    applied = runner.invoke(
        prune,
        ["apply", "--recipe", "xnet", "--degree", "4", "--model", "mlp", "--input-size", "1x28x28", "--out", "applied"],
    )
    assert applied.exit_code == 0, applied.output
    # prune apply builds the default-width mlp (512); train under its masks with that width.
    args = ["--data-dir", data_dir, "--epochs", 1, "--threads", 1, "-q", "--max-train", 200]
    result = run("--masks", "applied/masks.npz", *args)
    assert result.exit_code == 0, result.output
    source = load_masks(tmp_path / "applied" / "masks.npz")
    row = read_rows(tmp_path / "runs")[0]
    assert row["recipe"] == "masks" and row["masks_sha256"] == masks_sha256(source) == row["applied_masks_sha256"]
    run_dir = tmp_path / "runs" / row["run_id"]
    trained = masks_in_state_dict(load_state(run_dir / "best.pt"))
    assert masks_sha256(trained) == masks_sha256(source)  # exactly those masks, entry by entry
    # The same masks through an exported directory are the same experiment (same config_hash).
    exported = runner.invoke(prune, ["inspect", "applied/model.pt", "--export", "exported"])
    assert exported.exit_code == 0, exported.output
    assert run("--masks", "exported", "--seed", 1, *args).exit_code == 0
    rows = read_rows(tmp_path / "runs")
    assert rows[1]["config_hash"] == rows[0]["config_hash"] and rows[1]["train_seed"] == "1"
    assert 0 <= float(row["best_acc"]) <= float(row["best_top5"]) <= 100
    # --eval-only on the run directory scores its best.pt: the row's best epoch, top-1 and top-5.
    evaluated = run("--eval-only", run_dir, "--data-dir", data_dir)
    assert evaluated.exit_code == 0, evaluated.output
    test_line = next(line for line in evaluated.output.splitlines() if line.strip().startswith("test"))
    _, examples, loss, top1, top5 = test_line.split()
    assert float(top1) == pytest.approx(float(row["best_acc"]), abs=0.006) and float(top5) == pytest.approx(
        float(row["best_top5"]), abs=0.006
    )
    assert len(read_rows(tmp_path / "runs")) == 2  # evaluating appends nothing
    # A mask file for another model is a one-line error naming the file.
    assert_error(
        run("--masks", "applied/masks.npz", "--model-option", "width=32", *args),
        "applied/masks.npz",
        "does not fit weight",
    )
    assert_error(run("--masks", "applied", "--recipe", "xnet", *args), "--masks replaces --plan and --recipe")


def test_sweep_of_an_x_net_model_needs_no_plans(run, data_dir, tmp_path):
    args = [
        "sweep",
        "--model",
        "xresnet20",
        "--model-option",
        "expand=4",
        "--seeds",
        2,
        "--data-dir",
        data_dir,
        "--epochs",
        1,
        "--threads",
        1,
        "-q",
        "--max-train",
        200,
    ]
    result = run(*args)
    assert result.exit_code == 0, result.output
    rows = read_rows(tmp_path / "runs")
    assert [r["recipe"] for r in rows] == ["model", "model"] and {r["train_seed"] for r in rows} == {"0", "1"}
    assert rows[0]["model_structure"] == '{"balanced":false,"expand":4}' and float(rows[0]["density"]) < 0.3
    assert "2 already done, 0 to run" in run(*args).output
    assert_error(
        run("--model", "xresnet20", "--recipe", "dense", "--data-dir", data_dir, "--epochs", 1, "-q"),
        "wires its own X-layers",
    )


def test_match_macs_chooses_the_width_and_says_so(run, data_dir, tmp_path):
    plan = save_plan(Plan(generate("rreg", nodes=16, degree=4, seed=0)), tmp_path, "p")
    common = ["--data-dir", data_dir, "--epochs", 1, "--threads", 1, "--model-option", "depth=1"]
    result = CliRunner().invoke(
        train, [str(a) for a in ["--plan", plan, "--match-macs", "dense", *common]], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "width for the MAC budget: width=" in result.output and "one width step changes them by" in result.output
    row = read_rows(tmp_path / "runs")[0]
    assert int(row["width"]) > 512 and int(row["macs_budget"]) == 784 * 512 + 512 * 512 + 512 * 10
    assert_error(run("--match-macs", "lots", *quick(data_dir)), "'dense' or a positive number", code=2, one_line=False)
    assert_error(run("--plan", plan, "--match-macs", "dense", *quick(data_dir)), "--match-macs chooses width")
    assert_error(
        run("--model", "vgg16_bn", "--match-macs", "dense", "--data-dir", data_dir, "--epochs", 1, "-q"),
        "has no width option",
    )


def test_shared_basis_model_trains_under_a_plan_with_its_regulariser_logged(run, data_dir, tmp_path):
    plan = save_plan(Plan(generate("rreg", nodes=4, degree=2, seed=0)), tmp_path, "p4")
    result = run(
        "--plan",
        plan,
        "--nodes-policy",
        "shrink",
        "--self-loops",
        "--model",
        "resnet32_shared",
        "--orth-lambda",
        10,
        "--orth-scope",
        "all",
        "--data-dir",
        data_dir,
        "--epochs",
        1,
        "--max-train",
        200,
        "--threads",
        1,
        "-q",
    )
    assert result.exit_code == 0, result.output
    row = read_rows(tmp_path / "runs")[0]
    assert row["recipe"] == "relational" and row["model"] == "resnet32_shared"
    assert json.loads(row["model_options"]) == {
        "bases": "single",
        "orth_lambda": 10,
        "orth_scope": "all",
        "shared_rank": 8,
        "unique_rank": 1,
    }
    run_dir = tmp_path / "runs" / row["run_id"]
    log = (run_dir / "log.csv").read_text().splitlines()
    assert log[0].split(",")[3] == "train_extra_loss" and float(log[1].split(",")[3]) > 0
    layers = {line.split(",")[0]: line.split(",")[3] for line in (run_dir / "masks.csv").read_text().splitlines()[1:]}
    assert (
        layers["layers.1.blocks.1.conv1.coefficients"] == "True" and layers["layers.1.blocks.1.conv1.unique"] == "True"
    )
    assert layers["layers.1.bases.0"] == "False"


def test_orth_flags_need_a_model_with_the_regulariser(run, data_dir):
    assert_error(
        run("--orth-lambda", 5, *quick(data_dir)),
        "--orth-lambda: model mlp has no orthogonality regulariser",
        code=2,
        one_line=False,
    )
    assert_error(
        run("--model", "resnet32_shared", "--orth-lambda", 5, "--model-option", "orth_lambda=1", *quick(data_dir)[:4]),
        "--orth-lambda 5.0 contradicts --model-option orth_lambda=1",
        code=2,
        one_line=False,
    )


def test_a_sweep_checks_every_job_before_training_and_names_the_plans_it_cannot_use(run, data_dir, tmp_path):
    plans = tmp_path / "plans"
    save_plan(Plan(generate("rreg", nodes=16, degree=4, seed=0)), plans, "small")
    save_plan(Plan(generate("rreg", nodes=64, degree=4, seed=0)), plans, "large")
    save_plan(Plan(generate("xnet", nodes=8, nodes_in=8, degree=2, seed=0), kind="bipartite"), plans, "layer")
    args = ["sweep", "--plans", plans, "--seeds", 1, "--max-train", 200, *quick(data_dir)]
    refused = run(*args)
    assert refused.exit_code == 1
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert any(
        line.startswith("notice: ") and "left out 1 bipartite plan(s)" in line and "layer.npy" in line for line in lines
    )
    cannot = [line for line in lines if line.startswith("cannot train: ")]
    assert len(cannot) == 1 and f"{plans / 'large.npy'}: layer hidden1 has 32 output and 32 input channels" in cannot[0]
    assert "use a plan of at most 32 nodes" in cannot[0]
    assert "1 of 3 job(s) cannot be masked" in lines[-1] and "--skip-unusable" in lines[-1]
    assert read_rows(tmp_path / "runs") == []  # nothing trained before the check
    trained = run(*args, "--skip-unusable")
    assert trained.exit_code == 0, trained.output
    assert sorted(row["recipe"] for row in read_rows(tmp_path / "runs")) == ["dense", "relational"]


def test_random_filters_rebuilds_the_model_of_the_run_it_copies(run, data_dir, tmp_path):
    args = ["--data-dir", data_dir, "--epochs", 1, "--threads", 1, "-q", "--max-train", 200]
    edropout = run(
        "--recipe", "edropout", "--model", "cnn", "--model-option", "width=4", "--edropout-patience", 1, *args
    )
    assert edropout.exit_code == 0, edropout.output
    reference = read_rows(tmp_path / "runs")[0]
    control = run("--recipe", "random-filters", "--like", f"runs/{reference['run_id']}", "--mask-seed", 3, *args)
    assert control.exit_code == 0, control.output
    row = read_rows(tmp_path / "runs")[1]
    assert row["model"] == "cnn" and json.loads(row["model_options"]) == {"width": 4}
    assert row["params_kept"] == reference["params_kept"]  # the same kept counts, on the same network
    other = run("--recipe", "random-filters", "--like", f"runs/{reference['run_id']}", "--model", "mlp", *args)
    assert other.exit_code == 1 and "which the model has no prunable layer of" in other.output  # told otherwise


def test_init_from_a_foreign_checkpoint_then_prune_and_evaluate_it(run, data_dir, tmp_path):
    from trainer.config import TrainConfig
    from trainer.data import load_dataset
    from trainer.identity import config_hash, identify
    from trainer.models import build_model
    from trainer.recipes import recipe_of
    from trainer.run import build_masked_model

    torch.manual_seed(5)
    source = build_model("mlp", (1, 28, 28), 10, width=16)
    wrapped = {"model_state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}, "epoch": 9}
    torch.save(wrapped, tmp_path / "foreign.pt")
    config = TrainConfig(
        model="mlp",
        model_options={"width": 16},
        data_dir=data_dir,
        recipe="xnet",
        degree=4,
        init_from=tmp_path / "foreign.pt",
    )
    data = load_dataset(config.data_config())
    built = build_masked_model(config, recipe_of(config).inputs(config), data, announce=False)
    masks = built.pruned.masks
    for name, value in source.state_dict().items():
        layer, _, kind = name.rpartition(".")
        got = built.model.state_dict().get(name)
        if got is None:  # a masked weight: the checkpoint's values where kept
            got = built.model.get_submodule(layer).weight
            value = value * masks[layer].to(value.dtype)
        torch.testing.assert_close(got.detach(), value, rtol=0, atol=0)
    plain = config_hash(identify(TrainConfig(**{**config.__dict__, "init_from": None}))[1])
    assert config_hash(identify(config)[1]) != plain
    torch.save(wrapped, tmp_path / "copy.pt")  # the same bytes elsewhere: the same run
    assert config_hash(identify(TrainConfig(**{**config.__dict__, "init_from": tmp_path / "copy.pt"}))[1]) == (
        config_hash(identify(config)[1])
    )
    # the command line: train from it, and evaluate it as it is
    args = ["--model", "mlp", "--model-option", "width=16", "--data-dir", data_dir, "-q", "--threads", 1]
    result = run("--init-from", tmp_path / "foreign.pt", "--recipe", "xnet", "--degree", 4, "--epochs", 1, *args)
    assert result.exit_code == 0, result.output
    assert read_rows(tmp_path / "runs")[0]["init_from_sha256"]
    evaluated = run("--eval-only", tmp_path / "foreign.pt", *args)
    assert evaluated.exit_code == 0, evaluated.output
    assert_error(run("--init-from", tmp_path / "nope.pt", *args), "--init-from", "nope.pt: no such file")
    assert_error(
        run(
            "--init-from",
            tmp_path / "foreign.pt",
            "--model-option",
            "width=32",
            "--model",
            "mlp",
            "--data-dir",
            data_dir,
        ),
        "foreign.pt: the weights do not fit the model",
        "mis-shaped",
    )
    bad = run("--key-map", "nothing", *args)
    assert bad.exit_code == 2 and "expected OLD=NEW" in bad.output


def test_a_torchvision_model_by_name_trains_from_the_command_line(run, data_dir, tmp_path):
    args = ["--data-dir", data_dir, "--epochs", 1, "--max-train", 100, "--max-test", 50, "-q", "--threads", 1]
    result = run("--model", "tv:resnet18", "--recipe", "xnet", "--degree", 4, *args)
    assert result.exit_code == 0, result.output
    (row,) = read_rows(tmp_path / "runs")
    assert row["model"] == "tv:resnet18" and ":" not in row["run_id"] and float(row["density"]) < 1
    assert_error(run("--model", "tv:resnet7", *args), "tv:resnet7 is not a torchvision classification model", code=2)


def test_train_help_shows_the_options_of_a_run_and_the_subcommands(cli):
    result = cli.invoke(train, "--help")
    assert result.exit_code == 0
    head, _, options = result.output.partition("`train [OPTIONS]` is `train run [OPTIONS]`; its options:")
    assert "sweep" in head and "run" in head
    for flag in ("--epochs", "--model", "--plan", "--resume", "--lr", "--edropout-population"):
        assert flag in options


def test_a_run_names_its_data_and_says_masked_weights_start_at_zero_only_when_hidden(run, data_dir, tmp_path):
    from trainer.models import build_model

    state = build_model("mlp", (1, 28, 28), 10, width=32, depth=2).state_dict()
    weight = state.pop("hidden1.weight")
    for name, mask in (("ones", torch.ones_like(weight)), ("half", torch.ones_like(weight).tril())):
        torch.save({**state, "hidden1.weight_orig": weight, "hidden1.weight_mask": mask}, tmp_path / f"{name}.pt")
    notice = "holds masks on 1 layer(s): its masked weights start at zero"
    quiet = [a for a in quick(data_dir) if a != "-q"]
    depth = ["--model-option", "depth=2", "--max-train", 64]
    shown = run("--init-from", tmp_path / "half.pt", "--model", "mlp", *quiet, *depth)
    assert shown.exit_code == 0 and notice in shown.output
    data = f"data: fashion-mnist from {data_dir}: 10 classes, 1x28x28; train 58, val 6, test 200 examples"
    assert data in shown.output
    silent = run("--init-from", tmp_path / "ones.pt", "--model", "mlp", *quiet, *depth)
    assert silent.exit_code == 0 and "start at zero" not in silent.output
