"""X-Nets: exact degrees, the model family's counts against hand counts, training and reporting them."""

import math

import pytest
import torch
from torch import nn

from pruning import MaskConfig
from pruning.apply import prune_model
from pruning.errors import PruningError
from pruning.expander import declare_expander_layers, expander_degree, expander_masks
from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.models import build_model
from trainer.models.xnets import parse_degree_table
from trainer.results import read_rows
from trainer.run import run_training


def declared(expand, balanced=False, widths=(16, 64, 16, 64, 64)):
    """Linear layers 16 -> 64 (widening), 64 -> 16 (narrowing), 16 -> 64, 64 -> 64 (equal), all X."""
    model = nn.Sequential(*[nn.Linear(a, b) for a, b in zip(widths, widths[1:])])
    degrees = {str(i): expander_degree(a, expand) for i, a in enumerate(widths[:-1])}
    return declare_expander_layers(model, degrees, balanced, expand)


@pytest.mark.parametrize("balanced", [False, True])
def test_every_output_gets_exactly_d_inputs_whatever_the_shape(balanced):
    model = declared(expand=16, balanced=balanced)
    masks = expander_masks(model, seed=3)
    for name, (c_in, c_out) in zip("0123", [(16, 64), (64, 16), (16, 64), (64, 64)]):
        mask = masks[name]
        assert tuple(mask.shape) == (c_out, c_in)
        assert (mask.sum(dim=1) == max(1, c_in // 16)).all()  # exact D, so no dead output channel
        if balanced:  # input degrees as equal as possible
            in_degrees = mask.sum(dim=0)
            assert int(in_degrees.max() - in_degrees.min()) <= 1 and int(in_degrees.min()) >= 1
    again = expander_masks(declared(expand=16, balanced=balanced), seed=3)
    assert all(torch.equal(masks[k], again[k]) for k in masks)  # seeded
    assert not torch.equal(expander_masks(model, seed=4)["3"], masks["3"])


def test_degree_rule():
    assert [expander_degree(c, 16) for c in (64, 70, 8)] == [4, 4, 1]  # C_in / e, floor, at least 1
    # The public code, for C_in <= C_out, lets every input pick D outputs, which leaves about 1.6%
    # of the outputs of a 64 -> 64, e = 16 layer without input; over 50 seeds ours leaves none.
    for seed in range(50):
        assert (expander_masks(declared(16, widths=(64, 64)), seed=seed)["0"].sum(dim=1) == 4).all()


def test_x_masks_are_the_xnet_recipe_on_the_dense_model():
    model = declared(expand=4)
    dense = nn.Sequential(*[nn.Linear(a, b) for a, b in [(16, 64), (64, 16), (16, 64), (64, 64)]])
    from pruning import LayerSelection
    from pruning.mask_rules import compute_mask_set

    recipe = compute_mask_set(
        dense, MaskConfig("xnet", degree=4, seed=9, selection=LayerSelection(True, True, include=("0", "2")))
    ).masks
    own = expander_masks(model, seed=9)
    assert torch.equal(own["0"], recipe["0"]) and torch.equal(own["2"], recipe["2"])


def densenet_hand_count(depth=40, growth=24, classes=10, size=32, channels_in=3):
    """Parameters and MACs of CIFAR DenseNet-BC from its definition, by hand."""
    n = (depth - 4) // 6
    c = 2 * growth
    params, macs, side = channels_in * c * 9, channels_in * c * 9 * size * size, size
    for block in range(3):
        for _ in range(n):
            params += 2 * c + c * 4 * growth + 2 * 4 * growth + 4 * growth * growth * 9  # BN, 1x1, BN, 3x3
            macs += (c * 4 * growth + 4 * growth * growth * 9) * side * side
            c += growth
        if block < 2:
            out = c // 2
            params += 2 * c + c * out
            macs += c * out * side * side
            c, side = out, side // 2
    params += 2 * c + c * classes + classes
    macs += c * classes
    return params, macs


def test_densenet_bc_40_24_counts_match_a_hand_count():
    params, macs = densenet_hand_count()
    assert (params, macs) == (690_346, 288_131_664)  # the paper's DenseNet-BC-40-24: about 0.69 M and 2.88e8
    result = prune_model(build_model("densenet_bc", (3, 32, 32), 10), MaskConfig("dense"), (3, 32, 32))
    assert (result.summary.params_total, result.summary.macs_total) == (params, macs)


def test_xdensenet_counts_every_x_layer_from_its_degrees():
    model = build_model("xdensenet_bc", (3, 32, 32), 10, expand=2)
    result = prune_model(model, MaskConfig("model"), (3, 32, 32))
    removed, inputs_side = 0, 0  # the two convs of every dense layer: D = C_in // 2 on the smaller side
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and name.rsplit(".", 1)[-1] in ("conv1", "conv2"):
            c_out, c_in, k, _ = module.parametrizations.weight.original.shape
            fixed = c_in if c_in <= c_out else c_out
            inputs_side += c_in <= c_out
            removed += (c_out * c_in - fixed * (c_in // 2)) * k * k
    assert inputs_side == 4  # block 1's first three 1x1 convs (48, 72, 96 -> 96) and block 2's first (96 -> 96)
    assert result.summary.params_kept == 690_346 - removed
    assert result.nominal == {"expand": 2, "params": 690_346 / 2, "macs": 288_131_664 / 2}
    assert result.summary.params_kept > result.nominal["params"]  # stem, transitions and classifier stay dense
    with_transitions = prune_model(
        build_model("xdensenet_bc", (3, 32, 32), 10, expand=2, x_transitions="true"), MaskConfig("model"), (3, 32, 32)
    )
    assert with_transitions.summary.params_kept < result.summary.params_kept


def mobilenet_pointwise_weights(width, expand):
    """Kept pointwise weights of MobileNet at ``width``: block 0 dense, blocks 1-12 at 1/e."""
    from trainer.models.mobilenet import BLOCKS

    c, total = int(32 * width), 0
    for index, (base, _) in enumerate(BLOCKS):
        out = int(base * width)
        total += c * out if index == 0 else out * (c // expand)
        c = out
    return total


@pytest.mark.parametrize("expand", [2, 4, 8, 16])
def test_xmobilenet_and_grouped_baseline_have_the_same_counted_density(expand):
    x = prune_model(build_model("xmobilenet", (3, 32, 32), 10, expand=expand), MaskConfig("model"), (3, 32, 32))
    grouped = prune_model(
        build_model("xmobilenet", (3, 32, 32), 10, expand=expand, pointwise="grouped"), MaskConfig("model"), (3, 32, 32)
    )
    dense = prune_model(build_model("xmobilenet", (3, 32, 32), 10, expand=1), MaskConfig("dense"), (3, 32, 32))
    assert x.summary.params_kept == grouped.summary.params_total  # grouped convs hold exactly the kept weights
    assert x.summary.macs_kept == grouped.summary.macs_total
    saved = mobilenet_pointwise_weights(0.5, 1) - mobilenet_pointwise_weights(0.5, expand)
    assert dense.summary.params_total - x.summary.params_kept == saved


#: Kept weights of X-VGG16's 13 layers after its dense first conv, counted by hand from the public
#: vggcifar_expander rule: D = 64, 64, 64, 16 x 9, then 128 for the hidden Linear; a layer with
#: D >= C_in stays a plain conv (64 -> 64 and 64 -> 128, as the public training log prints them);
#: otherwise D on the smaller side (C_in <= C_out: each input feeds D outputs).
XVGG16_KEPT = {
    "3": 64 * 64 * 9,  # dense: D 64 = C_in
    "7": 128 * 64 * 9,  # dense: D 64 = C_in
    "10": 128 * 64 * 9,  # 128 -> 128, D 64
    "14": 128 * 16 * 9,  # 128 -> 256: each of the 128 inputs feeds 16 outputs
    "17": 256 * 16 * 9,
    "20": 256 * 16 * 9,
    "24": 256 * 16 * 9,  # 256 -> 512: each input feeds 16 outputs
    **{name: 512 * 16 * 9 for name in ("27", "30", "34", "37", "40")},
    "46": 512 * 128,  # the hidden Linear
}


def test_xvgg16_wires_the_public_layout_layer_by_layer():
    assert parse_degree_table("64*3_16*9_128", 14) == [64] * 3 + [16] * 9 + [128] * 2
    with pytest.raises(Exception, match="expected entries like 64\\*3"):
        parse_degree_table("64x3", 14)
    model = build_model("xvgg16", (3, 32, 32), 10)
    masks = expander_masks(model, seed=0)
    assert set(masks) == set(XVGG16_KEPT) - {"3", "7"}
    assert isinstance(model[46], nn.Linear) and isinstance(model[47], nn.ReLU)  # no BatchNorm in the hidden layer
    for name, kept in XVGG16_KEPT.items():
        module = model.get_submodule(name)
        taps = module.weight[0, 0].numel()
        assert (int(masks[name].sum()) * taps if name in masks else module.weight.numel()) == kept, name
    assert sum(XVGG16_KEPT.values()) == 747_520
    inputs_side = masks["14"]  # 256 x 128: every input column has exactly D = 16 outputs
    assert inputs_side.shape == (256, 128) and bool((inputs_side.sum(0) == 16).all())
    assert bool((masks["46"].sum(0) == 128).all())  # 512 x 512, a tie: the inputs' side is fixed
    result = prune_model(model, MaskConfig("model"), (3, 32, 32))
    dense = build_model("xvgg16", (3, 32, 32), 10, degrees="dense")
    removed = sum(dense.get_submodule(n).weight.numel() - kept for n, kept in XVGG16_KEPT.items())
    assert result.summary.params_kept == sum(p.numel() for p in dense.parameters()) - removed


def test_xvgg16_outputs_side_is_the_logged_commits_rule():
    """--model-option degree_side=outputs: every output keeps D inputs (the layer code at the
    commit that holds the public training log); 128 -> 256 and 256 -> 512 then keep twice as many."""
    model = build_model("xvgg16", (3, 32, 32), 10, degree_side="outputs")
    masks = expander_masks(model, seed=0)
    assert bool((masks["14"].sum(1) == 16).all()) and int(masks["14"].sum()) * 9 == 256 * 16 * 9
    assert int(masks["24"].sum()) * 9 == 512 * 16 * 9


def test_xresnet20_counts_and_imagenet_models_at_224():
    result = prune_model(build_model("xresnet20", (3, 32, 32), 10, expand=4), MaskConfig("model"), (3, 32, 32))
    pairs = (
        [(16, 16)] * 6 + [(16, 32)] + [(32, 32)] * 5 + [(32, 64)] + [(64, 64)] * 5
    )  # (C_in, C_out) of the 18 block convs
    removed = sum(c_out * (c_in - c_in // 4) * 9 for c_in, c_out in pairs)
    assert result.summary.params_kept == 269_722 - removed
    for name in ("xresnet18", "xmobilenet"):
        model = build_model(name, (3, 224, 224), 1000)
        prune_model(model, MaskConfig("model"), (3, 224, 224))
        with torch.no_grad():
            assert model.eval()(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_bad_model_options():
    with pytest.raises(Exception, match="pointwise=grouped needs channels divisible by expand=3"):
        build_model("xmobilenet", (3, 32, 32), 10, expand=3, pointwise="grouped")
    with pytest.raises(Exception, match="pointwise must be one of x, grouped"):
        build_model("xmobilenet", (3, 32, 32), 10, pointwise="depthwise")
    with pytest.raises(Exception, match="balanced must be true or false"):
        build_model("xresnet20", (3, 32, 32), 10, balanced="maybe")
    with pytest.raises(PruningError, match="expand must be at least 1"):
        expander_degree(16, 0.5)


def test_x_vs_grouped_mobilenet_train_a_few_batches_and_report_side_by_side(data_dir, tmp_path):
    from reports.build import ReportConfig, build_report

    base = dict(
        model="xmobilenet",
        data_dir=data_dir,
        epochs=1,
        batch_size=64,
        out=tmp_path / "runs",
        quiet=True,
        threads=1,
        lr=0.05,
    )
    rows = []
    for options, recipe in (
        ({"expand": 4}, None),
        ({"expand": 4, "pointwise": "grouped"}, None),
        ({"expand": 1}, "dense"),
    ):
        for seed in (0, 1):
            rows.append(run_training(TrainConfig(model_options=options, recipe=recipe, train_seed=seed, **base)).row)
    x, grouped, dense = rows[0], rows[2], rows[4]
    assert x["recipe"] == grouped["recipe"] == "model" and dense["recipe"] == "dense"
    assert x["params_kept"] == grouped["params_kept"] < dense["params_kept"] and x["macs_kept"] == grouped["macs_kept"]
    assert x["model_structure"] == '{"balanced":false,"expand":4,"pointwise":"x"}'
    assert all(math.isfinite(r["best_acc"]) for r in rows)
    report = build_report(ReportConfig((tmp_path / "runs" / "results.csv",), tmp_path / "report", bootstrap=100))
    assert len(report.sections) == 1  # X, grouped and dense side by side in one experiment
    labels = set(report.summary["plan"])
    assert {
        "dense baseline",
        "balanced=False expand=4 pointwise=x",
        "balanced=False expand=4 pointwise=grouped",
    } == labels
    ranking = report.sections[0].ranking  # X and grouped at equal counted MACs: one cost level, paired over 2 seeds
    assert len(ranking) == 2 and ranking["level"].nunique() == 1 and set(ranking["n_pairs"]) == {2}
    with pytest.raises(TrainError, match="wires its own X-layers, so recipe 'dense' would mislabel it"):
        run_training(TrainConfig(model_options={"expand": 4}, recipe="dense", **base))
    assert len(read_rows(tmp_path / "runs")) == 6
