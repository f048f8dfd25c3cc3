"""The units an EDropout state gates: which layers (coverage presets), which bit gates which unit,
the gating itself, a state's pruning masks, the paper's R and the random-filters control.

A state holds one bit per covered unit: a convolution's output filters, a BatchNorm layer's
channels (its scales: the published coverage gates the downsample shortcuts' BatchNorms) or a
Linear layer's input units (docs/edropout.md, "The method").
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from common.seeding import derive_seed
from pruning.errors import PruningError

FILTERS, INPUTS, SCALES = "filters", "inputs", "scales"
#: ``--edropout-coverage`` presets (the first is the default); see :func:`covered_modules`.
PUBLISHED, PAPER, ALL_CONVS, HIDDEN = "published", "paper", "all-convs", "hidden"
COVERAGES = (PUBLISHED, PAPER, ALL_CONVS, HIDDEN)
_CONVS = (nn.Conv1d, nn.Conv2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
#: What residual shortcut branches are called (torchvision and the public code: downsample; ours: shortcut).
SHORTCUT_NAMES = ("downsample", "shortcut")


@dataclass(frozen=True)
class CoveredLayer:
    """A layer whose units a state gates: bits ``offset .. offset + units - 1``.

    ``kind`` is ``"filters"`` (a convolution's output channels), ``"scales"`` (a BatchNorm
    layer's channels: its weight is gated, its bias stays, as the public code's sparsifier does)
    or ``"inputs"`` (a Linear layer's input units).
    """

    name: str
    kind: str
    offset: int
    units: int


@dataclass(frozen=True)
class StateLayout:
    """Which bit of a state gates which unit of which layer."""

    layers: tuple[CoveredLayer, ...]

    @property
    def bits(self) -> int:
        return sum(layer.units for layer in self.layers)

    def split(self, states: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{layer: states[..., its bits]}`` for states of shape (..., bits)."""
        return {layer.name: states[..., layer.offset : layer.offset + layer.units] for layer in self.layers}

    def kind_of(self, name: str) -> str:
        return next(layer.kind for layer in self.layers if layer.name == name)


def _residual_second_convs(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _CONVS) and n.rsplit(".", 1)[-1] == "conv2"]


def covered_modules(model: nn.Module, coverage: str) -> list[tuple[str, nn.Module]]:
    """The layers a coverage preset gates, in model order.

    * ``published``: what the public code gated at the commit behind its published runs (5e1a296,
      whose state counts are the README's 6,208 / 9,920 / 32,448 / 58,560 for ResNet-18/34/50/101):
      every convolution's filters (stem and downsample shortcuts included), the channels of the
      shortcuts' BatchNorms (modules under a ``downsample`` or ``shortcut``) and the classifier's
      inputs. Models without convolutions
      get ``hidden``.
    * ``paper``: what the later public snapshot (0f82e3f) gates on its ResNets: the second conv
      (``*.conv2``) of every residual block except the first block's (that code keeps
      ``layer1.0.conv2`` in the state but its weight masking skips it), plus the classifier's
      inputs. It has no rule for models without such blocks; for them ``paper`` is ``hidden``.
    * ``all-convs``: every convolution (stem, ``conv1`` and downsample convs included) and the
      classifier's inputs.
    * ``hidden``: every convolution and the inputs of every Linear layer except a Linear that is
      the model's first layer (its inputs are pixels).
    """
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, _CONVS)]
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if coverage == PUBLISHED:
        if convs:
            shortcut_norms = [
                (n, m)
                for n, m in model.named_modules()
                if isinstance(m, _NORMS) and any(f".{part}." in f".{n}." for part in SHORTCUT_NAMES)
            ]
            chosen = {id(m) for _, m in convs + shortcut_norms}
            in_order = [(n, m) for n, m in model.named_modules() if id(m) in chosen]
            return in_order + linears[-1:]
        coverage = HIDDEN
    if coverage == PAPER:
        second = _residual_second_convs(model)
        if second:
            return second[1:] + linears[-1:]
        coverage = HIDDEN
    if coverage == ALL_CONVS:
        return convs + linears[-1:]
    if coverage == HIDDEN:
        first = next((m for m in model.modules() if isinstance(m, (*_CONVS, nn.Linear))), None)
        return convs + [(n, m) for n, m in linears if m is not first]
    raise PruningError(f"EDropout coverage must be one of {', '.join(COVERAGES)}, got {coverage!r}")


