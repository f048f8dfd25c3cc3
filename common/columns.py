"""The results table's columns by role, shared by the writer (``trainer``) and the reader (``reports``).

* treatment — what an experiment compares (the plan, the recipe and its level, the masks);
* outcome — what a run measured or counted, and per-run bookkeeping;
* recipe options — setting columns only masked recipes read (empty on dense rows);
* every other column is the experiment's setting (model, data set, optimiser, ...).

A recipe that writes columns of its own declares them where it is registered (``trainer/recipes.py``,
docs/architecture.md, "Recipes"); the trainer writes every column's role beside the table
(:data:`COLUMN_ROLES_FILE`), so a recipe's measurements never split its seeds into separate
experiments and nothing here names a recipe but the dense baseline.
"""

from __future__ import annotations

#: The recipe of the unpruned baseline every experiment compares against.
BASELINE_RECIPE = "dense"
#: Per-run bookkeeping, the last columns of every row.
BOOKKEEPING = ("train_seconds", "device", "world_size", "topoprune_version", "torch_version", "created")
TREATMENT = (
    "plan",
    "plan_sha256",
    "generator",
    "nodes",
    "degree",
    "recipe",
    "recipe_degree",
    "recipe_density",
    "masks_sha256",
    "graph_seed",
    "model_structure",
)
OUTCOME = (
    "run_id",
    "config_hash",
    "density",
    "width",
    "params_kept",
    "params_total",
    "macs_kept",
    "macs_total",
    "flops_kept",
    "flops_total",
    "layer_spectral_gap",
    "layer_ramanujan_margin",
    "layer_vertex_expansion",
    "dead_inputs",
    "dead_outputs",
    "train_seed",
    "best_epoch",
    "model_selection",
    "best_val_acc",
    "best_acc",
    "best_top5",
    "final_acc",
    "final_top5",
    "max_epoch_test_acc",
    "test_loss",
    "published_metric",
    "published_value",
    "published_protocol",
    "published_source",
    "applied_masks_sha256",
    *BOOKKEEPING,
)
#: The published number a run's configuration targets (trainer/published.py writes them, the report
#: sets them beside the runs' own value measured the same way).
PUBLISHED_COLUMNS = ("published_metric", "published_value", "published_protocol", "published_source")
#: The run's own column each published protocol is compared with.
MEASURED_COLUMN = {"best epoch": "max_epoch_test_acc", "final epoch": "final_acc"}
#: Setting columns that only masked recipes read: empty on dense rows.
RECIPE_OPTIONS = (
    "self_loops",
    "nodes_policy",
    "prune_first",
    "prune_last",
    "include",
    "exclude",
    "degree_side",
    "degree_overflow",
    "best_of",
    "select_by",
    "mask_seed",
)
#: Beside every results.csv: each column's role (below), written with the table by the trainer,
#: which knows every recipe's own columns, and read by the report, which reads tables only.
COLUMN_ROLES_FILE = "results.columns.json"
TREATMENT_ROLE, OUTCOME_ROLE, OPTION_ROLE, SETTING_ROLE = "treatment", "outcome", "recipe option", "setting"
#: A run directory's per-step search log (EDropout), written by trainer.rundir and drawn by the report.
STEP_LOG_FILE = "search_log.csv"


def column_roles(columns, outcomes=(), options=()) -> dict[str, str]:
    """Each column's role: a treatment, an outcome (:data:`OUTCOME` and the recipes' own
    ``outcomes``), a recipe option (:data:`RECIPE_OPTIONS` and the recipes' own settings keys
    ``options``), else part of the experiment's setting."""
    roles = {}
    for column in columns:
        if column in TREATMENT:
            roles[column] = TREATMENT_ROLE
        elif column in OUTCOME or column in outcomes:
            roles[column] = OUTCOME_ROLE
        elif column in RECIPE_OPTIONS or column in options:
            roles[column] = OPTION_ROLE
        else:
            roles[column] = SETTING_ROLE
    return roles
