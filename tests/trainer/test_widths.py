"""Equal-cost widths: the solver hits MAC budgets within one step, counts as by hand, and runs carry the result."""

import dataclasses
import json
from pathlib import Path

import pytest

from pruning.apply import prune_model
from sweeps.planning import pending_jobs, sweep_jobs
from sweeps.run import run_sweep
from tests.trainer.synthetic import write_fashion_like
from topology.build import GenerateConfig, make_plans
from topology.plans import load_plan
from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.evaluation import evaluate_checkpoint
from trainer.identity import config_hash, run_identity
from trainer.models import build_model
from trainer.recipes import recipe_of
from trainer.results import read_rows
from trainer.run import run_training
from trainer.widths import macs_at, model_options_for, parse_mac_budget, solve_width

MNIST = (1, 28, 28)


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("plans")
    make_plans(GenerateConfig("ws-flex", {"nodes": 16, "degree": 5.5, "p": 0.3}, seed=3, count=1, out=out / "wsflex"))
    make_plans(GenerateConfig("ring", {"nodes": 4, "degree": 2}, out=out / "ring"))
    make_plans(GenerateConfig("rreg", {"nodes": 16, "degree": 4}, seed=0, count=2, out=out / "rreg"))
    return out


def _plan_path(folder):
    return next(folder.glob("*.npy"))


def _assert_within_one_step(config, plan, shape=MNIST, classes=10):
    """The chosen width's MACs are at least as close to the budget as either neighbouring width's."""
    choice = solve_width(config, plan, shape, classes)
    step = config.width_step
    assert choice.channels % step == 0
    for neighbour in (choice.channels - step, choice.channels + step):
        if neighbour >= max(step, plan.nodes if plan else 1, config.degree or 1):
            assert abs(choice.macs - choice.budget) <= abs(
                macs_at(config, plan, shape, classes, neighbour) - choice.budget
            )
    assert abs(choice.macs - choice.budget) <= choice.step_macs
    assert choice.macs == macs_at(config, plan, shape, classes, choice.channels)
    return choice


@pytest.mark.parametrize("self_loops", [False, True])
def test_relational_plans_are_widened_to_the_dense_macs(plan_dir, self_loops):
    path = _plan_path(plan_dir / "wsflex")
    config = TrainConfig(
        plan=path, match_macs="dense", self_loops=self_loops, model_options={"depth": 2}, match_layers="all"
    )
    choice = _assert_within_one_step(config, load_plan(path))
    dense = 784 * 512 + 2 * 512 * 512 + 512 * 10  # stem, two hidden layers, head at the default width
    assert choice.budget == dense
    assert choice.width > 512  # a sparse plan needs more channels for the same MACs
    assert abs(choice.error) < 0.01


@pytest.mark.parametrize(
    ("model", "options", "recipe", "degree", "budget", "step"),
    [
        ("mlp", {}, "xnet", 8, "dense", 1),
        ("mlp", {"width": None}, "rreg-bipartite", 4, 2.5e5, 4),
        ("resnet20", {}, "xnet", 4, "dense", 1),
        ("cnn", {}, "random-bipartite", 6, 5e6, 2),
    ],
)
def test_per_layer_recipes_and_several_models_hit_the_budget(model, options, recipe, degree, budget, step):
    options = {k: v for k, v in options.items() if v is not None}
    config = TrainConfig(
        model=model, model_options=options, recipe=recipe, degree=degree, match_macs=budget, width_step=step
    )
    shape = (1, 16, 16) if model != "mlp" else MNIST
    _assert_within_one_step(config, None, shape)


def test_an_x_net_model_with_a_multiplier_hits_the_budget():
    config = TrainConfig(model="xmobilenet", model_options={"expand": 4}, match_macs=4e6)
    choice = _assert_within_one_step(config, None, (1, 32, 32))
    assert choice.option == "width" and choice.width == choice.channels / 32


