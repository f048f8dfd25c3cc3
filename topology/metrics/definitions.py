"""The metric registries: every metric of docs/architecture.md as one small function of a batch.

Each function takes a :class:`GraphBatch` (or :class:`BipartiteBatch`) and returns one value per
graph as a numpy array of shape (B,). Values agree with networkx to 1e-9 where networkx defines
them; where networkx raises (a disconnected graph's path length), we return ``inf``.

References
----------
.. [1] D. J. Watts and S. H. Strogatz, "Collective dynamics of 'small-world' networks",
   Nature 393 (1998) — average clustering and path length.
.. [2] M. Fiedler, "Algebraic connectivity of graphs", Czech. Math. J. 23 (1973).
.. [3] A. Lubotzky, R. Phillips, P. Sarnak, "Ramanujan graphs", Combinatorica 8 (1988).
.. [4] D. T. Hoang et al., "Revisiting pruning at initialization through the lens of Ramanujan
   graph", ICLR 2023 — the Ramanujan margin of a bipartite layer graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common.registry import Registry
from topology.metrics.batch import BipartiteBatch, GraphBatch
from topology.metrics.expansion import (
    EXPANSION_SAMPLES,
    MEAN_EXPANSION_SAMPLES,
    mean_set_expansion,
    vertex_expansion,
)


@dataclass(frozen=True)
class Metric:
    """A registered metric: ``compute(batch) -> (B,)`` and a one-line description with units."""

    name: str
    compute: Callable
    description: str


GRAPH_METRICS: Registry[Metric] = Registry("metric")
BIPARTITE_METRICS: Registry[Metric] = Registry("bipartite metric")


def _metric(registry: Registry, name: str, description: str):
    def decorator(func):
        registry.register(name)(Metric(name, func, description))
        return func

    return decorator


def graph_metric(name: str, description: str):
    """Register ``func(batch: GraphBatch) -> ndarray (B,)`` as graph metric ``name``."""
    return _metric(GRAPH_METRICS, name, description)


def bipartite_metric(name: str, description: str):
    """Register ``func(batch: BipartiteBatch) -> ndarray (B,)`` as bipartite metric ``name``."""
    return _metric(BIPARTITE_METRICS, name, description)


# --- size and degrees -------------------------------------------------------------------------


@graph_metric("nodes", "number of nodes n")
def _nodes(g: GraphBatch) -> np.ndarray:
    return np.full(g.count, g.nodes)


@graph_metric("edges", "number of undirected edges m")
def _edges(g: GraphBatch) -> np.ndarray:
    return g.edges


@graph_metric("density", "2m / (n (n - 1)), in [0, 1]")
def _density(g: GraphBatch) -> np.ndarray:
    pairs = g.nodes * (g.nodes - 1)
    return 2.0 * g.edges / pairs if pairs else np.zeros(g.count)


def _degree_statistic(registry: Registry, name: str, attribute: str, statistic: str, description: str) -> None:
    """Register ``name`` as ``getattr(batch, attribute).<statistic>(axis=1)``."""

    def compute(batch) -> np.ndarray:
        return getattr(getattr(batch, attribute), statistic)(axis=1)

    registry.register(name)(Metric(name, compute, description))


for _statistic, _words in (("min", "smallest"), ("mean", "mean"), ("max", "largest")):
    _degree_statistic(GRAPH_METRICS, f"degree_{_statistic}", "degrees", _statistic, f"{_words} node degree")


# --- paths ------------------------------------------------------------------------------------


@graph_metric("connected", "true when every node reaches every other")
def _connected(g: GraphBatch) -> np.ndarray:
    return g.path_stats.connected


@graph_metric("aspl", "mean shortest-path length over ordered pairs u != v, in hops; inf if disconnected")
def _aspl(g: GraphBatch) -> np.ndarray:
    return g.path_stats.aspl


@graph_metric("diameter", "largest shortest-path length, in hops; inf if disconnected")
def _diameter(g: GraphBatch) -> np.ndarray:
    return g.path_stats.diameter


# --- triangles --------------------------------------------------------------------------------


@graph_metric("clustering", "average local clustering coefficient; nodes of degree < 2 count as 0")
def _clustering(g: GraphBatch) -> np.ndarray:
    possible = g.degrees * (g.degrees - 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        local = np.where(possible > 0, g.triangles / np.where(possible > 0, possible, 1.0), 0.0)
    return local.mean(axis=1)


@graph_metric("transitivity", "3 x triangles / connected triples")
def _transitivity(g: GraphBatch) -> np.ndarray:
    triples = (g.degrees * (g.degrees - 1) / 2.0).sum(axis=1)
    closed = g.triangles.sum(axis=1)
    return np.where(closed > 0, closed / np.where(triples > 0, triples, 1.0), 0.0)


# --- spectrum ---------------------------------------------------------------------------------

#: The metrics that read lambda_n; a large graph's eigenvalue solver waits for it only for these.
SMALLEST_EIGENVALUE_METRICS = frozenset({"lambda_n", "lambda_nontrivial", "ramanujan"})


@graph_metric("lambda_1", "largest adjacency eigenvalue")
def _lambda_1(g: GraphBatch) -> np.ndarray:
    return g.adjacency_extremes.lambda_1


@graph_metric("lambda_2", "second-largest adjacency eigenvalue")
def _lambda_2(g: GraphBatch) -> np.ndarray:
    return g.adjacency_extremes.lambda_2


@graph_metric("lambda_n", "smallest adjacency eigenvalue")
def _lambda_n(g: GraphBatch) -> np.ndarray:
    return g.adjacency_extremes.lambda_n


@graph_metric("spectral_gap", "lambda_1 - lambda_2")
def _spectral_gap(g: GraphBatch) -> np.ndarray:
    return g.adjacency_extremes.lambda_1 - g.adjacency_extremes.lambda_2


@graph_metric("lambda_nontrivial", "max(|lambda_2|, |lambda_n|)")
def _lambda_nontrivial(g: GraphBatch) -> np.ndarray:
    return np.maximum(np.abs(g.adjacency_extremes.lambda_2), np.abs(g.adjacency_extremes.lambda_n))


@graph_metric("ramanujan", "d-regular graphs: lambda_nontrivial <= 2 sqrt(d - 1); empty if not regular")
def _ramanujan(g: GraphBatch) -> np.ndarray:
    d = g.regular_degree
    with np.errstate(invalid="ignore"):
        bound = 2.0 * np.sqrt(d - 1.0)
    result = np.empty(g.count, dtype=object)
    defined = np.isfinite(bound)
    result[~defined] = None
    if defined.any():
        nontrivial = _lambda_nontrivial(g)
        result[defined] = [bool(v) for v in nontrivial[defined] <= bound[defined] + 1e-9]
    return result


@graph_metric("algebraic_connectivity", "second-smallest eigenvalue of the Laplacian D - A")
def _algebraic_connectivity(g: GraphBatch) -> np.ndarray:
    return g.algebraic_connectivity


# --- bipartite layer graphs -------------------------------------------------------------------


@bipartite_metric("nodes_out", "output channels (rows)")
def _b_nodes_out(b: BipartiteBatch) -> np.ndarray:
    return np.full(b.count, b.nodes_out)


@bipartite_metric("nodes_in", "input channels (columns)")
def _b_nodes_in(b: BipartiteBatch) -> np.ndarray:
    return np.full(b.count, b.nodes_in)


@bipartite_metric("edges", "number of kept connections")
def _b_edges(b: BipartiteBatch) -> np.ndarray:
    return b.edges


@bipartite_metric("density", "edges / (n_out n_in), in [0, 1]")
def _b_density(b: BipartiteBatch) -> np.ndarray:
    return b.edges / float(b.nodes_out * b.nodes_in)


for _side, _attribute, _what in (
    ("out", "out_degrees", "inputs of an output channel"),
    ("in", "in_degrees", "outputs fed by an input channel"),
):
    for _statistic, _words in (("min", "fewest"), ("mean", "mean number of"), ("max", "most")):
        _degree_statistic(
            BIPARTITE_METRICS, f"{_side}_degree_{_statistic}", _attribute, _statistic, f"{_words} {_what}"
        )


@bipartite_metric("isolated_outputs", "output channels with no input (dead units)")
def _b_isolated_outputs(b: BipartiteBatch) -> np.ndarray:
    return (b.out_degrees == 0).sum(axis=1)


@bipartite_metric("isolated_inputs", "input channels that feed no output (dead inputs)")
def _b_isolated_inputs(b: BipartiteBatch) -> np.ndarray:
    return (b.in_degrees == 0).sum(axis=1)


@bipartite_metric("singular_1", "largest singular value t1 of the biadjacency")
def _b_singular_1(b: BipartiteBatch) -> np.ndarray:
    return b.top_singular_values[0]


@bipartite_metric("singular_2", "largest singular value below t1 (distinct), t2")
def _b_singular_2(b: BipartiteBatch) -> np.ndarray:
    return b.top_singular_values[1]


@bipartite_metric(
    "spectral_gap",
    "t1 - t2: the spectral gap of the bipartite graph's adjacency, whose eigenvalues are +-singular values",
)
def _b_spectral_gap(b: BipartiteBatch) -> np.ndarray:
    return b.top_singular_values[0] - b.top_singular_values[1]


@bipartite_metric("ramanujan_margin", "sqrt(dL - 1) + sqrt(dR - 1) - t2 with mean degrees; > 0 is Ramanujan")
def _b_ramanujan_margin(b: BipartiteBatch) -> np.ndarray:
    d_left = b.out_degrees.mean(axis=1)
    d_right = b.in_degrees.mean(axis=1)
    with np.errstate(invalid="ignore"):
        return np.sqrt(d_left - 1.0) + np.sqrt(d_right - 1.0) - b.top_singular_values[1]


@bipartite_metric(
    "vertex_expansion",
    f"min over {EXPANSION_SAMPLES} seeded random sets S of outputs (|S| <= n_in/d) of |N(S)| / edges of S; 1 = "
    "lossless",
)
def _b_vertex_expansion(b: BipartiteBatch) -> np.ndarray:
    return vertex_expansion(b.matrices)


@bipartite_metric(
    "mean_set_expansion",
    f"mean over {MEAN_EXPANSION_SAMPLES} seeded random sets S of inputs and as many of outputs (|S| < n/2) of "
    "|N(S)| / |S| (the expanders paper's estimate)",
)
def _b_mean_set_expansion(b: BipartiteBatch) -> np.ndarray:
    return mean_set_expansion(b.matrices)
