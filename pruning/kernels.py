"""Exact implementations of a masked layer for inference, one registry entry per kernel.

Every kernel computes the same function as the masked dense layer (the mask baked into the
weight): it only skips work the mask makes zero. Which one is fastest depends on the mask, the
layer and the machine, so :mod:`pruning.compile` times them and picks per layer.

* ``dense``: the layer with the mask baked in (exact zeros), as PyTorch runs it.
* ``block``: outputs grouped by identical input patterns (a relational plan's nodes): gather
  each group's inputs once, one batched matmul (Linear) or one grouped convolution (Conv).
* ``gather``: one group per output (X-Net / left-regular masks): each output's D inputs are
  gathered and one grouped convolution (one group per output) or batched product computes it.
* ``csr``: Linear as a ``torch.sparse`` CSR matrix product.
* ``bsr``: Linear as a ``torch.sparse`` BSR matrix product when the mask is made of whole
  b x b blocks (a relational plan whose channel blocks have equal sizes).
* ``native``: Conv2d by a C kernel compiled on this machine (:mod:`pruning.native_conv`): each
  output channel sums only its kept input channels' convolutions (CPU, float32).

A kernel module is built from a layer and its mask only (``build(module, mask)``), so a compiled
model is re-created from the model registry, its masks and the kernel names in ``compile.json``,
and its weights then load from a plain state_dict: no module is ever pickled.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from common.registry import Registry
from pruning.accounting import channel_view
from pruning.grouping import Grouping, group_by_pattern, group_per_output
from pruning.native_build import NativeUnavailable, native_library
from pruning.native_conv import NativeSparseConv

CONV_FUNCTIONS = {1: F.conv1d, 2: F.conv2d}
# torch says so once per process on the first CSR tensor; the kernel is only chosen where it is exact and faster.
warnings.filterwarnings("ignore", message="Sparse (CSR|BSR) tensor support is in beta state")
# A grouped kernel copies its input G*K / C_in times over; past this it cannot pay for the copy.
MAX_GATHER_FACTOR = 32


@dataclass(frozen=True)
class Kernel:
    """A registered kernel.

    Attributes
    ----------
    name : str
    description : str
    build : callable
        ``build(module, mask) -> (kernel module, structure text)``; raises
        :class:`KernelUnsuitable` when the kernel does not fit this layer or mask. ``mask`` is
        bool, the weight's shape or (C_out, C_in).
    """

    name: str
    description: str
    build: Callable[[nn.Module, torch.Tensor], tuple[nn.Module, str]]


class KernelUnsuitable(Exception):
    """A kernel does not fit a layer or its mask; the message says why."""


KERNELS: Registry[Kernel] = Registry("kernel")


def register_kernel(name: str, description: str):
    """Decorator: register ``build`` as kernel ``name``."""

    def decorator(build: Callable) -> Callable:
        KERNELS.register(name)(Kernel(name, description, build))
        return build

    return decorator


def baked_weight(module: nn.Module, mask: torch.Tensor) -> torch.Tensor:
    """``module``'s weight with ``mask`` applied (exact zeros), detached; same shape as the weight."""
    weight = module.weight.detach()
    mask = mask.to(torch.bool)
    mask = mask.reshape(*mask.shape, *([1] * (weight.dim() - mask.dim())))
    return torch.where(mask.to(weight.device), weight, torch.zeros((), dtype=weight.dtype, device=weight.device))


