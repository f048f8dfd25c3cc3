"""The results table (docs/architecture.md): one row per finished run, appended atomically under a lock.

Columns, in order: identification (``run_id``, plan, hash, generator, nodes, degree), every
graph metric of the plan (the plan's ``density`` is stored as ``plan_density``), the run
(``model``, ``dataset``, ``recipe``, ``density`` = kept fraction of the masked layers' weights,
params and MACs kept/total, ``width`` (the value of the model's width option it was built with)
and ``macs_budget`` (the MAC budget its width was chosen for, empty without ``--match-macs``), the masked layers'
mean spectral gap, Ramanujan margin and vertex
expansion and their dead input/output channels, the three seeds, ``epochs``), the outcome (accuracies in percent:
``best_acc`` is the test accuracy of the epoch with the best validation accuracy,
``final_acc`` the last epoch's, ``best_top5`` / ``final_top5`` their top-5 accuracies;
``max_epoch_test_acc`` the best test accuracy over epochs, recorded only without a validation
split and never used to select anything (papers that report their best epoch measured that);
``test_loss`` is the test loss of that best epoch), the published number the configuration
targets (``published_*``, trainer/published.py), the resolved configuration
(:data:`CONFIG_COLUMNS`, with ``config_hash`` identifying it; ``applied_masks_sha256`` hashes the
masks the run was trained under), and bookkeeping (``train_seconds``, ``device``, ``world_size``,
``topoprune_version``, ``torch_version``, ``created``).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from common.atomic import atomic_write_text
from common.columns import BASELINE_RECIPE, BOOKKEEPING, COLUMN_ROLES_FILE, PUBLISHED_COLUMNS, column_roles
from common.jsonio import json_text
from topology.metrics import GRAPH_METRICS, compute_metrics
from topology.plans import Plan
from trainer.config import TrainConfig
from trainer.errors import TrainError
from trainer.identity import config_columns
from trainer.recipes import Recipe, recipe_outcomes, recipe_settings
from trainer.rundir import read_result, results_path

PLAN_METRIC_COLUMNS = ["plan_density" if name == "density" else name for name in GRAPH_METRICS if name != "nodes"]
#: The resolved configuration of a run beyond model, data set, recipe, plan, seeds and epochs
#: (trainer.identity, derived from the configuration schema): what makes two rows different experiments.
CONFIG_COLUMNS = config_columns()
COLUMNS = [
    "run_id",
    "config_hash",
    "plan",
    "plan_sha256",
    "generator",
    "nodes",
    "degree",
    *PLAN_METRIC_COLUMNS,
    "model",
    "dataset",
    "recipe",
    "density",
    "params_kept",
    "params_total",
    "macs_kept",
    "macs_total",
    "flops_kept",
    "flops_total",
    "width",
    "macs_budget",
    "layer_spectral_gap",
    "layer_ramanujan_margin",
    "layer_vertex_expansion",
    "dead_inputs",
    "dead_outputs",
    "graph_seed",
    "mask_seed",
    "train_seed",
    "epochs",
    "best_epoch",
    "model_selection",
    "best_val_acc",
    "best_acc",
    "best_top5",
    "final_acc",
    "final_top5",
    "max_epoch_test_acc",
    "test_loss",
    *PUBLISHED_COLUMNS,
    *CONFIG_COLUMNS,
    "applied_masks_sha256",
    *BOOKKEEPING,
]
#: Columns that legitimately differ between two runs of the same configuration and seeds.
VOLATILE_COLUMNS = ("run_id", "train_seconds", "created", "device")


def plan_columns(config: TrainConfig, plan: Plan | None) -> dict:
    """Identification and metric columns of a row for the run's plan (or, without one, its recipe)."""
    columns = {name: None for name in PLAN_METRIC_COLUMNS}
    if plan is None:
        recipe = config.resolved_recipe
        return {
            **columns,
            "plan": None,
            "plan_sha256": None,
            "generator": None if recipe == BASELINE_RECIPE else recipe,
            "nodes": None,
            "degree": config.degree,
            "graph_seed": None,
        }
    metrics = plan.metrics or compute_metrics([plan.matrix], kind=plan.kind)[0]
    for name, value in metrics.items():
        key = "plan_density" if name == "density" else name
        if key in columns:
            columns[key] = value
    degree = plan.params.get("degree", metrics.get("degree_mean"))
    return {
        **columns,
        "plan": str(config.plan),
        "plan_sha256": plan.sha256,
        "generator": plan.generator,
        "nodes": plan.nodes,
        "degree": degree,
        "graph_seed": plan.seed,
    }


