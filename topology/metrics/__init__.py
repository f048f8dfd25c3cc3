"""Graph and bipartite metrics (docs/architecture.md, metric definitions), computed in batches.

>>> import networkx as nx, numpy as np
>>> petersen = nx.to_numpy_array(nx.petersen_graph(), dtype=np.uint8)
>>> compute_metrics([petersen], names=["aspl", "spectral_gap"])[0]
{'aspl': 1.6666666666666667, 'spectral_gap': 2.0000000000000004}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from common.errors import ParameterError
from common.registry import Registry
from topology.graph import GRAPH
from topology.metrics.batch import DENSE_SPECTRUM_MAX_NODES, BipartiteBatch, GraphBatch, PathOptions
from topology.metrics.definitions import BIPARTITE_METRICS, GRAPH_METRICS, SMALLEST_EIGENVALUE_METRICS, Metric

__all__ = ["BIPARTITE_METRICS", "GRAPH_METRICS", "PathOptions", "compute_metrics", "metric_names", "registry_for"]

#: Columns added beside ``aspl`` when it was estimated from sampled sources.
SAMPLED_ASPL_COLUMNS = ("aspl_ci95_low", "aspl_ci95_high", "aspl_sources")

#: Largest number of graphs evaluated in one vectorised batch (bounds memory for big n).
BATCH_BYTES = 64 * 2**20


def registry_for(kind: str) -> Registry[Metric]:
    """The metric registry for plan kind ``"graph"`` or ``"bipartite"``."""
    return GRAPH_METRICS if kind == GRAPH else BIPARTITE_METRICS


def metric_names(kind: str = GRAPH) -> list[str]:
    """All metric names for ``kind``, in their canonical (registration) order."""
    return list(registry_for(kind))


def _select(kind: str, names: Iterable[str] | None) -> list[Metric]:
    registry = registry_for(kind)
    if names is None:
        return list(registry.values())
    selected = []
    for name in names:
        if name not in registry:
            raise ParameterError(f"unknown {kind} metric {name!r}; valid: {', '.join(registry)}")
        selected.append(registry[name])
    return selected


def _python_value(value):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    return float(value)


def _python_values(values) -> list:
    """A metric's values as Python bool, int, float or None (numeric arrays converted in one call)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        return values.tolist()
    return [_python_value(value) for value in values]


def compute_metrics(
    matrices: Sequence[np.ndarray | sp.sparray] | np.ndarray,
    kind: str = GRAPH,
    names: Iterable[str] | None = None,
    dense_spectrum_max_nodes: int = DENSE_SPECTRUM_MAX_NODES,
    path_options: PathOptions | None = None,
) -> list[dict]:
    """Metrics of many graphs, batched by shape.

    Parameters
    ----------
    matrices : sequence of (n, n) adjacencies, or a (B, n, n) stack
        Validated 0/1 matrices (``topology.graph.validate_matrix``); large graphs may be sparse.
        For ``kind="bipartite"``, (n_out, n_in) biadjacencies.
    kind : {"graph", "bipartite"}
    names : iterable of str, optional
        Metrics to compute (default all of that kind); only the shared pieces they need are
        computed (e.g. no eigenvalues for ``["aspl"]``).
    dense_spectrum_max_nodes : int
        Graphs above this size use sparse eigenvalue solvers.
    path_options : PathOptions, optional
        Exact (default) or sampled shortest paths. A graph whose ASPL was sampled also gets
        ``aspl_ci95_low``, ``aspl_ci95_high`` and ``aspl_sources``, and a NaN diameter.

    Returns
    -------
    list of dict
        One ``{metric: value}`` per input, in input order; values are Python int, float, bool
        or None (``ramanujan`` of a non-regular graph).
    """
    metrics = _select(kind, names)
    smallest = any(metric.name in SMALLEST_EIGENVALUE_METRICS for metric in metrics)
    options = path_options or PathOptions()
    results: list[dict] = [{} for _ in range(len(matrices))]
    by_shape: dict[tuple, list[int]] = defaultdict(list)
    for index, matrix in enumerate(matrices):
        sampled = kind == GRAPH and 0 < options.sample_sources < matrix.shape[0]
        large = sp.issparse(matrix) or sampled or (kind == GRAPH and matrix.shape[0] > dense_spectrum_max_nodes)
        by_shape[("single", index) if large else tuple(matrix.shape)].append(index)
    for key, indices in by_shape.items():
        if key[0] == "single":
            matrix = matrices[indices[0]]
            matrix = sp.csr_array(matrix) if not sp.issparse(matrix) else matrix
            chunks = [(indices, matrix)]
        else:
            per_graph = int(np.prod(key)) * 8 * 3  # float64 copies made by the spectral steps
            step = max(1, BATCH_BYTES // per_graph)
            chunks = [
                (
                    indices[i : i + step],
                    np.stack([np.asarray(matrices[j], dtype=np.uint8) for j in indices[i : i + step]]),
                )
                for i in range(0, len(indices), step)
            ]
        for chunk_indices, data in chunks:
            batch = (
                GraphBatch(data, dense_spectrum_max_nodes, options, smallest) if kind == GRAPH else BipartiteBatch(data)
            )
            single = key[0] == "single" and options.metric_progress is not None
            for metric in options.metric_progress(metrics, data.shape[0]) if single else metrics:
                for index, value in zip(chunk_indices, _python_values(metric.compute(batch))):
                    results[index][metric.name] = value
            if kind == GRAPH and batch.sampled and any(metric.name == "aspl" for metric in metrics):
                sampled = batch.path_stats.sampled
                results[chunk_indices[0]].update(
                    zip(SAMPLED_ASPL_COLUMNS, (sampled.ci_low, sampled.ci_high, sampled.sources))
                )
    return results
