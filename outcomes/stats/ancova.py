"""Baseline-adjusted comparison of several groups (ANCOVA, one model per family) from per-group sufficient statistics.

One model per comparison family, ``y ~ group + x`` with a common slope (``y``
improvement, ``x`` baseline), fitted by ordinary least squares on every group
of the family at once; every pairwise adjusted difference comes from that one
fit, so the differences add up (adj(a - b) + adj(b - c) = adj(a - c)) and
share one residual variance. The group x baseline interaction test says
whether the common slope is tenable. Everything follows from each group's
n, means and within-group sums of squares and cross-products, so sites can
send those instead of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from outcomes.stats._arrays import ArrayLike, FloatArray, as_float, check_level

__all__ = ["AncovaFit", "ancova_fit", "ancova_pairs"]


@dataclass(frozen=True)
class AncovaFit:
    """The common-slope model of one family of groups.

    Attributes
    ----------
    n, xbar, ybar : numpy.ndarray
        Per group: size, mean baseline, mean improvement (as given).
    slope : float
        The pooled within-group slope of improvement on baseline, ``Sxx`` and
        ``Sxy`` summed over the groups: ``b = sum Sxy / sum Sxx``.
    slope_se : float
        Its standard error, ``sqrt(mse / sum Sxx)``.
    sxx : float
        ``sum Sxx``.
    df : float
        Residual degrees of freedom, ``N - k - 1`` (k groups, N episodes).
    mse : float
        Residual mean square, ``(sum Syy - b sum Sxy) / df``.
    interaction_f, interaction_df1, interaction_df2, interaction_p : float
        F test of separate slopes per group against the common slope:
        ``F = ((RSS_common - RSS_separate) / (q - 1)) / (RSS_separate / (N - k - q))``
        over the q groups whose baseline varies. NaN where it cannot be
        computed (fewer than two such groups, or no residual degrees of freedom).
    """

    n: FloatArray
    xbar: FloatArray
    ybar: FloatArray
    slope: float
    slope_se: float
    sxx: float
    df: float
    mse: float
    interaction_f: float
    interaction_df1: float
    interaction_df2: float
    interaction_p: float

    @property
    def valid(self) -> bool:
        """Whether the model is estimable: residual degrees of freedom and a baseline that varies."""
        return bool(self.df >= 1 and self.sxx > 0 and np.isfinite(self.mse))


def ancova_fit(
    n: ArrayLike, xbar: ArrayLike, ybar: ArrayLike, sxx: ArrayLike, syy: ArrayLike, sxy: ArrayLike, /
) -> AncovaFit:
    """Fit ``y ~ group + x`` (common slope) on k groups from their sufficient statistics.

    Parameters
    ----------
    n, xbar, ybar : array_like
        Per group: size (at least 1), mean of x, mean of y.
    sxx, syy, sxy : array_like
        Per group: sums of squares and cross-products about the group means
        (0 for a group of one).

    Returns
    -------
    AncovaFit

    References
    ----------
    .. [1] Snedecor, G. W., & Cochran, W. G. (1989). *Statistical Methods* (8th ed.), ch. 18
       (analysis of covariance; the test of equal slopes). Iowa State University Press.
       ISBN 0-8138-1561-4.

    Examples
    --------
    Two groups of three, the same slope 1 and a shift of 2:

    >>> fit = ancova_fit([3, 3], [1.0, 1.0], [3.0, 1.0], [2.0, 2.0], [2.0, 2.0], [2.0, 2.0])
    >>> float(fit.slope), float(fit.df)
    (1.0, 3.0)
    """
    nn, xb, yb = as_float(n), as_float(xbar), as_float(ybar)
    sx, sy, sxy_ = as_float(sxx), as_float(syy), as_float(sxy)
    if nn.ndim != 1 or not nn.size or not (nn.shape == xb.shape == yb.shape == sx.shape == sy.shape == sxy_.shape):
        raise ValueError("give one value per group for each of n, xbar, ybar, sxx, syy, sxy")
    if (nn < 1).any():
        raise ValueError("every group needs at least one observation")
    k, total = nn.size, float(nn.sum())
    sxx_t, syy_t, sxy_t = float(sx.sum()), float(sy.sum()), float(sxy_.sum())
    df = total - k - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sxy_t / sxx_t if sxx_t > 0 else np.nan
        rss = syy_t - slope * sxy_t
        mse = rss / df if df >= 1 else np.nan
        slope_se = float(np.sqrt(mse / sxx_t)) if sxx_t > 0 else np.nan
        varies = sx > 0
        q = int(varies.sum())
        rss_separate = syy_t - float((sxy_[varies] ** 2 / sx[varies]).sum())
        df1, df2 = q - 1, total - k - q
        if df1 >= 1 and df2 >= 1 and rss_separate > 0:
            f = ((rss - rss_separate) / df1) / (rss_separate / df2)
            f = max(f, 0.0)  # rounding: the separate-slopes fit is never worse
            p = float(stats.f.sf(f, df1, df2))
        else:
            f = p = np.nan
    return AncovaFit(
        n=nn,
        xbar=xb,
        ybar=yb,
        slope=float(slope),
        slope_se=slope_se,
        sxx=sxx_t,
        df=float(df),
        mse=float(mse),
        interaction_f=float(f),
        interaction_df1=float(df1) if np.isfinite(f) else np.nan,
        interaction_df2=float(df2) if np.isfinite(f) else np.nan,
        interaction_p=p,
    )


def ancova_pairs(
    fit: AncovaFit, a: ArrayLike, b: ArrayLike, /, *, confidence_level: float = 0.95
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Adjusted differences ``group a - group b`` from one fit, with t-intervals and two-sided p-values.

    ``adj = (ybar_a - ybar_b) - slope (xbar_a - xbar_b)``, standard error
    ``sqrt(mse (1/n_a + 1/n_b + (xbar_a - xbar_b)^2 / sum Sxx))`` with the
    fit's ``df`` (Snedecor & Cochran 1989, ch. 18). ``a`` and ``b`` are
    indices into the fit's groups.

    Returns
    -------
    adjusted_diff, ci_low, ci_high, p_value
        NaN everywhere where the fit is not estimable.
    """
    check_level(confidence_level)
    ia, ib = np.asarray(a, dtype=np.intp), np.asarray(b, dtype=np.intp)
    if not fit.valid:
        nan = np.full(ia.shape, np.nan)
        return nan, nan.copy(), nan.copy(), nan.copy()
    dx = fit.xbar[ia] - fit.xbar[ib]
    adj = (fit.ybar[ia] - fit.ybar[ib]) - fit.slope * dx
    se = np.sqrt(fit.mse * (1 / fit.n[ia] + 1 / fit.n[ib] + dx**2 / fit.sxx))
    q = stats.t.ppf(0.5 + confidence_level / 2, fit.df)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(adj / se), fit.df), np.nan)
        ok = se > 0
        return adj, np.where(ok, adj - q * se, np.nan), np.where(ok, adj + q * se, np.nan), p
