"""Split a results table into experiments: rows that differ only in what is being compared.

Within one experiment the *treatment* varies (the plan, the recipe and its degree/density, the
masks) and the training seed repeats it; everything else in the resolved configuration (model
and its options, data set, epochs, optimiser, lr, recipe options such as self-loops, ...) is the
*setting*, equal on every row. Two tables' worth of runs that differ only in ``--lr`` are two
experiments, each with its own report section.

The dense baseline (recipe ``dense``) has no recipe options, so it belongs to every experiment
whose setting matches it apart from those options (one dense run serves the RGP ``A`` and the
graph2nn ``A + I`` sections alike). Only recipe ``dense`` is ever called a baseline.

Which columns are the setting is read from the table itself: every column that is not an
outcome, bookkeeping, a treatment or a graph metric of the plan. Tables written before the
configuration columns existed have only ``model``, ``dataset`` and ``epochs`` as their setting.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import pandas as pd

from common.columns import BASELINE_RECIPE, TREATMENT
from reports.table import option_names, outcome_names
from topology.metrics import GRAPH_METRICS

#: Setting columns named in every section title.
HEADLINE = ("model", "dataset", "epochs")
#: Setting columns that define the model: dense runs that differ only in these, on one data set
#: and schedule, are one experiment that compares models (its arms; :mod:`reports.paired`).
MODEL_FIELDS = ("model", "model_options")


@dataclass
class Experiment:
    """The rows of one experiment and how it is named.

    Attributes
    ----------
    setting : dict
        Setting column -> value (as text; "" for empty) shared by the rows.
    rows : pandas.DataFrame
        Its runs, dense baseline included.
    title : str
        ``model · data set · N epochs`` plus every setting field whose value differs between
        the experiments of the table (``lr=0.01``, ``self_loops=True``, ...).
    slug : str
        A file-name-safe name, unique among the table's experiments.
    """

    setting: dict
    rows: pd.DataFrame
    title: str = ""
    slug: str = ""
    compares_models: bool = False  # dense runs of several models on one data set and schedule


def setting_columns(table: pd.DataFrame) -> list[str]:
    """The columns of ``table`` that describe an experiment's setting (see module doc)."""
    metrics = {"plan_density" if name == "density" else name for name in GRAPH_METRICS}
    skip = set(TREATMENT) | outcome_names(table) | metrics
    return [column for column in table.columns if column not in skip]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as comparable text: empty for missing, whole-number floats without ``.0``."""

    def text(value) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return frame.apply(lambda column: column.map(text))


def _options_without_structure(options, structure) -> str:
    """``model_options`` JSON minus the keys of ``model_structure`` (X-Net wiring is compared, not split on)."""
    try:
        parsed, wiring = json.loads(options), json.loads(structure)
    except (TypeError, ValueError):
        return options
    if not isinstance(parsed, dict) or not isinstance(wiring, dict):
        return options
    return json.dumps({k: v for k, v in parsed.items() if k not in wiring}, sort_keys=True, separators=(",", ":"))


def split_experiments(table: pd.DataFrame) -> list[Experiment]:
    """The experiments of ``table``, largest first (ties in table order).

    Every masked row is in exactly one experiment; a dense row is in every experiment whose
    setting it matches outside the recipe options (the table's column roles), or in an
    experiment of dense rows only.
    The model options that set an X-Net model's wiring (``model_structure``) are compared
    within an experiment, so X, grouped and dense versions of one model sit side by side.
    """
    columns = setting_columns(table)
    recipe_options = option_names(table)
    base = [c for c in columns if c not in recipe_options]
    text = _as_text(table[columns]) if columns else pd.DataFrame(index=table.index)
    if "model_options" in text.columns and "model_structure" in table.columns:
        structure = _as_text(table[["model_structure"]])["model_structure"]
        text["model_options"] = [
            _options_without_structure(o, w) if w else o for o, w in zip(text["model_options"], structure)
        ]
    dense = table["recipe"].astype(str) == BASELINE_RECIPE
    options = [c for c in columns if c in recipe_options]
    experiments: list[Experiment] = []
    for key, index in text[~dense].groupby(columns, sort=False).groups.items() if columns else []:
        setting = dict(zip(columns, key if isinstance(key, tuple) else (key,)))
        for experiment in experiments:  # recipes that do not read an option (empty) share it with any value
            if all(experiment.setting[c] == setting[c] for c in base) and _compatible(
                experiment.setting, setting, options
            ):
                experiment.setting.update({c: setting[c] for c in options if setting[c]})
                experiment.rows = pd.concat([experiment.rows, table.loc[list(index)]])
                break
        else:
            experiments.append(Experiment(setting, table.loc[list(index)]))
    for experiment in experiments:
        matching = (
            dense & (text[base] == pd.Series({c: experiment.setting[c] for c in base})).all(axis=1) if base else dense
        )
        experiment.rows = pd.concat([experiment.rows, table.loc[table.index[matching]]]).sort_index()
    attached = set().union(*(set(e.rows.index) for e in experiments)) if experiments else set()
    alone = text[dense & ~table.index.isin(list(attached))]
    for key, index in alone.groupby(base, sort=False).groups.items() if base else []:
        setting = dict(zip(base, key if isinstance(key, tuple) else (key,)))
        experiments.append(
            Experiment({**setting, **{c: "" for c in recipe_options if c in columns}}, table.loc[list(index)])
        )
    if not columns:
        experiments = [Experiment({}, table)]
    experiments = _merge_model_comparisons(experiments)
    experiments.sort(key=lambda e: -len(e.rows))
    _name(experiments, recipe_options)
    return experiments


def _merge_model_comparisons(experiments: list[Experiment]) -> list[Experiment]:
    """Dense-only experiments that differ only in :data:`MODEL_FIELDS` merged into one that
    compares the models (its setting names the models, joined by ``vs``)."""
    groups: dict[tuple, list[Experiment]] = {}
    for experiment in experiments:
        if _dense_only(experiment) and "model" in experiment.setting:
            rest = tuple(sorted((k, v) for k, v in experiment.setting.items() if k not in MODEL_FIELDS))
            groups.setdefault(rest, []).append(experiment)
    merged = []
    for experiment in experiments:
        if not (_dense_only(experiment) and "model" in experiment.setting):
            merged.append(experiment)
            continue
        group = groups[tuple(sorted((k, v) for k, v in experiment.setting.items() if k not in MODEL_FIELDS))]
        if len(group) == 1:
            merged.append(experiment)
        elif experiment is group[0]:
            setting = {**experiment.setting, "model_options": ""}
            setting["model"] = " vs ".join(dict.fromkeys(e.setting["model"] for e in group))
            rows = pd.concat([e.rows for e in group]).sort_index()
            merged.append(Experiment(setting, rows, compares_models=True))
    return merged


def _compatible(first: dict, second: dict, options: list[str]) -> bool:
    """True when no recipe option has two different non-empty values in the two settings."""
    return all(not first[c] or not second[c] or first[c] == second[c] for c in options)


def _shown_setting(setting: dict) -> dict:
    """The setting as named in titles: model options spread into their own fields (``width=986``)."""
    shown = dict(setting)
    try:
        options = json.loads(shown.pop("model_options", "") or "{}")
    except ValueError:
        options = {"model_options": setting.get("model_options")}
    if isinstance(options, dict):
        shown.update({key: str(value) for key, value in options.items() if key not in shown})
    return shown


def _name(experiments: list[Experiment], recipe_options: list[str]) -> None:
    """Titles naming the headline fields and the fields whose values tell the experiments apart:
    first those with two different values; a field set in one experiment and absent in another
    only where the titles would otherwise be equal. An absent field is never named."""
    shown = [_shown_setting(e.setting) for e in experiments]
    for e, s in zip(experiments, shown):  # a recipe option of a dense-only experiment is not read
        for f in recipe_options:
            if f in s and _dense_only(e):
                s[f] = ""
    fields = [f for f in dict.fromkeys(f for s in shown for f in s) if f not in HEADLINE]
    contrasting = [f for f in fields if len({s[f] for s in shown if s.get(f)}) > 1]
    titles = [_title(e, s, contrasting) for e, s in zip(experiments, shown)]
    for title in {t for t in titles if titles.count(t) > 1}:
        same = [i for i, t in enumerate(titles) if t == title]
        present = [f for f in fields if f not in contrasting and len({shown[i].get(f, "") for i in same}) > 1]
        for i in same:
            titles[i] = _title(experiments[i], shown[i], contrasting + present)
    used: set[str] = set()
    for number, (experiment, title) in enumerate(zip(experiments, titles), start=1):
        experiment.title = title if titles.count(title) == 1 else f"{title} ({number})"
        slug = _slug(experiment.title) or f"experiment-{number}"
        while slug in used:
            slug = f"{slug}-{number}"
        used.add(slug)
        experiment.slug = slug


def _title(experiment: Experiment, shown: dict, named: list[str]) -> str:
    epochs = shown.get("epochs", "")
    parts = [
        part
        for part in (
            shown.get("model", ""),
            shown.get("dataset", ""),
            f"{epochs} epoch{'' if epochs == '1' else 's'}" if epochs else "",
        )
        if part
    ]
    parts += [f"{f}={_short(shown[f])}" for f in named if shown.get(f)]
    if experiment.compares_models:
        parts.append("models compared")
    elif _dense_only(experiment):
        parts.append("dense only")
    return " · ".join(parts) or "experiment"


#: Longest value named in a title; a hash is named by its first 8 characters.
MAX_VALUE = 24


def _short(value: str) -> str:
    """A setting value as a title names it: a hex digest cut to 8 characters, a long value cut."""
    if re.fullmatch(r"[0-9a-f]{16,}", value):
        return value[:8]
    return value if len(value) <= MAX_VALUE else value[: MAX_VALUE - 1] + "…"


#: Longest figure-folder name; a longer title keeps its start and a hash of the whole, so it stays readable and unique.
MAX_SLUG = 64


def _slug(title: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title.replace("·", "-")).strip("-").lower()
    if len(slug) <= MAX_SLUG:
        return slug
    digest = hashlib.sha256(title.encode()).hexdigest()[:8]
    return f"{slug[: MAX_SLUG - 9].rstrip('-')}-{digest}"


def _dense_only(experiment: Experiment) -> bool:
    return bool((experiment.rows["recipe"].astype(str) == BASELINE_RECIPE).all())
