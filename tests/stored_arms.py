"""The quoted part of a stored run whose report compares arms seed by seed (models against the
largest, or recipes against a control): its design and a table of every arm's counted cost and
accuracy per seed, generated from the stored table and the report's pairs
(docs/architecture.md, "Stored runs")."""

from __future__ import annotations

import pandas as pd

from reports.paired import MODEL_ARM, model_labels

#: Columns shown per arm when its runs have them: (column, heading, format of one value).
OUTCOMES = (
    ("edropout_frozen_step", "froze at step", "{:,.0f}"),
    ("edropout_paper_r", "paper's R", "{:.3f}"),
)


def arm_column(pairs: pd.DataFrame) -> str:
    return MODEL_ARM if MODEL_ARM in pairs.columns else "recipe"


def labelled(table: pd.DataFrame, arm: str) -> pd.DataFrame:
    """The stored rows with the report's arm label in column ``arm``."""
    return table.assign(**{MODEL_ARM: model_labels(table)}) if arm == MODEL_ARM else table


def _per_seed(values: pd.Series, form: str) -> str:
    """One value when every seed has it, else each seed's in seed order."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return "—"
    shown = list(dict.fromkeys(form.format(v) for v in values))
    return shown[0] if len(shown) == 1 else " / ".join(form.format(v) for v in values)


def _share(runs: pd.DataFrame, kept: str, total: str | float, form: str) -> str:
    """The kept count per seed and its share of ``total`` (a column of the runs, or one number)."""
    if kept not in runs:
        return "—"
    counts = pd.to_numeric(runs[kept], errors="coerce")
    whole = pd.to_numeric(runs[total], errors="coerce") if isinstance(total, str) and total in runs else total
    text = _per_seed(counts, form)
    if not isinstance(whole, str) and text != "—":
        text += f" ({_per_seed(counts / whole * 100, '{:.1f}%')})"
    return text


def _difference(line: pd.Series) -> str:
    if "diff" not in line or pd.isna(line.get("diff")):
        return "reference"
    if pd.isna(line.get("diff_ci_low")):  # fewer than MIN_PAIRS pairs: no interval
        return f"{line['diff']:+.2f}"
    return f"{line['diff']:+.2f} [{line['diff_ci_low']:+.2f}, {line['diff_ci_high']:+.2f}]"


def arms_table(pairs: pd.DataFrame, table: pd.DataFrame, accuracy: str) -> list[str]:
    """Markdown lines: per arm (the report's order) its counted parameters (for recipes their
    share of the model's own, for models their share of the reference model's) and MACs,
    EDropout's outcomes where there are any, accuracy per training seed, mean ± std over the
    seeds, and the paired difference to the reference in points (a 95% t-interval where the
    report gives one: from reports.inference.MIN_PAIRS pairs on)."""
    arm = arm_column(pairs)
    rows = labelled(table, arm).sort_values("train_seed")
    pairs = pairs[pairs["accuracy"] == accuracy] if "accuracy" in pairs else pairs
    seeds = sorted(int(s) for s in rows["train_seed"].unique())
    outcomes = [o for o in OUTCOMES if o[0] in rows and pd.to_numeric(rows[o[0]], errors="coerce").notna().any()]
    reference = pairs.loc[pairs["diff"].isna(), arm].iloc[0] if "diff" in pairs else pairs[arm].iloc[0]
    macs_form = "{:.1f} M" if "macs_kept" in rows and rows["macs_kept"].max() >= 1e7 else "{:.3f} M"
    models = arm == MODEL_ARM  # models: shares of the reference model's count; recipes: of the model's own
    reference_params = (
        rows.loc[rows[arm].astype(str) == str(reference), "params_kept"].mean()
        if models and "params_kept" in rows
        else None
    )
    params_head = f"params (share of {reference}'s)" if models else "params kept"
    head = [arm, params_head, "MACs kept per example", *(o[1] for o in outcomes), *(f"seed {s}" for s in seeds)]
    head += [f"mean ± std ({accuracy}, %)", f"− {reference} (points)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for _, line in pairs.iterrows():
        runs = rows[rows[arm].astype(str) == str(line[arm])]
        by_seed = runs.set_index("train_seed")[accuracy]
        cells = [
            str(line[arm]),
            _share(runs, "params_kept", reference_params if models else "params_total", "{:,.0f}"),
            _per_seed(runs["macs_kept"] / 1e6, macs_form) if "macs_kept" in runs else "—",
            *(_per_seed(runs[column], form) for column, _, form in outcomes),
            *(f"{by_seed[s]:.2f}" if s in by_seed.index else "—" for s in seeds),
            f"{line['acc_mean']:.2f} ± {line['acc_std']:.2f}",
            _difference(line),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def arms_design(pairs: pd.DataFrame, table: pd.DataFrame) -> str:
    """The design of an arms experiment in one sentence, read from the table."""
    arm = arm_column(pairs)
    seeds = sorted(int(s) for s in table["train_seed"].unique())
    models = sorted(table["model"].astype(str).unique())
    epochs = int(table["epochs"].iloc[0])
    subset = ""
    if "max_train" in table and pd.to_numeric(table["max_train"], errors="coerce").notna().any():
        subset = f" (the first {int(pd.to_numeric(table['max_train']).max()):,} training examples)"
    kind = "models" if arm == MODEL_ARM else "recipes"
    return (
        f"{pairs[arm].nunique()} {kind} ({', '.join(map(str, pairs[arm].unique()))}); "
        f"training seeds {', '.join(map(str, seeds))}; {epochs} epoch{'s' if epochs != 1 else ''} of "
        f"{' and '.join(models)} on {table['dataset'].iloc[0]}{subset}"
    )
