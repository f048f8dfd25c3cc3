"""Which modules of a model are pruned: Conv1d/Conv2d and Linear layers.

A grouped convolution (``groups`` = G > 1) is masked per group: its weight is (C_out, C_in / G,
...), so its channel mask is (C_out, C_in / G), row o holding output o's connections to the
inputs of its own group. A depthwise convolution (one input channel per group) has no wiring
to choose and stays dense, with a notice. See docs/architecture.md, "Grouped convolutions".
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

PRUNABLE_TYPES = (nn.Conv1d, nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class LayerSelection:
    """Which prunable layers get a mask."""

    prune_first: bool = False  # mask the first prunable layer too (dense by default)
    prune_last: bool = False  # mask the last prunable layer too (the classifier; dense by default)
    include: tuple[str, ...] = ()  # glob patterns on module names; empty means all
    exclude: tuple[str, ...] = ()  # glob patterns on module names to leave dense


@dataclass(frozen=True)
class PrunableLayer:
    """A layer a mask can apply to.

    Attributes
    ----------
    name : str
        Qualified module name (``layers.0.0.conv1``).
    module : nn.Module
    out_channels, in_channels : int
        C_out and C_in: a mask has shape (C_out, C_in / groups) or the weight's full shape.
    groups : int
        The convolution's groups (1 for Linear and ordinary convolutions).
    """

    name: str
    module: nn.Module
    out_channels: int
    in_channels: int
    groups: int = 1

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return tuple(self.module.weight.shape)

    def group_views(self) -> list[PrunableLayer]:
        """One (C_out / G, C_in / G) layer per group, named ``<name>[group j]``: what a recipe
        wires; their masks stacked by rows are this layer's mask. ``[self]`` when G = 1."""
        if self.groups == 1:
            return [self]
        outputs, inputs = self.out_channels // self.groups, self.in_channels // self.groups
        return [PrunableLayer(f"{self.name}[group {j}]", self.module, outputs, inputs) for j in range(self.groups)]


def module_groups(module: nn.Module) -> int:
    """A convolution's ``groups``; 1 for any other module."""
    return int(getattr(module, "groups", 1)) if isinstance(module, (nn.Conv1d, nn.Conv2d)) else 1


def grouped_connections(per_group, groups: int):
    """(C_out, C_in) connections of a layer whose channel mask is ``per_group`` (C_out, C_in / G):
    output o reaches input ``g(o) * C_in / G + i`` where ``per_group[o, i]``, g(o) its group.

    Works on numpy arrays and torch tensors alike (returns the same kind); G = 1 returns the input.
    """
    if groups == 1:
        return per_group
    outputs, inputs = per_group.shape
    if isinstance(per_group, torch.Tensor):
        full = per_group.new_zeros((outputs, groups, inputs))
    else:
        full = np.zeros((outputs, groups, inputs), dtype=per_group.dtype)
    rows = np.arange(outputs)
    full[rows, rows // (outputs // groups), :] = per_group
    return full.reshape(outputs, groups * inputs)


def _channels(module: nn.Module) -> tuple[int, int]:
    if isinstance(module, nn.Linear):
        return module.out_features, module.in_features
    return module.out_channels, module.in_channels


def module_names(model: nn.Module) -> dict[str, list[str]]:
    """Each submodule's first name -> every name it is registered under (more than one for a
    module shared by several layers; the first is the one ``named_modules()`` reports)."""
    first: dict[int, str] = {}
    names: dict[str, list[str]] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        names.setdefault(first.setdefault(id(module), name), []).append(name)
    return names


def replace_module(model: nn.Module, name: str, replacement: nn.Module) -> None:
    """Put ``replacement`` under ``name`` and under every other name the same module has."""
    for alias in module_names(model).get(name, [name]):
        parent_name, _, child = alias.rpartition(".")
        setattr(model.get_submodule(parent_name), child, replacement)


def candidate_layers(model: nn.Module) -> tuple[list[PrunableLayer], list[str]]:
    """Every prunable layer in registration order, and notices for skipped depthwise convolutions."""
    layers, notices = [], []
    for name, module in model.named_modules():
        if not isinstance(module, PRUNABLE_TYPES):
            continue
        out_channels, in_channels = _channels(module)
        groups = module_groups(module)
        if groups > 1 and in_channels == groups:
            notices.append(f"{name}: depthwise convolution (one input channel per group) left dense: nothing to wire")
            continue
        layers.append(PrunableLayer(name, module, out_channels, in_channels, groups))
    return layers, notices


def find_prunable_layers(
    model: nn.Module, selection: LayerSelection = LayerSelection()
) -> tuple[list[PrunableLayer], list[str]]:
    """The layers to mask under ``selection``, in registration order, and notices of skipped ones.

    The first and last prunable layers (module registration order) stay dense unless
    ``prune_first`` / ``prune_last``; then ``include`` / ``exclude`` globs filter by name. A
    module registered under several names (a filter basis shared by many layers) stays dense,
    with a notice, unless an ``include`` glob names it: one mask would act on every use.
    """
    layers, notices = candidate_layers(model)
    aliases = module_names(model)
    chosen = []
    for index, layer in enumerate(layers):
        if index == 0 and not selection.prune_first:
            continue
        if index == len(layers) - 1 and not selection.prune_last:
            continue
        included = any(fnmatch.fnmatchcase(layer.name, p) for p in selection.include)
        if len(aliases.get(layer.name, ())) > 1 and not included:
            notices.append(
                f"{layer.name}: a module registered under {len(aliases[layer.name])} names (shared), left dense "
                f"(--include '{layer.name}' masks it, one mask for every use)"
            )
            continue
        if selection.include and not included:
            continue
        if any(fnmatch.fnmatchcase(layer.name, p) for p in selection.exclude):
            continue
        chosen.append(layer)
    return chosen, notices
