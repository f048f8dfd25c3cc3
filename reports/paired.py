"""Sections of experiments that compare a few arms seed by seed: models at their counted cost
(dense ResNet-32 against shared-basis models, a regulariser on and off) and a recipe against its
control (EDropout against random filters at its kept counts). docs/architecture.md, "Reports".

Seeds are the unit: every arm is compared with the reference arm over the training seeds both
ran (:func:`reports.arms.pair_arms`: mean difference, t-interval from three pairs, the test the
pairs allow, Holm over the arms).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.arms import pair_arms, pairing_findings
from reports.figures import ACCURACY_LABEL, save

#: The column that names a model comparison's arms.
MODEL_ARM = "configuration"
#: Counted costs shown beside a model's accuracy (means over its seeds).
COSTS = ("params_kept", "macs_kept")


def model_labels(rows: pd.DataFrame) -> pd.Series:
    """Each row's model configuration, short: the model and the options that differ between rows
    (``resnet32_shared shared_rank=8 bases=single orth_lambda=10``; ``resnet32`` alone)."""
    options = [_options(text) for text in rows.get("model_options", pd.Series("", index=rows.index))]
    models = rows["model"].astype(str).tolist()
    labels = []
    for model, option in zip(models, options):
        same = [o for m, o in zip(models, options) if m == model]  # options that differ between runs of this model
        shown = [f"{k}={v}" for k, v in option.items() if len({json.dumps(o.get(k), sort_keys=True) for o in same}) > 1]
        labels.append(" ".join([model, *shown]))
    return pd.Series(labels, index=rows.index)


def _options(text) -> dict:
    try:
        parsed = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {"model_options": text}
    return parsed if isinstance(parsed, dict) else {"model_options": text}


def compare_models(rows: pd.DataFrame, accuracy: str) -> tuple[pd.DataFrame, str]:
    """One line per model configuration, the largest (most counted parameters) first and the
    reference: counted costs, their share of the reference's, accuracy over seeds and the paired
    difference to the reference. Returns the table and the reference's label."""
    rows = rows.assign(**{MODEL_ARM: model_labels(rows)})
    costs = rows.groupby(MODEL_ARM, sort=False)[[c for c in COSTS if c in rows.columns]].mean()
    order = costs.sort_values(COSTS[0], ascending=False, kind="stable").index if COSTS[0] in costs else costs.index
    reference = str(order[0])
    table = pair_arms(rows, MODEL_ARM, reference, (accuracy,)).set_index(MODEL_ARM).loc[list(order)]
    for cost in costs.columns:
        table[cost] = costs[cost]
        table[f"{cost}_share"] = costs[cost] / costs.loc[reference, cost]
    return table.reset_index(), reference


def model_findings(table: pd.DataFrame, reference: str) -> list[str]:
    """The answer first (each model's counted cost against the reference and its accuracy
    difference), then what the seeds can and cannot show."""
    base = table[table[MODEL_ARM] == reference].iloc[0]
    seeds = int(base["n_seeds"])
    parts = []
    for _, line in table[table[MODEL_ARM] != reference].iterrows():
        cost = f"{line['params_kept_share']:.0%} of the parameters" if "params_kept_share" in line else ""
        if "macs_kept_share" in line and pd.notna(line["macs_kept_share"]):
            cost += f" and {line['macs_kept_share']:.0%} of the MACs"
        parts.append(f"{line[MODEL_ARM]}: {cost}, {line['diff']:+.2f} points")
    lead = (
        f"Against {reference} ({_count(base)}, {base['acc_mean']:.2f}% over {seeds} seed{'s' if seeds != 1 else ''}), "
        "at their counted cost: " + "; ".join(parts) + "."
    )
    others = table[table[MODEL_ARM] != reference]
    if (others["test"] == "none").all():  # nothing to test: the lead has every difference already
        return [lead, f"With {int(others['n_pairs'].max())} paired seed(s) no difference can be tested (from 3)."]
    return [lead, *pairing_findings(table, reference, arm=MODEL_ARM)]


def _count(line) -> str:
    return f"{line['params_kept']:,.0f} parameters" if "params_kept" in line else "its cost"


def model_cost_figure(rows: pd.DataFrame, table: pd.DataFrame, accuracy: str, path: Path) -> Path | None:
    """Accuracy against counted parameters and MACs (log axes): each model's seeds (faint) and
    their mean with its std. None without counted costs."""
    costs = [c for c in COSTS if c in table.columns and table[c].notna().all()]
    if not costs:
        return None
    rows = rows.assign(**{MODEL_ARM: model_labels(rows)})
    figure = Figure(figsize=(10, 4.2), layout="constrained")
    for axes, cost in zip(figure.subplots(1, len(costs), squeeze=False)[0], costs):
        for index, (_, line) in enumerate(table.iterrows()):
            runs = rows[rows[MODEL_ARM] == line[MODEL_ARM]]
            colour = f"C{index % 10}"
            axes.scatter(runs[cost], runs[accuracy], color=colour, alpha=0.35, s=14)
            axes.errorbar(line[cost], line["acc_mean"], yerr=np.nan_to_num(line["acc_std"]), fmt="o", color=colour,
                          capsize=3, label=line[MODEL_ARM])  # fmt: skip
        axes.set_xscale("log")
        axes.set_xlabel("counted parameters" if cost == "params_kept" else "counted MACs per example")
        axes.set_ylabel(ACCURACY_LABEL.replace(", mean", "\nmean"))
    figure.legend(*axes.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small")
    return save(figure, path)


def paired_figure(table: pd.DataFrame, reference: str, arm: str, path: Path) -> Path | None:
    """Each arm's mean difference to ``reference`` (points) with its 95% t-interval, or its range
    below three pairs; None when nothing was paired."""
    lines = table[(table[arm] != reference) & (table["n_pairs"] > 0)]
    if lines.empty:
        return None
    figure = Figure(figsize=(8, 0.9 + 0.6 * len(lines)), layout="constrained")
    axes = figure.subplots()
    labels = []
    for y, (_, line) in enumerate(lines.iterrows()):
        low, high = line["diff_ci_low"], line["diff_ci_high"]
        if not (np.isfinite(low) and np.isfinite(high)):
            low, high = line["diff_min"], line["diff_max"]
        axes.plot([low, high], [y, y], color="C0", linewidth=2)
        axes.plot(line["diff"], y, "o", color="C0")
        labels.append(f"{line[arm]}\n({line['accuracy']}, {int(line['n_pairs'])} pairs)")
    axes.axvline(0, color="grey", linestyle="--", linewidth=1)
    axes.set_yticks(range(len(lines)), labels, fontsize="small")
    axes.invert_yaxis()  # the first arm (the one the answer sentence names) on top
    axes.set_xlabel(f"accuracy difference to {reference} (points): mean, 95% t-interval (range below 3 pairs)")
    return save(figure, path)
