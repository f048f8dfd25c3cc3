"""Make plans: run a generator, score the graphs, save plan files and the directory's metrics table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from common.errors import ParameterError
from common.names import checked_file_name
from topology.generators import GENERATORS, generate
from topology.graph import GRAPH, sha256_of
from topology.metrics import PathOptions, compute_metrics
from topology.plans import Plan, check_planned_files, refuse_clash, save_plan
from topology.tables import update_metrics_file

#: Short labels used in default plan names, e.g. ``rreg_n64_d4_s0``.
NAME_LABELS = {"nodes": "n", "nodes_in": "in", "degree": "d", "p": "p", "density": "rho", "connected": "c"}


@dataclass(frozen=True)
class PlanDraft:
    """A generated matrix with its name and provenance, not yet scored or saved."""

    name: str
    matrix: np.ndarray | sp.csr_array
    generator: str
    params: dict = field(default_factory=dict)
    seed: int | None = None


@dataclass(frozen=True)
class GenerateConfig:
    """What ``topo gen`` makes."""

    generator: str = "rreg"  # registry name of the generator
    params: dict = field(default_factory=dict)  # generator parameters (nodes, degree, p, ...)
    seed: int = 0  # first seed; plan i of a non-family generator uses seed + i
    count: int = 1  # plans to make (points of the family for a family generator)
    out: Path = Path("plans")  # directory the plan files and metrics.csv go to
    name: str | None = None  # plan name (default: generator and parameters)
    formats: tuple[str, ...] = ("auto",)  # plan files to write (auto: npy, csv, json when dense; npz, json when sparse)
    metrics: tuple[str, ...] | None = None  # metrics to compute and store (None: all)
    overwrite: bool = False  # replace different plans of the same names (refused otherwise)

    @property
    def form(self) -> str:
        """The matrix form to generate: sparse when only sparse files are written, else auto."""
        files = set(self.formats) - {"json"}
        return "sparse" if files and files <= {"npz", "edges"} else "auto"


def _clean(params: dict) -> dict:
    """Drop unset parameters; store whole-number floats as ints (``degree=4.0`` -> 4)."""
    clean = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        clean[key] = value
    return clean


def default_name(generator: str, params: dict, seed: int | None) -> str:
    """``<generator>_n64_d4_s0``-style name from the parameters that identify a plan."""
    parts = [generator]
    for key, label in NAME_LABELS.items():
        if key in params:
            value = params[key]
            # whole numbers in full (n1000000, not n1e+06); fractions as %g (p0.1)
            parts.append(f"{label}{int(value) if isinstance(value, (bool, int)) else format(value, 'g')}")
    if seed is not None:
        parts.append(f"s{seed}")
    return "_".join(parts)


def make_plans(
    config: GenerateConfig,
    progress: Callable[[Sequence], Sequence] = lambda items: items,
    path_options: PathOptions | None = None,
) -> list[tuple[Path, Plan]]:
    """Generate, score and save the plans that ``config`` describes (``path_options``: exact or
    sampled shortest paths).

    Returns
    -------
    list of (path, Plan)
        The path of each saved plan (its first written file) and the plan with its metrics.
    """
    spec = GENERATORS.get(config.generator)
    if config.count < 1:
        raise ParameterError(f"count must be at least 1, got {config.count}")
    params = _clean(config.params)
    if isinstance(params.get("nodes"), int):
        shape = (params["nodes"], params.get("nodes_in", params["nodes"]))
        check_planned_files(config.formats, shape, Path(config.out), config.count, config.form)
    seed = config.seed if spec.is_random else None
    # A sampled ASPL is another result than the exact one: the name says so, so neither replaces the other.
    samples = path_options.sample_sources if path_options is not None else 0
    sampled = f"_k{samples}" if samples and int(params.get("nodes", 0)) > samples else ""
    base = checked_file_name(config.name, "--name") if config.name is not None else None
    base = base or default_name(config.generator, params, seed) + sampled
    if spec.family:
        matrices = generate(config.generator, seed=seed, form=config.form, count=config.count, **params)
        names = [f"{base}_{i:02d}" for i in range(len(matrices))]
        seeds = [seed] * len(matrices)
    else:
        if not spec.is_random and config.count != 1:
            raise ParameterError(
                f"generator {config.generator!r} is deterministic; count must be 1, got {config.count}"
            )
        seeds = [seed + i for i in range(config.count)] if spec.is_random else [None]
        matrices = [generate(config.generator, seed=s, form=config.form, **params) for s in progress(seeds)]
        if config.name:
            names = [base if len(matrices) == 1 else f"{base}_{i:02d}" for i in range(len(matrices))]
        else:
            names = [default_name(config.generator, params, s) + sampled for s in seeds]
    drafts = []
    for index, (matrix, name, plan_seed) in enumerate(zip(matrices, names, seeds)):
        plan_params = {**params, "count": config.count, "index": index} if spec.family else params
        drafts.append(PlanDraft(name, matrix, config.generator, plan_params, plan_seed))
    return save_drafts(drafts, config.out, spec.kind, config.formats, config.metrics, path_options, config.overwrite)


def save_drafts(
    drafts: Sequence[PlanDraft],
    out: str | Path,
    kind: str = GRAPH,
    formats: tuple[str, ...] = ("auto",),
    names: Sequence[str] | None = None,
    path_options: PathOptions | None = None,
    overwrite: bool = False,
) -> list[tuple[Path, Plan]]:
    """Score ``drafts`` in one batch (metrics ``names``, default all), save each as a plan in
    ``out`` and merge ``out/metrics.csv``. A draft whose name holds a different plan in ``out`` is
    refused before anything is scored or written, unless ``overwrite``.

    Returns
    -------
    list of (path, Plan): each saved plan's first written file and the plan with its metrics.
    """
    matrices = [
        draft.matrix if sp.issparse(draft.matrix) else np.asarray(draft.matrix, dtype=np.uint8) for draft in drafts
    ]
    for draft, matrix in zip(drafts, matrices):
        refuse_clash(out, draft.name, sha256_of(matrix), overwrite)
    metrics = compute_metrics(matrices, kind=kind, names=names, path_options=path_options)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    saved = []
    for draft, matrix, values in zip(drafts, matrices, metrics):
        plan = Plan(matrix, kind, draft.generator, draft.params, draft.seed, values, created)
        saved.append((save_plan(plan, out, draft.name, formats, overwrite=True), plan))
    update_metrics_file(out, [(path.name, plan.metrics) for path, plan in saved])
    return saved
