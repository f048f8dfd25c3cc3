"""Sweeps: every plan of a directory (plus the dense baseline) for every training seed.

Resumable: a job whose (``config_hash``, training seed) already has a row in results.csv is
skipped, so a killed sweep restarted with the same command loses nothing and repeats nothing,
and a job that differs in any option that changes its outcome (model options, recipe options,
optimiser, ...; see trainer.identity) is never taken for a finished one. Rows written before
``config_hash`` existed count as done only for an identical legacy key (plan, model, data set,
recipe, seed, epochs), and the sweep says how many it took that way. ``jobs`` trainings run at once on one machine
(threads split between them);
``shard=(i, N)`` runs the i-th of N disjoint slices of the job list, for cluster job arrays.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from common.errors import TopopruneError
from pruning.mask_rules import compute_mask_set
from sweeps.jobs import JobSpec
from topology.discovery import find_plans
from topology.graph import GRAPH
from topology.plans import load_plan
from trainer.config import TrainConfig
from trainer.data import load_dataset
from trainer.errors import TrainError
from trainer.identity import canonical_json, config_hash, identify
from trainer.models import build_model
from trainer.recipes import DENSE, grid_recipes, recipe_of
from trainer.results import read_rows


@dataclass(frozen=True)
class SweepJob:
    """One training of a sweep: a plan (or none), a training seed, and whether it is the dense baseline.

    A job with neither plan nor baseline trains the template itself (e.g. an X-Net model, whose
    wiring is the model's own, or a per-layer recipe).
    """

    plan: Path | None
    plan_sha256: str
    train_seed: int
    baseline: bool = False
    recipe: str | None = None  # a per-layer recipe of the grid, with its degree or density
    degree: int | None = None
    density: float | None = None

    def config(self, template: TrainConfig) -> TrainConfig:
        if self.baseline:
            return dataclasses.replace(template, plan=None, train_seed=self.train_seed, recipe=DENSE)
        if self.plan is not None:
            return dataclasses.replace(template, plan=self.plan, train_seed=self.train_seed, recipe=None)
        if self.recipe is not None:
            return dataclasses.replace(
                template,
                plan=None,
                train_seed=self.train_seed,
                recipe=self.recipe,
                degree=self.degree,
                density=self.density,
            )
        return dataclasses.replace(template, train_seed=self.train_seed)


@dataclass(frozen=True)
class SweepGrid:
    """Per-layer recipes crossed with degrees (inputs per output) or densities (kept fraction)."""

    recipes: tuple[str, ...] = ()
    degrees: tuple[int, ...] = ()
    densities: tuple[float, ...] = ()

    def jobs(self, seeds: int) -> list[SweepJob]:
        """recipe x level x seed, in that order; raises TrainError for an incomplete or bad grid."""
        if not self.recipes:
            if self.degrees or self.densities:
                raise TrainError("--degrees and --densities need --recipes (e.g. --recipes xnet,rreg-bipartite)")
            return []
        unknown = [r for r in self.recipes if r not in grid_recipes()]
        if unknown:
            raise TrainError(
                f"--recipes: {', '.join(unknown)} cannot be swept; use {', '.join(grid_recipes())} (relational plans "
                "come from --plans)"
            )
        if bool(self.degrees) == bool(self.densities):
            raise TrainError("--recipes needs exactly one of --degrees and --densities")
        if any(d < 1 for d in self.degrees) or any(not 0 < d <= 1 for d in self.densities):
            raise TrainError("degrees must be at least 1 and densities in (0, 1]")
        levels = [{"degree": d} for d in self.degrees] or [{"density": d} for d in self.densities]
        return [
            SweepJob(None, "", seed, recipe=recipe, **level)
            for recipe in self.recipes
            for level in levels
            for seed in range(seeds)
        ]


def legacy_key(plan_sha256: str, model: str, dataset: str, recipe: str, seed, epochs) -> tuple[str, ...]:
    """What identified a finished job before ``config_hash`` (rows without one are matched by it)."""
    return (plan_sha256 or DENSE, model, dataset, recipe, str(seed), str(epochs))


@dataclass
class SweepStatus:
    """A sweep's jobs split by the results table: still to run, and done."""

    pending: list[JobSpec]
    done: int
    done_by_legacy_key: int  # of ``done``: matched only by the legacy key of a row without config_hash

    def describe(self, total: int) -> list[str]:
        lines = [f"{total} job(s): {self.done} already done, {len(self.pending)} to run"]
        if self.done_by_legacy_key:
            lines.append(
                f"notice: {self.done_by_legacy_key} of them count as done by rows without config_hash, matched on "
                "plan, model, "
                "data set, recipe, seed and epochs only (their other options were not recorded)"
            )
        return lines


def sweep_jobs(
    plans_dir: Path | None,
    seeds: int,
    baseline: bool = True,
    grid: SweepGrid = SweepGrid(),
    notices: list[str] | None = None,
) -> list[SweepJob]:
    """The full, deterministic job list: the baseline, plans in path order, then the grid's
    recipe x level, each for seeds 0..seeds-1.

    Without ``plans_dir`` and grid the template itself is the one configuration. Bipartite plans
    in ``plans_dir`` (layer graphs, which the relational recipe cannot use) are left out with a
    line in ``notices``.
    """
    if seeds < 1:
        raise TrainError(f"seeds must be at least 1, got {seeds}")
    baseline_jobs = [SweepJob(None, "", seed, baseline=True) for seed in range(seeds)] if baseline else []
    grid_jobs = grid.jobs(seeds)
    if plans_dir is None:
        return baseline_jobs + (grid_jobs or [SweepJob(None, "", seed) for seed in range(seeds)])
    plans, layer_graphs = [], []
    for path in find_plans([plans_dir]):
        plan = load_plan(path)
        if plan.kind == GRAPH:
            plans.append((path, plan.sha256))
        else:
            layer_graphs.append(path.name)
    if layer_graphs and notices is not None:
        notices.append(
            f"{plans_dir}: left out {len(layer_graphs)} bipartite plan(s), layer graphs the relational recipe cannot "
            f"use: {', '.join(layer_graphs[:5])}{', ...' if len(layer_graphs) > 5 else ''}"
        )
    if not plans:
        raise TrainError(f"{plans_dir}: no graph plans to train")
    return baseline_jobs + [SweepJob(path, sha, seed) for path, sha in plans for seed in range(seeds)] + grid_jobs


def unusable_jobs(template: TrainConfig, jobs: list[JobSpec]) -> list[tuple[JobSpec, str]]:
    """Jobs whose masks cannot be made for the template's model (a plan with more nodes than a
    layer has channels, a degree above a layer's width, ...), each with the one-line reason; checked
    before any training starts, once per distinct configuration (seeds aside)."""
    if not jobs:
        return []
    data = load_dataset(template.data_config())
    model = build_model(template.model, data.input_shape, data.num_classes, **template.model_options)
    reasons: dict[str, str | None] = {}
    unusable = []
    for job in jobs:
        config = job.config
        key = canonical_json({**config.to_dict(), "train_seed": None})
        if key not in reasons:
            reasons[key] = _mask_problem(model, config)
        if reasons[key] is not None:
            unusable.append((job, reasons[key]))
    return unusable


def _mask_problem(model, config: TrainConfig) -> str | None:
    """Why the recipe cannot mask ``model`` under ``config``, or None."""
    if config.match_macs is not None:
        return None  # the width solver picks a width the recipe can mask, or says why not
    try:
        config.validate()
        inputs = recipe_of(config).inputs(config)
        if inputs.masks is None:
            compute_mask_set(model, recipe_of(config).mask_config(config, inputs.plan))
    except TopopruneError as error:
        return str(error)
    return None


def shard_of(jobs: list[SweepJob], shard: tuple[int, int] | None) -> list[SweepJob]:
    """The i-th (1-based) of N interleaved slices; together the N slices hold every job once."""
    if shard is None:
        return jobs
    index, count = shard
    if not 1 <= index <= count:
        raise TrainError(f"shard must be i/N with 1 <= i <= N, got {index}/{count}")
    return jobs[index - 1 :: count]


class JobHashes:
    """The ``config_hash`` each job's run will have, from the same :func:`trainer.identity.identify`
    the run calls: computed once per distinct configuration (seed aside) in the driver, then
    carried by the job (:class:`sweeps.jobs.JobSpec`) and checked by the worker."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}
        self.computed = 0  # identities computed (bench/structure.py counts them per job)

    def __call__(self, config: TrainConfig) -> str:
        key = canonical_json({**config.to_dict(), "train_seed": None, "threads": None, "quiet": None})
        if key not in self._known:
            self._known[key] = config_hash(identify(config)[1])
            self.computed += 1
        return self._known[key]


def sweep_status(specs: list[JobSpec], out: Path) -> SweepStatus:
    """Which jobs already have a row in ``out/results.csv`` (by the hash each job carries; rows
    from before ``config_hash`` by their legacy key)."""
    rows = read_rows(out)
    done_hashes = {(r["config_hash"], r["train_seed"]) for r in rows if r.get("config_hash")}
    legacy = {
        legacy_key(r["plan_sha256"], r["model"], r["dataset"], r["recipe"], r["train_seed"], r["epochs"])
        for r in rows
        if not r.get("config_hash")
    }
    pending, by_legacy = [], 0
    for spec in specs:
        config = spec.config
        if spec.key in done_hashes:
            continue
        if legacy_key(spec.plan_sha256, config.model, config.dataset, config.resolved_recipe, config.train_seed,
                      config.epochs) in legacy:  # fmt: skip
            by_legacy += 1
            continue
        pending.append(spec)
    return SweepStatus(pending, len(specs) - len(pending), by_legacy)


def pending_jobs(jobs: list[SweepJob], template: TrainConfig) -> list[SweepJob]:
    """The jobs without a row in ``template.out/results.csv`` (see :func:`sweep_status`)."""
    specs = job_specs(template, jobs)
    pending = {id(spec) for spec in sweep_status(specs, template.out).pending}
    return [job for job, spec in zip(jobs, specs) if id(spec) in pending]


def job_specs(template: TrainConfig, jobs: list[SweepJob], hashes: JobHashes | None = None) -> list[JobSpec]:
    """Each job's configuration and the ``config_hash`` its row will carry, computed once here and
    carried to whichever process trains it (:meth:`JobSpec.for_worker` sets threads and paths)."""
    hashes = hashes or JobHashes()
    return [
        JobSpec(job.config(template), hashes(job.config(template)), job.plan_sha256 if job.plan else "") for job in jobs
    ]
