"""The configuration schema: each field declared once, and everything derived from it (docs/architecture.md,
"Configuration")."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import click
import pytest

from cli.prune import apply as prune_apply
from cli.train import config_from_options, train
from common.schema import ALWAYS, DERIVED, WHEN_SET, ConfigError, schema_fields, sections
from tests.trainer.synthetic import write_fashion_like
from trainer.config import MASKING, TrainConfig, config_sections, load_train_config
from trainer.errors import TrainError
from trainer.identity import config_hash, identify, run_identity
from trainer.results import COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def test_every_field_is_declared_with_a_section_and_help():
    declared = {field.name for field in schema_fields(TrainConfig)}
    assert declared == {field.name for field in dataclasses.fields(TrainConfig)}
    assert all(field.setting.help.strip() for field in schema_fields(TrainConfig))
    assert list(sections(TrainConfig)) == ["model", "data", "masking", "optimisation", "equal cost", "run"]
    assert list(config_sections())[-1] == "edropout"  # a recipe's own settings: its own section


def test_every_identity_field_has_its_results_column():
    for field in schema_fields(TrainConfig):
        if field.setting.identity in (ALWAYS, WHEN_SET, DERIVED):
            assert field.key in COLUMNS, field.name


def test_a_field_that_does_not_apply_is_none_in_the_identity():
    identity = run_identity(TrainConfig(optimizer="adamw", schedule="step", step_size=7, best_of=1))
    assert identity["momentum"] is None and identity["nesterov"] is None  # adamw reads neither
    assert identity["step_size"] == 7 and identity["gamma"] == 0.1 and identity["milestones"] is None
    assert identity["select_by"] is None  # only --best-of > 1 selects
    assert "max_test" not in identity and "image_size" not in identity  # when set only
    assert run_identity(TrainConfig(max_test=50))["max_test"] == 50


def test_unordered_settings_are_sorted_and_ordered_ones_kept():
    one = run_identity(TrainConfig(recipe="xnet", degree=4, include=("b*", "a*")))
    two = run_identity(TrainConfig(recipe="xnet", degree=4, include=("a*", "b*")))
    assert one["include"] == ["a*", "b*"] and config_hash(one) == config_hash(two)
    assert run_identity(TrainConfig(schedule="multistep", milestones=(9, 3)))["milestones"] == [9, 3]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"lr": math.inf}, "--lr: inf is not a finite number"),
        ({"momentum": math.nan}, "--momentum: nan is not a finite number"),
        ({"momentum": -0.5}, "--momentum: -0.5 is out of range: it must be >= 0 and <= 1"),
        ({"gamma": 0.0}, "--gamma: 0.0 is out of range: it must be > 0"),
        ({"weight_decay": -1.0}, "--weight-decay"),
        ({"threads": 0}, "--threads"),
        ({"epochs": "3"}, "--epochs: '3' is not a whole number"),
        ({"dataset": None}, "--dataset: None is not one of"),
    ],
)
def test_validate_refuses_what_the_schema_forbids(changes, fragment):
    with pytest.raises(TrainError) as error:
        dataclasses.replace(TrainConfig(), **changes).validate()
    assert fragment in str(error.value)


def test_help_lists_options_by_section():
    command = train.commands["run"]
    text = command.get_help(click.Context(command, info_name="run"))
    order = [text.index(f"{name.capitalize()} options:") for name in ("command", *config_sections())]
    assert order == sorted(order)
    masking_part = text[text.index("Masking options:") : text.index("Optimisation options:")]
    assert "--edropout-patience" in text[text.index("Edropout options:") :]
    for field in sections(TrainConfig)[MASKING]:
        assert (field.flag in masking_part) == field.setting.cli, field.flag


def test_prune_apply_shares_the_masking_options_with_train():
    train_options = {p.name: p for p in train.commands["run"].params}
    shared = [p for p in prune_apply.params if getattr(p, "section", None) == MASKING]
    assert {p.name for p in shared} >= {"degree", "density", "self_loops", "degree_side", "best_of", "select_by"}
    for param in shared:
        assert param.help == train_options[param.name].help and param.opts == train_options[param.name].opts


def test_a_file_loads_without_click_flat_or_in_sections(tmp_path):
    pytest.importorskip("yaml")
    (tmp_path / "plans").mkdir()
    flat = tmp_path / "flat.yaml"
    flat.write_text("model: mlp\nmodel-option: {width: 16}\nepochs: 2\nmask_seed: 3\nseed: 4\nlr: 0.05\n")
    nested = tmp_path / "nested.yaml"
    nested.write_text(
        "model: {model: mlp, model-option: {width: 16}}\noptimisation: {epochs: 2, lr: 0.05}\n"
        "masking: {mask-seed: 3}\nrun: {seed: 4}\n"
    )
    one, two = load_train_config(flat), load_train_config(nested)
    assert one == two and one.model_options == {"width": 16} and one.train_seed == 4 and one.lr == 0.05
    assert config_hash(identify(one)[1]) == config_hash(identify(two)[1])
    assert load_train_config(flat, {"epochs": 5}).epochs == 5  # overrides win


def test_a_shipped_config_loads_as_its_command_line_does():
    pytest.importorskip("yaml")
    path = ROOT / "configs" / "graph2nn" / "mlp-cifar10.yaml"
    config = load_train_config(path)
    assert config.plan is not None and config.plan.is_file()  # relative to the file
    context = train.commands["run"].make_context("run", ["--config", str(path)])
    options = {k: v for k, v in context.params.items() if k not in ("resume", "eval_only", "ddp", "print_config")}
    assert config_from_options(options) == config


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("epochs: ten\n", "epochs: 'ten' is not a whole number"),
        ("lr: .inf\n", "lr: inf is not a finite number"),
        ("epochs: null\n", "epochs: None is not a whole number"),
        ("optimizer: sgdd\n", "optimizer: 'sgdd' is not one of sgd, adamw, adadelta"),
        ("edropout: {edropout-population: 2}\n", "edropout-population: 2 is out of range: it must be >= 4"),
        ("learning_rate: 0.1\n", "unknown key 'learning_rate'"),
        ("optimisation: {epoch: 3}\n", "optimisation: unknown key 'epoch'; did you mean 'epochs'?"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("[" * 5000 + "]" * 5000 + "\n", "not YAML"),
        ("milestones: 10,x\n", "milestones: expected comma-separated epochs"),
    ],
)
def test_bad_files_are_one_line_naming_the_key(tmp_path, text, fragment):
    pytest.importorskip("yaml")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises((ConfigError, TrainError)) as error:
        load_train_config(path)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_a_non_utf8_file_is_one_line(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "latin1.yaml"
    path.write_bytes("model: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_train_config(path)


def test_a_worker_refuses_a_job_whose_identity_changed(tmp_path):
    from sweeps.jobs import JobSpec, run_job
    from trainer.results import read_rows

    data = write_fashion_like(tmp_path / "fm", train=200, test=60)
    config = TrainConfig(model="mlp", model_options={"width": 16}, epochs=1, data_dir=data, out=tmp_path / "runs")
    claimed = config_hash(identify(config)[1])
    changed = dataclasses.replace(config, lr=0.05)  # e.g. a plan file rewritten after the job list was made
    with pytest.raises(TrainError, match=f"claimed as configuration {claimed}"):
        run_job(JobSpec(changed, claimed))
    assert read_rows(config.out) == [] and not list(config.out.glob("2*"))  # nothing written
    assert run_job(JobSpec(config, claimed)) is not None and read_rows(config.out)[0]["config_hash"] == claimed
