"""Does a fresh run agree with a stored one (``report --check-against STORED``; docs/architecture.md,
"Reports", "Stored runs")?

Two questions. Each configuration both runs trained (matched by what identifies it: plan
content, recipe, degree, masks) agrees when a Welch t-test of its accuracies over seeds, fresh
against stored, is not significant after Holm's correction over the configurations compared:
the difference is within the spread over seeds. And each *claim* the report makes (the sign and
Holm significance of every correlation, whether it is stable, which metric is strongest, which
configuration is best and whether that is stable) is listed where the two runs say different
things.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from reports.inference import ALPHA, holm, varies
from reports.stability import STABLE
from reports.stats import TREATMENT_KEYS


@dataclass(frozen=True)
class Agreement:
    """Configurations compared, those whose accuracy differs beyond the seed spread, and changed claims."""

    compared: int
    differing: list[str]  # one phrase per configuration that differs
    only_one: int  # configurations trained in one of the runs only
    changed: list[str]  # "claim: stored -> fresh"
    claims: int

    def lines(self, stored: str) -> list[str]:
        verdict = "agrees" if not self.differing and not self.changed else "differs"
        lines = [
            f"Against the stored run {stored}: {verdict}. {self.compared - len(self.differing)} of {self.compared} "
            f"configurations within the seed spread (Welch t-test per configuration, Holm over {self.compared}); "
            f"{self.claims - len(self.changed)} of {self.claims} claims unchanged."
        ]
        lines += [f"differs: {phrase}" for phrase in self.differing]
        lines += [f"claim changed: {claim}" for claim in self.changed]
        if self.only_one:
            lines.append(f"{self.only_one} configuration(s) were trained in one of the two runs only (not compared).")
        return lines


def _key(summary: pd.DataFrame) -> pd.Series:
    keys = [c for c in TREATMENT_KEYS if c in summary.columns]
    return summary[keys].apply(lambda row: "|".join(str(value) for value in row), axis=1)


def _welch_p(fresh, stored) -> float:
    """Two-sided Welch p of fresh vs stored accuracies; NaN (untested) with fewer than 2 seeds on a side."""
    a, b = np.asarray(fresh, float), np.asarray(stored, float)
    if min(len(a), len(b)) < 2:
        return float("nan")
    if not (varies(a) or varies(b)):  # no spread on either side: equal or not
        return 1.0 if not varies(np.concatenate([a, b])) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def compare_accuracies(fresh: pd.DataFrame, stored: pd.DataFrame) -> tuple[int, list[str], int]:
    """(configurations compared, phrases for those that differ beyond the seed spread, configurations
    in one run only) for two plan summaries (:func:`reports.stats.plan_summary`)."""
    fresh, stored = fresh.assign(key=_key(fresh)), stored.assign(key=_key(stored))
    both = fresh.merge(stored, on="key", suffixes=("", "_stored"))
    adjusted = holm([_welch_p(row["accuracies"], row["accuracies_stored"]) for _, row in both.iterrows()])
    differing = [
        f"{row['plan']}: {row['acc_mean']:.2f}% now, {row['acc_mean_stored']:.2f}% stored "
        f"(over {row['n_seeds']} and {row['n_seeds_stored']} seeds; Holm p = {q:.2g})"
        for (_, row), q in zip(both.iterrows(), adjusted)
        if np.isfinite(q) and q < ALPHA
    ]
    only_one = len(set(fresh["key"]) ^ set(stored["key"]))
    return len(both), differing, only_one


def claims(correlations: pd.DataFrame, stability: pd.DataFrame | None, summary: pd.DataFrame) -> dict[str, str]:
    """The report's claims in words, keyed by what they are about."""
    said = {}
    for _, row in correlations.iterrows():
        if not np.isfinite(row.get("spearman_p_holm", np.nan)):
            continue
        direction = "falls" if row["spearman_rho"] < 0 else "rises"
        said[f"accuracy vs {row['metric']}"] = (
            f"{direction}, Holm-significant" if row["spearman_p_holm"] < ALPHA else "not significant"
        )
    if stability is not None and len(stability):
        for _, row in stability.iterrows():
            said[f"{row['metric']} stable"] = "stable" if row["holds"] >= STABLE else "not stable"
        own = stability[stability["same_as"] == stability["metric"]]
        top = own.loc[own["strongest"].idxmax()]
        said["strongest metric"] = top["metric"] if top["strongest"] >= STABLE else "not resolved"
    plans = summary[~summary["is_baseline"]]
    if len(plans) > 1:
        best = plans.loc[plans["acc_mean"].idxmax()]
        share = best.get("best_share", np.nan)
        said["best configuration"] = best["plan"] if np.isfinite(share) and share >= STABLE else "not resolved"
    return said


def changed_claims(fresh: dict[str, str], stored: dict[str, str]) -> list[str]:
    """``"claim: stored -> fresh"`` for every claim either run makes that the other makes differently."""
    return [
        f"{name}: {stored.get(name, 'not made')} -> {fresh.get(name, 'not made')}"
        for name in sorted(set(fresh) | set(stored))
        if fresh.get(name) != stored.get(name)
    ]


def section_agreement(fresh, stored) -> Agreement:
    """Agreement of two report sections (:class:`reports.build.Section`) of one experiment."""
    compared, differing, only_one = (0, [], 0)
    if "accuracies" in fresh.summary.columns and "accuracies" in stored.summary.columns:
        compared, differing, only_one = compare_accuracies(fresh.summary, stored.summary)
    fresh_claims = claims(fresh.correlations, fresh.stability, fresh.summary)
    stored_claims = claims(stored.correlations, stored.stability, stored.summary)
    changed = changed_claims(fresh_claims, stored_claims)
    return Agreement(compared, differing, only_one, changed, len(set(fresh_claims) | set(stored_claims)))


def check_lines(fresh_sections, stored_sections, stored_name: str) -> list[str]:
    """What :func:`section_agreement` says for every experiment the two reports share, and which they do not."""
    stored_by_title = {section.title: section for section in stored_sections}
    lines = []
    for section in fresh_sections:
        if section.title not in stored_by_title:
            lines.append(f"{section.title}: not in the stored run {stored_name}")
            continue
        prefix = "" if len(fresh_sections) == 1 else f"{section.title}: "
        lines += [
            prefix + line for line in section_agreement(section, stored_by_title[section.title]).lines(stored_name)
        ]
    fresh_titles = {section.title for section in fresh_sections}
    lines += [f"{title}: in the stored run only" for title in stored_by_title if title not in fresh_titles]
    return lines
