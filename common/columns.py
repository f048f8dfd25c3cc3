"""The results table's columns by role, shared by the writer (``trainer``) and the reader (``reports``).

* treatment — what an experiment compares (the plan, the recipe and its level, the masks);
* outcome — what a run measured or counted, and per-run bookkeeping;
* recipe options — setting columns only masked recipes read (empty on dense rows);
* every other column is the experiment's setting (model, data set, optimiser, ...).

A recipe that writes columns of its own declares them in :data:`RECIPE_OUTCOMES` under its name
(docs/architecture.md, "Recipes"); the trainer checks that a row's own columns are declared there,
so a recipe's measurements never split its seeds into separate experiments.
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
    "test_loss",
    "applied_masks_sha256",
    *BOOKKEEPING,
)
#: Setting columns that only masked recipes read: empty on dense rows.
RECIPE_OPTIONS = (
    "self_loops",
    "nodes_policy",
    "prune_first",
    "prune_last",
    "include",
    "exclude",
    "degree_side",
    "best_of",
    "select_by",
    "mask_seed",
)
#: Setting columns a recipe adds to its rows (its own identity key), by recipe name: like
#: RECIPE_OPTIONS, empty on other recipes' rows, so they never split a comparison of recipes.
RECIPE_SETTINGS: dict[str, tuple[str, ...]] = {"edropout": ("edropout",), "random-filters": ("random_filters_draw",)}


def option_columns() -> tuple[str, ...]:
    """Setting columns only some recipes fill: RECIPE_OPTIONS and every recipe's own settings."""
    return RECIPE_OPTIONS + tuple(name for names in RECIPE_SETTINGS.values() for name in names)


#: Outcome columns a recipe adds to its rows, by recipe name.
RECIPE_OUTCOMES: dict[str, tuple[str, ...]] = {
    "edropout": (
        "edropout_paper_r",
        "edropout_units_kept",
        "edropout_units",
        "edropout_frozen_epoch",
        "edropout_frozen_step",
        "edropout_best_energy",
        "edropout_selection",
        "best_acc_no_pruning",
        "final_acc_no_pruning",
    ),
}
#: A run directory's per-step search log (EDropout), written by trainer.rundir and drawn by the report.
STEP_LOG_FILE = "search_log.csv"


def outcome_columns() -> tuple[str, ...]:
    """Every outcome column: the common ones and each recipe's own."""
    return OUTCOME + tuple(name for names in RECIPE_OUTCOMES.values() for name in names)
