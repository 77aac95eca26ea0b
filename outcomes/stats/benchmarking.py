"""Fair comparison of units (therapists, clinics): between-unit variance, empirical-Bayes shrinkage, rank intervals.

From per-unit sufficient statistics (size ``n_j``, mean ``ybar_j`` of e.g. the
case-mix-adjusted residual improvement, within-unit sum of squares ``SS_j``):

- the one-way random-effects model ``y_ij = mu + u_j + e_ij``,
  ``u_j ~ N(0, tau2)``, ``e_ij ~ N(0, sigma2)``, fitted by the ANOVA method of
  moments for unbalanced groups (:func:`random_effects_anova`);
- each unit's reliability ``R_j = tau2 / (tau2 + sigma2 / n_j)`` and its
  empirical-Bayes (shrunken) mean ``mu + R_j (ybar_j - mu)``;
- ranks with intervals simulated from the shrunken estimates (:func:`rank_intervals`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from outcomes.stats._arrays import ArrayLike, FloatArray, as_float, check_level

__all__ = ["RandomEffectsAnova", "RankIntervals", "random_effects_anova", "rank_intervals"]


@dataclass(frozen=True)
class RandomEffectsAnova:
    """The one-way random-effects model of I units, fitted by the ANOVA moment estimator.

    Attributes
    ----------
    n, means : numpy.ndarray
        Per unit: size and raw mean (as given).
    tau2 : float
        Between-unit variance, ``max(0, (MSB - MSW) / n0)``.
    sigma2 : float
        Within-unit variance, ``MSW``.
    msb, msw : float
        Between and within mean squares, ``SSB / (I - 1)`` and ``sum SS_j / (N - I)``.
    n0 : float
        The effective unit size ``(N - sum n_j^2 / N) / (I - 1)`` (the common n when balanced).
    df_between, df_within : float
        ``I - 1`` and ``N - I``.
    f_statistic, p_value : float
        ``MSB / MSW`` and its upper tail on (I - 1, N - I) degrees of freedom: the test of ``tau2 = 0``.
    mu : float
        The precision-weighted grand mean ``sum w_j ybar_j / sum w_j``,
        ``w_j = 1 / (tau2 + sigma2 / n_j)`` (the n-weighted mean when ``tau2 = 0``).
    reliability : numpy.ndarray
        ``R_j = tau2 / (tau2 + sigma2 / n_j)``.
    shrunken : numpy.ndarray
        Empirical-Bayes means ``mu + R_j (ybar_j - mu)``.
    shrunken_effect : numpy.ndarray
        ``shrunken - mu``, the shrunken unit effect (the shrunken residual when the means are residuals).
    shrunken_sd : numpy.ndarray
        Posterior SD ``sqrt(R_j sigma2 / n_j)`` (equal to ``sqrt(tau2 sigma2 / (n_j tau2 + sigma2))``).
    """

    n: FloatArray
    means: FloatArray
    tau2: float
    sigma2: float
    msb: float
    msw: float
    n0: float
    df_between: float
    df_within: float
    f_statistic: float
    p_value: float
    mu: float
    reliability: FloatArray
    shrunken: FloatArray
    shrunken_effect: FloatArray
    shrunken_sd: FloatArray


def random_effects_anova(n: ArrayLike, means: ArrayLike, ss_within: ArrayLike, /) -> RandomEffectsAnova:
    """Between- and within-unit variance by one-way random-effects ANOVA, with reliabilities and shrunken means.

    For I units of sizes ``n_j`` (N in all), means ``ybar_j`` and within-unit
    sums of squares ``SS_j = sum_i (y_ij - ybar_j)^2``, with ``ybar`` the
    overall mean ``sum n_j ybar_j / N``:

        MSB = sum n_j (ybar_j - ybar)^2 / (I - 1),    MSW = sum SS_j / (N - I),
        n0 = (N - sum n_j^2 / N) / (I - 1),            tau2 = max(0, (MSB - MSW) / n0),  sigma2 = MSW,

    the moment estimator for unbalanced groups (Searle, Casella & McCulloch
    1992, section 3.6; ``E[MSB] = sigma2 + n0 tau2``). On balanced data with
    ``tau2 > 0`` it equals the REML estimate.

    Then per unit the reliability ``R_j = tau2 / (tau2 + sigma2 / n_j)``
    (Adams 2009), the empirical-Bayes mean ``mu + R_j (ybar_j - mu)`` with
    ``mu`` the precision-weighted grand mean (weights ``1 / (tau2 + sigma2 / n_j)``,
    the generalised-least-squares estimate of ``mu`` in this model), and its
    posterior SD ``sqrt(R_j sigma2 / n_j)``. The posterior SD treats ``mu``,
    ``tau2`` and ``sigma2`` as known (plug-in empirical Bayes): it ignores
    their estimation error, so intervals built from it are somewhat narrow
    with few units; when ``tau2`` is estimated as 0 every unit is shrunk all
    the way to ``mu`` with SD 0.

    Parameters
    ----------
    n, means, ss_within : array_like
        Per unit: size (at least 1), mean, within-unit sum of squares about the mean.

    References
    ----------
    .. [1] Searle, S. R., Casella, G., & McCulloch, C. E. (1992). *Variance Components*. Wiley.
       https://doi.org/10.1002/9780470316856
    .. [2] Adams, J. L. (2009). *The Reliability of Provider Profiling: A Tutorial* (TR-653).
       RAND Corporation. https://doi.org/10.7249/TR653

    Examples
    --------
    >>> fit = random_effects_anova([4, 4, 4], [1.0, 2.0, 6.0], [6.0, 6.0, 6.0])
    >>> print(f"{fit.tau2:.4f} {fit.sigma2:.4f} {fit.reliability[0]:.4f} {fit.shrunken[0]:.4f}")
    6.5000 2.0000 0.9286 1.1429
    """
    sizes = as_float(n).ravel()
    ybar = as_float(means).ravel()
    ss = as_float(ss_within).ravel()
    if not (sizes.shape == ybar.shape == ss.shape):
        raise ValueError("n, means and ss_within must have the same length")
    if np.any(sizes < 1) or np.any(ss < 0) or not np.all(np.isfinite(ybar)):
        raise ValueError("sizes must be at least 1, sums of squares non-negative, means finite")
    units = sizes.size
    total = float(sizes.sum())
    if units < 2 or total - units < 1:
        raise ValueError("need at least two units and more episodes than units")
    grand = float(np.sum(sizes * ybar) / total)
    df_b, df_w = float(units - 1), total - units
    msb = float(np.sum(sizes * (ybar - grand) ** 2) / df_b)
    msw = float(ss.sum() / df_w)
    n0 = (total - float(np.sum(sizes**2)) / total) / df_b
    tau2 = max(0.0, (msb - msw) / n0)
    f = msb / msw if msw > 0 else float("inf")
    sampling = msw / sizes
    weights = 1.0 / (tau2 + sampling) if tau2 > 0 else sizes
    mu = float(np.sum(weights * ybar) / np.sum(weights))
    reliability: FloatArray = tau2 / (tau2 + sampling) if tau2 > 0 else np.zeros_like(sizes)
    shrunken: FloatArray = mu + reliability * (ybar - mu)
    return RandomEffectsAnova(
        n=sizes,
        means=ybar,
        tau2=tau2,
        sigma2=msw,
        msb=msb,
        msw=msw,
        n0=n0,
        df_between=df_b,
        df_within=df_w,
        f_statistic=f,
        p_value=float(stats.f.sf(f, df_b, df_w)),
        mu=mu,
        reliability=reliability,
        shrunken=shrunken,
        shrunken_effect=shrunken - mu,
        shrunken_sd=np.sqrt(reliability * sampling),
    )


@dataclass(frozen=True)
class RankIntervals:
    """Each unit's rank (1 = highest estimate) and its simulated interval.

    Attributes
    ----------
    rank : numpy.ndarray
        Rank of the point estimates, highest first; tied units share the best
        (smallest) rank of their group ("competition" ranking: 1, 2, 2, 4).
    rank_ci_low, rank_ci_high : numpy.ndarray
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the unit's
        simulated ranks (lower and higher order statistic, so whole ranks).
    mean_rank : numpy.ndarray
        Mean simulated rank.
    level : float
    n_draws : int
    """

    rank: FloatArray
    rank_ci_low: FloatArray
    rank_ci_high: FloatArray
    mean_rank: FloatArray
    level: float
    n_draws: int


def rank_intervals(
    estimates: ArrayLike,
    sds: ArrayLike,
    /,
    *,
    level: float = 0.95,
    n_draws: int = 4000,
    rng: np.random.Generator | int,
) -> RankIntervals:
    """Ranks of units with intervals, by simulating every unit's estimate from ``N(estimate_j, sd_j^2)``.

    In each of ``n_draws`` draws every unit gets an independent normal value
    (its posterior under the empirical-Bayes model: pass the shrunken means
    and their posterior SDs of :func:`random_effects_anova`), the units are
    ranked (1 = highest; ties, which arise only between units with SD 0 and
    equal estimates, share the best rank), and each unit's interval is the
    central ``level`` range of its ranks. Units are treated as independent
    given their estimates (the uncertainty of the grand mean and of ``tau2``
    is ignored, as in the shrunken SDs). ``rng`` is required so the result is
    reproducible: a seed or a ``numpy.random.Generator``.

    References
    ----------
    .. [1] Goldstein, H., & Spiegelhalter, D. J. (1996). League tables and their limitations:
       statistical issues in comparisons of institutional performance.
       *Journal of the Royal Statistical Society A*, 159(3), 385-443. https://doi.org/10.2307/2983325

    Examples
    --------
    >>> r = rank_intervals([3.0, 0.0, -3.0], [0.1, 0.1, 0.1], rng=1)
    >>> print(r.rank.tolist(), r.rank_ci_low.tolist(), r.rank_ci_high.tolist())
    [1.0, 2.0, 3.0] [1.0, 2.0, 3.0] [1.0, 2.0, 3.0]
    """
    check_level(level)
    est = as_float(estimates).ravel()
    sd = as_float(sds).ravel()
    if est.shape != sd.shape:
        raise ValueError("estimates and sds must have the same length")
    if not (np.all(np.isfinite(est)) and np.all(np.isfinite(sd)) and np.all(sd >= 0)):
        raise ValueError("estimates must be finite and sds finite and non-negative")
    if n_draws < 1:
        raise ValueError("n_draws must be at least 1")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    draws = est + sd * gen.standard_normal((n_draws, est.size))
    ranks = stats.rankdata(-draws, method="min", axis=1).astype(np.float64)
    alpha = 1 - level
    return RankIntervals(
        rank=stats.rankdata(-est, method="min").astype(np.float64),
        rank_ci_low=np.quantile(ranks, alpha / 2, axis=0, method="lower"),
        rank_ci_high=np.quantile(ranks, 1 - alpha / 2, axis=0, method="higher"),
        mean_rank=ranks.mean(axis=0),
        level=level,
        n_draws=n_draws,
    )
