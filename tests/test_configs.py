"""Every shipped experiment file (configs/<paper>/*.yaml) reads, builds its model and masks, and
counts what its comment says; its plan files are what `topo gen` makes from the comment's command."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli.train import config_from_options, run_command
from topology.plans import load_plan
from trainer.data.registry import DataBundle
from trainer.identity import identify
from trainer.run import build_masked_model

pytest.importorskip("yaml", reason="the yaml extra is not installed (pip install 'topoprune[yaml]')")

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*/*.yaml"))
#: (input shape, classes) of each data set at the papers' sizes; nothing is loaded.
SHAPES = {
    "cifar10": ((3, 32, 32), 10),
    "cifar100": ((3, 32, 32), 100),
    "fashion-mnist": ((1, 28, 28), 10),
    "imagenet": ((3, 224, 224), 1000),
}
#: (parameters of the model, parameters kept) counted by hand or in tests/trainer/test_xnets.py.
EXPECTED_PARAMS = {
    "rgp/resnet18-cifar100-dense.yaml": (11_220_132, 11_220_132),
    # 747,520 in the 13 layers after the first conv (per layer: tests/trainer/test_xnets.py) + that conv 1,728
    # + BatchNorm 8,448 + the hidden layer's bias 512 + the classifier 5,130
    "xnets/xvgg16-cifar10.yaml": (14_986_698, 747_520 + 1_728 + 8_448 + 512 + 5_130),
    "xnets/xdensenet-bc-40-24-2-cifar100.yaml": (714_196, 397_684),  # the README: 0.4M (nominal, dense / 2)
    "shared-bases/resnet32-s16u1-double-cifar10.yaml": (245_642, 245_642),
    "shared-bases/resnet34-s32u1-double-ilsvrc.yaml": (9_762_776, 9_762_776),
}
#: RGP's ImageNet table (the public README): (top-1, top-5) and the nominal kept fraction d / 64,
#: beside the fraction of ResNet-50's parameters the masks keep (stem, classifier, BatchNorm dense).
RGP_ROWS = {
    "resnet50-imagenet-dense.yaml": ((76.22, 93.00), 1.0, 1.0),
    "resnet50-imagenet-64n36d.yaml": ((75.30, 92.55), 36 / 64, 0.5986),
    "resnet50-imagenet-64n30d.yaml": ((74.58, 92.09), 30 / 64, 0.5126),
    "resnet50-imagenet-64n24d.yaml": ((74.07, 91.86), 24 / 64, 0.4266),
    "resnet50-imagenet-64n16d.yaml": ((72.68, 91.06), 16 / 64, 0.3120),
}


def resolved(path: Path):
    context = run_command.make_context("run", ["--config", str(path)])
    options = dict(context.params)
    for command_only in ("resume", "eval_only", "ddp", "print_config"):
        options.pop(command_only)
    with context:
        return config_from_options(options, plan=options.pop("plan"), masks=options.pop("masks"))


def shaped_data(dataset: str, image_size: int | None) -> DataBundle:
    shape, classes = SHAPES[dataset]
    if image_size is not None:
        shape = (shape[0], image_size, image_size)
    return DataBundle(dataset, shape, classes, train=[], val=[], test=[], source="(not loaded)")


def test_every_paper_has_its_configs():
    assert {path.parent.name for path in CONFIGS} == {
        "rgp",
        "xnets",
        "shared-bases",
        "expanders",
        "edropout",
        "graph2nn",
    }
    counts = {folder: sum(path.parent.name == folder for path in CONFIGS) for folder in ("rgp", "expanders", "xnets")}
    assert counts == {"rgp": 7, "expanders": 13, "xnets": 3}  # RGP's five ImageNet rows; 3 arms x 4 degrees + dense


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_shipped_config_builds_its_model_and_masks(path):
    config = resolved(path)
    if config.best_of > 1:  # every draw of a regular graph keeps the same count: one draw builds it faster
        config = dataclasses.replace(config, best_of=1)
    inputs, _ = identify(config)
    built = build_masked_model(config, inputs, shaped_data(config.dataset, config.image_size), announce=False)
    summary = built.pruned.summary
    assert summary.params_total == sum(p.numel() for p in built.model.parameters()) > 0
    assert summary.macs_total > 0
    assert config.published["source"]  # each file says what it targets, or that nothing was published
    assert config.weight_decay_on == "all"  # the papers' codes decay every parameter
    assert config.val_fraction == (0.1 if config.recipe == "edropout" else 0)  # EDropout holds 10% out
    key = f"{path.parent.name}/{path.name}"
    if key in EXPECTED_PARAMS:
        assert (summary.params_total, summary.params_kept) == EXPECTED_PARAMS[key]
    if path.parent.name == "rgp" and path.name in RGP_ROWS:
        (top1, top5), nominal, counted = RGP_ROWS[path.name]
        assert (config.published["value"], config.published["top5"]) == (top1, top5)
        assert round(summary.params_kept / summary.params_total, 4) == counted
        plan_degree = 64 if config.plan is None else int(load_plan(config.plan).matrix.sum(axis=1).max())
        assert plan_degree / 64 == nominal
    if config.recipe == "relational" and not config.self_loops:
        degree = int(load_plan(config.plan).matrix.sum(axis=1).max())
        for layer in summary.layers:
            shape = [int(v) for v in layer.shape.split("x")]
            if layer.masked and shape[0] % 64 == 0 and shape[1] % 64 == 0:
                assert layer.density == pytest.approx(degree / 64)  # RGP: d / n on every divisible layer


@pytest.mark.parametrize(
    "plan, command",
    [
        ("rgp/plans/swap-chain_n64_d4_s0_06.edges", ["-g", "swap-chain", "-n", "64", "-d", "4", "--count", "7"]),
        ("rgp/plans/swap-chain_n64_d16_s0_01.edges", ["-g", "swap-chain", "-n", "64", "-d", "16", "--count", "2"]),
        ("rgp/plans/swap-chain_n64_d24_s0_01.edges", ["-g", "swap-chain", "-n", "64", "-d", "24", "--count", "2"]),
        ("rgp/plans/swap-chain_n64_d30_s0_01.edges", ["-g", "swap-chain", "-n", "64", "-d", "30", "--count", "2"]),
        ("rgp/plans/swap-chain_n64_d36_s0_00.edges", ["-g", "swap-chain", "-n", "64", "-d", "36", "--count", "2"]),
        ("graph2nn/plans/ws-flex_n64_d8_p0.3_s0.edges", ["-g", "ws-flex", "-n", "64", "-d", "8", "--p", "0.3"]),
    ],
)
def test_shipped_plans_are_what_their_command_makes(plan, command, tmp_path):
    from cli.topo import topo

    result = CliRunner().invoke(topo, ["gen", *command, "--out", str(tmp_path), "-q", "--save", "edges,json"])
    assert result.exit_code == 0, result.output
    shipped = load_plan(Path(__file__).parents[1] / "configs" / plan).matrix
    made = load_plan(tmp_path / Path(plan).name).matrix
    assert np.array_equal(np.asarray(shipped.todense() if hasattr(shipped, "todense") else shipped),
                          np.asarray(made.todense() if hasattr(made, "todense") else made))  # fmt: skip


@pytest.mark.slow
def test_readme_table_of_configs_is_what_their_published_blocks_and_counts_make():
    from tests.config_table import config_table

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert config_table() in readme  # regenerate with: python -m tests.config_table
