"""The prune command through CliRunner: outputs, round trips, torch.nn.utils.prune input, errors."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from torch.nn.utils import prune as torch_prune

from cli.prune import prune
from pruning import load_masked_state_dict
from pruning.storage import load_masks
from tests.cli.helpers import assert_error
from topology.generators import generate
from topology.plans import Plan, load_plan, save_plan
from trainer.models import build_model


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args: runner.invoke(prune, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def plan(tmp_path):
    return save_plan(Plan(generate("rreg", nodes=16, degree=4, seed=0)), tmp_path, "p16")


def test_help(run):
    for args in ([], ["apply"], ["inspect"]):
        assert run(*args, "--help").exit_code == 0


def test_apply_writes_model_masks_and_summaries(run, plan, tmp_path):
    result = run("apply", "--plan", plan, "--model", "cnn", "--input-size", "1x28x28", "--out", "out")
    assert result.exit_code == 0, result.output
    assert "params kept" in result.output and "MACs kept" in result.output
    table = pd.read_csv(tmp_path / "out" / "summary.csv")
    masked = table[(table["masked"] == True) & (table["name"] != "TOTAL")]  # noqa: E712
    assert len(masked) == 4 and (masked["density"] == 0.25).all()
    document = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert document["plan_sha256"] == load_plan(plan).sha256 and document["mask_seed"] == 0
    assert document["params_kept"] == table.iloc[-1]["weights_kept"]
    masks = load_masks(tmp_path / "out" / "masks.npz")
    state = torch.load(tmp_path / "out" / "model.pt", weights_only=True)
    model = load_masked_state_dict(build_model("cnn", (1, 28, 28), 10), state)
    assert all(
        torch.equal(model.get_submodule(name).parametrizations.weight[0].mask.reshape(mask.shape), mask)
        for name, mask in masks.items()
    )


def test_apply_is_reproducible(run, tmp_path):
    for out in ("a", "b"):
        assert (
            run(
                "apply",
                "--recipe",
                "rreg-bipartite",
                "--degree",
                8,
                "--model",
                "mlp",
                "--input-size",
                "1x28x28",
                "--seed",
                3,
                "--out",
                out,
            ).exit_code
            == 0
        )
    a, b = load_masks(tmp_path / "a" / "masks.npz"), load_masks(tmp_path / "b" / "masks.npz")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("model", ["resnet18", "mobilenet_v2", "vgg16_bn", "resnet20"])
def test_apply_on_zoo_and_torchvision_models(run, plan, model):
    result = run(
        "apply",
        "--plan",
        plan,
        "--model",
        model,
        "--input-size",
        "3x32x32",
        "--nodes-policy",
        "shrink",
        "--out",
        model,
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    if model == "mobilenet_v2":
        assert "depthwise convolution" in result.output  # depthwise convs are skipped with a notice


def test_inspect_checkpoint_masks_and_export(run, plan, tmp_path):
    run("apply", "--plan", plan, "--model", "cnn", "--input-size", "1x28x28", "--out", "out")
    result = run("inspect", tmp_path / "out" / "model.pt", "--format", "json")
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert json.loads(result.stdout)["params_kept"] == saved["params_kept"]
    result = run(
        "inspect", tmp_path / "out" / "model.pt", "--model", "cnn", "--input-size", "1x28x28", "--format", "json"
    )
    assert json.loads(result.stdout)["macs_kept"] == saved["macs_kept"]
    result = run("inspect", tmp_path / "out" / "masks.npz", "--export", "exported")
    assert result.exit_code == 0, result.output
    exported = load_plan(tmp_path / "exported" / "4.npy")
    assert exported.kind == "bipartite" and exported.matrix.shape == (64, 64)
    assert exported.matrix.mean() == 0.25


def test_inspect_reads_torch_prune_checkpoints(run, tmp_path):
    model = build_model("mlp", (1, 28, 28), 10)
    torch_prune.random_unstructured(model.get_submodule("hidden1"), "weight", amount=0.75)
    torch.save(model.state_dict(), tmp_path / "tp.pt")
    result = run("inspect", tmp_path / "tp.pt", "--format", "json")
    assert result.exit_code == 0, result.output
    layers = json.loads(result.stdout)["layers"]
    assert [layer["name"] for layer in layers] == ["hidden1"]
    assert layers[0]["weights_kept"] == 512 * 512 // 4


@pytest.mark.parametrize(
    "args, fragments, code",
    [
        (["--plan", "missing.npy", "--model", "cnn"], ["missing.npy: no such file"], 1),
        (["--plan", "{bad}", "--model", "cnn"], ["bad.npy", "not symmetric"], 1),
        (["--plan", "{plan}", "--model", "nope"], ["unknown model 'nope'", "cresnet18", "tv:NAME"], 2),
        (["--plan", "{plan}", "--model", "cnn", "--recipe", "nope"], ["'nope' is not one of", "xnet"], 2),
        (["--model", "cnn"], ["the relational recipe needs a plan (--plan)"], 2),
        (
            ["--plan", "{plan}", "--model", "cnn", "--recipe", "xnet", "--degree", 2],
            ["--plan is only used by --recipe relational"],
            2,
        ),
        (
            ["--plan", "{plan}", "--model", "resnet20"],
            ["layer layers.0.0.conv1 has 16 output and 16 input channels, fewer than the plan's 16 nodes"],
            None,
        ),
        (["--plan", "{plan64}", "--model", "resnet20"], ["fewer than the plan's 64 nodes"], 1),
        (
            ["--recipe", "xnet", "--degree", 600, "--model", "mlp", "--input-size", "1x28x28"],
            ["layer hidden1 (512x512)", "degree must satisfy"],
            1,
        ),
        (["--plan", "{plan}", "--model", "cnn", "--input-size", "1x2x2"], ["the model rejects input size 1x2x2"], 1),
        (["--plan", "{plan}", "--model", "cnn", "--input-size", "axb"], ["expected sizes like 3x32x32"], 2),
    ],
)
def test_apply_errors_write_nothing(run, plan, tmp_path, args, fragments, code):
    np.save(tmp_path / "bad.npy", np.triu(np.ones((4, 4)), k=1), allow_pickle=False)
    plan64 = save_plan(Plan(generate("rreg", nodes=64, degree=4, seed=0)), tmp_path, "p64")
    args = [str(a).format(plan=plan, bad=tmp_path / "bad", plan64=plan64) for a in args]
    args = [a.replace(str(tmp_path / "bad"), str(tmp_path / "bad.npy")) for a in args]
    result = run("apply", *args, "--out", "out")
    if code is None:  # 16 channels, 16 nodes: fits exactly, so this one succeeds
        assert result.exit_code == 0, result.output
        return
    assert_error(result, *fragments, code=code)
    assert not (tmp_path / "out").exists()


def test_inspect_errors(run, tmp_path):
    assert_error(run("inspect", "nope.pt"), "nope.pt: no such file")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert_error(run("inspect", tmp_path / "junk.pt"), "junk.pt: not a readable PyTorch checkpoint")
    torch.save(build_model("mlp", (1, 4, 4), 10).state_dict(), tmp_path / "dense.pt")
    assert_error(run("inspect", tmp_path / "dense.pt"), "dense.pt: holds no masks")


def test_degree_side_best_of_and_unconnected_notices(run, tmp_path):
    # mlp at 1x8x8: 64 -> 512 (widening) and 512 -> 512 layers; at degree 3 every input is used.
    result = run(
        "apply",
        "--recipe",
        "rreg-bipartite",
        "--degree",
        3,
        "--model",
        "mlp",
        "--input-size",
        "1x8x8",
        "--prune-first",
        "--out",
        "a",
    )
    assert result.exit_code == 0, result.output
    assert "unconnected" not in result.output
    # xnet at degree 1: each output reads one random input, so some inputs are left out.
    random_left = run(
        "apply", "--recipe", "xnet", "--degree", 1, "--model", "cnn", "--input-size", "1x8x8", "--out", "b"
    )
    assert random_left.exit_code == 0, random_left.output
    lines = [line for line in random_left.output.splitlines() if "input channels are unconnected" in line]
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert len(lines) == sum(layer["isolated_inputs"] > 0 for layer in summary["layers"]) > 0
    balanced = run(
        "apply", "--recipe", "rreg-bipartite", "--degree", 1, "--model", "cnn", "--input-size", "1x8x8", "--out", "c"
    )
    assert "unconnected" not in balanced.output  # cnn's layers widen: one input per output reaches every input
    on_inputs = run(
        "apply",
        "--recipe",
        "rreg-bipartite",
        "--degree",
        1,
        "--degree-side",
        "inputs",
        "--model",
        "cnn",
        "--input-size",
        "1x8x8",
        "--out",
        "c2",
    )
    assert (
        "output channels get no input (dead units)" in on_inputs.output
    )  # one output per input leaves half of 2w dead
    best = run(
        "apply",
        "--recipe",
        "xnet",
        "--degree",
        4,
        "--best-of",
        3,
        "--select-by",
        "spectral_gap",
        "--model",
        "cnn",
        "--input-size",
        "1x8x8",
        "--out",
        "d",
    )
    assert best.exit_code == 0, best.output
    draws = json.loads((tmp_path / "d" / "summary.json").read_text())["draws"]
    assert draws and all(d["draws"] == 3 and d["select_by"] == "spectral_gap" for d in draws.values())
    assert sum("kept draw" in line for line in best.output.splitlines()) == len(draws)
    assert_error(
        run("apply", "--recipe", "dense", "--best-of", 2, "--model", "cnn", "--out", "e"),
        "best-of draws random layer graphs",
        code=2,
    )


def test_x_net_model_through_prune_apply_and_inspect(run, tmp_path):
    result = run(
        "apply",
        "--recipe",
        "model",
        "--model",
        "xdensenet_bc",
        "--model-option",
        "depth=40",
        "--model-option",
        "growth=24",
        "--model-option",
        "expand=2",
        "--input-size",
        "3x32x32",
        "--out",
        "xd",
    )
    assert result.exit_code == 0, result.output
    assert "params kept 373,834 of 690,346" in result.output
    assert "nominal (the paper's dense / e, e = 2): params 345,173, MACs 144,065,832" in result.output
    assert "36 X-layer(s) wired by the model (xnet, expand 2, degree on the smaller side" in result.output
    summary = json.loads((tmp_path / "xd" / "summary.json").read_text())
    assert summary["model_options"] == {"depth": 40, "growth": 24, "expand": 2} and summary["nominal"]["expand"] == 2
    inspected = run(
        "inspect", "xd/model.pt", "--model", "xdensenet_bc", "--model-option", "expand=2", "--input-size", "3x32x32"
    )
    assert inspected.exit_code == 0, inspected.output
    assert "params kept 373,834 of 690,346" in inspected.output
    assert_error(
        run(
            "apply",
            "--recipe",
            "dense",
            "--model",
            "xmobilenet",
            "--model-option",
            "pointwise=depthwise",
            "--out",
            "bad",
        ),
        "pointwise must be one of x, grouped",
    )
    assert_error(
        run("apply", "--recipe", "dense", "--model", "mlp", "--model-option", "width", "--out", "bad"),
        "expected KEY=VALUE",
        code=2,
    )


def test_shared_basis_model_counts_shared_weights_once_and_shows_the_dense_equivalent(run, tmp_path):
    result = run(
        "apply",
        "--recipe",
        "dense",
        "--model",
        "resnet32_shared",
        "--model-option",
        "shared_rank=8",
        "--model-option",
        "unique_rank=1",
        "--input-size",
        "3x32x32",
        "--out",
        "sb",
    )
    assert result.exit_code == 0, result.output
    assert "params kept 150,666 of 150,666" in result.output  # the paper's 0.15M
    assert "shared: 3 module(s) called 24 times per example; params count each once" in result.output
    assert "dense equivalent resnet32: params 464,154" in result.output
    assert "layers.0.bases.0: a module registered under 9 names (shared), left dense" in result.output
    summary = json.loads((tmp_path / "sb" / "summary.json").read_text())
    assert (
        summary["dense_equivalent"]["params"] == 464_154 and summary["dense_equivalent"]["macs"] > summary["macs_total"]
    )
    inspected = run("inspect", "sb/model.pt")  # without the model: a tensor saved under 9 names counts once
    assert inspected.exit_code == 0, inspected.output
    assert "of 150,666" in inspected.output


def test_network_graph_of_a_prune_apply_output(run, tmp_path):
    from topology.metrics import compute_metrics

    assert (
        run(
            "apply", "--recipe", "xnet", "--degree", 4, "--model", "cnn", "--input-size", "1x28x28", "--out", "out"
        ).exit_code
        == 0
    )
    result = run("inspect", "out", "--network-graph", "--out", "net")
    assert result.exit_code == 0, result.output
    assert "wrote net.npz" in result.output
    plan = load_plan(tmp_path / "net.json")
    layers = plan.params["layers"]
    assert layers[0] == {"name": "input", "start": 0, "stop": 1} and layers[-1]["stop"] == plan.nodes
    masks = load_masks(tmp_path / "out" / "masks.npz")
    # Each masked layer's outputs read exactly their kept inputs' nodes (4 per output for xnet).
    by_name = {layer["name"]: layer for layer in layers}
    adjacency = plan.matrix.tocsr()
    for name, mask in masks.items():
        layer, previous = by_name[name], layers[[entry["name"] for entry in layers].index(name) - 1]
        block = adjacency[layer["start"] : layer["stop"], previous["start"] : previous["stop"]].toarray()
        np.testing.assert_array_equal(block, mask.reshape(mask.shape[0], mask.shape[1], -1).any(-1).numpy())
    assert compute_metrics([plan.matrix], names=["connected"])[0]["connected"]
    assert_error(run("inspect", "out", "--network-graph"), "--network-graph needs --out", code=2, one_line=False)


def test_edropout_run_masks_export_as_layer_plans(run, tmp_path):
    from pruning.masking import masks_in_state_dict
    from pruning.storage import load_state
    from tests.trainer.synthetic import write_fashion_like
    from trainer.config import TrainConfig
    from trainer.run import run_training

    data = write_fashion_like(tmp_path / "fm", train=300, test=100)
    config = TrainConfig.create(
        recipe="edropout",
        model="cnn",
        model_options={"width": 4},
        data_dir=data,
        epochs=2,
        lr=0.05,
        edropout_patience=1,
        threads=1,
        quiet=True,
        out=tmp_path / "runs",
    )
    outcome = run_training(config)
    result = run("inspect", outcome.run_dir / "best.pt", "--export", "exported")
    assert result.exit_code == 0, result.output
    best_masks = masks_in_state_dict(load_state(outcome.run_dir / "best.pt"))
    assert set(best_masks) == set(load_masks(outcome.run_dir / "masks.npz"))
    for name, mask in best_masks.items():
        exported = load_plan(tmp_path / "exported" / f"{name}.npy")
        assert exported.kind == "bipartite"
        # A layer plan's entry (out, in) is kept when any kernel position of that connection is.
        np.testing.assert_array_equal(
            exported.matrix,
            mask.reshape(mask.shape[0], mask.shape[1], -1).any(-1).numpy().astype(exported.matrix.dtype),
        )
