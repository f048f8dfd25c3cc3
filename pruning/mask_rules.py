"""Mask rules: how a layer's (C_out, C_in) channel mask is made (``prune apply --recipe``; a training
recipe, trainer/recipes.py, names the mask rule it masks with). A registry, all seeded.

* ``relational`` — one n-node plan graph for every layer (RGP; graph2nn with ``self_loops``).
* ``xnet``, ``rreg-bipartite``, ``random-bipartite`` — an independent bipartite graph per layer,
  seeded from (mask seed, layer name).
* ``dense`` — every connection kept: the unpruned baseline through the same code path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from common.columns import BASELINE_RECIPE
from common.errors import ParameterError
from common.registry import Registry
from common.seeding import derive_seed
from pruning.blocks import relational_mask
from pruning.degree_sides import DEGREE_SIDES, fixed_on_inputs
from pruning.errors import PruningError
from pruning.layers import LayerSelection, PrunableLayer, find_prunable_layers, grouped_connections
from topology.generators import generate
from topology.graph import BIPARTITE, GRAPH, as_dense
from topology.metrics import compute_metrics
from topology.plans import Plan

NODES_POLICIES = ("error", "shrink")
#: Layer-graph metrics ``best_of`` can select by (larger is better for each).
SELECT_BY = ("vertex_expansion", "spectral_gap", "ramanujan_margin", "mean_set_expansion")
RELATIONAL = "relational"
#: A per-layer degree at least the other side's channel count: refused, or the layer kept dense
#: (what the expanders paper's code makes of such a layer).
DEGREE_OVERFLOW = ("error", "dense")
DENSE = BASELINE_RECIPE
#: Only the model's own X-layers are masked.
MODEL_WIRING = "model"
#: Recipes that draw a random graph per layer (the ones ``best_of`` applies to), named after their generators.
PER_LAYER_RECIPES = ("xnet", "rreg-bipartite", "random-bipartite")


@dataclass(frozen=True)
class MaskConfig:
    """How masks are made for a model."""

    rule: str = RELATIONAL  # registry name in MASK_RULES (prune apply's --recipe)
    plan: Plan | None = None  # relational: the n-node graph applied to every layer
    degree: int | None = None  # per-layer recipes: inputs kept per output channel
    density: float | None = None  # per-layer recipes: fraction kept, instead of degree
    seed: int = 0  # mask seed: block permutations and per-layer graphs derive from it
    self_loops: bool = False  # relational: use A + I (graph2nn) instead of A (RGP)
    nodes_policy: str = "error"  # relational, layer narrower than the plan: "error" or "shrink"
    selection: LayerSelection = field(default_factory=LayerSelection)  # which layers are masked
    degree_side: str = "outputs"  # per-layer: a name from DEGREE_SIDES (pruning/degree_sides.py)
    best_of: int = 1  # per-layer: draw this many graphs per layer and keep the best by select_by
    select_by: str = "vertex_expansion"  # per-layer, best_of > 1: a name from SELECT_BY
    draw: int = 0  # per-layer: which draw of the layer's graph (0 is the seed's first draw)
    degree_overflow: str = "error"  # per-layer, degree >= the other side's channels: "error" or "dense"

    def validate(self) -> MaskConfig:
        """Raise PruningError for impossible values; returns self."""
        if self.rule == RELATIONAL and self.plan is None:
            raise PruningError(f"the {RELATIONAL} recipe needs a plan (--plan)")
        if self.rule != RELATIONAL and self.plan is not None:
            raise PruningError(
                f"--plan is only used by --recipe {RELATIONAL}; {self.rule!r} takes --degree or --density"
            )
        if self.nodes_policy not in NODES_POLICIES:
            raise PruningError(f"nodes policy must be one of {', '.join(NODES_POLICIES)}, got {self.nodes_policy!r}")
        if self.degree_side not in DEGREE_SIDES:
            raise PruningError(f"degree side must be one of {', '.join(DEGREE_SIDES)}, got {self.degree_side!r}")
        if self.degree_overflow not in DEGREE_OVERFLOW:
            raise PruningError(
                f"degree overflow must be one of {', '.join(DEGREE_OVERFLOW)}, got {self.degree_overflow!r}"
            )
        if self.select_by not in SELECT_BY:
            raise PruningError(f"select-by must be one of {', '.join(SELECT_BY)}, got {self.select_by!r}")
        if self.best_of < 1:
            raise PruningError(f"best-of must be at least 1, got {self.best_of}")
        if self.best_of > 1 and self.rule not in PER_LAYER_RECIPES:
            raise PruningError(
                f"best-of draws random layer graphs; recipe {self.rule!r} has none (use {', '.join(PER_LAYER_RECIPES)})"
            )
        return self


MaskRule = Callable[[PrunableLayer, MaskConfig], np.ndarray]
MASK_RULES: Registry[MaskRule] = Registry("mask recipe")


@MASK_RULES.register(RELATIONAL)
def relational(layer: PrunableLayer, config: MaskConfig) -> np.ndarray:
    """The plan's graph on channel blocks: ``mask[o, i] = A'[node(o), node(i)]``.

    ``A' = A`` gives density exactly d / n for a d-regular plan when n divides the channels;
    ``A' = A + I`` (``self_loops``) gives (2E + n) / n^2. A layer with fewer channels than the
    plan's n nodes is an error, unless ``nodes_policy="shrink"`` uses the subgraph induced by the
    first min(n, C_in, C_out) nodes.
    """
    plan = config.plan
    if plan.kind != GRAPH:
        raise PruningError(f"{plan.path or 'plan'}: recipe {RELATIONAL!r} needs a graph plan, not a {plan.kind} plan")
    adjacency = plan.matrix
    nodes = adjacency.shape[0]
    smallest = min(layer.in_channels, layer.out_channels)
    if nodes > smallest:
        if config.nodes_policy != "shrink":
            raise PruningError(
                f"{plan.path or 'plan'}: layer {layer.name} has {layer.out_channels} output and {layer.in_channels} "
                f"input channels, fewer than the plan's {nodes} nodes (use a plan of at most {smallest} nodes, "
                f"--nodes-policy shrink, or --exclude '{layer.name}')"
            )
        adjacency = adjacency[:smallest, :smallest]
    adjacency = as_dense(adjacency, str(plan.path or "plan"))
    if config.self_loops:
        adjacency = adjacency | np.eye(adjacency.shape[0], dtype=adjacency.dtype)
    return relational_mask(adjacency, layer.out_channels, layer.in_channels, config.seed)


def degree_on_inputs(layer: PrunableLayer, side: str) -> bool:
    """True when ``side`` puts the fixed degree on the input channels of ``layer`` (pruning.degree_sides)."""
    return fixed_on_inputs(layer.in_channels, layer.out_channels, side)


def _per_layer(generator: str) -> MaskRule:
    def recipe(layer: PrunableLayer, config: MaskConfig) -> np.ndarray:
        if (config.degree is None) == (config.density is None):
            raise PruningError(f"recipe {generator!r} needs exactly one of degree and density")
        # The generators fix the degree of their rows; to fix it on the inputs, draw the
        # transposed (input x output) graph and transpose it back.
        transposed = degree_on_inputs(layer, config.degree_side)
        rows, columns = (
            (layer.in_channels, layer.out_channels) if transposed else (layer.out_channels, layer.in_channels)
        )
        if config.degree_overflow == "dense" and config.degree is not None and config.degree >= columns:
            return np.ones((layer.out_channels, layer.in_channels), dtype=bool)
        params = {"nodes": rows, "nodes_in": columns}
        if generator == "random-bipartite":
            params["p"] = config.density if config.density is not None else config.degree / columns
        else:
            params["degree"], params["density"] = config.degree, config.density
        labels = (layer.name,) if config.draw == 0 else (layer.name, f"draw{config.draw}")
        try:
            matrix = generate(generator, seed=derive_seed(config.seed, *labels), form="dense", **params)
        except ParameterError as error:
            raise PruningError(f"layer {layer.name} ({layer.out_channels}x{layer.in_channels}): {error}") from None
        return (matrix.T if transposed else matrix).astype(bool)

    recipe.__doc__ = f"An independent {generator} bipartite graph per layer, seeded by (mask seed, layer name[, draw])."
    return recipe


for _generator in PER_LAYER_RECIPES:
    MASK_RULES.register(_generator)(_per_layer(_generator))


@MASK_RULES.register(DENSE)
def dense(layer: PrunableLayer, config: MaskConfig) -> np.ndarray:
    """Every connection kept (density 1)."""
    return np.ones((layer.out_channels, layer.in_channels), dtype=bool)


@MASK_RULES.register(MODEL_WIRING)
def model_structure(layer: PrunableLayer, config: MaskConfig) -> np.ndarray:
    """Nothing removed by the recipe: only the model's own wiring (its X-layers) is masked."""
    return np.ones((layer.out_channels, layer.in_channels), dtype=bool)


