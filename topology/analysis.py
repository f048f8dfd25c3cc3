"""Score saved plans: load them, batch them by kind and shape, compute the chosen metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from common.errors import ParameterError
from topology.graph import BIPARTITE, GRAPH
from topology.metrics import BIPARTITE_METRICS, GRAPH_METRICS, PathOptions, compute_metrics, registry_for
from topology.plans import Plan, load_plan


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
    reference: bool = False,
    on_mismatch: Callable[[str], None] | None = None,
    path_options: PathOptions | None = None,
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
    reference : bool
        Add ``<metric>_reference`` beside each metric that has a published value (RGP's
        information CSV).
    on_mismatch : callable, optional
        Called with one line per published value that differs from ours (see
        :func:`reference_mismatches`).
    path_options : PathOptions, optional
        Exact (default) or sampled shortest paths.

    Returns
    -------
    list of (path as str, metrics dict), in the order of ``paths``.
    """
    check_metric_names(names)
    plans = [load_plan(path) for path in progress(paths)]
    results: list[dict] = [{} for _ in plans]
    _check_applicable(plans, names, on_mismatch)
    for kind, registry in ((GRAPH, GRAPH_METRICS), (BIPARTITE, BIPARTITE_METRICS)):
        indices = [i for i, plan in enumerate(plans) if plan.kind == kind]
        wanted = list(registry) if names is None else [n for n in names if n in registry]
        if not indices or not wanted:
            continue
        values = compute_metrics([plans[i].matrix for i in indices], kind=kind, names=wanted, path_options=path_options)
        for index, metrics in zip(indices, values):
            results[index] = metrics
    for plan, metrics in zip(plans, results):
        if on_mismatch is not None:
            for line in reference_mismatches(plan, metrics):
                on_mismatch(line)
        if reference:
            metrics.update({f"{name}_reference": value for name, value in plan.reference.items() if name in metrics})
    return [(str(path), metrics) for path, metrics in zip(paths, results)]


#: Why a metric of one kind of plan is not computed on the other.
NOT_DEFINED = {
    BIPARTITE: "a bipartite plan's rows and columns are different channels (a layer's outputs and inputs), so "
    "paths, clustering and the adjacency spectrum of one node set are not defined on it",
    GRAPH: "it is defined on bipartite layer graphs (outputs x inputs) only",
}


def _check_applicable(plans: Sequence[Plan], names: Sequence[str] | None, notice: Callable[[str], None] | None) -> None:
    """One notice per kind of plan for the metrics asked for that it does not have; a ParameterError
    when none of them applies to any plan given."""
    if names is None:
        return
    computable = False
    for kind, registry in ((GRAPH, GRAPH_METRICS), (BIPARTITE, BIPARTITE_METRICS)):
        count = sum(plan.kind == kind for plan in plans)
        if not count:
            continue
        missing = [name for name in names if name not in registry]
        computable = computable or len(missing) < len(names)
        if missing and notice is not None and len(missing) < len(names):
            notice(f"{', '.join(missing)} not computed for the {count} {kind} plan(s): {NOT_DEFINED[kind]}")
    if not computable:
        kinds = sorted({plan.kind for plan in plans})
        raise ParameterError(
            f"none of the metrics asked for ({', '.join(names)}) applies to the {' and '.join(kinds)} plan(s) given: "
            + "; ".join(NOT_DEFINED[kind] for kind in kinds)
        )


#: Largest difference between a published reference value and ours that counts as agreement
#: (relative to max(1, |ours|)).
REFERENCE_TOLERANCE = 1e-9


def reference_mismatches(plan: Plan | None, metrics: dict | None = None) -> list[str]:
    """One line per metric whose published reference value (``plan.reference``, e.g. RGP's
    information CSV) differs from ours by more than :data:`REFERENCE_TOLERANCE`.

    Parameters
    ----------
    plan : Plan or None
        None, or a plan without reference values, gives no lines.
    metrics : dict, optional
        Our values, when already computed; otherwise the referenced metrics are computed here.
    """
    if plan is None or not plan.reference:
        return []
    names = [name for name in plan.reference if name in registry_for(plan.kind)]
    if metrics is None or any(name not in metrics for name in names):
        metrics = compute_metrics([plan.matrix], kind=plan.kind, names=names)[0]
    lines = []
    for name in names:
        published, ours = float(plan.reference[name]), float(metrics[name])
        if not abs(published - ours) <= REFERENCE_TOLERANCE * max(1.0, abs(ours)):
            lines.append(
                f"{plan.path or 'plan'}: published {name} {published!r} differs from ours {ours!r} (by "
                f"{abs(published - ours):.3g})"
            )
    return lines
