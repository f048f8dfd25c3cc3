"""Mask recipes: how a layer's (C_out, C_in) channel mask is made. A registry, all seeded.

* ``relational`` — one n-node plan graph for every layer (RGP; graph2nn with ``self_loops``).
* ``xnet``, ``rreg-bipartite``, ``random-bipartite`` — an independent bipartite graph per layer,
  seeded from (mask seed, layer name).
* ``dense`` — every connection kept: the unpruned baseline through the same code path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from pruning.blocks import relational_mask
from pruning.errors import PruningError
from pruning.layers import LayerSelection, PrunableLayer, find_prunable_layers
from topology.errors import ParameterError
from topology.generators import generate
from topology.graph import GRAPH
from topology.plans import Plan
from topology.registry import Registry
from topology.seeding import derive_seed

NODES_POLICIES = ("error", "shrink")


@dataclass(frozen=True)
class MaskConfig:
    """How masks are made for a model."""

    recipe: str = "relational"  # registry name in MASK_RECIPES
    plan: Plan | None = None  # relational: the n-node graph applied to every layer
    degree: int | None = None  # per-layer recipes: inputs kept per output channel
    density: float | None = None  # per-layer recipes: fraction kept, instead of degree
    seed: int = 0  # mask seed: block permutations and per-layer graphs derive from it
    self_loops: bool = False  # relational: use A + I (graph2nn) instead of A (RGP)
    nodes_policy: str = "error"  # relational, layer narrower than the plan: "error" or "shrink"
    selection: LayerSelection = field(default_factory=LayerSelection)  # which layers are masked


MaskRecipe = Callable[[PrunableLayer, MaskConfig], np.ndarray]
MASK_RECIPES: Registry[MaskRecipe] = Registry("mask recipe")


@MASK_RECIPES.register("relational")
def relational(layer: PrunableLayer, config: MaskConfig) -> np.ndarray:
    """The plan's graph on channel blocks: ``mask[o, i] = A'[node(o), node(i)]``.

    ``A' = A`` gives density exactly d / n for a d-regular plan when n divides the channels;
    ``A' = A + I`` (``self_loops``) gives (2E + n) / n^2. A layer with fewer channels than the
    plan's n nodes is an error, unless ``nodes_policy="shrink"`` uses the subgraph induced by the
    first min(n, C_in, C_out) nodes.
    """
    plan = config.plan
    if plan is None:
        raise PruningError("recipe 'relational' needs a plan")
    if plan.kind != GRAPH:
        raise PruningError(f"{plan.path or 'plan'}: recipe 'relational' needs a graph plan, not a {plan.kind} plan")
    adjacency = plan.matrix
    nodes = adjacency.shape[0]
    smallest = min(layer.in_channels, layer.out_channels)
    if nodes > smallest:
        if config.nodes_policy != "shrink":
            raise PruningError(
                f"layer {layer.name} has {layer.out_channels} output and {layer.in_channels} input channels, "
                f"fewer than the plan's {nodes} nodes (use --nodes-policy shrink or --exclude '{layer.name}')"
            )
        adjacency = adjacency[:smallest, :smallest]
    if config.self_loops:
        adjacency = adjacency | np.eye(adjacency.shape[0], dtype=adjacency.dtype)
    return relational_mask(adjacency, layer.out_channels, layer.in_channels, config.seed)


def _per_layer(generator: str) -> MaskRecipe:
    def recipe(layer: PrunableLayer, config: MaskConfig) -> np.ndarray:
        if (config.degree is None) == (config.density is None):
            raise PruningError(f"recipe {generator!r} needs exactly one of degree and density")
        params = {"nodes": layer.out_channels, "nodes_in": layer.in_channels}
        if generator == "random-bipartite":
            params["p"] = config.density if config.density is not None else config.degree / layer.in_channels
        else:
            params["degree"], params["density"] = config.degree, config.density
        try:
            matrix = generate(generator, seed=derive_seed(config.seed, layer.name), **params)
        except ParameterError as error:
            raise PruningError(f"layer {layer.name} ({layer.out_channels}x{layer.in_channels}): {error}") from None
        return matrix.astype(bool)

    recipe.__doc__ = f"An independent {generator} bipartite graph per layer, seeded by (mask seed, layer name)."
    return recipe


for _generator in ("xnet", "rreg-bipartite", "random-bipartite"):
    MASK_RECIPES.register(_generator)(_per_layer(_generator))


@MASK_RECIPES.register("dense")
def dense(layer: PrunableLayer, config: MaskConfig) -> np.ndarray:
    """Every connection kept (density 1)."""
    return np.ones((layer.out_channels, layer.in_channels), dtype=bool)


def compute_masks(model: nn.Module, config: MaskConfig) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Channel masks for the layers of ``model`` selected by ``config.selection``.

    Returns
    -------
    masks : dict of str to torch.BoolTensor
        ``{qualified module name: (C_out, C_in) mask}``, broadcast over the kernel when applied.
    notices : list of str
        Layers that were skipped and why (e.g. grouped convolutions).
    """
    if config.nodes_policy not in NODES_POLICIES:
        raise PruningError(f"nodes policy must be one of {', '.join(NODES_POLICIES)}, got {config.nodes_policy!r}")
    recipe = MASK_RECIPES.get(config.recipe)
    layers, notices = find_prunable_layers(model, config.selection)
    if not layers:
        raise PruningError("no layer to prune: check --include/--exclude and --prune-first/--prune-last")
    masks = {layer.name: torch.from_numpy(np.ascontiguousarray(recipe(layer, config))) for layer in layers}
    return masks, notices
