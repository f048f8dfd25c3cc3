"""``prune compile`` through CliRunner: sources, outputs, round trip, report, export, errors."""

import json
import warnings

import pytest
import torch
from click.testing import CliRunner

from cli.prune import prune
from cli.train import train
from pruning.masking import load_masked_state_dict
from pruning.storage import load_state
from tests.cli.helpers import assert_error
from tests.trainer.synthetic import write_fashion_like
from topology.generators import generate
from topology.plans import Plan, save_plan
from trainer.compiled import load_compiled
from trainer.models import build_model

QUICK = ["--batch-size", 4, "--repeats", 1]


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    return lambda *args, command=prune: runner.invoke(command, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def pruned(run, tmp_path):
    plan = save_plan(Plan(generate("rreg", nodes=8, degree=3, seed=0)), tmp_path, "p8")
    result = run(
        "apply",
        "--plan",
        plan,
        "--model",
        "cnn",
        "--model-option",
        "width=16",
        "--input-size",
        "1x12x12",
        "--out",
        "pruned",
    )
    assert result.exit_code == 0, result.output
    return tmp_path / "pruned"


def test_compile_writes_a_model_that_loads_back_and_matches_the_masked_one(run, pruned, tmp_path):
    result = run("compile", pruned, "--out", "compiled", "--report", *QUICK)
    assert result.exit_code == 0, result.output
    assert "kernel" in result.output and "x the baked dense model" in result.output
    record = json.loads((tmp_path / "compiled" / "compile.json").read_text())
    assert record["model"] == "cnn" and record["input_size"] == [1, 12, 12] and record["model_options"] == {"width": 16}
    assert set(record["kernels"]) == {layer["name"] for layer in record["layers"]} and len(record["layers"]) == 4
    assert record["end_to_end"]["ratio_vs_dense"] >= 1.0
    for layer in record["layers"]:
        assert layer["seconds"]["dense"] > 0 and layer["kernel"] in layer["seconds"]
    masked = load_masked_state_dict(
        build_model("cnn", (1, 12, 12), 10, width=16), load_state(pruned / "model.pt")
    ).eval()
    compiled = load_compiled(tmp_path / "compiled")
    x = torch.randn(5, 1, 12, 12)
    with torch.no_grad():
        reference = masked(x)
        torch.testing.assert_close(compiled(x), reference, rtol=0, atol=1e-5 * float(reference.abs().max()))


@pytest.mark.parametrize("keep", [False, True])
def test_batchnorm_is_folded_unless_kept_and_either_loads_back(run, pruned, tmp_path, keep):
    flags = ["--keep-batchnorm"] if keep else []
    result = run("compile", pruned, "--out", "compiled", *flags, *QUICK)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "compiled" / "compile.json").read_text())
    assert record["compile_config"]["fold_batchnorm"] is (not keep)
    assert (record["batchnorm_folds"] == []) is keep
    compiled = load_compiled(tmp_path / "compiled")
    norms = [m for m in compiled.modules() if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d)]
    assert bool(norms) is keep
    masked = load_masked_state_dict(
        build_model("cnn", (1, 12, 12), 10, width=16), load_state(pruned / "model.pt")
    ).eval()
    x = torch.randn(5, 1, 12, 12)
    with torch.no_grad():
        reference = masked(x)
        torch.testing.assert_close(compiled(x), reference, rtol=0, atol=1e-5 * float(reference.abs().max()))


def test_a_model_compiled_channels_last_loads_back_laid_out_so_and_exports(run, pruned, tmp_path):
    flags = ["--memory-format", "channels_last", "--kernels", "csr"]  # csr fits no 3x3 convolution: they stay
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run("compile", pruned, "--out", "compiled", *flags, "--torch-export", *QUICK)
    assert result.exit_code == 0, result.output
    assert not [w for w in caught if "No complete tensor" in str(w.message)]  # torch's note on its layout, silenced
    record = json.loads((tmp_path / "compiled" / "compile.json").read_text())
    assert record["memory_format"] == "channels_last" and record["compile_config"]["memory_format"] == "channels_last"
    assert record["end_to_end"]["dense_same_format_seconds"] > 0 and "laid out channels_last" in result.output
    compiled = load_compiled(tmp_path / "compiled")
    convs = [m.weight for m in compiled.modules() if isinstance(m, torch.nn.Conv2d)]
    wide = [w for w in convs if w.shape[1] > 1 and w.shape[-1] > 1]
    assert wide and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in wide)
    masked = load_masked_state_dict(
        build_model("cnn", (1, 12, 12), 10, width=16), load_state(pruned / "model.pt")
    ).eval()
    program = torch.export.load(tmp_path / "compiled" / "model.pt2")
    x = torch.randn(5, 1, 12, 12)
    with torch.no_grad():
        reference = masked(x)
        torch.testing.assert_close(compiled(x), reference, rtol=0, atol=1e-5 * float(reference.abs().max()))
        torch.testing.assert_close(program.module()(x), compiled(x))
    shown = run("compile", "compiled", "--memory-format", "contiguous", "--report")
    assert shown.exit_code == 0 and "laid out channels_last" in shown.output


