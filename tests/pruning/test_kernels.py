"""Structured kernels against the masked dense layer, and the groupings behind them."""

import re

import numpy as np
import pytest
import torch
from torch import nn

from pruning.blocks import relational_mask
from pruning.compile import SPARSE_KERNELS, export_program, sparse_export_support
from pruning.errors import PruningError
from pruning.grouping import group_by_pattern, group_per_output
from pruning.kernels import (
    KERNELS,
    MAX_GATHER_FACTOR,
    KernelUnsuitable,
    build_block,
    build_csr,
    build_gather,
    mask_block_size,
)
from topology.generators import generate


def test_group_by_pattern_on_a_hand_made_mask():
    # outputs 0 and 2 read inputs {0, 3}; output 1 reads {1}; output 3 reads nothing
    mask = np.array([[1, 0, 0, 1], [0, 1, 0, 0], [1, 0, 0, 1], [0, 0, 0, 0]], dtype=bool)
    grouping = group_by_pattern(mask)
    assert grouping.groups == 3
    assert grouping.outputs.tolist() == [[0, 2], [1, -1], [3, -1]]
    assert grouping.input_counts.tolist() == [2, 1, 0]
    assert grouping.inputs.tolist() == [[0, 3], [1, 1], [0, 0]]
    assert grouping.output_positions().tolist() == [0, 2, 1, 4]
    assert not grouping.in_order
    assert grouping.padded_fraction == pytest.approx(1 - 5 / 12)


def test_group_per_output_on_a_hand_made_mask():
    mask = np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0]], dtype=bool)
    grouping = group_per_output(mask)
    assert grouping.inputs.tolist() == [[1, 2], [0, 0], [0, 0]]
    assert grouping.input_counts.tolist() == [2, 1, 0]
    assert grouping.in_order
    assert grouping.describe() == "3 groups x 1 outputs x 0-2 inputs"


def test_relational_mask_groups_into_its_nodes():
    adjacency = generate("rreg", nodes=8, degree=3, seed=1)
    grouping = group_by_pattern(relational_mask(adjacency, 64, 64, seed=0))
    assert (grouping.groups, grouping.outputs_per_group, grouping.inputs_per_group) == (8, 8, 24)
    assert grouping.in_order and grouping.padded_fraction == 0.0


def _masks():
    """(label, mask (C_out, C_in)) over regular, irregular and unequal-block cases."""
    cases = []
    for label, adjacency in [
        ("rreg 8/3", generate("rreg", nodes=8, degree=3, seed=0)),
        ("ws-flex 8/3.5", generate("ws-flex", nodes=8, degree=3.5, p=0.3, seed=2)),
        ("er 6/2.5", generate("er", nodes=6, degree=2.5, seed=3)),
    ]:
        for c_out, c_in in [(32, 32), (27, 19)]:  # divisible, and blocks of unequal size
            cases.append((f"{label} {c_out}x{c_in}", torch.from_numpy(relational_mask(adjacency, c_out, c_in, seed=5))))
    rng = np.random.default_rng(0)
    per_output = np.zeros((20, 24), dtype=bool)
    for row in per_output:
        row[rng.choice(24, size=4, replace=False)] = True  # X-Net-like: 4 inputs per output
    cases.append(("left-regular 20x24", torch.from_numpy(per_output)))
    cases.append(
        (
            "irregular with empty rows",
            torch.from_numpy(rng.random((18, 11)) < 0.3) & torch.tensor([True] * 15 + [False] * 3)[:, None],
        )
    )
    return cases


MASKS = _masks()


def _layer_input_and_reference(kind, c_out, c_in):
    """A layer, an input, and the layer's function with given weights written out by hand."""
    F = nn.functional
    torch.manual_seed(0)
    if kind == "linear":
        layer = nn.Linear(c_in, c_out)
        return layer, torch.randn(5, c_in), lambda x, w: F.linear(x, w, layer.bias)
    if kind == "linear-3d":
        layer = nn.Linear(c_in, c_out, bias=False)
        return layer, torch.randn(2, 3, c_in), lambda x, w: F.linear(x, w)
    if kind == "conv1d":
        layer = nn.Conv1d(c_in, c_out, 3, padding=1)
        return layer, torch.randn(3, c_in, 10), lambda x, w: F.conv1d(x, w, layer.bias, padding=1)
    if kind == "conv2d-1x1":
        layer = nn.Conv2d(c_in, c_out, 1)
        return layer, torch.randn(3, c_in, 5, 4), lambda x, w: F.conv2d(x, w, layer.bias)
    layer = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False)
    return layer, torch.randn(2, c_in, 9, 7), lambda x, w: F.conv2d(x, w, None, stride=2, padding=1)


@pytest.mark.parametrize("kind", ["linear", "linear-3d", "conv1d", "conv2d", "conv2d-1x1"])
@pytest.mark.parametrize("label,mask", MASKS, ids=[label for label, _ in MASKS])
def test_every_kernel_equals_the_masked_dense_layer(kind, label, mask):
    layer, x, reference = _layer_input_and_reference(kind, *mask.shape)
    full = mask.reshape(*mask.shape, *([1] * (layer.weight.dim() - 2))).expand(layer.weight.shape)
    with torch.no_grad():
        expected = reference(x, layer.weight * full)  # the masked dense layer, weights zeroed by hand
    built = []
    for name, kernel in KERNELS.items():
        try:
            module, _ = kernel.build(layer, mask)
        except KernelUnsuitable:
            continue
        built.append(name)
        with torch.no_grad():
            got = module(x)
        assert got.shape == expected.shape, name
        torch.testing.assert_close(
            got, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()), msg=f"{name} on {label}"
        )
    assert {"dense", "gather"} <= set(built)
    assert ("csr" in built) == (kind.startswith("linear") or kind == "conv2d-1x1")
    assert ("bsr" in built) == (kind.startswith("linear") and mask_block_size(mask) is not None)
    assert ("block" in built) == (not label.startswith("left-regular"))  # empty rows share a pattern too