def results_row(config: TrainConfig, recipe: Recipe, values: dict) -> dict:
    """A run's row in :data:`COLUMNS` order, then the recipe's own identity keys (settings) and columns.

    Every value must have a declared column: :data:`COLUMNS`, the recipe's identity keys
    (:meth:`Recipe.identity_extra`) or its own columns (``Recipe.outcomes``);
    a declared column without a value is empty (e.g. ``match_macs`` without a MAC budget).
    """
    declared = [*COLUMNS, *recipe.identity_extra(config), *recipe.columns]
    undeclared = [name for name in values if name not in declared]
    if undeclared:
        raise AssertionError(f"results row of recipe {recipe.name!r}: undeclared columns {undeclared}")
    return {name: values.get(name) for name in declared}


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path.lock`` (works across processes on shared storage); the
    lock file is removed on release, so none is left beside the table. A process that waited on a
    lock file its holder removed takes the lock again on the file now at that path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = f"{path}.lock"
    while True:
        handle = open(lock_path, "a+")  # noqa: SIM115 - held across the yield below
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            current = os.stat(lock_path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # the holder before us removed this file: lock the one at the path now
    try:
        yield
    finally:
        os.unlink(lock_path)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return (
            "inf"
            if value == math.inf
            else ("-inf" if value == -math.inf else ("" if math.isnan(value) else repr(value)))
        )
    return str(value)


def append_row(directory: str | Path, row: dict) -> Path:
    """Append ``row`` to ``directory/results.csv`` atomically and under a file lock.

    The file is re-read and rewritten through a temporary file and a rename, so a reader never
    sees half a row and parallel writers never interleave or lose a row. Columns not in
    :data:`COLUMNS` are kept after them (a table merged from other versions stays readable). A
    torn last row (fewer fields than the header, from a writer that did not use this function) is
    repaired from its run's ``result.json`` when there is one, else moved, as it was, to
    ``results.csv.torn`` with a warning: never rewritten as an empty row. A row whose run id is
    already in the table is not appended again (a driver collecting rows from run directories and
    the worker appending its own may race for it).
    """
    path = results_path(directory)
    if path.is_symlink():  # a link to a table shared between folders: the row goes to that table
        try:
            path = path.resolve()
        except (RuntimeError, OSError) as error:
            raise TrainError(f"{path}: a symbolic link that cannot be followed ({error})") from None
    with locked(path):
        existing_rows, header = [], list(COLUMNS)
        if path.exists():
            existing_rows, fieldnames = _existing_rows(path)
            if any(existing.get("run_id") == str(row.get("run_id")) for existing in existing_rows):
                return path
            header += [c for c in fieldnames if c not in header]
        header += [c for c in row if c not in header]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(existing_rows)
        writer.writerow({key: _cell(value) for key, value in row.items()})
        atomic_write_text(path, buffer.getvalue())
        roles = column_roles(header, recipe_outcomes(), recipe_settings())
        atomic_write_text(path.parent / COLUMN_ROLES_FILE, json_text(roles))
    return path


def _existing_rows(path: Path) -> tuple[list[dict], list[str]]:
    """The rows and header of an existing results table, a torn last row repaired or set aside."""
    try:
        records = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise TrainError(
            f"{path}: not a readable results table ({error}); nothing was appended to it "
            "(each run keeps its row in its result.json)"
        ) from None
    if not records:
        return [], []
    fieldnames, body = records[0], records[1:]
    if body and len(body[-1]) < len(fieldnames):
        torn = body.pop()
        recovered = _recovered_row(path.parent, torn[0] if torn else "")
        if recovered is not None:
            body.append([_cell(recovered.get(name)) for name in fieldnames])
        else:
            with open(f"{path}.torn", "a", encoding="utf-8", newline="") as handle:
                csv.writer(handle, lineterminator="\n").writerow(torn)
            print(
                f"warning: {path}: its last row was torn ({len(torn)} of {len(fieldnames)} fields); "
                f"moved to {path}.torn",
                file=sys.stderr,
            )
    return [dict(zip(fieldnames, record)) for record in body], fieldnames


def _recovered_row(out: Path, run_id: str) -> dict | None:
    """The row a run kept in its directory (``result.json``), if ``run_id`` names one."""
    if not run_id or "/" in run_id or run_id in (".", ".."):
        return None
    try:
        return read_result(out / run_id)
    except TrainError:
        return None


def read_rows(directory: str | Path) -> list[dict]:
    """All rows of ``directory/results.csv`` as dicts of strings (empty list if none)."""
    path = results_path(directory)
    if not path.exists():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise TrainError(f"{path}: not a readable results table ({error})") from None
    if rows and "run_id" not in rows[0]:
        raise TrainError(f"{path}: not a topoprune results table (no run_id column)")
    return rows
