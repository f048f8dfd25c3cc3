"""Which modules of a model are pruned: Conv1d/Conv2d with groups=1 and Linear layers."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

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
        C_out and C_in: a mask has shape (C_out, C_in) or the weight's full shape.
    """

    name: str
    module: nn.Module
    out_channels: int
    in_channels: int

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return tuple(self.module.weight.shape)


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


def candidate_layers(model: nn.Module) -> tuple[list[PrunableLayer], list[str]]:
    """Every prunable layer in registration order, and notices for skipped grouped convolutions."""
    layers, notices = [], []
    for name, module in model.named_modules():
        if not isinstance(module, PRUNABLE_TYPES):
            continue
        if isinstance(module, (nn.Conv1d, nn.Conv2d)) and module.groups != 1:
            notices.append(f"{name}: grouped convolution (groups={module.groups}) left dense")
            continue
        out_channels, in_channels = _channels(module)
        layers.append(PrunableLayer(name, module, out_channels, in_channels))
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
