"""The whole-network graph of a model: channels as nodes, kept connections as edges.

Nodes are the input's channels and the output channels (units) of every convolution and Linear
layer, masked or dense, in the order the forward calls them. An edge joins output channel o of
a layer to every node that feeds the layer's input channel i when the mask keeps (o, i) (all
pairs for a dense layer; within groups for a grouped convolution). What feeds a channel is
traced through the model with ``torch.fx``: normalisation, activations, pooling and dropout pass
a channel through, additions and multiplications join the channels that meet (so a residual
block's output channel is fed by the block's last convolution and by its shortcut: the block
input's channels, or the downsampling convolution), concatenation stacks them, and flattening
maps each feature to its channel. The graph answers graph2nn's question — what is the path
length of the network as a whole? — for any pruned model.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.fx import GraphModule, Tracer
from torch.fx.passes.shape_prop import ShapeProp

from pruning.errors import PruningError
from topology.graph import sparse_from_pairs

WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
JOIN_FUNCTIONS = {
    operator.add,
    operator.iadd,
    operator.mul,
    operator.imul,
    operator.sub,
    torch.add,
    torch.mul,
    torch.sub,
}
JOIN_METHODS = {"add", "add_", "mul", "mul_", "sub", "sub_"}
CONCAT = {torch.cat, torch.concat}
RESHAPE_FUNCTIONS = {torch.flatten, torch.reshape}
RESHAPE_METHODS = {"flatten", "view", "reshape"}


@dataclass(frozen=True)
class NetworkGraph:
    """A model's channel graph.

    Attributes
    ----------
    adjacency : scipy.sparse.csr_array of uint8, shape (N, N)
        Symmetric 0/1 adjacency over all N channel nodes.
    layers : list of (name, start, stop)
        The node range [start, stop) of each layer's output channels; ``"input"`` first.
    """

    adjacency: sp.csr_array
    layers: list[tuple[str, int, int]]

    @property
    def nodes(self) -> int:
        return int(self.adjacency.shape[0])


class _LeafTracer(Tracer):
    """Treats every conv and Linear module (masked ones are parametrized subclasses) as a leaf."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return isinstance(module, WEIGHTED) or super().is_leaf_module(module, qualified_name)


def _trace(model: nn.Module, example: torch.Tensor) -> GraphModule:
    try:
        graph = _LeafTracer().trace(model)
    except Exception as error:  # fx raises many kinds for data-dependent control flow
        raise PruningError(
            f"cannot trace {type(model).__name__} with torch.fx to find which layer feeds which "
            f"({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''})"
        ) from None
    module = GraphModule(model, graph)
    with torch.no_grad():
        ShapeProp(module).propagate(example)
    return module


