"""Arms compared seed by seed: each arm's accuracy against a reference arm's run with the same
training seed. An arm is a recipe (``report --pair-recipes REFERENCE``; EDropout against its
random-filters control) or a model configuration (dense ResNet-32 against shared-basis models).

Seeds are the unit: a pair is the two recipes' runs with one ``train_seed``. Each difference
gets its mean, a 95% t-interval from :data:`reports.inference.MIN_PAIRS` pairs on, the test the
pairs allow (:func:`reports.inference.paired_test`), Holm's adjustment over every difference in
the table, and the smallest true difference a paired t-test would detect with 80% power.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from common.atomic import atomic_write_text
from reports.compare import paired_difference
from reports.inference import ALPHA, detectable_difference, holm
from reports.table import ReportError

#: Accuracy columns compared by default: at the selected epoch and at the last.
ACCURACIES = ("best_acc", "final_acc")


def _by_seed(rows: pd.DataFrame, arm: str, value: str, accuracy: str) -> pd.Series:
    chosen = rows[rows[arm].astype(str) == value]
    repeated = chosen["train_seed"].duplicated()
    if repeated.any():
        seed = chosen.loc[repeated, "train_seed"].iloc[0]
        raise ReportError(
            f"pairing by seed needs one row per {arm} and seed; {arm} {value} has several with train_seed {seed} "
            "(narrow the rows with --model, --dataset or --epochs)"
        )
    return pd.to_numeric(chosen.set_index("train_seed")[accuracy], errors="coerce").dropna()


def pair_recipes(rows: pd.DataFrame, reference: str, accuracies: tuple[str, ...] = ACCURACIES) -> pd.DataFrame:
    """:func:`pair_arms` over recipes (``report --pair-recipes REFERENCE``)."""
    recipes = list(dict.fromkeys(rows["recipe"].astype(str)))
    if reference not in recipes:
        raise ReportError(f"--pair-recipes {reference}: no rows of that recipe (the table has {', '.join(recipes)})")
    return pair_arms(rows, "recipe", reference, accuracies)


def pair_arms(rows: pd.DataFrame, arm: str, reference: str, accuracies: tuple[str, ...] = ACCURACIES) -> pd.DataFrame:
    """One line per (accuracy column, value of column ``arm``): its mean and std over seeds and,
    for every arm but ``reference``, the paired difference to ``reference`` (points) with its test.

    Raises
    ------
    ReportError
        If an arm has two rows with one seed.
    """
    arms = list(dict.fromkeys(rows[arm].astype(str)))
    lines = []
    for accuracy in [a for a in accuracies if a in rows.columns]:
        base = _by_seed(rows, arm, reference, accuracy)
        for recipe in arms:
            values = _by_seed(rows, arm, recipe, accuracy)
            line = {
                "accuracy": accuracy,
                arm: recipe,
                "n_seeds": len(values),
                "acc_mean": float(values.mean()),
                "acc_std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
            }
            if recipe != reference:
                line.update(paired_difference(values, base))
                line["detectable_diff"] = detectable_difference(line["diff_sd"], line["n_pairs"])
            lines.append(line)
    table = pd.DataFrame(lines)
    table["p_holm"] = holm(table["p"]) if "p" in table else np.nan
    return table


def pairing_findings(table: pd.DataFrame, reference: str, alpha: float = ALPHA, arm: str = "recipe") -> list[str]:
    """One sentence per difference: its interval and what the seeds can and cannot show."""
    findings = []
    for _, line in table[table[arm] != reference].iterrows():
        head = f"{line[arm]} - {reference} ({line['accuracy']}, {int(line['n_pairs'])} paired seeds):"
        if int(line["n_pairs"]) == 0:
            findings.append(f"{head} no seed ran both, so nothing is compared.")
            continue
        if line["test"] == "none":
            findings.append(f"{head} {line['diff']:+.2f} points; too few seeds to test anything.")
            continue
        interval = (
            f"{line['diff']:+.2f} points, 95% t-interval [{line['diff_ci_low']:+.2f}, {line['diff_ci_high']:+.2f}]"
        )
        if line["smallest_p"] >= alpha:
            findings.append(
                f"{head} {interval} (descriptive): with {int(line['n_pairs'])} pairs the {line['test']} test cannot "
                f"reach the 5% level whatever the difference (its smallest p is {line['smallest_p']:.2g}), so "
                "nothing is called a difference."
            )
            continue
        verdict = (
            f"a difference at the 5% level (Holm p = {line['p_holm']:.2g})"
            if line["p_holm"] < alpha
            else f"no difference shown (Holm p = {line['p_holm']:.2g})"
        )
        verdict += f", by the {line['test']} test"
        detectable = line["detectable_diff"]
        power = f"; a true difference under {detectable:.2f} points would likely be missed" if detectable > 0 else ""
        findings.append(f"{head} {interval}: {verdict}{power}.")
    return findings


#: ``report --pair-recipes``'s table, beside report.html.
PAIRED_FILE = "paired_recipes.csv"


def write_pairs(table, out) -> Path:
    """Write :func:`pair_recipes`'s table to ``out/paired_recipes.csv`` (atomically); its path."""
    path = Path(out) / PAIRED_FILE
    atomic_write_text(path, table.to_csv(index=False, lineterminator="\n"))
    return path