@dataclass
class MaskSet:
    """Masks computed for a model, with what the user should know about them.

    Attributes
    ----------
    masks : dict of str to torch.BoolTensor
        ``{qualified module name: (C_out, C_in / groups) mask}``, broadcast over the kernel when applied.
    notices : list of str
        One line per skipped layer (e.g. depthwise convolutions), per layer that leaves input
        channels unconnected, and per best-of choice.
    draws : dict of str to dict
        With ``best_of > 1``: per layer, the kept draw and every draw's score.
    """

    masks: dict[str, torch.Tensor]
    notices: list[str]
    draws: dict[str, dict] = field(default_factory=dict)


def _best_draw(layer: PrunableLayer, rule: MaskRule, config: MaskConfig) -> tuple[np.ndarray, dict]:
    """The best of ``config.best_of`` draws of the layer's graph by ``config.select_by`` (first on ties)."""
    candidates = [np.asarray(rule(layer, replace(config, draw=k)), dtype=np.uint8) for k in range(config.best_of)]
    scores = [
        metrics[config.select_by] for metrics in compute_metrics(candidates, kind=BIPARTITE, names=[config.select_by])
    ]
    scores = [float(value) for value in scores]
    best = int(np.nanargmax(scores)) if np.isfinite(scores).any() else 0
    return candidates[best].astype(bool), {
        "kept_draw": best,
        "draws": config.best_of,
        "select_by": config.select_by,
        "scores": scores,
    }