def test_full_kernel_masks_are_honoured_entry_by_entry():
    torch.manual_seed(1)
    conv = nn.Conv2d(6, 4, 3, padding=1)
    mask = torch.rand(conv.weight.shape) < 0.4  # unstructured, as torch.nn.utils.prune makes them
    x = torch.randn(2, 6, 5, 5)
    expected = nn.functional.conv2d(x, conv.weight * mask, conv.bias, padding=1)
    for build in (build_gather, KERNELS.get("dense").build):
        module, _ = build(conv, mask)
        torch.testing.assert_close(module(x), expected, rtol=1e-5, atol=1e-6)


def test_block_refuses_masks_without_shared_patterns_and_csr_refuses_convs_wider_than_1x1():
    mask = torch.eye(6, dtype=torch.bool)
    with pytest.raises(KernelUnsuitable, match="own inputs"):
        build_block(nn.Linear(6, 6), mask)
    for conv in (nn.Conv2d(6, 6, 3), nn.Conv2d(6, 6, 1, stride=2), nn.Conv2d(6, 6, 1, padding=1)):
        with pytest.raises(KernelUnsuitable, match="1x1 convolutions"):
            build_csr(conv, mask)
    with pytest.raises(KernelUnsuitable, match="1x1 convolutions"):
        build_csr(nn.Conv2d(6, 6, 1, groups=2), torch.ones(6, 3, dtype=torch.bool))
    with pytest.raises(KernelUnsuitable, match="grouped convolution"):
        build_gather(nn.Conv2d(6, 6, 1, groups=2), torch.ones(6, 3, dtype=torch.bool))


def test_gather_refuses_to_copy_its_input_too_many_times():
    with pytest.raises(KernelUnsuitable, match="copy the input"):
        build_gather(nn.Linear(8, MAX_GATHER_FACTOR + 1), torch.ones(MAX_GATHER_FACTOR + 1, 8, dtype=torch.bool))


def test_kernels_are_rebuilt_from_the_mask_and_a_state_dict():
    """A kernel's structure depends on the mask only: built from a fresh layer, it loads the
    trained kernel's state_dict (even one with a kept weight that happens to be 0.0)."""
    adjacency = generate("rreg", nodes=8, degree=3, seed=2)
    mask = torch.from_numpy(relational_mask(adjacency, 64, 32, seed=5))  # whole 8x4 blocks: bsr fits too
    trained = nn.Linear(32, 64)
    with torch.no_grad():
        trained.weight[mask.nonzero()[0][0], mask.nonzero()[0][1]] = 0.0
    x = torch.randn(4, 32)
    for name in ("block", "gather", "csr", "bsr"):
        module, _ = KERNELS.get(name).build(trained, mask)
        fresh, _ = KERNELS.get(name).build(nn.Linear(32, 64), mask)
        fresh.load_state_dict(module.state_dict())
        torch.testing.assert_close(fresh(x), module(x))
    pointwise = nn.Conv2d(32, 64, 1)
    module, _ = build_csr(pointwise, mask)
    fresh, _ = build_csr(nn.Conv2d(32, 64, 1), mask)
    fresh.load_state_dict(module.state_dict())
    image = torch.randn(2, 32, 3, 3)
    torch.testing.assert_close(fresh(image), module(image))
    expected = nn.functional.conv2d(image, pointwise.weight * mask[:, :, None, None], pointwise.bias)
    torch.testing.assert_close(module(image), expected, rtol=1e-5, atol=1e-5)  # with gradients: stacked
    with torch.inference_mode():  # products written in place, in either layout of the input
        torch.testing.assert_close(module(image), expected, rtol=1e-5, atol=1e-5)
        laid = image.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(module(laid), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["block", "gather", "csr", "bsr"])
def test_kernels_export(name, tmp_path):
    mask = torch.from_numpy(relational_mask(generate("rreg", nodes=8, degree=3, seed=0), 32, 64, seed=0))
    module, _ = KERNELS.get(name).build(nn.Linear(64, 32), mask)
    model = nn.Sequential(module)
    x = torch.randn(5, 64)
    if name in SPARSE_KERNELS and sparse_export_support() is not None:
        # This torch cannot export sparse layers: one line says so, naming the version, and nothing is written.
        with pytest.raises(
            PruningError, match=re.escape(f"torch {torch.__version__} cannot torch.export sparse CSR/BSR layers")
        ):
            export_program(model, (64,), tmp_path / "m.pt2", batch_size=5)
        assert not (tmp_path / "m.pt2").exists()
        return
    path, dynamic = export_program(model, (64,), tmp_path / "m.pt2", batch_size=5)
    # torch's fake tensors have no sparse matmul, so a CSR layer exports at a fixed batch size only (and
    # torch 2.11 cannot trace the block kernel's reshapes with a dynamic batch either: it falls back the same way)
    assert not (dynamic and name in SPARSE_KERNELS)
    torch.testing.assert_close(torch.export.load(path).module()(x), module(x))


def test_mask_block_size_finds_the_largest_whole_blocks():
    mask = torch.from_numpy(relational_mask(generate("ring", nodes=4, degree=2), 64, 32, seed=0))  # 16x8 blocks
    assert mask_block_size(mask) == 8
    assert mask_block_size(mask[:, :30]) is None  # 30 columns: no size divides both sides
    mask[0, 0] = ~mask[0, 0]
    assert mask_block_size(mask) is None
