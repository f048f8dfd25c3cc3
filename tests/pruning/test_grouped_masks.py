"""Grouped convolutions are masked per group: each group is wired as a layer of its own."""

import numpy as np
import pytest
import torch
from torch import nn

from common.seeding import derive_seed
from pruning import MaskConfig
from pruning.apply import prune_model
from pruning.errors import PruningError
from pruning.layers import PrunableLayer, grouped_connections
from pruning.mask_rules import MASK_RULES, compute_mask_set
from pruning.network_graph import network_graph
from topology.generators import generate
from topology.plans import Plan


def grouped_model() -> nn.Sequential:
    # 4 -> 8 dense, then 8 -> 12 in 2 groups (each 4 inputs -> 6 outputs), then a 12 -> 3 head
    return nn.Sequential(nn.Conv2d(4, 8, 1), nn.Conv2d(8, 12, 3, padding=1, groups=2), nn.Conv2d(12, 3, 1))


@pytest.mark.parametrize(
    "config",
    [
        MaskConfig("xnet", degree=2, seed=5),
        MaskConfig("random-bipartite", density=0.5, seed=5),
        MaskConfig("rreg-bipartite", degree=2, seed=5, degree_side="inputs"),
    ],
    ids=lambda config: config.rule,
)
def test_each_group_gets_the_mask_the_recipe_makes_for_a_layer_of_the_groups_size(config):
    model = grouped_model()
    mask = compute_mask_set(model, config).masks["1"]
    assert mask.shape == (12, 4)  # (C_out, C_in / groups), as the weight (12, 4, 3, 3)
    recipe = MASK_RULES.get(config.rule)
    for group in range(2):
        view = PrunableLayer(f"1[group {group}]", model[1], 6, 4)
        expected = recipe(view, config)
        assert np.array_equal(mask[6 * group : 6 * (group + 1)].numpy(), expected), group
    # and the groups differ: each is seeded by its own name
    assert not torch.equal(mask[:6], mask[6:])


def test_the_xnet_groups_are_the_generator_graphs_seeded_by_the_group_names():
    mask = compute_mask_set(grouped_model(), MaskConfig("xnet", degree=2, seed=5)).masks["1"]
    for group in range(2):
        graph = generate("xnet", seed=derive_seed(5, f"1[group {group}]"), form="dense", nodes=6, nodes_in=4, degree=2)
        assert np.array_equal(mask[6 * group : 6 * (group + 1)].numpy(), graph.astype(bool))
        assert (mask[6 * group : 6 * (group + 1)].sum(dim=1) == 2).all()


def test_the_masked_grouped_conv_computes_the_grouped_conv_of_the_zeroed_weight_and_is_counted_so():
    torch.manual_seed(0)
    model = grouped_model()
    reference = grouped_model()
    reference.load_state_dict(model.state_dict())
    result = prune_model(model, MaskConfig("xnet", degree=2, seed=1), (4, 5, 5))
    mask = result.masks["1"]
    with torch.no_grad():
        reference[1].weight.mul_(mask[:, :, None, None])
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)
    layer = next(layer for layer in result.summary.layers if layer.name == "1")
    # hand count: 12 outputs x 2 inputs kept x 3 x 3 kernel, of 12 x 4 x 9
    assert (layer.weights_kept, layer.weights_total) == (12 * 2 * 9, 12 * 4 * 9)
    assert layer.macs_kept == 12 * 2 * 9 * 25
    dense = sum(p.numel() for p in model.parameters())
    assert result.summary.params_kept == dense - 12 * 2 * 9
    # connections placed in their groups: output o < 6 reaches inputs 0-3 only, o >= 6 inputs 4-7
    full = grouped_connections(mask, 2)
    assert full.shape == (12, 8) and not full[:6, 4:].any() and not full[6:, :4].any()
    assert layer.isolated_inputs == int((~full.any(dim=0)).sum())
    assert layer.graph["out_degree_min"] == layer.graph["out_degree_max"] == 2


def test_grouped_connections_place_each_row_in_its_group_for_numpy_and_torch():
    per_group = np.array([[1, 0], [0, 1], [1, 1], [0, 1]], dtype=bool)  # 4 outputs, 2 groups of 2 inputs
    expected = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]], dtype=bool)
    assert np.array_equal(grouped_connections(per_group, 2), expected)
    assert torch.equal(grouped_connections(torch.from_numpy(per_group), 2), torch.from_numpy(expected))
    assert grouped_connections(per_group, 1) is per_group


def test_the_network_graph_of_a_masked_grouped_conv_has_exactly_the_masked_connections():
    model = grouped_model()
    result = prune_model(model, MaskConfig("xnet", degree=2, seed=3), (4, 5, 5))
    graph = network_graph(model, (4, 5, 5))
    spans = {name: (start, stop) for name, start, stop in graph.layers}
    (in_start, in_stop), (out_start, out_stop) = spans["0"], spans["1"]
    block = graph.adjacency.toarray()[out_start:out_stop, in_start:in_stop].astype(bool)
    # layer 0 is a dense 1x1 conv, so layer 1's input channel i is layer 0's output node i
    assert np.array_equal(block, grouped_connections(result.masks["1"], 2).numpy())
    assert block.sum() == 12 * 2


def test_relational_plans_wire_each_group_and_a_plan_larger_than_a_group_names_the_group():
    plan = Plan(kind="graph", matrix=generate("rreg", seed=0, form="dense", nodes=4, degree=2), path=None)
    mask = compute_mask_set(grouped_model(), MaskConfig("relational", plan=plan, seed=0)).masks["1"]
    assert mask.shape == (12, 4)
    big = Plan(kind="graph", matrix=generate("rreg", seed=0, form="dense", nodes=6, degree=2), path=None)
    with pytest.raises(PruningError, match=r"layer 1\[group 0\] has 6 output and 4 input channels"):
        compute_mask_set(grouped_model(), MaskConfig("relational", plan=big, seed=0))
