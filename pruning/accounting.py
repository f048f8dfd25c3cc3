"""Per-layer and whole-model accounting of a masked model, counted from the masks.

Weights kept/total come from the mask broadcast over the weight. Multiply-accumulates (MACs)
are counted at a given input size with forward hooks on one dummy batch: a convolution or
linear layer performs (kept weights) x (output positions) MACs per example, where the output
positions are H_out x W_out for Conv2d, L_out for Conv1d and the leading dims for Linear.
Bias additions, BatchNorm and activations are not counted as MACs (the usual convention);
parameter totals include every parameter: dense layers, BatchNorm and biases.

A module used by several layers (a shared filter basis) has its parameters counted once, as
``model.parameters()`` does, and its MACs at every call: its output positions are summed over
the calls of one forward pass.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from pruning.errors import PruningError
from pruning.layers import PRUNABLE_TYPES, grouped_connections, module_groups
from pruning.masking import ORIGINAL_SUFFIX, current_masks, weight_of
from topology.metrics import compute_metrics

#: Bipartite metrics reported for each masked layer (docs/architecture.md, metric definitions).
LAYER_GRAPH_METRICS = (
    "out_degree_min",
    "out_degree_mean",
    "out_degree_max",
    "in_degree_min",
    "in_degree_mean",
    "in_degree_max",
    "spectral_gap",
    "ramanujan_margin",
    "vertex_expansion",
)


@dataclass
class LayerSummary:
    """One conv/linear layer. ``macs_*`` are per example; None when no input size was given."""

    name: str
    type: str
    shape: str  # weight shape, e.g. "128x64x3x3"
    masked: bool
    weights_kept: int
    weights_total: int
    density: float  # weights_kept / weights_total
    isolated_inputs: int  # input channels with no kept connection (dead inputs)
    isolated_outputs: int  # output channels with no kept connection (dead units)
    macs_kept: int | None = None
    macs_total: int | None = None
    uses: int | None = None  # calls in one forward pass (> 1: a shared module); None without an input size
    graph: dict = field(default_factory=dict)  # bipartite metrics of the channel mask


@dataclass
class PruneSummary:
    """Per-layer rows and model totals."""

    layers: list[LayerSummary]
    params_kept: int
    params_total: int
    macs_kept: int | None
    macs_total: int | None
    input_shape: tuple[int, ...] | None

    @property
    def params_fraction(self) -> float:
        return self.params_kept / self.params_total if self.params_total else 1.0

    @property
    def flops_kept(self) -> int | None:
        """Floating-point operations of the kept multiply-accumulates: 2 x MACs (a multiply and an
        add each), the convention of papers that count FLOPs (others call MACs "FLOPs")."""
        return None if self.macs_kept is None else 2 * self.macs_kept

    @property
    def flops_total(self) -> int | None:
        return None if self.macs_total is None else 2 * self.macs_total

    @property
    def shared_layers(self) -> list[LayerSummary]:
        """Layers whose module is called more than once per forward pass (shared modules)."""
        return [layer for layer in self.layers if (layer.uses or 0) > 1]

    @property
    def params_unshared(self) -> int:
        """Parameters kept if every use of a shared module had its own copy (what sharing saves
        is this minus ``params_kept``)."""
        return self.params_kept + sum((layer.uses - 1) * layer.weights_kept for layer in self.shared_layers)

    def to_dict(self) -> dict:
        return {
            "input_size": list(self.input_shape) if self.input_shape else None,
            "params_kept": self.params_kept,
            "params_total": self.params_total,
            "params_fraction": self.params_fraction,
            "macs_kept": self.macs_kept,
            "macs_total": self.macs_total,
            "flops_kept": self.flops_kept,
            "flops_total": self.flops_total,
            "layers": [asdict(layer) for layer in self.layers],
        }

    def rows(self) -> list[dict]:
        """Flat rows for a CSV: one per layer (graph metrics as columns) plus a ``TOTAL`` row."""
        rows = []
        for layer in self.layers:
            row = {k: v for k, v in asdict(layer).items() if k != "graph"}
            row.update({metric: layer.graph.get(metric) for metric in LAYER_GRAPH_METRICS})
            rows.append(row)
        rows.append(
            {
                "name": "TOTAL",
                "type": "model",
                "shape": "",
                "masked": any(layer.masked for layer in self.layers),
                "weights_kept": self.params_kept,
                "weights_total": self.params_total,
                "density": self.params_fraction,
                "isolated_inputs": sum(layer.isolated_inputs for layer in self.layers),
                "isolated_outputs": sum(layer.isolated_outputs for layer in self.layers),
                "macs_kept": self.macs_kept,
                "macs_total": self.macs_total,
            }
        )
        return rows


#: Layer-graph metrics averaged over a model's masked layers into the results row (``layer_<name>``).
MODEL_LAYER_METRICS = ("spectral_gap", "ramanujan_margin", "vertex_expansion")


def layer_graph_columns(summary: PruneSummary) -> dict:
    """Means over the masked layers of :data:`MODEL_LAYER_METRICS` (``layer_<name>``, NaN-free
    layers only; None without masked layers), and the dead channels summed over them:
    ``dead_inputs`` (input channels feeding nothing) and ``dead_outputs`` (outputs with no input)."""
    masked = [layer for layer in summary.layers if layer.masked]
    columns = {}
    for name in MODEL_LAYER_METRICS:
        values = [layer.graph.get(name) for layer in masked]
        values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        columns[f"layer_{name}"] = sum(values) / len(values) if values else None
    columns["dead_inputs"] = sum(layer.isolated_inputs for layer in masked)
    columns["dead_outputs"] = sum(layer.isolated_outputs for layer in masked)
    return columns


def output_positions(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Output positions per example of every conv/linear module, summed over its calls in one
    forward pass (see :func:`forward_counts`)."""
    return forward_counts(model, input_shape)[0]


