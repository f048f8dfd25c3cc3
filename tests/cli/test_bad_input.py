"""Bad input as a new user gives it: one line naming the file or parameter, a non-zero exit, no
traceback, nothing written. One row per case; the fixture writes each bad file into the folder."""

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.prune import prune
from cli.report import report
from cli.topo import topo
from cli.train import train
from pruning.storage import save_masks
from tests.reports.synthetic_results import results_table
from tests.trainer.synthetic import write_fashion_like
from topology.generators import generate
from topology.plans import Plan, save_plan

COMMANDS = {"topo": topo, "prune": prune, "train": train, "report": report}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A folder of bad inputs beside good ones (see each case's name)."""
    monkeypatch.chdir(tmp_path)
    save_plan(Plan(generate("rreg", nodes=16, degree=4, seed=0), generator="rreg"), tmp_path, "good")
    save_plan(Plan(generate("rreg", nodes=16, degree=4, seed=0), generator="rreg"), tmp_path, "sparse", ("npz", "json"))
    document = json.loads((tmp_path / "good.json").read_text())
    for name, field, value in (("listmetrics", "metrics", [1, 2]), ("textnodes", "nodes", "8")):
        shutil.copy(tmp_path / "good.npy", tmp_path / f"{name}.npy")
        (tmp_path / f"{name}.json").write_text(json.dumps({**document, field: value}))
    (tmp_path / "many.edges").write_text("0 1\n1 2\n")
    (tmp_path / "many.json").write_text(json.dumps({"format": "topoprune.plan/1", "kind": "graph", "nodes": "many"}))
    (tmp_path / "far.edges").write_text("0 1\n1 100000000\n")
    (tmp_path / "huge.edges").write_text("0 1\n1 2\n")
    (tmp_path / "huge.json").write_text(json.dumps({"format": "topoprune.plan/1", "kind": "graph", "nodes": 10**9}))
    (tmp_path / "trunc.npz").write_bytes((tmp_path / "sparse.npz").read_bytes()[:100])
    (tmp_path / "text.npz").write_text("not a zip archive")
    np.savez(
        tmp_path / "fracshape.npz",
        shape=np.array([2.7, 2.2]),
        format=np.array("csr"),
        indices=np.array([1, 0]),
        indptr=np.array([0, 1, 2]),
        data=np.array([1, 1]),
    )
    save_masks(tmp_path / "twos.npz", {"4": torch.ones(8, 8)})
    with np.load(tmp_path / "twos.npz") as archive:
        np.savez(tmp_path / "twos.npz", **{"4": archive["4"].astype(np.float32) * 2})
    table = results_table(lambda metrics, rng: 80 - metrics["aspl"], plans=3, seeds=2)
    table.to_csv(tmp_path / "good.csv", index=False)
    text = table.astype({"best_acc": object})
    text.loc[0, "best_acc"] = "oops"
    text.to_csv(tmp_path / "textacc.csv", index=False)
    (tmp_path / "torn.csv").write_text((tmp_path / "good.csv").read_text()[:-40])
    outside = table.copy()
    outside.loc[1, "best_acc"] = 150.0
    outside.to_csv(tmp_path / "percent.csv", index=False)
    (tmp_path / "plain").mkdir()
    (tmp_path / "afile").write_text("a file where a folder is expected")
    bipartite = generate("xnet", nodes=16, nodes_in=8, degree=4, seed=0)
    save_plan(Plan(bipartite, kind="bipartite", generator="xnet"), tmp_path, "layer")
    write_fashion_like(tmp_path / "fm", train=100, test=50)
    return tmp_path


QUICK = ["--data-dir", "fm", "--epochs", "1", "--threads", "1", "-q"]
APPLY = ["prune", "apply", "--recipe", "xnet", "--degree", "4", "--input-size", "1x28x28", "--out", "written"]
CASES = [
    (["topo", "analyze", "listmetrics.npy"], 1, 'listmetrics.json: "metrics" must be a JSON object, got list'),
    (
        ["topo", "analyze", "textnodes.npy"],
        1,
        "textnodes.json: \"nodes\" must be a whole number of at least 0, got '8'",
    ),
    (["topo", "analyze", "many.edges"], 1, "many.json: \"nodes\" must be a whole number of at least 0, got 'many'"),
    (["topo", "analyze", "far.edges"], 1, "far.edges: node ids run up to 100000000 but only 3 distinct nodes appear"),
    (
        ["topo", "analyze", "huge.edges", "--memory-budget", "2G"],
        1,
        "huge.edges: a sparse 1,000,000,000 x 1,000,000,000 matrix with 4 entries would need 7.5 GB",
    ),
    (["topo", "analyze", "trunc.npz"], 1, "trunc.npz: not a readable .npz matrix"),
    (["topo", "show", "trunc.npz", "--out", "written.png"], 1, "trunc.npz: not a readable .npz matrix"),
    (["topo", "analyze", "text.npz"], 1, "text.npz: not a .npz file (a .npz is a zip archive"),
    (["topo", "analyze", "fracshape.npz"], 1, "fracshape.npz: shape [2.7, 2.2] is not whole numbers"),
    (
        ["topo", "analyze", "good.npy", "-m", "aspl", "--format", "csv", "--out", "afile/x.csv"],
        1,
        "afile: exists and is not a directory",
    ),
    (
        ["topo", "analyze", "layer.npy", "-m", "aspl"],
        1,
        "none of the metrics asked for (aspl) applies to the bipartite plan(s) given",
    ),
    (
        ["topo", "gen", "-g", "swap-chain", "-n", "100000", "-d", "4", "--out", "written"],
        1,
        "swap-chain: the walk scores dense 100,000-node matrices by all-pairs BFS; it runs up to 5,000 nodes",
    ),
    (
        ["topo", "gen", "-g", "swap-chain", "-n", "3000", "-d", "4", "--memory-budget", "100M", "--out", "written"],
        1,
        "swap-chain on 3,000 nodes: the walk's dense candidate matrices would need 231.9 MB",
    ),
    (
        ["topo", "gen", "-n", "10000000", "-d", "4", "--save", "npy", "--out", "written"],
        1,
        "written: a .npy file of a 10,000,000 x 10,000,000 matrix would need",
    ),
    (
        ["topo", "gen", "-g", "er", "-n", "1000000", "-d", "8", "--save", "csv", "--out", "written"],
        1,
        "written: a .csv file of a 1,000,000 x 1,000,000 matrix would need",
    ),
    (["train", "--plan", "trunc.npz", *QUICK, "--out", "written"], 1, "trunc.npz: not a readable .npz matrix"),
    (["prune", "inspect", "sparse.npz"], 2, "sparse.npz looks like a plan file"),
    (
        [*APPLY, "--model", "mlp", "--model-option", "width=abc"],
        1,
        "model option width of mlp must be a whole number, got 'abc'",
    ),
    (
        [*APPLY, "--model", "mlp", "--model-option", "width=2.5"],
        1,
        "model option width of mlp must be a whole number, got 2.5",
    ),
    (
        [*APPLY, "--model", "mlp", "--model-option", "width=-5"],
        1,
        "model option width of mlp must be greater than 0, got -5",
    ),
    (
        [*APPLY, "--model", "cnn", "--model-option", "width=-1"],
        1,
        "model option width of cnn must be greater than 0, got -1",
    ),
    (
        ["prune", "apply", "--recipe", "dense", "--model", "xresnet20", "--out", "written"],
        1,
        "model xresnet20 wires its own X-layers, so recipe 'dense' would mislabel it",
    ),
    (
        ["train", "--model", "mlp", "--model-option", "width=2.5", *QUICK, "--out", "written"],
        1,
        "model option width of mlp must be a whole number, got 2.5",
    ),
    (
        ["train", "--masks", "twos.npz", "--model", "mlp", *QUICK, "--out", "written"],
        1,
        "twos.npz: mask '4' has value 2.0 at (0, 0); only 0 and 1 are allowed",
    ),
    (
        ["report", "textacc.csv", "--out", "written"],
        1,
        "textacc.csv: column best_acc holds 'oops' on line 2, not a number",
    ),
    (["report", "torn.csv", "--out", "written"], 1, "torn.csv: line 9 has fewer fields than the header"),
    (
        ["report", "percent.csv", "--out", "written"],
        1,
        "percent.csv: column best_acc holds 150 on line 3, not a percentage in 0-100",
    ),
    ([*APPLY, "--model", "mlp", "--model-option", "width=nan"], 1, "width of mlp must be a whole number, got nan"),
    ([*APPLY, "--model", "mlp", "--model-option", "width=inf"], 1, "width of mlp must be a whole number, got inf"),
    (
        [*APPLY, "--model", "mlp", "--model-option", "width=1000000"],
        1,
        "model mlp on 1x28x28 inputs with {'width': 1000000}: its weights alone would need more than the memory budget",
    ),
    (
        [*APPLY, "--model", "mlp", "--input-size", "1x100000x100000"],
        1,
        "model mlp on 1x100000x100000 inputs with default options: its weights alone would need more",
    ),
    (
        ["train", "--model", "mlp", "--augment", "cutout:nan", *QUICK, "--out", "written"],
        1,
        "--augment: 'cutout:nan': the value must be a positive finite number",
    ),
    (
        ["train", "--model", "mlp", "--augment", "cutout:0.5", *QUICK, "--out", "written"],
        1,
        "--augment: 'cutout:0.5': cutout takes a whole number of pixels",
    ),
    (
        ["train", "--model", "mlp", "--key-map", "net.=x", *QUICK, "--out", "written"],
        2,
        "--key-map renames the keys of a checkpoint: give it with --init-from or --eval-only",
    ),
    (
        ["train", "--model", "mlp", "--batch-size", "89", *QUICK, "--out", "written"],
        1,
        "--batch-size 89 leaves a training batch of one example (90 examples), which the model's BatchNorm1d",
    ),
    (["topo", "gen", "-n", "64", "-d", "nan", "--out", "written"], 2, "'nan' is not a finite number"),
    (["topo", "gen", "-g", "er", "-n", "64", "-d", "4", "--p", "inf", "--out", "written"], 2, "'inf' is not a finite"),
    (["train", "sweep", "--status", "plain"], 1, "plain: not a sweep folder (no results.csv, claims/, slurm/"),
    (["train", "sweep", "--status", "fm"], 1, "fm: not a sweep folder"),
]


@pytest.mark.parametrize(("args", "code", "first_line"), CASES, ids=[" ".join(case[0][:3]) for case in CASES])
def test_bad_input_is_one_line_and_writes_nothing(folder, args, code, first_line):
    result = CliRunner().invoke(COMMANDS[args[0]], args[1:], catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    if code == 1:
        assert len(lines) == 1, result.output
    assert first_line in result.output, result.output
    assert not list(folder.glob("written*"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the refusal only applies without it")
def test_a_cuda_device_without_cuda_is_one_line(folder):
    CliRunner().invoke(prune, APPLY[2:] + ["--model", "mlp"], catch_exceptions=False)
    result = CliRunner().invoke(prune, ["compile", "written", "--out", "compiled", "--device", "cuda"])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        "Error: device 'cuda' requested but CUDA is not available on this machine"
    ]
    assert not (folder / "compiled").exists()


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(folder, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("cli.topo.analyze_plans", broken)
    result = CliRunner().invoke(topo, ["analyze", "good.npy"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: topo analyze failed unexpectedly (ZeroDivisionError: division by zero); run it again with --debug "
        "or TOPOPRUNE_DEBUG=1 for the traceback"
    )
    monkeypatch.delenv("TOPOPRUNE_DEBUG", raising=False)
    debug = CliRunner().invoke(topo, ["analyze", "good.npy", "--debug"])
    assert isinstance(debug.exception, ZeroDivisionError)  # the traceback is shown, not hidden


def test_ctrl_c_is_one_line_and_exit_130(folder, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("cli.topo.analyze_plans", interrupted)
    result = CliRunner().invoke(topo, ["analyze", "good.npy"])
    assert result.exit_code == 130
    assert result.output.strip() == "topo analyze: stopped by Ctrl-C"


def test_a_setting_of_another_recipe_is_refused_not_silently_ignored(folder):
    args = ["--model", "mlp", "--model-option", "width=16", "--max-train", "64", "--max-test", "32", *QUICK]
    result = CliRunner().invoke(train, [*args, "--edropout-population", "4", "--out", "written"])
    assert result.exit_code == 2 and not list(folder.glob("written*"))
    assert "--edropout-population: a setting of another recipe, and dense does not read it" in result.output
    result = CliRunner().invoke(train, [*args, "--recipe", "edropout", "--edropout-population", "4", "--print-config"])
    assert result.exit_code == 0 and "edropout_population: 4" in result.output.replace("-", "_"), result.output
