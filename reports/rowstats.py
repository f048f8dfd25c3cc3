"""Correlation coefficients of many samples at once: row i of ``x`` with row i of ``y`` (the
bootstrap and the stability resamples compute thousands of them)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of each row pair; NaN where a row is constant."""
    dx = x - x.mean(axis=1, keepdims=True)
    dy = y - y.mean(axis=1, keepdims=True)
    scale = np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip((dx * dy).sum(axis=1) / scale, -1.0, 1.0)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman's rho and its two-sided p (t approximation, as :func:`scipy.stats.spearmanr`) of
    each row pair; NaN where either row is constant."""
    rho = pearson_rows(stats.rankdata(x, axis=1), stats.rankdata(y, axis=1))
    return rho, _two_sided_p(rho, x.shape[1] - 2)


def _two_sided_p(r: np.ndarray, df: int) -> np.ndarray:
    """The two-sided p of correlations ``r`` by the t approximation with ``df`` degrees of freedom; NaN stays NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(r) * np.sqrt(df / np.maximum(1e-300, (1 - r) * (1 + r)))
    return np.where(np.isfinite(r), 2 * stats.t.sf(t, df), np.nan)


def kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row pair (ties as :func:`scipy.stats.kendalltau`); NaN where a row is constant."""
    upper = np.triu_indices(x.shape[1], k=1)
    sx = np.sign(x[:, :, None] - x[:, None, :])[:, upper[0], upper[1]]
    sy = np.sign(y[:, :, None] - y[:, None, :])[:, upper[0], upper[1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(axis=1) / np.sqrt((sx * sx).sum(axis=1) * (sy * sy).sum(axis=1))


def _residual_rows(values: np.ndarray, control: np.ndarray) -> np.ndarray:
    """Each row of ``values`` less its least-squares line in the same row of ``control``."""
    dc = control - control.mean(axis=1, keepdims=True)
    dv = values - values.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (dc * dv).sum(axis=1, keepdims=True) / (dc * dc).sum(axis=1, keepdims=True)
    return dv - slope * dc


def partial_spearman_rows(x: np.ndarray, y: np.ndarray, control: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman's rho of x and y controlling for ``control`` (Pearson of the ranks' residuals after
    a line in the control's ranks, as :func:`reports.stats.partial_correlation` on ranks) and its
    two-sided p with n - 3 degrees of freedom, row by row; NaN where a residual is constant."""
    rx, ry, rc = (stats.rankdata(a, axis=1) for a in (x, y, control))
    ex, ey = _residual_rows(rx, rc), _residual_rows(ry, rc)
    flat = (np.ptp(ex, axis=1) < 1e-12) | (np.ptp(ey, axis=1) < 1e-12)
    r = np.where(flat, np.nan, pearson_rows(ex, ey))
    return r, _two_sided_p(r, x.shape[1] - 3)
