"""Funnel-plot control limits for comparing units (clinics, therapists) of different sizes.

Spiegelhalter (2005): how far a unit's value may stray from the overall
target by chance alone at each size ``n``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from outcomes.stats._arrays import ArrayLike, FloatArray, as_float

__all__ = ["binomial_limits", "normal_limits"]


def binomial_limits(n: ArrayLike, target: float, level: float) -> tuple[FloatArray, FloatArray]:
    """Spiegelhalter's interpolated exact binomial control limits for proportions at sizes ``n``.

    ``(r_p - a) / n`` where ``r_p`` is the ``p`` quantile of Binomial(n, target)
    and ``a = (F(r_p) - p) / (F(r_p) - F(r_p - 1))``, for ``p = (1 - level) / 2``
    and ``1 - p``.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
       *Statistics in Medicine*, 24(8), 1185-1202. https://doi.org/10.1002/sim.1970

    Examples
    --------
    >>> lo, hi = binomial_limits([100], 0.5, 0.95)
    >>> print(f"{lo[0]:.3f} {hi[0]:.3f}")
    0.397 0.593
    """
    sizes = as_float(n)

    def limit(p: float) -> FloatArray:
        r = stats.binom.ppf(p, sizes, target)
        f_r = stats.binom.cdf(r, sizes, target)
        f_r1 = stats.binom.cdf(r - 1, sizes, target)
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.where(f_r > f_r1, (f_r - p) / (f_r - f_r1), 0.0)
            out: FloatArray = np.clip((r - a) / sizes, 0.0, 1.0)
        return out

    alpha = 1 - level
    return limit(alpha / 2), limit(1 - alpha / 2)


def normal_limits(n: ArrayLike, target: float, sd: float, level: float) -> tuple[FloatArray, FloatArray]:
    """Control limits for a mean at sizes ``n``: ``target -+ z * sd / sqrt(n)``, ``z`` the normal quantile.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
       *Statistics in Medicine*, 24(8), 1185-1202. https://doi.org/10.1002/sim.1970

    Examples
    --------
    >>> lo, hi = normal_limits([25], 2.0, 1.5, 0.95)
    >>> print(f"{lo[0]:.3f} {hi[0]:.3f}")
    1.412 2.588
    """
    sizes = as_float(n)
    z = stats.norm.ppf(0.5 + level / 2)
    half = z * sd / np.sqrt(sizes)
    return target - half, target + half
