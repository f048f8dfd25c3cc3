"""Per-step search logs of a recipe's runs (EDropout's ``search_log.csv``, beside each run's
``log.csv``), found next to the results tables, and their figure in the experiment's section."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from common.columns import STEP_LOG_FILE
from reports.figures import MAX_LEGEND, save


def step_logs(rows: pd.DataFrame, folders: list[Path]) -> dict[str, pd.DataFrame]:
    """``{"seed S (run id)": search log}`` of the rows whose run directory, in one of ``folders``
    (those of the results tables), holds a search log; an unreadable log is skipped."""
    logs = {}
    if "run_id" not in rows.columns:
        return logs
    for _, row in rows.sort_values("train_seed").iterrows():
        for folder in folders:
            path = folder / str(row["run_id"]) / STEP_LOG_FILE
            if path.is_file():
                try:
                    logs[f"seed {row['train_seed']} ({row['run_id']})"] = pd.read_csv(path)
                except (OSError, ValueError, pd.errors.ParserError):
                    pass
                break
    return logs


def step_log_figure(logs: dict[str, pd.DataFrame], path: Path) -> Path | None:
    """Energies per search step (the best as stored, solid; the incumbent re-scored on each step's
    minibatch, faint) and the population's mean Hamming distance, one colour per run, a dashed
    line at each freeze; None when there is no log or too many runs for a legend."""
    if not logs or len(logs) > MAX_LEGEND:
        return None
    figure = Figure(figsize=(8, 6), layout="constrained")
    energy_axes, spread_axes = figure.subplots(2, 1, sharex=True)
    for index, (label, log) in enumerate(logs.items()):
        colour = f"C{index}"
        energy_axes.plot(log["step"], log["incumbent_energy"], color=colour, alpha=0.3, linewidth=0.8)
        energy_axes.plot(log["step"], log["best_energy"], color=colour, label=label)
        spread_axes.plot(log["step"], log["hamming"], color=colour)
        for step in log.loc[log["frozen_after"].astype(bool), "step"]:
            for axes in (energy_axes, spread_axes):
                axes.axvline(step, color=colour, linestyle="--", linewidth=1)
    energy_axes.set_ylabel("energy (lower is better)")
    energy_axes.set_title("best energy as stored (solid) vs the incumbent re-scored on each minibatch (faint)")
    energy_axes.legend(fontsize="small")
    spread_axes.set_ylabel("mean Hamming distance\n(share of bits)")
    spread_axes.set_xlabel("search step (dashed: the state froze)")
    return save(figure, path)
