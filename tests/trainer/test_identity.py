"""Run identity: what makes two runs the same experiment, and a hash that never drifts."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.config import TrainConfig
from trainer.identity import canonical_json, config_hash, identity_columns, run_identity

ROOT = Path(__file__).resolve().parents[2]
XNET = TrainConfig(model="mlp", recipe="xnet", degree=8, lr=0.05, epochs=3)


def hash_of(config, **files):
    return config_hash(run_identity(config, **files))


def test_hash_is_pinned_and_the_same_in_a_fresh_process():
    # Pinned: a change here silently re-runs every finished sweep job, so it must be deliberate.
    assert hash_of(XNET) == "88deddcd02a4334c"
    code = (
        "from trainer.config import TrainConfig; from trainer.identity import run_identity, config_hash; "
        "print(config_hash(run_identity(TrainConfig(model='mlp', recipe='xnet', degree=8, lr=0.05, epochs=3))))"
    )
    env = {"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"}  # another str-hash seed: nothing may depend on hash()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "88deddcd02a4334c"


def test_what_must_not_matter_does_not():
    same = dataclasses.replace(
        XNET,
        out=Path("elsewhere"),
        threads=1,
        data_dir=Path("/data"),
        device="cpu",
        quiet=True,
        tensorboard=True,
        train_seed=7,
        step_size=99,
        milestones=(3,),
        model_options={"width": 512},
    )
    assert hash_of(same) == hash_of(XNET)  # width 512 is the mlp's default; step/milestones unused by cosine
    assert hash_of(dataclasses.replace(XNET, lr=1)) == hash_of(dataclasses.replace(XNET, lr=1.0))


@pytest.mark.parametrize(
    "change",
    [
        {"model_options": {"width": 986}},
        {"lr": 0.01},
        {"degree": 4},
        {"degree_side": "larger"},
        {"best_of": 3},
        {"epochs": 4},
        {"batch_size": 64},
        {"weight_decay": 0.0},
        {"label_smoothing": 0.1},
        {"split_seed": 1},
        {"mask_seed": 1},
        {"optimizer": "adamw"},
        {"max_train": 100},
        {"exclude": ("2",)},
        {"model": "cnn"},
    ],
)
def test_what_changes_the_outcome_changes_the_hash(change):
    assert hash_of(dataclasses.replace(XNET, **change)) != hash_of(XNET)


def test_recipe_options_only_count_where_the_recipe_reads_them():
    plan = TrainConfig(plan=Path("p.npy"))
    a, b = "a" * 64, "b" * 64
    assert hash_of(dataclasses.replace(plan, self_loops=True), plan_sha256=a) != hash_of(
        plan, plan_sha256=a
    )  # RGP A vs graph2nn A + I
    assert hash_of(plan, plan_sha256=a) != hash_of(plan, plan_sha256=b)
    assert hash_of(dataclasses.replace(plan, plan=Path("moved/p.npy")), plan_sha256=a) == hash_of(
        plan, plan_sha256=a
    )  # content, not path
    dense = TrainConfig()
    assert dense.resolved_recipe == "dense"
    assert hash_of(dataclasses.replace(dense, self_loops=True, mask_seed=5, degree_side="inputs")) == hash_of(dense)
    masks = TrainConfig(masks=Path("m.npz"))
    assert hash_of(masks, masks_sha256=a) != hash_of(masks, masks_sha256=b)
    assert hash_of(dataclasses.replace(masks, mask_seed=3), masks_sha256=a) == hash_of(masks, masks_sha256=a)


def test_canonical_json_and_row_cells():
    assert canonical_json({"b": 1.0, "a": [2.5, {"c": 3.0}]}) == '{"a":[2.5,{"c":3}],"b":1}'
    columns = identity_columns(run_identity(dataclasses.replace(XNET, include=("b*", "a*"))))
    assert columns["model_options"] == '{"depth":3,"width":512}' and columns["include"] == '["a*","b*"]'
    assert columns["recipe_degree"] == 8 and "model" not in columns and "format" not in columns
    assert json.loads(columns["model_options"]) == {"depth": 3, "width": 512}


def test_a_limited_test_set_is_its_own_experiment_and_others_keep_their_hash():
    assert "max_test" not in run_identity(XNET)  # every run without --max-test keeps the hash it had
    limited = dataclasses.replace(XNET, max_test=256)
    assert run_identity(limited)["max_test"] == 256 and hash_of(limited) != hash_of(XNET)
    assert identity_columns(run_identity(limited))["max_test"] == 256
