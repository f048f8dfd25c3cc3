"""Results tables shaped as the shipped experiments write them (make shared-bases, make
edropout-compare, make demo, make graph2nn-equal-cost), with accuracies drawn from a known
model so a report's answer can be checked."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

SETTING = {"dataset": "fashion-mnist", "epochs": 3, "lr": 0.1, "batch_size": 128, "optimizer": "sgd"}
#: make shared-bases: (model, model options, counted parameters, counted MACs, true accuracy).
S8U1 = {"shared_rank": 8, "unique_rank": 1, "bases": "single"}
S16U1 = {"shared_rank": 16, "unique_rank": 1, "bases": "double"}
SHARED_ARMS = (
    ("resnet32", {}, 464_154, 69_121_000, 88.0),
    ("resnet32_shared", {**S8U1, "orth_lambda": 10}, 138_000, 60e6, 86.5),
    ("resnet32_shared", {**S8U1, "orth_lambda": 0}, 138_000, 60e6, 86.0),
    ("resnet32_shared", {**S16U1, "orth_lambda": 10}, 250_000, 64e6, 87.2),
    ("resnet32_shared", {**S16U1, "orth_lambda": 0}, 250_000, 64e6, 87.0),
)


def _hash(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def shared_bases_table(seeds: int = 2, noise: float = 0.1) -> pd.DataFrame:
    """Dense runs only: five model configurations, ``seeds`` seeds each."""
    rng = np.random.default_rng(0)
    rows = []
    for model, options, params, macs, accuracy in SHARED_ARMS:
        for seed in range(seeds):
            rows.append(
                {
                    "run_id": f"run-{_hash(model, options, seed)[:8]}",
                    "plan_sha256": "",
                    "model": model,
                    "recipe": "dense",
                    "model_options": json.dumps(options, sort_keys=True, separators=(",", ":")) if options else "",
                    **SETTING,
                    "max_train": 8000,
                    "train_seed": seed,
                    "density": 1.0,
                    "params_kept": params,
                    "macs_kept": macs,
                    "best_acc": accuracy + rng.normal(0, noise),
                    "final_acc": accuracy - 0.2 + rng.normal(0, noise),
                }
            )
    return pd.DataFrame(rows)


#: make edropout-compare: recipe -> true accuracy.
EDROPOUT_ARMS = {"dense": 89.0, "edropout": 88.0, "random-filters": 87.0}


def edropout_table(seeds: int = 3, noise: float = 0.1) -> pd.DataFrame:
    """Dense, EDropout and random filters at each EDropout run's kept counts, paired by seed (each
    random-filters run has masks of its own)."""
    rng = np.random.default_rng(1)
    rows = []
    for recipe, accuracy in EDROPOUT_ARMS.items():
        for seed in range(seeds):
            rows.append(
                {
                    "run_id": f"run-{recipe}-{seed}",
                    "plan_sha256": "",
                    "model": "mlp",
                    "recipe": recipe,
                    "generator": "" if recipe == "dense" else recipe,
                    **{**SETTING, "epochs": 5},
                    "masks_sha256": _hash(recipe, seed) if recipe == "random-filters" else "",
                    "random_filters_draw": "per training seed" if recipe == "random-filters" else "",
                    "train_seed": seed,
                    "density": 1.0 if recipe == "dense" else 0.31,
                    "params_kept": 269_322 if recipe == "dense" else 84_000,
                    "layer_spectral_gap": np.nan if recipe == "dense" else 266.5 + rng.uniform(0, 3.5),
                    "best_acc": accuracy + rng.normal(0, noise),
                    "final_acc": accuracy - 0.2 + rng.normal(0, noise),
                }
            )
    return pd.DataFrame(rows)
