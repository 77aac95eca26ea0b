"""Funnel-plot control limits for comparing units (clinics, therapists) of different sizes.

Spiegelhalter (2005): how far a unit's value may stray from the overall
target by chance alone at each size ``n``; and, when the units vary more than
chance allows (over-dispersion), the estimate of that excess from winsorised
z-scores and the limits widened for it, multiplicatively (``sqrt(phi)``) or by
an additive between-unit variance ``tau2`` (a random-effects model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from outcomes.stats._arrays import ArrayLike, FloatArray, as_float

__all__ = [
    "Overdispersion",
    "binomial_limits",
    "dersimonian_laird_tau2",
    "normal_limits",
    "overdispersed_limits",
    "overdispersed_normal_limits",
    "overdispersed_proportion_limits",
    "overdispersion",
    "winsorize",
]


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


def _check_trim(trim: float) -> None:
    if not 0 <= trim < 0.5:
        raise ValueError("trim must be at least 0 and below 0.5")


def winsorize(z: ArrayLike, /, *, trim: float = 0.1) -> tuple[FloatArray, int]:
    """``z`` with its ``k = floor(trim * I)`` lowest values set to the ``k+1``-th lowest, and highest likewise.

    Spiegelhalter (2005)'s winsorisation of the z-scores before estimating the
    over-dispersion: the most extreme ``trim`` share at each end is pulled in
    to the value at the trim point, so that a few genuinely divergent units do
    not inflate the estimate of the spread of the rest. ``k`` is counted as
    ``scipy.stats.mstats.winsorize`` counts it (``floor(trim * I)``). Returns
    the winsorised values, in the original order, and ``k``.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
       *Statistics in Medicine*, 24(8), 1185-1202. https://doi.org/10.1002/sim.1970

    Examples
    --------
    >>> w, k = winsorize([-5.0, 0.0, 1.0, 2.0, 9.0], trim=0.2)
    >>> print(w.tolist(), k)
    [0.0, 0.0, 1.0, 2.0, 2.0] 1
    """
    _check_trim(trim)
    values = as_float(z).ravel()
    size = values.size
    k = int(np.floor(trim * size + 1e-9))
    if k == 0 or size == 0:
        return values.copy(), 0
    ordered = np.sort(values)
    out: FloatArray = np.clip(values, ordered[k], ordered[size - 1 - k])
    return out, k


@dataclass(frozen=True)
class Overdispersion:
    """Spiegelhalter's over-dispersion estimate from the units' z-scores.

    Attributes
    ----------
    phi : float
        Over-dispersion factor, the mean of the squared winsorised z-scores
        ``phi = (1/I) sum z_w^2`` (1 when the units vary by chance alone).
    statistic : float
        ``I * phi``, referred to chi-square on ``I - 1`` degrees of freedom.
    df : int
        ``I - 1``.
    p_value : float
        Upper tail ``P(chi2(I - 1) >= I * phi)``: small when the units are over-dispersed.
    n_units : int
        ``I``, the number of z-scores (NaN ones dropped).
    n_trimmed_low, n_trimmed_high : int
        How many z-scores were pulled in at each end.
    trim : float
        The share winsorised at each end.
    """

    phi: float
    statistic: float
    df: int
    p_value: float
    n_units: int
    n_trimmed_low: int
    n_trimmed_high: int
    trim: float


def overdispersion(z: ArrayLike, /, *, trim: float = 0.1) -> Overdispersion:
    """Over-dispersion of funnel-plot z-scores: ``phi`` = mean of the squared winsorised ``z``, chi-square test.

    With ``z_i = (y_i - target) / s_i`` (``s_i`` the unit's standard error under
    the null, e.g. ``sqrt(p0 (1 - p0) / n_i)`` for a proportion or
    ``sigma / sqrt(n_i)`` for a mean), the ``trim`` share at each end is
    winsorised (:func:`winsorize`) and

        phi = (1 / I) sum_i z_w,i^2,    I * phi ~ chi2(I - 1) if there is no over-dispersion.

    ``trim = 0`` gives the plain mean of ``z^2``. NaN z-scores are dropped.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
       *Statistics in Medicine*, 24(8), 1185-1202. https://doi.org/10.1002/sim.1970
       (section on over-dispersion: the multiplicative model, winsorised z-scores).
    .. [2] Spiegelhalter, D. J. (2005). Handling over-dispersion of performance indicators.
       *Quality and Safety in Health Care*, 14(5), 347-351. https://doi.org/10.1136/qshc.2005.013755

    Examples
    --------
    >>> od = overdispersion([-2.0, -1.0, 0.0, 1.0, 2.0], trim=0.0)
    >>> print(f"{od.phi:.3f} {od.statistic:.1f} {od.df} {od.p_value:.3f}")
    2.000 10.0 4 0.040
    """
    _check_trim(trim)
    values = as_float(z).ravel()
    values = values[np.isfinite(values)]
    size = int(values.size)
    if size < 2:
        raise ValueError("overdispersion needs the z-scores of at least two units")
    wins, k = winsorize(values, trim=trim)
    phi = float(np.mean(wins**2))
    statistic = size * phi
    df = size - 1
    return Overdispersion(
        phi=phi,
        statistic=statistic,
        df=df,
        p_value=float(stats.chi2.sf(statistic, df)),
        n_units=size,
        n_trimmed_low=k,
        n_trimmed_high=k,
        trim=trim,
    )


def dersimonian_laird_tau2(y: ArrayLike, v: ArrayLike, /, *, target: float | None = None, trim: float = 0.1) -> float:
    """Between-unit variance ``tau2`` by the method of moments (DerSimonian-Laird), as Spiegelhalter uses it.

    With weights ``w_i = 1 / v_i`` (``v_i`` the within-unit variance of the unit
    estimate ``y_i`` on the funnel's scale) and ``z_i = (y_i - target) sqrt(w_i)``,

        tau2 = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w)),

    ``phi`` from :func:`overdispersion` on those z-scores with the same
    ``trim``. Choice: Spiegelhalter (2005) puts the *winsorised* ``phi`` in this
    formula (the one estimated for the multiplicative model), so ``trim``
    defaults to the same 10%; ``trim = 0`` gives the unwinsorised moment
    estimator. ``target`` is the funnel's target ``theta_0``; with
    ``target=None`` the precision-weighted mean ``sum w y / sum w`` is used,
    and then ``I phi`` is Cochran's Q and, with ``trim = 0``, this is exactly
    DerSimonian and Laird's (1986) estimator.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
       *Statistics in Medicine*, 24(8), 1185-1202. https://doi.org/10.1002/sim.1970
       (section on over-dispersion: the additive random-effects model).
    .. [2] DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials.
       *Controlled Clinical Trials*, 7(3), 177-188. https://doi.org/10.1016/0197-2456(86)90046-2

    Examples
    --------
    >>> print(f"{dersimonian_laird_tau2([0.0, 1.0, 3.0], [0.5, 0.5, 1.0], trim=0.0):.4f}")
    1.2500
    """
    est = as_float(y).ravel()
    var = as_float(v).ravel()
    if est.shape != var.shape:
        raise ValueError("y and v must have the same length")
    keep = np.isfinite(est) & np.isfinite(var)
    est, var = est[keep], var[keep]
    if np.any(var <= 0):
        raise ValueError("within-unit variances must be positive")
    w = 1.0 / var
    centre = float(np.sum(w * est) / np.sum(w)) if target is None else target
    od = overdispersion((est - centre) * np.sqrt(w), trim=trim)
    denominator = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    return max(0.0, (od.statistic - od.df) / denominator)


def overdispersed_limits(
    se: ArrayLike, target: float, level: float, *, phi: float | None = None, tau2: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """Funnel limits widened for over-dispersion, given the null standard error ``se`` at each size.

    Exactly one of ``phi`` and ``tau2``:

    - multiplicative: ``target -+ z sqrt(phi) se`` (``phi`` below 1 is kept as
      given; pass ``max(phi, 1)`` to widen only);
    - additive (random effects): ``target -+ z sqrt(se^2 + tau2)``;

    ``z`` the normal quantile ``Phi^-1(1/2 + level/2)``.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
       *Statistics in Medicine*, 24(8), 1185-1202. https://doi.org/10.1002/sim.1970

    Examples
    --------
    >>> lo, hi = overdispersed_limits([0.5], 1.0, 0.95, phi=4.0)
    >>> print(f"{lo[0]:.3f} {hi[0]:.3f}")
    -0.960 2.960
    >>> lo, hi = overdispersed_limits([0.3], 1.0, 0.95, tau2=0.16)
    >>> print(f"{lo[0]:.3f} {hi[0]:.3f}")
    0.020 1.980
    """
    if (phi is None) == (tau2 is None):
        raise ValueError("give exactly one of phi (multiplicative) and tau2 (additive)")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    s = as_float(se)
    z = stats.norm.ppf(0.5 + level / 2)
    if phi is not None:
        if not phi >= 0:
            raise ValueError("phi must be non-negative")
        half = z * np.sqrt(phi) * s
    else:
        assert tau2 is not None
        if not tau2 >= 0:
            raise ValueError("tau2 must be non-negative")
        half = z * np.sqrt(s**2 + tau2)
    return target - half, target + half


def overdispersed_normal_limits(
    n: ArrayLike, target: float, sd: float, level: float, *, phi: float | None = None, tau2: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """Over-dispersed limits for a mean (e.g. a residual mean, target 0) at sizes ``n``: ``se = sd / sqrt(n)``.

    See :func:`overdispersed_limits`; ``tau2`` on the scale of the mean.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
       *Statistics in Medicine*, 24(8), 1185-1202. https://doi.org/10.1002/sim.1970

    Examples
    --------
    >>> lo, hi = overdispersed_normal_limits([25], 0.0, 1.5, 0.95, tau2=0.0)
    >>> print(f"{lo[0]:.3f} {hi[0]:.3f}")
    -0.588 0.588
    """
    return overdispersed_limits(sd / np.sqrt(as_float(n)), target, level, phi=phi, tau2=tau2)


def overdispersed_proportion_limits(
    n: ArrayLike, target: float, level: float, *, phi: float | None = None, tau2: float | None = None
) -> tuple[FloatArray, FloatArray]:
    """Over-dispersed limits for a proportion at sizes ``n``, normal approximation ``se = sqrt(p (1 - p) / n)``.

    Spiegelhalter (2005) widens the normal-approximation limits, not the exact
    binomial ones, for over-dispersion; ``tau2`` on the proportion scale.
    Limits are not clipped to [0, 1]. See :func:`overdispersed_limits`.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance.
       *Statistics in Medicine*, 24(8), 1185-1202. https://doi.org/10.1002/sim.1970

    Examples
    --------
    >>> lo, hi = overdispersed_proportion_limits([100], 0.5, 0.95, phi=1.0)
    >>> print(f"{lo[0]:.3f} {hi[0]:.3f}")
    0.402 0.598
    """
    if not 0 <= target <= 1:
        raise ValueError("target must be a proportion")
    se = np.sqrt(target * (1 - target) / as_float(n))
    return overdispersed_limits(se, target, level, phi=phi, tau2=tau2)
