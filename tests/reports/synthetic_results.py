"""Results tables with a known relation between graph metrics and accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainer.results import COLUMNS


def results_table(accuracy, plans: int = 10, seeds: int = 3, seed: int = 0, baseline: bool = True) -> pd.DataFrame:
    """Rows in the results.csv layout. ``accuracy(metrics, rng) -> float`` gives each run's accuracy.

    Plan i has aspl spread over [3, 8], clustering and spectral gap drawn at random, and the
    density of a 4-regular 64-node plan unless ``metrics`` are changed by the caller afterwards.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(plans):
        metrics = {
            "aspl": 3 + 5 * index / max(1, plans - 1),
            "clustering": float(rng.uniform(0, 0.5)),
            "transitivity": float(rng.uniform(0, 0.5)),
            "spectral_gap": float(rng.uniform(0.1, 1.5)),
            "degree_mean": 4.0,
            "density": 0.0625,
        }
        for train_seed in range(seeds):
            rows.append(
                {
                    **metrics,
                    "run_id": f"r{index}-{train_seed}",
                    "plan": f"plans/p{index}.npy",
                    "plan_sha256": f"sha{index}",
                    "generator": "swap-chain",
                    "nodes": 64,
                    "degree": 4,
                    "model": "mlp",
                    "dataset": "fashion-mnist",
                    "recipe": "relational",
                    "train_seed": train_seed,
                    "epochs": 3,
                    "best_acc": accuracy(metrics, rng),
                    "final_acc": 0.0,
                }
            )
    if baseline:
        for train_seed in range(seeds):
            rows.append(
                {
                    "run_id": f"dense-{train_seed}",
                    "plan_sha256": "",
                    "model": "mlp",
                    "dataset": "fashion-mnist",
                    "recipe": "dense",
                    "train_seed": train_seed,
                    "epochs": 3,
                    "density": 1.0,
                    "best_acc": 91 + rng.normal(0, 0.1),
                    "final_acc": 0.0,
                }
            )
    frame = pd.DataFrame(rows)
    return frame[[c for c in COLUMNS if c in frame.columns]]
