"""Baseline-adjusted (ANCOVA) difference between two groups from per-group sufficient statistics."""

from __future__ import annotations

import numpy as np
from scipy import stats

from outcomes.stats._arrays import FloatArray

__all__ = ["ancova_stats"]


def ancova_stats(
    n_a: FloatArray,
    xbar_a: FloatArray,
    ybar_a: FloatArray,
    sxx_a: FloatArray,
    syy_a: FloatArray,
    sxy_a: FloatArray,
    n_b: FloatArray,
    xbar_b: FloatArray,
    ybar_b: FloatArray,
    sxx_b: FloatArray,
    syy_b: FloatArray,
    sxy_b: FloatArray,
    *,
    confidence_level: float = 0.95,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Baseline-adjusted difference a - b from per-group sufficient statistics (ANCOVA, common slope).

    The ordinary least squares fit of ``y ~ group + x`` on the two groups
    (``y`` improvement, ``x`` baseline) has the pooled within-group slope
    ``b = (Sxy_a + Sxy_b) / (Sxx_a + Sxx_b)`` and the group coefficient
    ``(ybar_a - ybar_b) - b (xbar_a - xbar_b)``, with variance
    ``s^2 (1/n_a + 1/n_b + (xbar_a - xbar_b)^2 / (Sxx_a + Sxx_b))`` where
    ``s^2 = (Syy_a + Syy_b - b (Sxy_a + Sxy_b)) / (n_a + n_b - 3)``
    (e.g. Snedecor & Cochran 1989, ch. 18). ``S..`` are within-group sums of
    squares and cross-products about the group means.

    Returns
    -------
    adjusted_diff, ci_low, ci_high

    References
    ----------
    .. [1] Snedecor, G. W., & Cochran, W. G. (1989). *Statistical Methods* (8th ed.). Iowa
       State University Press. ISBN 0-8138-1561-4.
    """
    sxx, sxy, syy = sxx_a + sxx_b, sxy_a + sxy_b, syy_a + syy_b
    df = n_a + n_b - 3
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sxy / sxx
        dx = xbar_a - xbar_b
        adj = (ybar_a - ybar_b) - slope * dx
        s2 = (syy - slope * sxy) / df
        se = np.sqrt(s2 * (1 / n_a + 1 / n_b + dx**2 / sxx))
        q = stats.t.ppf(0.5 + confidence_level / 2, df)
        valid = (df >= 1) & (sxx > 0) & np.isfinite(se)
        return (
            np.where(valid, adj, np.nan),
            np.where(valid, adj - q * se, np.nan),
            np.where(valid, adj + q * se, np.nan),
        )
