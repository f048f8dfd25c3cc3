"""Score saved plans: load them, batch them by kind and shape, compute the chosen metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from topology.errors import ParameterError
from topology.graph import BIPARTITE, GRAPH
from topology.metrics import BIPARTITE_METRICS, GRAPH_METRICS, compute_metrics
from topology.plans import load_plan


def check_metric_names(names: Sequence[str] | None) -> None:
    """Raise ParameterError for a name that is neither a graph nor a bipartite metric."""
    for name in names or ():
        if name not in GRAPH_METRICS and name not in BIPARTITE_METRICS:
            valid = sorted(set(GRAPH_METRICS) | set(BIPARTITE_METRICS))
            raise ParameterError(f"unknown metric {name!r}; valid: {', '.join(valid)}")


def analyze_plans(
    paths: Sequence[Path],
    names: Sequence[str] | None = None,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
) -> list[tuple[str, dict]]:
    """Metrics of every plan in ``paths``.

    Parameters
    ----------
    paths : sequence of Path
        One file per plan (see ``topology.discovery.find_plans``).
    names : sequence of str, optional
        Metrics to compute; default all. A name defined only for one kind is left out of the
        other kind's rows.
    progress : callable
        Wraps the iterable of paths being loaded (e.g. ``tqdm``).

    Returns
    -------
    list of (path as str, metrics dict), in the order of ``paths``.
    """
    check_metric_names(names)
    plans = [load_plan(path) for path in progress(paths)]
    results: list[dict] = [{} for _ in plans]
    for kind, registry in ((GRAPH, GRAPH_METRICS), (BIPARTITE, BIPARTITE_METRICS)):
        indices = [i for i, plan in enumerate(plans) if plan.kind == kind]
        wanted = list(registry) if names is None else [n for n in names if n in registry]
        if not indices or not wanted:
            continue
        values = compute_metrics([plans[i].matrix for i in indices], kind=kind, names=wanted)
        for index, metrics in zip(indices, values):
            results[index] = metrics
    return [(str(path), metrics) for path, metrics in zip(paths, results)]
