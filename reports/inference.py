"""Tests that can mean something: Holm's correction over a family, paired tests chosen by what the
number of seeds allows, and power in the reader's terms.

Seeds are the unit. With fewer than :data:`MIN_PAIRS` paired seeds nothing is called significant.
From :data:`MIN_PAIRS` seeds on, a paired difference is tested with the exact sign-flip
permutation test until the Wilcoxon signed-rank test can reach the level at all (its smallest
two-sided p is 2 / 2^n, below 0.05 from n = 6), then with Wilcoxon; the paired t-test is reported
beside either. Every p-value that decides a finding is Holm-adjusted within its family.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05
#: Fewest paired seeds with which a difference is tested at all.
MIN_PAIRS = 3
#: Power the detectable differences are stated at.
POWER = 0.8
#: Sign-flip permutations are enumerated exactly up to this many pairs (2^n of them).
EXACT_PAIRS = 16


#: Values that differ by less than this are equal (accuracies carry float noise of about 1e-13).
TOLERANCE = 1e-9


def varies(values) -> bool:
    """Whether ``values`` differ by more than float noise (a t statistic of noise is meaningless)."""
    values = np.asarray(values, dtype=float)
    return len(values) > 1 and float(np.ptp(values)) > TOLERANCE * max(1.0, float(np.max(np.abs(values))))


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values; NaN entries stay NaN and are not counted in the family.

    The i-th smallest of m p-values is multiplied by (m - i + 1), the running maximum is taken so
    the order is kept, and the result is capped at 1.
    """
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (m - rank) * p[index])
        adjusted[index] = min(1.0, running)
    return adjusted


def holm_rows(pvalues: np.ndarray) -> np.ndarray:
    """:func:`holm` applied to each row of a 2-D array at once (NaN entries left out of their row's family)."""
    p = np.asarray(pvalues, dtype=float)
    finite = np.isfinite(p)
    order = np.argsort(np.where(finite, p, np.inf), axis=1, kind="stable")
    ordered = np.take_along_axis(p, order, axis=1)
    family = finite.sum(axis=1, keepdims=True)
    scaled = np.where(np.isfinite(ordered), (family - np.arange(p.shape[1])[None, :]) * ordered, np.nan)
    running = np.minimum(1.0, np.fmax.accumulate(scaled, axis=1))
    adjusted = np.full_like(p, np.nan)
    np.put_along_axis(adjusted, order, np.where(np.isfinite(ordered), running, np.nan), axis=1)
    return adjusted


def smallest_p(pairs: int) -> float:
    """The smallest two-sided p a sign-flip permutation test (or Wilcoxon, without ties) can give."""
    return min(1.0, 2.0 / 2**pairs) if pairs > 0 else 1.0


def sign_flip_p(differences) -> float:
    """Exact two-sided paired permutation test of mean difference 0: the share of the 2^n sign
    assignments whose |mean| is at least the observed one (Monte Carlo over 2^16 draws, seeded,
    beyond :data:`EXACT_PAIRS` pairs)."""
    d = np.asarray(differences, dtype=float)
    observed = abs(d.mean())
    if len(d) <= EXACT_PAIRS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
    else:
        signs = np.random.default_rng(0).choice((1.0, -1.0), size=(2**16, len(d)))
    means = np.abs(signs @ d) / len(d)
    return float(np.mean(means >= observed - 1e-12 * max(1.0, observed)))


@dataclass
class PairedTest:
    """The test a paired difference over n seeds allows, and its p-value."""

    n_pairs: int
    method: str  # "none", "sign-flip permutation" or "Wilcoxon signed-rank"
    p: float  # of ``method``; NaN when untested
    smallest_p: float  # the smallest p ``method`` can give with n pairs
    t_p: float  # the paired t-test's p beside it (NaN when untested or the differences do not vary)

    @property
    def testable(self) -> bool:
        return self.method != "none"


def paired_test(differences, alpha: float = ALPHA) -> PairedTest:
    """The test :mod:`this module <reports.inference>` chooses for paired differences."""
    d = np.asarray(differences, dtype=float)
    n = len(d)
    if n < MIN_PAIRS:
        return PairedTest(n, "none", float("nan"), smallest_p(n), float("nan"))
    t_p = float(stats.ttest_1samp(d, 0.0).pvalue) if varies(d) else float("nan")
    nonzero = bool(np.any(np.abs(d) > TOLERANCE))
    if smallest_p(n) < alpha and nonzero:
        return PairedTest(n, "Wilcoxon signed-rank", float(stats.wilcoxon(d).pvalue), smallest_p(n), t_p)
    p = sign_flip_p(d) if nonzero else 1.0
    return PairedTest(n, "sign-flip permutation", p, smallest_p(n), t_p)


def t_power(
    difference: float, sd: float, n: int, alpha: float = ALPHA, two_sample: bool = False, sides: int = 2
) -> float:
    """Power of a t-test at level ``alpha`` to detect a true mean difference ``difference`` (noncentral t).

    Paired (default): ``n`` pairs whose differences have standard deviation ``sd``. Two-sample:
    ``n`` seeds per group, each with standard deviation ``sd``. ``sides``: 2, or 1 for a one-sided
    test in the direction of the difference.
    """
    if n < 2 or not sd > 0:
        return float("nan")
    df, scale = (2 * n - 2, sd * math.sqrt(2 / n)) if two_sample else (n - 1, sd / math.sqrt(n))
    critical = stats.t.ppf(1 - alpha / sides, df)
    shift = abs(difference) / scale
    upper = float(stats.nct.sf(critical, df, shift))
    lower = float(stats.nct.cdf(-critical, df, shift)) if sides == 2 else 0.0
    return upper + (lower if math.isfinite(lower) else 0.0)  # scipy gives NaN far in the lower tail: it is 0


def paired_t_power(difference: float, sd: float, pairs: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test (see :func:`t_power`)."""
    return t_power(difference, sd, pairs, alpha)


def detectable_difference(
    sd: float, n: int, alpha: float = ALPHA, power: float = POWER, two_sample: bool = False, sides: int = 2
) -> float:
    """The smallest true difference a t-test detects with ``power`` (NaN when untestable); see :func:`t_power`."""
    if n < 2 or not sd > 0:
        return float("nan")

    def shortfall(delta: float) -> float:
        return t_power(delta, sd, n, alpha, two_sample, sides) - power

    upper = sd
    while shortfall(upper) < 0:
        upper *= 2
    return float(optimize.brentq(shortfall, 0.0, upper))


def seeds_needed(
    difference: float,
    sd: float,
    alpha: float = ALPHA,
    power: float = POWER,
    two_sample: bool = False,
    sides: int = 2,
    limit: int = 10_000,
) -> float:
    """Seeds (pairs, or seeds per group) a t-test needs to detect ``difference`` with ``power`` (NaN
    when there is no spread or difference to work with; inf beyond ``limit``)."""
    if not sd > 0 or not abs(difference) > 0 or not math.isfinite(difference):
        return float("nan")

    def enough(n: int) -> bool:
        return t_power(difference, sd, n, alpha, two_sample, sides) >= power

    n = 2
    while not enough(n):
        n = n * 2 if n < 64 else n + 64
        if n > limit:
            return float("inf")
    low = max(2, n // 2)
    while low < n:  # the smallest n in [low, n] with enough power
        middle = (low + n) // 2
        if enough(middle):
            n = middle
        else:
            low = middle + 1
    return float(n)
