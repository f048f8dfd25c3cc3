"""Every registered recipe end to end: its identity hash (pinned), masks through the pruning stage,
a one-epoch run, the sweep's skip logic and the report's grouping of its seeds."""

import dataclasses
from pathlib import Path

import pytest

from common.columns import OPTION_ROLE, OUTCOME, OUTCOME_ROLE, SETTING_ROLE, TREATMENT_ROLE, column_roles
from pruning.apply import prune_model
from pruning.storage import load_masks, masks_sha256
from reports.experiments import split_experiments
from reports.table import read_results
from sweeps.planning import SweepJob, job_specs, sweep_status
from tests.trainer.synthetic import write_fashion_like
from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.identity import config_hash, run_identity
from trainer.models import build_model
from trainer.recipes import RECIPES, grid_recipes, recipe_of, recipe_outcomes, recipe_settings
from trainer.results import COLUMNS, read_rows
from trainer.run import run_training

pytestmark = pytest.mark.slow  # every recipe end to end

SHA = "a" * 64

#: Pinned before the recipes became registered objects: a change re-runs every finished sweep job.
#: (edropout's was re-pinned when its search followed the public code and gained its options, again
#: when its default became the published runs' code (coverage, after-freeze rule); random-filters'
#: when its draws became one per training seed; relational under --match-macs when graph2nn's rule,
#: which holds the stem, became its default: the earlier rule, --match-layers all, keeps its hash.)
PINNED = [
    ("dense", TrainConfig(), {}, "704d880ddbd1560d"),
    ("relational", TrainConfig(plan=Path("p.npy"), self_loops=True), {"plan_sha256": SHA}, "d672089453335061"),
    ("xnet", TrainConfig(recipe="xnet", degree=8, best_of=3), {}, "92a99b0e9ef0301e"),
    (
        "rreg-bipartite",
        TrainConfig(recipe="rreg-bipartite", density=0.25, degree_side="larger"),
        {},
        "f4567ed00b6e984e",
    ),
    ("random-bipartite", TrainConfig(recipe="random-bipartite", degree=4), {}, "f78d6755fdfd5547"),
    ("masks", TrainConfig(masks=Path("m.npz")), {"masks_sha256": SHA}, "4d17d4ba397cf657"),
    ("model", TrainConfig(model="xmobilenet", model_options={"expand": 4}), {}, "9e6c4ffad996e5e3"),
    ("edropout", TrainConfig.create(recipe="edropout", include=("4",), edropout_patience=5), {}, "f7467f61fe6b21e7"),
    (
        "random-filters",
        TrainConfig(recipe="random-filters", like=Path("run")),
        {"masks_sha256": SHA},
        "ecf83ec89dc1bb1e",
    ),
    (
        "relational",
        TrainConfig(plan=Path("p.npy"), match_macs="dense", width_step=8),
        {"plan_sha256": SHA},
        "d36eb91ed26673a4",
    ),
    (
        "relational",
        TrainConfig(plan=Path("p.npy"), match_macs="dense", width_step=8, match_layers="all"),
        {"plan_sha256": SHA},
        "3af998bd097b891e",
    ),
]


@pytest.mark.parametrize(("name", "config", "files", "expected"), PINNED)
def test_identity_hashes_are_pinned_for_every_recipe(name, config, files, expected):
    assert config.resolved_recipe == name
    assert config_hash(run_identity(config, **files)) == expected


def test_every_registered_recipe_is_pinned_and_the_grid_holds_the_per_layer_ones():
    assert {name for name, *_ in PINNED} == set(RECIPES)
    assert grid_recipes() == ("xnet", "rreg-bipartite", "random-bipartite")
    assert all(RECIPES[name].per_layer for name in grid_recipes())


def test_recipe_columns_are_outcomes_for_the_report():
    for recipe in RECIPES.values():
        assert not set(recipe.columns) & set(COLUMNS) and not set(recipe.columns) & set(OUTCOME)
    own = [*recipe_outcomes(), *recipe_settings()]
    roles = column_roles([*COLUMNS, *own], recipe_outcomes(), recipe_settings())
    assert roles["edropout_units"] == roles["best_acc_no_pruning"] == roles["best_acc"] == OUTCOME_ROLE
    assert roles["edropout"] == roles["random_filters_draw"] == roles["self_loops"] == OPTION_ROLE
    assert roles["lr"] == SETTING_ROLE and roles["plan_sha256"] == TREATMENT_ROLE


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (TrainConfig(recipe="relational"), "the relational recipe needs --plan"),
        (TrainConfig(recipe="xnet", plan=Path("p.npy")), "--plan is only used by --recipe relational, not by 'xnet'"),
        (TrainConfig(recipe="xnet"), "the xnet recipe needs exactly one of --degree and --density"),
        (TrainConfig(recipe="xnet", degree=4, density=0.5), "exactly one of --degree and --density"),
        (TrainConfig(recipe="edropout", degree=4), "--recipe edropout finds its own masks; it takes no --degree"),
        (
            TrainConfig(recipe="random-filters", like=Path("r"), match_macs="dense"),
            "takes its kept counts from --like; it takes no --match-macs",
        ),
        (TrainConfig(recipe="random-filters"), "the random-filters recipe needs --like"),
        (TrainConfig(like=Path("r")), "--like is only used by --recipe random-filters, not by 'dense'"),
        (
            TrainConfig(masks=Path("m.npz"), match_macs="dense"),
            "--match-macs chooses a width, but --masks fixes the layer shapes",
        ),
        (TrainConfig(masks=Path("m.npz"), plan=Path("p.npy")), "--masks replaces --plan and --recipe"),
        (TrainConfig(recipe="masks"), "the masks recipe needs --masks"),
    ],
)
def test_each_recipe_validates_its_own_options(config, message):
    with pytest.raises(TrainError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.validate()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=400, test=200)


