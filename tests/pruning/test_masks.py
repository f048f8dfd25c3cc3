"""Relational masks entry by entry, per-layer recipes, layer selection and recipe errors."""

import numpy as np
import pytest
import torch
from torch import nn

from pruning import LayerSelection, MaskConfig, compute_masks, find_prunable_layers
from pruning.blocks import channel_nodes, relational_mask
from pruning.errors import PruningError
from topology.generators import generate
from topology.plans import Plan


def stack(*widths, kernel=3):
    """Conv layers c0 -> c1 -> ... (kernel ``kernel``), registration order = data order."""
    return nn.Sequential(*[nn.Conv2d(a, b, kernel, padding=kernel // 2) for a, b in zip(widths, widths[1:])])


@pytest.mark.parametrize("channels, nodes", [(64, 16), (70, 16), (17, 5), (5, 5), (100, 7)])
def test_channel_blocks_are_contiguous_and_balanced(channels, nodes):
    node_of = channel_nodes(channels, nodes, seed=3)
    assert node_of.shape == (channels,)
    assert (np.diff(node_of) >= 0).all()  # contiguous blocks in node order
    sizes = np.bincount(node_of, minlength=nodes)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == channels
    assert (channel_nodes(channels, nodes, seed=3) == node_of).all()


def test_uneven_block_sizes_are_a_seeded_permutation():
    layouts = {tuple(np.bincount(channel_nodes(70, 16, seed=s))) for s in range(10)}
    assert len(layouts) > 1  # which blocks get the extra channel depends on the seed


@pytest.mark.parametrize("c_out, c_in", [(32, 32), (48, 32), (37, 29)])
def test_relational_mask_entry_by_entry(c_out, c_in):
    adjacency = generate("rreg", nodes=8, degree=3, seed=1)
    mask = relational_mask(adjacency, c_out, c_in, seed=5)
    rows, cols = channel_nodes(c_out, 8, 5), channel_nodes(c_in, 8, 5)
    for o in range(c_out):
        for i in range(c_in):
            assert mask[o, i] == bool(adjacency[rows[o], cols[i]])


def test_relational_density_is_exactly_d_over_n():
    plan = Plan(generate("rreg", nodes=16, degree=4, seed=0))
    masks, _ = compute_masks(stack(3, 64, 64, 128, 10), MaskConfig(plan=plan))
    assert set(masks) == {"1", "2"}  # first and last stay dense
    for mask in masks.values():
        assert mask.dtype == torch.bool
        assert mask.float().mean().item() == 4 / 16


def test_self_loops_give_graph2nn_density():
    adjacency = generate("ws-flex", nodes=16, degree=5.5, p=0.3, seed=2)
    edges = int(adjacency.sum()) // 2
    masks, _ = compute_masks(stack(3, 64, 64, 10), MaskConfig(plan=Plan(adjacency), self_loops=True))
    assert masks["1"].float().mean().item() == pytest.approx((2 * edges + 16) / 16**2, abs=1e-12)


def test_layer_narrower_than_plan_is_an_error_or_shrinks():
    plan = Plan(generate("rreg", nodes=16, degree=4, seed=0))
    model = stack(3, 8, 64, 10)
    with pytest.raises(
        PruningError, match="layer 1 has 64 output and 8 input channels, fewer than the plan's 16 nodes"
    ):
        compute_masks(model, MaskConfig(plan=plan))
    masks, _ = compute_masks(model, MaskConfig(plan=plan, nodes_policy="shrink"))
    induced = plan.matrix[:8, :8].astype(bool)
    assert (masks["1"].numpy() == induced[channel_nodes(64, 8, 0)][:, channel_nodes(8, 8, 0)]).all()


def test_relational_needs_a_graph_plan():
    with pytest.raises(PruningError, match="needs a plan"):
        compute_masks(stack(3, 8, 8, 2), MaskConfig())
    bipartite = Plan(generate("xnet", nodes=8, degree=2, seed=0), kind="bipartite")
    with pytest.raises(PruningError, match="needs a graph plan"):
        compute_masks(stack(3, 8, 8, 2), MaskConfig(plan=bipartite))


@pytest.mark.parametrize("recipe", ["xnet", "rreg-bipartite", "random-bipartite"])
def test_per_layer_recipes_are_reproducible_and_differ_across_layers(recipe):
    model = stack(3, 32, 32, 32, 10)
    config = MaskConfig(rule=recipe, degree=4, seed=11)
    first, _ = compute_masks(model, config)
    again, _ = compute_masks(stack(3, 32, 32, 32, 10), config)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["1"], first["2"])  # same shape, different graphs
    other, _ = compute_masks(model, MaskConfig(rule=recipe, degree=4, seed=12))
    assert not torch.equal(first["1"], other["1"])
    if recipe != "random-bipartite":
        assert (first["1"].sum(dim=1) == 4).all()


def test_per_layer_degree_larger_than_inputs_names_the_layer():
    with pytest.raises(PruningError, match="layer 1 \\(16x8\\): xnet: degree must satisfy"):
        compute_masks(stack(3, 8, 16, 2), MaskConfig(rule="xnet", degree=9))


def test_dense_recipe_keeps_everything():
    masks, _ = compute_masks(stack(3, 8, 8, 2), MaskConfig(rule="dense"))
    assert masks["1"].all()


def test_layer_selection():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, groups=8), nn.Conv2d(8, 8, 1), nn.Conv1d(8, 8, 3), nn.Linear(8, 4)
    )
    names = lambda selection: [layer.name for layer in find_prunable_layers(model, selection)[0]]  # noqa: E731
    assert names(LayerSelection()) == ["2", "3"]
    assert names(LayerSelection(prune_first=True, prune_last=True)) == ["0", "2", "3", "4"]
    assert names(LayerSelection(include=("3",))) == ["3"]
    assert names(LayerSelection(exclude=("2",))) == ["3"]
    _, notices = find_prunable_layers(model)
    assert notices == ["1: depthwise convolution (one input channel per group) left dense: nothing to wire"]