def _check_structurable(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        return
    if not isinstance(module, (nn.Conv1d, nn.Conv2d)):
        raise KernelUnsuitable(f"no grouped kernel for {type(module).__name__}")
    if module.groups != 1 or module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise KernelUnsuitable("grouped convolution or non-zero padding")


def _check_gather(grouping: Grouping, in_channels: int) -> None:
    factor = grouping.groups * grouping.inputs_per_group / in_channels
    if factor > MAX_GATHER_FACTOR:
        raise KernelUnsuitable(f"would copy the input {factor:.0f} times over (limit {MAX_GATHER_FACTOR})")


def packed_weight(weight: torch.Tensor, grouping: Grouping) -> torch.Tensor:
    """(G, S, K, *kernel): ``weight[outputs[g, s], inputs[g, k]]``, zero at padded entries."""
    outputs = torch.from_numpy(np.maximum(grouping.outputs, 0)).to(weight.device)
    inputs = torch.from_numpy(grouping.inputs).to(weight.device)
    packed = weight[outputs[:, :, None], inputs[:, None, :]]
    real_output = torch.from_numpy(grouping.outputs >= 0)[:, :, None]
    real_input = torch.from_numpy(np.arange(grouping.inputs_per_group)[None, :] < grouping.input_counts[:, None])[
        :, None, :
    ]
    keep = (real_output & real_input).to(weight.device)
    return packed * keep.reshape(*keep.shape, *([1] * (weight.dim() - 2))).to(weight.dtype)


class GatheredLinear(nn.Module):
    """A masked Linear as G groups: ``y[outputs[g]] = W_g @ x[inputs[g]]`` in one batched matmul.

    Works in the transposed (features, examples) layout, so the gather is a row gather; it
    returns the transposed view, which the next gathered layer reads without a copy.

    Parameters
    ----------
    linear : nn.Linear
        Shapes and weights; ``weight`` (C_out, C_in).
    mask : torch.BoolTensor, shape (C_out, C_in)
    grouping : Grouping
    """

    def __init__(self, linear: nn.Linear, mask: torch.Tensor, grouping: Grouping) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.groups, self.inputs_per_group = grouping.groups, grouping.inputs_per_group
        self.weight = nn.Parameter(packed_weight(baked_weight(linear, mask), grouping).contiguous())  # (G, S, K)
        self.bias = nn.Parameter(linear.bias.detach().clone()) if linear.bias is not None else None
        self.register_buffer("inputs", torch.from_numpy(grouping.inputs.reshape(-1)).to(linear.weight.device))
        self.reorder = not (grouping.in_order and grouping.groups * grouping.outputs_per_group == self.out_features)
        self.register_buffer("positions", torch.from_numpy(grouping.output_positions()).to(linear.weight.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        columns = x.reshape(-1, self.in_features).t().contiguous()  # (C_in, N)
        gathered = columns.index_select(0, self.inputs).view(self.groups, self.inputs_per_group, -1)  # (G, K, N)
        out = torch.bmm(self.weight, gathered).view(-1, columns.shape[1])  # (G*S, N)
        if self.reorder:
            out = out.index_select(0, self.positions)
        out = out.t()
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*lead, self.out_features)


class GatheredConv(nn.Module):
    """A masked Conv1d/Conv2d as G groups: gather each group's input channels, one grouped conv.

    Parameters
    ----------
    conv : nn.Conv1d or nn.Conv2d (groups=1, zero padding)
    mask : torch.BoolTensor, the weight's shape or (C_out, C_in)
    grouping : Grouping
    """

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, mask: torch.Tensor, grouping: Grouping) -> None:
        super().__init__()
        self.out_channels, self.groups = conv.out_channels, grouping.groups
        self.stride, self.padding, self.dilation = conv.stride, conv.padding, conv.dilation
        self.spatial_dims = conv.weight.dim() - 2
        packed = packed_weight(baked_weight(conv, mask), grouping)  # (G, S, K, *kernel)
        self.weight = nn.Parameter(packed.reshape(-1, *packed.shape[2:]).contiguous())  # (G*S, K, *kernel)
        self.bias = nn.Parameter(conv.bias.detach().clone()) if conv.bias is not None else None
        self.register_buffer("inputs", torch.from_numpy(grouping.inputs.reshape(-1)).to(conv.weight.device))
        self.reorder = not (grouping.in_order and grouping.groups * grouping.outputs_per_group == self.out_channels)
        self.register_buffer("positions", torch.from_numpy(grouping.output_positions()).to(conv.weight.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gathered = x.index_select(1, self.inputs)  # (N, G*K, *spatial)
        conv = CONV_FUNCTIONS[self.spatial_dims]
        if not self.reorder:
            return conv(gathered, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        out = conv(gathered, self.weight, None, self.stride, self.padding, self.dilation, self.groups).index_select(
            1, self.positions
        )
        if self.bias is not None:
            out = out + self.bias.reshape(1, -1, *([1] * self.spatial_dims))
        return out


class CsrWeight(nn.Module):
    """The kept weights of a (C_out, C_in) masked weight as the parts of a ``torch.sparse`` CSR
    matrix: row pointers and column indices (buffers, from the mask, not the values: a kept weight
    may be 0.0), the kept weights row by row and the bias (parameters)."""

    def __init__(self, weight: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.matrix_shape = tuple(weight.shape)
        mask = mask.to(torch.bool).to(weight.device)
        rows, cols = mask.nonzero(as_tuple=True)
        crow = torch.zeros(mask.shape[0] + 1, dtype=torch.int64, device=mask.device)
        crow[1:] = torch.cumsum(mask.sum(dim=1), 0)
        self.register_buffer("crow_indices", crow)
        self.register_buffer("col_indices", cols)
        self.weight = nn.Parameter(weight.detach()[rows, cols].clone())  # (kept,)
        self.bias = nn.Parameter(bias.detach().clone()) if bias is not None else None

    def matrix(self) -> torch.Tensor:
        return torch.sparse_csr_tensor(
            self.crow_indices, self.col_indices, self.weight, self.matrix_shape, check_invariants=False
        )


class SparseLinear(CsrWeight):
    """A masked Linear as a ``torch.sparse`` CSR matrix (kept weights only) times the input.

    Parameters
    ----------
    linear : nn.Linear
    mask : torch.BoolTensor, shape (C_out, C_in)
    """

    def __init__(self, linear: nn.Linear, mask: torch.Tensor) -> None:
        super().__init__(linear.weight, mask, linear.bias)
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        out = (self.matrix() @ x.reshape(-1, self.in_features).t()).t()
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*lead, self.out_features)


class SparsePointwiseConv(CsrWeight):
    """A masked 1x1 convolution (stride 1, one group) as a ``torch.sparse`` CSR matrix times each
    sample's (C_in, positions) input, one sample at a time: the input is read where it lies, with
    no copy, and the product does only the kept multiply-adds (X-Nets' pointwise X-layers).

    Parameters
    ----------
    conv : nn.Conv1d or nn.Conv2d
        Kernel of size 1 in every dimension, stride 1, no padding, one group.
    mask : torch.BoolTensor, shape (C_out, C_in)
    """

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, mask: torch.Tensor) -> None:
        super().__init__(conv.weight.reshape(conv.out_channels, conv.in_channels), mask, conv.bias)
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        matrix = self.matrix()
        flat = x.reshape(x.shape[0], self.in_channels, -1)
        if torch.is_grad_enabled() and self.weight.requires_grad:  # out= has no gradient
            out = torch.stack([matrix @ sample for sample in flat])
        else:  # inference: each product written in place (stacking them cost up to 2.3x here)
            out = flat.new_empty(x.shape[0], self.out_channels, flat.shape[-1])
            for sample, into in zip(flat, out):
                torch.mm(matrix, sample, out=into)
        if self.bias is not None:
            out = out + self.bias[:, None]
        return out.reshape(x.shape[0], self.out_channels, *x.shape[2:])


def is_pointwise(module: nn.Module) -> bool:
    """A 1x1 convolution with stride 1, no padding and one group: a matrix product per position."""
    if not isinstance(module, nn.Conv1d | nn.Conv2d):
        return False
    ones = all(size == 1 for size in (*module.kernel_size, *module.stride))
    unpadded = isinstance(module.padding, tuple) and not any(module.padding)
    return ones and unpadded and module.groups == 1


class BlockSparseLinear(nn.Module):
    """A masked Linear whose mask is made of whole b x b blocks, as a ``torch.sparse`` BSR matrix.

    Parameters
    ----------
    linear : nn.Linear
    mask : torch.BoolTensor, shape (C_out, C_in), constant on every b x b block
    block : int
        b; divides C_out and C_in.
    """

    def __init__(self, linear: nn.Linear, mask: torch.Tensor, block: int) -> None:
        super().__init__()
        self.in_features, self.out_features, self.block = linear.in_features, linear.out_features, block
        kept = mask.to(torch.bool)[::block, ::block].to(linear.weight.device)  # (C_out/b, C_in/b) block mask
        rows, cols = kept.nonzero(as_tuple=True)
        crow = torch.zeros(kept.shape[0] + 1, dtype=torch.int64, device=kept.device)
        crow[1:] = torch.cumsum(kept.sum(dim=1), 0)
        self.register_buffer("crow_indices", crow)
        self.register_buffer("col_indices", cols)
        blocks = linear.weight.detach().reshape(kept.shape[0], block, kept.shape[1], block).permute(0, 2, 1, 3)
        self.weight = nn.Parameter(blocks[rows, cols].clone())  # (kept blocks, b, b)
        self.bias = nn.Parameter(linear.bias.detach().clone()) if linear.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        matrix = torch.sparse_bsr_tensor(
            self.crow_indices,
            self.col_indices,
            self.weight,
            (self.out_features, self.in_features),
            check_invariants=False,
        )
        out = (matrix @ x.reshape(-1, self.in_features).t()).t()
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*lead, self.out_features)


def mask_block_size(mask: torch.Tensor, sizes: tuple[int, ...] = (64, 32, 16, 8, 4)) -> int | None:
    """The largest b in ``sizes`` dividing both sides of ``mask`` (C_out, C_in) such that the mask
    is constant on every b x b block, or None."""
    rows, cols = mask.shape
    for block in sizes:
        if rows % block or cols % block:
            continue
        coarse = mask[::block, ::block]
        if torch.equal(coarse.repeat_interleave(block, 0).repeat_interleave(block, 1), mask):
            return block
    return None


def _grouped(module: nn.Module, mask: torch.Tensor, grouping: Grouping) -> nn.Module:
    return (
        GatheredLinear(module, mask, grouping)
        if isinstance(module, nn.Linear)
        else GatheredConv(module, mask, grouping)
    )


@register_kernel("dense", "the layer with the mask baked into its weight (exact zeros)")
def build_dense(module: nn.Module, mask: torch.Tensor) -> tuple[nn.Module, str]:
    dense = copy.deepcopy(module)
    if parametrize.is_parametrized(dense, "weight"):
        parametrize.remove_parametrizations(dense, "weight", leave_parametrized=True)
    with torch.no_grad():
        dense.weight.copy_(baked_weight(dense, mask))
    return dense, "dense"


@register_kernel("block", "outputs with one input pattern share a gather and one matmul (relational masks)")
def build_block(module: nn.Module, mask: torch.Tensor) -> tuple[nn.Module, str]:
    _check_structurable(module)
    channels = channel_view(mask).cpu().numpy()
    grouping = group_by_pattern(channels)
    if grouping.groups == channels.shape[0]:
        raise KernelUnsuitable("every output reads its own inputs (the gather kernel's case)")
    _check_gather(grouping, channels.shape[1])
    return _grouped(module, mask, grouping), grouping.describe()


@register_kernel("gather", "each output's kept inputs gathered, one group per output (X-Net / left-regular masks)")
def build_gather(module: nn.Module, mask: torch.Tensor) -> tuple[nn.Module, str]:
    _check_structurable(module)
    channels = channel_view(mask).cpu().numpy()
    grouping = group_per_output(channels)
    _check_gather(grouping, channels.shape[1])
    return _grouped(module, mask, grouping), grouping.describe()


@register_kernel("csr", "torch.sparse CSR matrix product (Linear, 1x1 convolution)")
def build_csr(module: nn.Module, mask: torch.Tensor) -> tuple[nn.Module, str]:
    if not isinstance(module, nn.Linear) and not is_pointwise(module):
        raise KernelUnsuitable("CSR is offered for Linear layers and 1x1 convolutions (stride 1, one group) only")
    mask = channel_view(mask)
    kernel = SparseLinear(module, mask) if isinstance(module, nn.Linear) else SparsePointwiseConv(module, mask)
    return kernel, f"{int(mask.sum())} kept weights"


@register_kernel("bsr", "torch.sparse BSR (block CSR) matrix product, for Linear masks made of whole blocks")
def build_bsr(module: nn.Module, mask: torch.Tensor) -> tuple[nn.Module, str]:
    if not isinstance(module, nn.Linear):
        raise KernelUnsuitable("BSR is offered for Linear layers only")
    mask = channel_view(mask)
    block = mask_block_size(mask)
    if block is None:
        raise KernelUnsuitable("the mask is not made of whole 4x4 (or larger) blocks")
    return BlockSparseLinear(module, mask, block), f"{int(mask[::block, ::block].sum())} kept {block}x{block} blocks"


@register_kernel("native", "compiled C: each output's kept input channels convolved directly (Conv2d, CPU, float32)")
def build_native(module: nn.Module, mask: torch.Tensor) -> tuple[nn.Module, str]:
    if not isinstance(module, nn.Conv2d):
        raise KernelUnsuitable("the native kernel is offered for Conv2d layers only")
    if module.groups != 1 or module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise KernelUnsuitable("grouped convolution or non-zero padding")
    if module.dilation != (1, 1):
        raise KernelUnsuitable("dilated convolution")
    if module.weight.device.type != "cpu" or module.weight.dtype != torch.float32:
        raise KernelUnsuitable("the native kernel runs float32 layers on CPU only")
    try:
        native_library()
    except NativeUnavailable as reason:
        raise KernelUnsuitable(str(reason)) from None
    baked, _ = build_dense(module, mask)
    channels = channel_view(mask)
    return NativeSparseConv(baked, channels), f"{int(channels.sum())} kept channel pairs"