def _shape(node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _layer_connections(module: nn.Module, mask: torch.Tensor | None, in_channels: int) -> sp.csr_array:
    """(C_out, C_in) 0/1 connections of a layer: its mask's channel view, or all pairs (within
    groups), for a dense layer."""
    out_channels = module.weight.shape[0]
    groups = getattr(module, "groups", 1)
    per_group = module.weight.shape[1]
    if mask is not None:
        view = mask.to(torch.bool).reshape(out_channels, mask.shape[1], -1).any(dim=2).numpy()
    else:
        view = np.ones((out_channels, per_group), dtype=bool)
    rows, local = np.nonzero(view)
    group_of_row = rows // (out_channels // groups)
    return sparse_from_pairs((out_channels, in_channels), rows, local + group_of_row * per_group)


def network_graph(
    model: nn.Module, input_shape: tuple[int, ...], masks: dict[str, torch.Tensor] | None = None
) -> NetworkGraph:
    """Build the channel graph of ``model`` (see the module docstring).

    Parameters
    ----------
    model : nn.Module
        Traced in eval mode on one zero example of shape ``input_shape`` (C, ...).
    input_shape : tuple of int
        One example's shape, channels first.
    masks : dict, optional
        ``{layer name: mask}`` of (C_out, C_in) or the weight's shape; layers without one are
        dense. Default: the masks applied to ``model``.

    Raises
    ------
    PruningError
        If the model cannot be traced or uses an operation whose channel mapping is unknown.
    """
    from pruning.masking import current_masks

    masks = current_masks(model) if masks is None else masks
    was_training = model.training
    model.eval()
    try:
        traced = _trace(model, torch.zeros(1, *input_shape))
    finally:
        model.train(was_training)
    modules = dict(traced.named_modules())
    total = input_shape[0] + sum(
        modules[n.target].weight.shape[0]
        for n in traced.graph.nodes
        if n.op == "call_module" and isinstance(modules[n.target], WEIGHTED)
    )
    feeds: dict = {}
    layers: list[tuple[str, int, int]] = []
    edge_rows, edge_cols = [], []
    next_node = 0
    for node in traced.graph.nodes:
        shape = _shape(node)
        if node.op == "placeholder":
            channels = input_shape[0]
            feeds[node] = sp.csr_array(
                (np.ones(channels, dtype=np.uint8), (np.arange(channels), np.arange(channels))), shape=(channels, total)
            )
            layers.append(("input", 0, channels))
            next_node = channels
            continue
        if node.op == "output" or shape is None:
            continue
        sources = [feeds[arg] for arg in node.all_input_nodes if arg in feeds]
        if node.op == "call_module" and isinstance(modules[node.target], WEIGHTED):
            module = modules[node.target]
            source = feeds.get(node.args[0])
            if source is None:
                raise PruningError(f"layer {node.target}: its input comes from nowhere the trace can follow")
            connections = _layer_connections(module, masks.get(node.target), source.shape[0])
            reached = (connections.astype(np.int64) @ source.astype(np.int64)).tocoo()
            out_channels = module.weight.shape[0]
            edge_rows.append(reached.row.astype(np.int64) + next_node)
            edge_cols.append(reached.col.astype(np.int64))
            layers.append((node.target, next_node, next_node + out_channels))
            feeds[node] = sp.csr_array(
                (
                    np.ones(out_channels, dtype=np.uint8),
                    (np.arange(out_channels), np.arange(next_node, next_node + out_channels)),
                ),
                shape=(out_channels, total),
            )
            next_node += out_channels
            continue
        if not sources:
            continue
        module = modules.get(node.target) if node.op == "call_module" else None
        feeds[node] = _propagate(node, shape, sources, module)
    if not edge_rows:
        raise PruningError(f"{type(model).__name__} has no convolution or Linear layer the trace reaches")
    rows, cols = np.concatenate(edge_rows), np.concatenate(edge_cols)
    return NetworkGraph(sparse_from_pairs((total, total), rows, cols, symmetric=True), layers)


def _channels(shape: tuple[int, ...]) -> int:
    return shape[1] if len(shape) > 1 else shape[0]


def _channel_padding(node, source_shape: tuple[int, ...] | None) -> tuple[int, int] | None:
    """(before, after) channels added by ``F.pad`` (an option-A shortcut), or None."""
    pads = node.args[1] if len(node.args) > 1 else node.kwargs.get("pad")
    if source_shape is None or pads is None or len(source_shape) < 2:
        return None
    position = 2 * (len(source_shape) - 2)  # pads run from the last dimension backwards
    if len(pads) < position + 2:
        return (0, 0)
    return int(pads[position]), int(pads[position + 1])


def _propagate(
    node, shape: tuple[int, ...], sources: list[sp.csr_array], module: nn.Module | None = None
) -> sp.csr_array:
    """What feeds each channel of ``node``'s output, from what feeds its inputs' channels."""
    channels = _channels(shape)
    target, op = node.target, node.op
    if op == "call_function" and target is torch.nn.functional.pad and len(sources) == 1:
        padding = _channel_padding(node, _shape(node.args[0]))
        if padding is not None and sum(padding) + sources[0].shape[0] == channels:
            width = sources[0].shape[1]
            return sp.vstack(
                [
                    sp.csr_array((padding[0], width), dtype=np.uint8),
                    sources[0],
                    sp.csr_array((padding[1], width), dtype=np.uint8),
                ],
                format="csr",
            )
    if isinstance(module, (nn.Flatten, nn.Unflatten)):
        op, target = "call_method", "flatten"
    if (op == "call_function" and target in CONCAT) or (op == "call_method" and target == "cat"):
        stacked = sp.vstack(sources, format="csr")
        if stacked.shape[0] == channels:
            return stacked
    if (op == "call_function" and target in RESHAPE_FUNCTIONS) or (op == "call_method" and target in RESHAPE_METHODS):
        source = sources[0]
        if channels % source.shape[0] == 0:
            per_channel = channels // source.shape[0]
            return sp.csr_array(source[np.repeat(np.arange(source.shape[0]), per_channel)])
    same = [source for source in sources if source.shape[0] == channels]
    if same and (
        len(same) == len(sources)
        or (op == "call_function" and target in JOIN_FUNCTIONS)
        or (op == "call_method" and target in JOIN_METHODS)
    ):
        joined = same[0]
        for source in same[1:]:
            joined = joined + source
        joined.data[:] = 1
        return sp.csr_array(joined)
    if len(sources) == 1 and channels == 1:
        return sp.csr_array(sources[0].sum(axis=0, keepdims=True) > 0, dtype=np.uint8)
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    raise PruningError(
        f"network graph: operation {name!r} ({op}) maps {[s.shape[0] for s in sources]} channel(s) to {channels}; "
        "the trace cannot tell which channel feeds which"
    )
