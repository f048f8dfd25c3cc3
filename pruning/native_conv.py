"""A masked Conv2d computed by the compiled C kernel, as a PyTorch operator and a module.

``topoprune::sparse_conv2d`` is registered with ``torch.library`` (with a shape-only fake
implementation), so a model holding :class:`NativeSparseConv` runs eagerly, traces and
``torch.export``-s; an exported program needs this module imported to run. The operator covers
float32 CPU inference; with gradients wanted, or on another device or dtype, the module
computes the same convolution with ``F.conv2d`` on its weight scattered back to dense.
"""

from __future__ import annotations

import ctypes

import torch
import torch.nn.functional as F
from torch import nn

from pruning.native_build import native_library

ADDRESS = ctypes.c_void_p


def _layout_of(x: torch.Tensor) -> torch.memory_format:
    """channels_last where ``x`` is laid out so (and not also plainly contiguous), else contiguous."""
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _empty_output(x: torch.Tensor, out_channels: int, geometry: list[int]) -> torch.Tensor:
    kh, kw, sh, sw, ph, pw = geometry
    shape = (x.shape[0], out_channels, output_size(x.shape[2], kh, sh, ph), output_size(x.shape[3], kw, sw, pw))
    return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=_layout_of(x))


def _shape_and_strides(tensor: torch.Tensor) -> tuple[ctypes.Array, ctypes.Array]:
    return (ctypes.c_int64 * 4)(*tensor.shape), (ctypes.c_int64 * 4)(*tensor.stride())


@torch.library.custom_op("topoprune::sparse_conv2d", mutates_args=())
def sparse_conv2d(
    x: torch.Tensor,
    indptr: torch.Tensor,
    indices: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    geometry: list[int],
) -> torch.Tensor:
    """Conv2d of float32 CPU ``x`` (N, C, H, W; NCHW or channels_last) by the CSR channel matrix
    (``indptr`` (C_out + 1,), ``indices`` (kept,), int64) whose kept entries hold ``weight``
    (kept, kh, kw); ``geometry`` is (kh, kw, stride h, stride w, padding h, padding w)."""
    if _layout_of(x) is torch.contiguous_format:
        x = x.contiguous()
    out = _empty_output(x, indptr.numel() - 1, geometry)
    x_shape, x_strides = _shape_and_strides(x)
    y_shape, y_strides = _shape_and_strides(out)
    status = native_library().sparse_conv2d(
        ADDRESS(x.data_ptr()),
        x_shape,
        x_strides,
        ADDRESS(out.data_ptr()),
        y_shape,
        y_strides,
        ADDRESS(indptr.data_ptr()),
        ADDRESS(indices.data_ptr()),
        ADDRESS(weight.data_ptr()),
        ADDRESS(bias.data_ptr()) if bias is not None else None,
        (ctypes.c_int64 * 6)(*geometry),
        torch.get_num_threads(),
    )
    if status:
        raise MemoryError("sparse_conv2d: out of memory for its per-thread buffers")
    return out


@sparse_conv2d.register_fake
def _(x, indptr, indices, weight, bias, geometry):
    return _empty_output(x, indptr.shape[0] - 1, geometry)


class NativeSparseConv(nn.Module):
    """A masked Conv2d (one group, no dilation, zero padding) as the compiled kernel: each output
    channel sums its kept input channels' kh x kw convolutions, and nothing else.

    Parameters
    ----------
    conv : nn.Conv2d
    mask : torch.BoolTensor, shape (C_out, C_in): the kept (output, input) channel pairs
    """

    def __init__(self, conv: nn.Conv2d, mask: torch.Tensor) -> None:
        super().__init__()
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        kh, kw = conv.kernel_size
        self.geometry = [kh, kw, *conv.stride, *conv.padding]
        mask = mask.to(torch.bool).to(conv.weight.device)
        rows, cols = mask.nonzero(as_tuple=True)
        indptr = torch.zeros(mask.shape[0] + 1, dtype=torch.int64, device=mask.device)
        indptr[1:] = torch.cumsum(mask.sum(dim=1), 0)
        self.register_buffer("indptr", indptr)
        self.register_buffer("indices", cols.contiguous())
        self.weight = nn.Parameter(conv.weight.detach()[rows, cols].contiguous())  # (kept, kh, kw)
        self.bias = nn.Parameter(conv.bias.detach().clone()) if conv.bias is not None else None

    def dense_weight(self) -> torch.Tensor:
        """(C_out, C_in, kh, kw) with the kept weights in place and zeros elsewhere (differentiable)."""
        rows = torch.repeat_interleave(torch.arange(self.out_channels, device=self.indptr.device), self.indptr.diff())
        dense = self.weight.new_zeros(self.out_channels, self.in_channels, *self.weight.shape[1:])
        return dense.index_put((rows, self.indices), self.weight)

    def _native(self, x: torch.Tensor) -> bool:
        wants_grad = torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)
        return not wants_grad and x.device.type == "cpu" and x.dtype == self.weight.dtype == torch.float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._native(x):
            return sparse_conv2d(x, self.indptr, self.indices, self.weight, self.bias, self.geometry)
        kh, kw, sh, sw, ph, pw = self.geometry
        return F.conv2d(x, self.dense_weight(), self.bias, (sh, sw), (ph, pw))