def forward_counts(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[dict[str, int], dict[str, int]]:
    """Output positions per example of every conv/linear module, summed over all its calls in
    one forward pass, and the number of calls (a module shared by several layers is called once
    per use; it is named by its first name in ``model.named_modules()``).

    Raises
    ------
    PruningError
        If the model rejects an input of ``input_shape`` (C, H, W) / (C, L) / (F,).
    """
    positions: dict[str, int] = {}
    calls: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, PRUNABLE_TYPES):

            def hook(mod, _inputs, output, name=name):
                # Output is (N, C_out, *spatial) for convs and (N, *, F_out) for linear layers.
                channels = mod.out_features if isinstance(mod, nn.Linear) else mod.out_channels
                positions[name] = positions.get(name, 0) + output.numel() // (output.shape[0] * channels)
                calls[name] = calls.get(name, 0) + 1

            handles.append(module.register_forward_hook(hook))
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((2, *input_shape), device=device))
    except Exception as error:  # any failure of a user's model on this input means the size is wrong
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PruningError(f"the model rejects input size {'x'.join(map(str, input_shape))}: {message}") from None
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return positions, calls


def channel_view(mask: torch.Tensor) -> torch.Tensor:
    """(C_out, C_in) bool: a connection is kept if any kernel entry of it is kept."""
    mask = mask.to(torch.bool)
    return mask.reshape(mask.shape[0], mask.shape[1], -1).any(dim=2) if mask.dim() > 2 else mask


def layer_summary(
    name: str,
    layer_type: str,
    weight_shape: tuple[int, ...],
    mask: torch.Tensor | None,
    positions: int | None,
    uses: int | None = None,
    groups: int = 1,
) -> LayerSummary:
    """Account for one layer with weight of ``weight_shape`` under ``mask`` (None: dense);
    ``positions`` are its output positions per example summed over its ``uses`` calls; a
    grouped convolution's isolated channels are counted on its (C_out, C_in) connections."""
    total = math.prod(weight_shape)
    if mask is not None:
        full = mask.to(torch.bool).expand(weight_shape)
        kept = int(full.sum())
        channels = grouped_connections(channel_view(full), groups)
    else:
        kept = total
        channels = torch.ones(weight_shape[0], weight_shape[1] if len(weight_shape) > 1 else 1, dtype=torch.bool)
    return LayerSummary(
        name=name,
        type=layer_type,
        shape="x".join(map(str, weight_shape)),
        masked=mask is not None,
        weights_kept=kept,
        weights_total=total,
        density=kept / total if total else 1.0,
        isolated_inputs=int((~channels.any(dim=0)).sum()),
        isolated_outputs=int((~channels.any(dim=1)).sum()),
        macs_kept=None if positions is None else kept * positions,
        macs_total=None if positions is None else total * positions,
        uses=uses,
    )