@pytest.fixture(scope="module")
def plan_path(tmp_path_factory):
    from topology.generators import generate
    from topology.plans import Plan, save_plan

    return save_plan(
        Plan(generate("rreg", nodes=8, degree=2, seed=0), generator="rreg"), tmp_path_factory.mktemp("plans"), "rreg8"
    )


def _configs(data_dir, plan_path, out):
    """One small configuration per registered recipe (masks and random-filters take an earlier run)."""
    base = TrainConfig(
        model="mlp",
        model_options={"width": 16, "depth": 2},
        data_dir=data_dir,
        epochs=1,
        lr=0.05,
        threads=1,
        quiet=True,
        out=out,
        max_train=200,
    )
    return {
        "dense": base,
        "relational": dataclasses.replace(base, plan=plan_path),
        **{name: dataclasses.replace(base, recipe=name, degree=4) for name in grid_recipes()},
        "model": dataclasses.replace(base, model="xresnet20", model_options={"expand": 2, "width": 4}, max_train=100),
        "edropout": dataclasses.replace(base, recipe="edropout", recipe_settings={"edropout_patience": 1}),
    }


def test_every_recipe_masks_trains_skips_in_a_sweep_and_groups_its_seeds(data_dir, plan_path, tmp_path):
    out = tmp_path / "runs"
    configs = _configs(data_dir, plan_path, out)
    done = {}
    for name, config in configs.items():
        for seed in (0, 1):
            done[name] = run_training(dataclasses.replace(config, train_seed=seed).validate())
    configs["masks"] = dataclasses.replace(configs["dense"], masks=done["xnet"].run_dir / "masks.npz")
    configs["random-filters"] = dataclasses.replace(
        configs["dense"], recipe="random-filters", like=done["edropout"].run_dir
    )
    for name in ("masks", "random-filters"):
        for seed in (0, 1):
            done[name] = run_training(dataclasses.replace(configs[name], train_seed=seed).validate())
    assert set(configs) == set(RECIPES)
    rows = read_rows(out)
    assert sorted(row["recipe"] for row in rows) == sorted(name for name in RECIPES for _ in (0, 1))
    for name, config in configs.items():
        # The sweep's skip logic computes the same config_hash as the runs: both seeds are done.
        status = sweep_status(job_specs(config, [SweepJob(None, "", 0), SweepJob(None, "", 1)]), config.out)
        assert status.pending == [] and status.done == 2, name
        # The row records the masks the run's directory holds (EDropout: the frozen state's).
        assert done[name].row["applied_masks_sha256"] == masks_sha256(load_masks(done[name].run_dir / "masks.npz")), (
            name
        )
    table = read_results([out / "results.csv"])  # with the column roles the trainer wrote beside it
    assert table.attrs["column_roles"]["edropout_units"] == OUTCOME_ROLE
    assert table.attrs["column_roles"]["random_filters_draw"] == OPTION_ROLE
    for experiment in split_experiments(table):
        counts = experiment.rows.groupby("config_hash")["train_seed"].nunique()
        assert (counts == 2).all(), experiment.title  # every recipe's two seeds sit in one experiment


def test_mask_config_names_the_pruning_stage_recipe(plan_path):
    from topology.plans import load_plan

    plan = load_plan(plan_path)
    config = TrainConfig(model="mlp", model_options={"width": 16, "depth": 2}, plan=plan_path)
    mask = recipe_of(config).mask_config(config, plan)
    assert mask.rule == "relational" and mask.plan is plan
    edropout = TrainConfig(recipe="edropout")
    assert recipe_of(edropout).mask_config(edropout, None).rule == "dense"  # EDropout starts unmasked
    model = build_model("mlp", (1, 28, 28), 10, width=16, depth=2)
    result = prune_model(model, mask, (1, 28, 28))
    assert set(result.masks) == {"hidden1", "hidden2"}  # the hidden 16x16 layers; the first and last stay dense
    assert all(float(mask.float().mean()) == pytest.approx(2 / 8) for mask in result.masks.values())
