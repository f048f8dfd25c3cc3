"""``topo show``: a plan drawn on a circle beside its adjacency matrix, key metrics in the title."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from common.atomic import atomic_open
from common.errors import ParameterError
from topology.graph import DENSE_MAX_NODES, GRAPH
from topology.plans import Plan

TITLE_METRICS = {
    GRAPH: ("aspl", "clustering", "spectral_gap", "diameter"),
    "bipartite": ("density", "out_degree_mean", "isolated_inputs", "ramanujan_margin"),
}


def _title(plan: Plan, metrics: dict) -> str:
    name = plan.path.stem if plan.path else "plan"
    shape = "x".join(map(str, plan.matrix.shape))
    parts = [
        f"{key}={metrics[key]:.4g}" for key in TITLE_METRICS[plan.kind] if isinstance(metrics.get(key), (int, float))
    ]
    return f"{name}  ({plan.kind}, {shape}, {plan.edges} edges)\n" + "  ".join(parts)


def _circle_segments(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Node positions and edge segments: a circle for a graph, two columns for a biadjacency."""
    if plan.kind == GRAPH:
        n = plan.nodes
        angle = 2 * np.pi * np.arange(n) / n
        position = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        rows, cols = np.nonzero(np.triu(plan.matrix))
        return position, np.stack([position[rows], position[cols]], axis=1)
    n_out, n_in = plan.matrix.shape
    outputs = np.stack([np.ones(n_out), np.linspace(1, -1, n_out)], axis=1)
    inputs = np.stack([-np.ones(n_in), np.linspace(1, -1, n_in)], axis=1)
    rows, cols = np.nonzero(plan.matrix)
    return np.concatenate([outputs, inputs]), np.stack([outputs[rows], inputs[cols]], axis=1)


def draw_plan(plan: Plan, metrics: dict, out: str | Path, dpi: int = 120) -> Path:
    """Save a PNG with the plan's drawing (left) and matrix (right); returns ``out``.

    Raises ParameterError for plans with more than ``DENSE_MAX_NODES`` nodes on a side (a drawing
    of them shows nothing).
    """
    if max(plan.matrix.shape) > DENSE_MAX_NODES:
        raise ParameterError(
            f"{plan.path or 'plan'}: {plan.matrix.shape[0]:,} x {plan.matrix.shape[1]:,} is too large to draw (at "
            f"most {DENSE_MAX_NODES:,} nodes a side)"
        )
    if plan.is_sparse:
        plan = dataclasses.replace(plan, matrix=plan.dense())
    figure = Figure(figsize=(11, 5.4), dpi=dpi, layout="constrained")
    drawing, matrix_axes = figure.subplots(1, 2)
    position, segments = _circle_segments(plan)
    width = max(0.15, min(1.0, 200.0 / max(1, len(segments))))
    drawing.add_collection(LineCollection(segments, linewidths=width, colors="tab:blue", alpha=0.6))
    drawing.scatter(position[:, 0], position[:, 1], s=max(2, 400 / len(position)), color="black", zorder=3)
    drawing.set_aspect("equal")
    drawing.set_axis_off()
    drawing.set_title("inputs (left) -> outputs (right)" if plan.kind != GRAPH else "nodes on a circle")
    matrix_axes.imshow(plan.matrix, cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
    matrix_axes.set_title("adjacency" if plan.kind == GRAPH else "biadjacency (rows: outputs)")
    matrix_axes.set_xlabel("input channel" if plan.kind != GRAPH else "node")
    matrix_axes.set_ylabel("output channel" if plan.kind != GRAPH else "node")
    figure.suptitle(_title(plan, metrics))
    out = Path(out)
    with atomic_open(out, "wb") as handle:
        figure.savefig(handle, format="png")
    return out