def unconnected_notices(name: str, mask: np.ndarray) -> list[str]:
    """Lines for input channels that feed nothing and output channels that get nothing.

    Parameters
    ----------
    name : str
        The layer's qualified name.
    mask : numpy.ndarray of bool, shape (C_out, C_in)
    """
    mask = np.asarray(mask, dtype=bool)
    unused_inputs = int((~mask.any(axis=0)).sum())
    dead_outputs = int((~mask.any(axis=1)).sum())
    lines = []
    if unused_inputs:
        lines.append(f"{name}: {unused_inputs} of {mask.shape[1]} input channels are unconnected (they feed no output)")
    if dead_outputs:
        lines.append(f"{name}: {dead_outputs} of {mask.shape[0]} output channels get no input (dead units)")
    return lines


def _layer_mask(layer: PrunableLayer, rule: MaskRule, config: MaskConfig) -> tuple[np.ndarray, dict | None]:
    """One (group of a) layer's channel mask, and the best-of record when ``config.best_of > 1``."""
    if config.best_of > 1:
        return _best_draw(layer, rule, config)
    return np.asarray(rule(layer, config), dtype=bool), None


def compute_mask_set(model: nn.Module, config: MaskConfig) -> MaskSet:
    """Channel masks for the layers of ``model`` selected by ``config.selection``, with notices.

    A grouped convolution's mask is made group by group (each group a layer of
    C_out / G x C_in / G channels named ``<layer>[group j]``) and stacked: (C_out, C_in / G).
    With ``config.best_of > 1`` each layer's graph is drawn that many times (draw 0 is the
    graph ``best_of = 1`` gives) and the draw with the largest ``config.select_by`` is kept.
    """
    config.validate()
    rule = MASK_RULES.get(config.rule)
    layers, notices = find_prunable_layers(model, config.selection)
    if not layers:
        raise PruningError("no layer to prune: check --include/--exclude and --prune-first/--prune-last")
    masks, draws = {}, {}
    for layer in layers:
        rows = []
        for view in layer.group_views():
            matrix, chosen = _layer_mask(view, rule, config)
            rows.append(matrix)
            if chosen is not None:
                draws[view.name] = chosen
                notices.append(
                    f"{view.name}: kept draw {chosen['kept_draw']} of {config.best_of} by {config.select_by} "
                    f"({chosen['scores'][chosen['kept_draw']]:.4g}; every draw: "
                    f"{', '.join(f'{score:.4g}' for score in chosen['scores'])})"
                )
        matrix = np.concatenate(rows, axis=0)
        masks[layer.name] = torch.from_numpy(np.ascontiguousarray(matrix))
        notices += unconnected_notices(layer.name, grouped_connections(matrix, layer.groups))
    return MaskSet(masks, notices, draws)


def compute_masks(model: nn.Module, config: MaskConfig) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``(masks, notices)`` of :func:`compute_mask_set`."""
    result = compute_mask_set(model, config)
    return result.masks, result.notices
