"""The expanders paper's arms as its public code draws them: the degree sides, a degree larger
than a layer keeps it dense, the sampled-expansion selection, and its VGG16-BN."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from pruning.apply import prune_model
from pruning.degree_sides import fixed_on_inputs
from pruning.errors import PruningError
from pruning.layers import LayerSelection
from pruning.mask_rules import MaskConfig
from topology.metrics import compute_metrics
from topology.metrics.expansion import mean_set_expansion
from trainer.models import build_model


@pytest.mark.parametrize(
    ("c_in", "c_out", "side", "on_inputs"),
    [
        (8, 16, "smaller", True),  # widening: each input feeds d outputs (the public X-Nets layers)
        (16, 8, "smaller", False),  # narrowing: each output reads d inputs
        (8, 8, "smaller", True),  # a tie: the inputs
        (8, 16, "larger", False),
        (16, 8, "larger", True),
        (8, 8, "larger", False),  # a tie: the outputs
        (16, 8, "inputs", True),
        (8, 16, "outputs", False),
    ],
)
def test_which_side_keeps_the_degree(c_in, c_out, side, on_inputs):
    assert fixed_on_inputs(c_in, c_out, side) is on_inputs


def test_mean_set_expansion_on_graphs_with_known_values():
    assert mean_set_expansion(np.eye(8), samples=200) == pytest.approx([1.0])  # a matching: |N(S)| = |S|
    assert mean_set_expansion(np.ones((2, 2)), samples=50) == pytest.approx([2.0])  # sets of one: 2 neighbours
    # K(4 outputs, 6 inputs): input sets of 1 or 2 reach all 4 outputs (mean 4/1, 4/2 -> 3 as samples grow),
    # output sets are of 1 and reach all 6: (3 + 6) / 2 = 4.5
    assert mean_set_expansion(np.ones((4, 6)), samples=4000) == pytest.approx([4.5], abs=0.05)
    star = np.zeros((4, 4))
    star[:, 0] = 1  # every output reads input 0 only: output sets reach 1 input
    value = mean_set_expansion(star, samples=4000)[0]
    # inputs side: sizes 1, a set holding input 0 (probability 1/4) reaches 4 outputs; outputs side: 1
    assert value == pytest.approx((0.25 * 4 + 1) / 2, abs=0.05)
    stack = np.stack([np.eye(8), np.ones((8, 8))])
    assert compute_metrics(list(stack), kind="bipartite", names=["mean_set_expansion"])[1]["mean_set_expansion"] > 1


def test_a_degree_beyond_a_layer_is_refused_or_kept_dense_as_the_expanders_code_does():
    model = nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3))
    selection = LayerSelection(prune_first=True, prune_last=True)
    with pytest.raises(PruningError, match="layer 0 \\(64x3\\)"):
        prune_model(
            model, MaskConfig("rreg-bipartite", degree=15, degree_side="larger", selection=selection), (3, 8, 8)
        )
    dense = MaskConfig("rreg-bipartite", degree=15, degree_side="larger", selection=selection, degree_overflow="dense")
    result = prune_model(nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.Conv2d(64, 64, 3)), dense, (3, 8, 8))
    assert bool(result.masks["0"].all())  # 64 outputs with 15 of 3 inputs each: every connection
    assert bool((result.masks["2"].sum(dim=1) == 15).all())  # the 64 -> 64 layer keeps exactly d per output
    with pytest.raises(PruningError, match="degree overflow must be one of error, dense"):
        MaskConfig("xnet", degree=2, degree_overflow="sometimes").validate()


def test_the_expanders_vgg16_bn_masks_every_conv_and_its_hidden_layer():
    model = build_model("vgg16_bn_expanders", (3, 32, 32), 10)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(512, 512), (512, 10)]
    assert isinstance(model[-2], nn.Dropout) and model[-2].p == 0.5
    config = MaskConfig("xnet", degree=15, degree_side="inputs", selection=LayerSelection(prune_first=True))
    result = prune_model(model, config, (3, 32, 32))
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    hidden = str(list(model).index(linears[0]))
    assert set(result.masks) == {*convs, hidden}  # the classifier stays dense
    for name, mask in result.masks.items():  # XNet on the inputs: every input channel feeds exactly 15 outputs
        channels = mask.reshape(mask.shape[0], mask.shape[1], -1).any(dim=2)
        assert bool((channels.sum(dim=0) == 15).all()), name
    kept = sum(int(m.reshape(m.shape[0], m.shape[1], -1).any(dim=2).sum()) * (9 if name in convs else 1)
               for name, m in result.masks.items())  # fmt: skip
    channels_in = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512]
    assert kept == 15 * 9 * sum(channels_in) + 15 * 512  # d x k^2 x C_in per conv, d x 512 for the hidden layer
    assert math.isclose(result.summary.params_kept, kept + 10 * 512 + 10 + 512 + sum(2 * c for c in
                        [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]))  # fmt: skip


def test_best_of_by_sampled_expansion_keeps_the_draw_with_the_largest():
    model = nn.Sequential(nn.Linear(16, 16))
    config = MaskConfig(
        "rreg-bipartite",
        degree=3,
        best_of=5,
        select_by="mean_set_expansion",
        selection=LayerSelection(prune_first=True, prune_last=True),
    )
    result = prune_model(model, config, (16,))
    draws = [
        prune_model(nn.Sequential(nn.Linear(16, 16)), MaskConfig("rreg-bipartite", degree=3, draw=k,
                    selection=config.selection), (16,)).masks["0"]
        for k in range(5)
    ]  # fmt: skip
    scores = [mean_set_expansion(d.numpy().astype(np.uint8))[0] for d in draws]
    assert torch.equal(result.masks["0"], draws[int(np.argmax(scores))])