def test_counted_macs_of_the_widened_model_equal_a_hand_count(plan_dir):
    """mlp 1x4x4 -> w -> w -> 10 under the 4-cycle (each node joined to 2 of 4): the hidden layer keeps half."""
    path = _plan_path(plan_dir / "ring")
    plan = load_plan(path)
    config = TrainConfig(
        plan=path, model_options={"depth": 1}, match_macs=16 * 8 + 8 * 8 // 2 + 8 * 10, width_step=4, match_layers="all"
    )
    choice = solve_width(config, plan, (1, 4, 4), 10)
    assert (choice.width, choice.macs, choice.error) == (8, 240, 0.0)
    assert choice.step_macs == (16 * 12 + 12 * 12 // 2 + 12 * 10) - 240  # to width 12, the next step
    model = build_model("mlp", (1, 4, 4), 10, depth=1, width=choice.width)
    hidden = prune_model(model, recipe_of(config).mask_config(config, plan), (1, 4, 4)).summary
    assert hidden.macs_kept == 240  # the run's own accounting agrees with the solver's count
    mask = model[4].parametrizations.weight[0].mask.bool()
    for out in range(8):  # entry by entry: channel block o // 2 reads blocks (o // 2 +- 1) mod 4
        for inp in range(8):
            assert bool(mask[out, inp]) == ((inp // 2 - out // 2) % 4 in (1, 3))


GRAPH2NN_PLAN = Path(__file__).parents[2] / "configs" / "graph2nn" / "plans" / "ws-flex_n64_d8_p0.3_s0.edges"


def test_graph2nn_rule_widens_only_the_relational_layers_to_its_recorded_width():
    """graph2nn's MLP on CIFAR-10 (3072 -> 512 stem, 3 relational layers, head), a degree-8 plan with
    self-loops: its stored results record width 1,539, the narrowest whose MACs reach the dense MLP's."""
    config = TrainConfig(
        plan=GRAPH2NN_PLAN, match_macs="dense", self_loops=True, model_options={"depth": 3}, dataset="cifar10"
    )
    assert config.resolved_match_layers == "relational"
    plan = load_plan(GRAPH2NN_PLAN)
    choice = solve_width(config, plan, (3, 32, 32), 10)
    budget = 3072 * 512 + 3 * 512 * 512 + 512 * 10
    assert (choice.budget, choice.width) == (budget, 1539)
    assert macs_at(config, plan, (3, 32, 32), 10, 1538) < budget <= choice.macs
    # hand count with graph2nn's nominal fraction (A + I of a degree-8 graph: 9/64) gives W = 1,538.2
    nominal = [3072 * 512 + 9 / 64 * (512 * w + 2 * w * w) + 10 * w for w in (1538, 1539)]
    assert nominal[0] < budget < nominal[1]
    options, _ = model_options_for(config, plan, (3, 32, 32), 10)
    assert options == {"depth": 3, "stem_width": 512, "width": 1539}
    model = build_model("mlp", (3, 32, 32), 10, **options)
    assert (model[1].out_features, model[4].in_features, model[4].out_features) == (512, 512, 1539)
    whole = dataclasses.replace(config, match_layers="all")
    assert solve_width(whole, plan, (3, 32, 32), 10).width < 800  # the stem widened too: the older rule


def test_match_layers_needs_a_budget_and_a_model_with_a_stem_option():
    with pytest.raises(TrainError, match="--match-layers needs --match-macs"):
        TrainConfig(match_layers="all").validate()
    config = TrainConfig(model="cnn", recipe="xnet", degree=4, match_macs="dense", match_layers="relational")
    with pytest.raises(TrainError, match="model cnn has no separate stem width"):
        solve_width(config, None, (1, 16, 16), 10)


def test_impossible_budgets_and_combinations_are_one_line_errors(plan_dir):
    path = _plan_path(plan_dir / "wsflex")
    with pytest.raises(TrainError, match="below the narrowest mlp"):
        solve_width(TrainConfig(plan=path, match_macs=1000), load_plan(path), MNIST, 10)
    with pytest.raises(TrainError, match="has no width option"):
        solve_width(TrainConfig(model="vgg16_bn", match_macs="dense"), None, (3, 32, 32), 10)
    with pytest.raises(TrainError, match="do not also give --model-option width"):
        solve_width(TrainConfig(match_macs="dense", model_options={"width": 64}), None, MNIST, 10)
    with pytest.raises(TrainError, match="'dense' or a positive number"):
        parse_mac_budget("lots")
    with pytest.raises(TrainError, match="give only one of them"):
        TrainConfig(match_macs="dense", masks=path).validate()
    assert parse_mac_budget("2.5e6") == 2.5e6 and parse_mac_budget("Dense") == "dense"


def test_the_budget_not_the_width_is_the_identity():
    base = TrainConfig(recipe="xnet", degree=8)
    assert config_hash(run_identity(base)) == config_hash(
        run_identity(dataclasses.replace(base, model_options={"width": 512}))
    )
    matched = dataclasses.replace(base, match_macs="dense")
    identity = run_identity(matched)
    assert (
        identity["model_options"]["width"] is None and identity["match_macs"] == "dense" and identity["width_step"] == 1
    )
    hashes = {
        config_hash(run_identity(c))
        for c in (
            base,
            matched,
            dataclasses.replace(matched, match_macs=1e6),
            dataclasses.replace(matched, width_step=8),
        )
    }
    assert len(hashes) == 4


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_like(tmp_path_factory.mktemp("data") / "fm", train=400, test=120)


def test_a_run_at_a_budget_records_width_budget_and_macs(plan_dir, data_dir, tmp_path):
    path = _plan_path(plan_dir / "wsflex")
    config = TrainConfig(
        plan=path,
        match_macs=3e5,
        match_layers="all",
        model_options={"depth": 2},
        data_dir=data_dir,
        epochs=1,
        batch_size=64,
        out=tmp_path / "runs",
        quiet=True,
        threads=1,
    )
    outcome = run_training(config)
    choice = solve_width(config, load_plan(path), MNIST, 10)
    row = read_rows(config.out)[0]
    assert (
        int(row["width"]) == choice.width and int(row["macs_budget"]) == 300000 and int(row["macs_kept"]) == choice.macs
    )
    assert row["match_macs"] == "300000.0" and row["width_step"] == "1"
    stored = json.loads((outcome.run_dir / "config.json").read_text())
    assert stored["width"]["width"] == choice.width and stored["built_model_options"] == {
        "depth": 2,
        "width": choice.width,
    }
    # The stored width rebuilds the model for evaluation without searching again.
    scores = {s.split: s.top1 for s in evaluate_checkpoint(outcome.run_dir, config).scores}
    assert scores["test"] == pytest.approx(float(row["best_acc"]))


def test_a_sweep_at_a_budget_resumes_like_any_other(plan_dir, data_dir, tmp_path):
    config = TrainConfig(
        match_macs="dense",
        model_options={"depth": 1},
        data_dir=data_dir,
        epochs=1,
        batch_size=64,
        out=tmp_path / "runs",
        quiet=True,
        threads=1,
    )
    jobs = sweep_jobs(plan_dir / "rreg", seeds=1)
    assert len(jobs) == 3  # two plans and the dense baseline
    run_sweep(config, pending_jobs(jobs, config)[:2])  # killed after two runs
    remaining = pending_jobs(jobs, config)
    assert len(remaining) == 1
    run_sweep(config, remaining)
    rows = read_rows(config.out)
    assert len(rows) == 3 and pending_jobs(jobs, config) == []
    baseline = next(r for r in rows if r["recipe"] == "dense")
    assert (
        int(baseline["width"]) == 512 and baseline["macs_kept"] == baseline["macs_budget"]
    )  # the baseline meets its own cost
    for row in rows:
        assert abs(int(row["macs_kept"]) - int(row["macs_budget"])) / int(row["macs_budget"]) < 0.01
    assert pending_jobs(jobs, dataclasses.replace(config, match_macs=None)) == jobs  # without the budget: other runs