def test_report_of_a_compiled_directory_and_formats(run, pruned):
    assert run("compile", pruned, "--out", "compiled", *QUICK).exit_code == 0
    table = run("compile", "compiled", "--report")
    assert table.exit_code == 0 and "dense_ms" in table.output and "chosen_ms" in table.output
    rows = run("compile", "compiled", "--report", "--format", "csv").output.splitlines()
    assert rows[0].startswith("layer,type,shape,density,kernel") and len(rows) == 5


def test_torch_export_writes_a_program_that_runs(run, pruned, tmp_path):
    result = run("compile", pruned, "--out", "compiled", "--torch-export", *QUICK)
    assert result.exit_code == 0, result.output
    program = torch.export.load(tmp_path / "compiled" / "model.pt2")
    compiled = load_compiled(tmp_path / "compiled")
    x = torch.randn(3, 1, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), compiled(x))


def test_compile_a_training_run_directory(run, tmp_path):
    data = write_fashion_like(tmp_path / "fm", train=200, test=100)
    plan = save_plan(Plan(generate("rreg", nodes=8, degree=3, seed=0)), tmp_path, "p8")
    trained = run(
        "--plan",
        plan,
        "--data-dir",
        data,
        "--epochs",
        1,
        "--model-option",
        "width=16",
        "--threads",
        1,
        "-q",
        "--out",
        "runs",
        command=train,
    )
    assert trained.exit_code == 0, trained.output
    run_dir = next(p for p in (tmp_path / "runs").iterdir() if p.is_dir())
    result = run("compile", run_dir, "--out", "compiled", *QUICK)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "compiled" / "compile.json").read_text())
    assert record["model"] == "mlp" and record["input_size"] == [1, 28, 28] and record["checkpoint"].endswith("best.pt")


def test_errors(run, pruned, tmp_path):
    assert_error(run("compile", "missing", "--out", "c"), "missing: no such file or directory")
    assert_error(run("compile", "plan.npy", "--out", "c"), "plan.npy is not a masked model", code=2, one_line=False)
    bare = tmp_path / "bare.pt"
    bare.write_bytes((pruned / "model.pt").read_bytes())
    assert_error(
        run("compile", bare, "--out", "c"),
        "bare.pt: records no model to rebuild; give --model, --input-size, --num-classes",
    )
    assert_error(run("compile", pruned, *QUICK), "--out is required", code=2, one_line=False)
    dense = tmp_path / "dense.pt"
    torch.save(build_model("cnn", (1, 12, 12), 10, width=16).state_dict(), dense)
    assert_error(
        run(
            "compile",
            dense,
            "--out",
            "c",
            "--model",
            "cnn",
            "--model-option",
            "width=16",
            "--input-size",
            "1x12x12",
            "--num-classes",
            10,
            *QUICK,
        ),
        "no masks",
    )
    assert_error(run("compile", pruned, "--out", "c", "--kernels", "blocks"), "unknown kernel 'blocks'")
    assert_error(run("compile", pruned, "--out", "c", "--device", "gpu0"), "device 'gpu0' is not valid")
    assert not (tmp_path / "c").exists()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "compile.json").write_text("{")
    assert_error(run("compile", "broken", "--report"), "compile.json: not readable JSON")


def test_a_checkpoint_in_a_prune_output_uses_its_record(run, pruned):
    result = run("compile", pruned / "model.pt", "--out", "compiled", *QUICK)
    assert result.exit_code == 0, result.output


def test_help(run):
    result = run("compile", "--help")
    assert result.exit_code == 0 and "--batch-size" in result.output and "--report" in result.output