def _attach_graph_metrics(
    layers: list[LayerSummary],
    masks: dict[str, torch.Tensor],
    shapes: dict[str, tuple[int, ...]],
    groups: dict[str, int],
) -> None:
    """Fill ``layer.graph`` with the bipartite metrics of each masked layer's (C_out, C_in) connections."""
    masked = [layer.name for layer in layers if layer.masked]
    if not masked:
        return
    channel_masks = [
        grouped_connections(channel_view(masks[name].to(torch.bool).expand(shapes[name])).cpu(), groups[name])
        .numpy()
        .astype("uint8")
        for name in masked
    ]
    for name, metrics in zip(masked, compute_metrics(channel_masks, kind="bipartite", names=LAYER_GRAPH_METRICS)):
        next(layer for layer in layers if layer.name == name).graph = metrics


def summarize(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> PruneSummary:
    """Account for every conv/linear layer of ``model`` and the whole model.

    Parameters
    ----------
    model : nn.Module
        With or without masks applied (:func:`pruning.apply_masks`).
    input_shape : tuple of int, optional
        One example's shape, e.g. (3, 32, 32); without it, MACs are not counted.
    """
    masks = current_masks(model)
    positions, calls = forward_counts(model, input_shape) if input_shape else ({}, {})
    layers, shapes, groups = [], {}, {}
    for name, module in model.named_modules():
        if isinstance(module, PRUNABLE_TYPES):
            shapes[name], groups[name] = tuple(weight_of(module).shape), module_groups(module)
            layer_type = type(module).__name__.removeprefix("Parametrized")
            layers.append(
                layer_summary(
                    name,
                    layer_type,
                    shapes[name],
                    masks.get(name),
                    positions.get(name),
                    calls.get(name, 0) if input_shape else None,
                    groups[name],
                )
            )
    _attach_graph_metrics(layers, masks, shapes, groups)
    return _totals(layers, sum(p.numel() for p in model.parameters()), input_shape)


def _totals(layers: list[LayerSummary], params_total: int, input_shape: tuple[int, ...] | None) -> PruneSummary:
    removed = sum(layer.weights_total - layer.weights_kept for layer in layers)
    counted = [layer for layer in layers if layer.macs_kept is not None]
    return PruneSummary(
        layers=layers,
        params_kept=params_total - removed,
        params_total=params_total,
        macs_kept=sum(layer.macs_kept for layer in counted) if input_shape else None,
        macs_total=sum(layer.macs_total for layer in counted) if input_shape else None,
        input_shape=tuple(input_shape) if input_shape else None,
    )


#: state_dict entries that are buffers, not parameters, in the layers topoprune knows.
BUFFER_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked", ".mask", "_mask")


def summarize_state_dict(state_dict: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]) -> PruneSummary:
    """Accounting without the model: weight shapes from the state_dict, no MACs.

    Every masked layer is listed once (a shared module's mask, saved under each of its names, by
    its first name). Parameters are the state_dict's tensors other than masks and
    BatchNorm running statistics, a tensor saved under several names (a shared module's) once;
    with an empty state_dict (masks only) they are the masked layers' weights. Without the model
    a layer's groups are unknown: a grouped convolution's (C_out, C_in / G) mask is read as its
    graph (``summarize`` with the model places each row in its group).
    """
    layers, shapes = [], {}
    seen = set()
    for name, mask in masks.items():
        if _memory_key(mask) in seen:  # the same mask again: a shared module under another of its names
            continue
        seen.add(_memory_key(mask))
        weight = state_dict.get(name + ORIGINAL_SUFFIX, state_dict.get(name + ".weight"))
        shapes[name] = tuple(weight.shape) if weight is not None else tuple(mask.shape)
        layers.append(layer_summary(name, "layer", shapes[name], mask, None))
    _attach_graph_metrics(layers, {layer.name: masks[layer.name] for layer in layers}, shapes, dict.fromkeys(shapes, 1))
    total = sum(
        tensor.numel()
        for tensor in _distinct_tensors(v for k, v in state_dict.items() if not k.endswith(BUFFER_SUFFIXES))
    )
    return _totals(layers, total or sum(layer.weights_total for layer in layers), None)


def _distinct_tensors(tensors) -> list[torch.Tensor]:
    """``tensors`` without repeats of the same memory: a shared module's weights appear in a
    state_dict under every name it has, as views of one storage (``torch.save`` keeps that)."""
    seen, distinct = set(), []
    for tensor in tensors:
        if tensor.numel() and _memory_key(tensor) in seen:
            continue
        seen.add(_memory_key(tensor))
        distinct.append(tensor)
    return distinct


def _memory_key(tensor: torch.Tensor) -> tuple:
    """Equal for two tensors that view the same memory the same way."""
    return tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tuple(tensor.stride())