def state_layout(
    model: nn.Module, coverage: str = PAPER, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
) -> StateLayout:
    """The units EDropout gates in ``model``: the ``coverage`` preset's layers, or, when ``include``
    globs are given, the convs and Linear layers they match instead (a conv is gated on its
    filters, a Linear on its inputs); ``exclude`` globs remove layers.

    Raises
    ------
    PruningError
        If no layer is covered.
    """
    if include:
        chosen = [
            (n, m)
            for n, m in model.named_modules()
            if isinstance(m, (*_CONVS, nn.Linear)) and any(fnmatch.fnmatchcase(n, p) for p in include)
        ]
    else:
        chosen = covered_modules(model, coverage)
    chosen = [(n, m) for n, m in chosen if not any(fnmatch.fnmatchcase(n, p) for p in exclude)]
    if not chosen:
        raise PruningError("EDropout covers no layer (no convolution or Linear layer matches)")
    layers, offset = [], 0
    for name, module in chosen:
        if isinstance(module, nn.Linear):
            layer = CoveredLayer(name, INPUTS, offset, module.in_features)
        elif isinstance(module, _NORMS):
            layer = CoveredLayer(name, SCALES, offset, module.num_features)
        else:
            layer = CoveredLayer(name, FILTERS, offset, module.out_channels)
        layers.append(layer)
        offset += layer.units
    return StateLayout(tuple(layers))


def _unit_gate(gate: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``gate`` (rows, units) shaped to multiply a (rows, units, *spatial) or (rows, units) tensor."""
    return gate.reshape(gate.shape[0], gate.shape[1], *([1] * (len(shape) - 2)))


@contextmanager
def gated(model: nn.Module, layout: StateLayout, states: torch.Tensor, repeat: int = 1) -> Iterator[None]:
    """Within the block, ``model`` runs with ``states`` applied: filters' outputs or Linear
    inputs of dropped units are zero.

    ``states`` is (bits,) for one state (any batch), or (M, bits) for M states applied to a
    batch of M stacked copies of a minibatch of ``repeat`` examples each (candidate m gates
    rows m*repeat .. (m+1)*repeat - 1).
    """
    states = states.reshape(-1, layout.bits)
    handles = []
    for layer in layout.layers:
        bits = states[:, layer.offset : layer.offset + layer.units]

        def gate(tensor: torch.Tensor, bits: torch.Tensor = bits) -> torch.Tensor:
            rows = bits.to(tensor.dtype)
            if rows.shape[0] > 1:
                rows = rows.repeat_interleave(repeat, dim=0)
            return tensor * _unit_gate(rows, tensor.shape)

        module = model.get_submodule(layer.name)
        if layer.kind == SCALES:  # BN(x) = x_hat * w + b -> x_hat * (w * bit) + b, as masking w does
            handles.append(module.register_forward_hook(lambda m, _args, output, gate=gate: _scaled(m, output, gate)))
        elif layer.kind == FILTERS:
            handles.append(module.register_forward_hook(lambda _m, _args, output, gate=gate: gate(output)))
        else:
            handles.append(module.register_forward_pre_hook(lambda _m, args, gate=gate: (gate(args[0]), *args[1:])))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _scaled(module: nn.Module, output: torch.Tensor, gate) -> torch.Tensor:
    if module.bias is None:
        return gate(output)
    bias = module.bias.reshape(1, -1, *([1] * (output.dim() - 2)))
    return gate(output - bias) + bias


def state_masks(model: nn.Module, layout: StateLayout, state: torch.Tensor) -> dict[str, torch.Tensor]:
    """The pruning masks of one state: a conv's dropped filters lose all their weights (mask
    rows, shape (C_out, C_in, 1, ...)), a Linear layer's dropped inputs their columns (C_out, C_in).

    A BatchNorm channel's bit becomes its shortcut conv's filter (the conv just before it): in
    training mode a zero channel leaves the BatchNorm as its bias, exactly as a zero scale does,
    so the masks stay convolution and Linear masks (docs/edropout.md)."""
    masks, scales = {}, []
    for layer in layout.layers:
        bits = state[layer.offset : layer.offset + layer.units].to(torch.bool)
        if layer.kind == SCALES:
            scales.append((layer.name, bits))
            continue
        masks[layer.name] = _unit_mask(model.get_submodule(layer.name).weight, bits, layer.kind)
    for name, bits in scales:
        conv = _conv_before(model, name)
        folded = _unit_mask(model.get_submodule(conv).weight, bits, FILTERS)
        masks[conv] = masks[conv] & folded if conv in masks else folded
    return masks


def _unit_mask(weight: torch.Tensor, bits: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == FILTERS:
        mask = bits[:, None].expand(weight.shape[0], weight.shape[1])
    else:
        mask = bits[None, :].expand(weight.shape[0], weight.shape[1])
    return mask.reshape(*mask.shape, *([1] * (weight.dim() - 2))).clone()


def _conv_before(model: nn.Module, name: str) -> str:
    """The convolution just before BatchNorm ``name`` in its parent (``downsample.0`` for
    ``downsample.1``); PruningError when there is none."""
    parent, _, leaf = name.rpartition(".")
    siblings = list((model.get_submodule(parent) if parent else model).named_children())
    index = [child for child, _ in siblings].index(leaf)
    if index == 0 or not isinstance(siblings[index - 1][1], _CONVS):
        raise PruningError(f"EDropout: BatchNorm {name} follows no convolution, so its channels cannot be masked")
    return f"{parent}.{siblings[index - 1][0]}" if parent else siblings[index - 1][0]


def paper_keep_ratio(model: nn.Module, layout: StateLayout, state: torch.Tensor, coverage: str = PAPER) -> float:
    """The paper's R as the public code computes it (its ``kept_counter``); R is the weighted share
    of bits kept. A Linear input's bit weighs the layer's output count (the classes, for the
    classifier). A conv filter's bit weighs k x k x C_in + 1 (its weights and one more) at the
    published runs' commit (coverage ``published``), k x k alone in the later snapshot (the other
    presets); a BatchNorm channel's bit weighs 1. It is not a parameter ratio: it ignores the next
    layer's inputs a dropped filter removes."""
    kept = total = 0.0
    for layer in layout.layers:
        module = model.get_submodule(layer.name)
        if layer.kind == FILTERS:
            taps = float(module.weight.shape[2]) ** 2
            weight = taps * module.weight.shape[1] + 1 if coverage == PUBLISHED else taps
        elif layer.kind == SCALES:
            weight = 1.0
        else:
            weight = float(module.out_features)
        bits = state[layer.offset : layer.offset + layer.units]
        kept += weight * float(bits.sum())
        total += weight * layer.units
    return kept / total


def unit_structure(name: str, mask: torch.Tensor) -> str:
    """Whether a layer mask drops whole output filters (``"filters"``: every row of its
    (C_out, C_in) channel view all kept or all dropped) or whole inputs (``"inputs"``: columns).

    Raises
    ------
    PruningError
        If it does neither (the mask is not an EDropout-style unit mask).
    """
    channels = mask.to(torch.bool).reshape(mask.shape[0], mask.shape[1], -1).any(dim=2)
    rows_whole = bool((channels.all(dim=1) | ~channels.any(dim=1)).all())
    if rows_whole:
        return FILTERS
    if bool((channels.all(dim=0) | ~channels.any(dim=0)).all()):
        return INPUTS
    raise PruningError(f"layer {name}: the mask drops neither whole filters nor whole inputs")


def random_unit_masks(reference: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """The control EDropout's paper never ran: per layer, as many whole filters (or inputs) kept
    as in ``reference``, chosen uniformly at random from a seed derived
    from (seed, layer name).

    Returns masks of the same shapes as ``reference``.
    """
    masks = {}
    for name, mask in reference.items():
        kind = unit_structure(name, mask)
        channels = mask.to(torch.bool).reshape(mask.shape[0], mask.shape[1], -1).any(dim=2)
        kept = channels.any(dim=1) if kind == FILTERS else channels.any(dim=0)
        generator = torch.Generator().manual_seed(derive_seed(seed, "random-filters", name))
        chosen = torch.zeros(kept.numel(), dtype=torch.bool)
        chosen[torch.randperm(kept.numel(), generator=generator)[: int(kept.sum())]] = True
        unit = chosen[:, None] if kind == FILTERS else chosen[None, :]
        masks[name] = (
            unit.expand(mask.shape[0], mask.shape[1])
            .reshape(mask.shape[0], mask.shape[1], *([1] * (mask.dim() - 2)))
            .clone()
        )
    return masks
