"""Inverse-probability-weighted means for missing outcomes (missing at random), with a sandwich variance.

An outcome ``y`` is observed only where ``responded`` (an episode with a
discharge value). The probability of responding is modelled by a logistic
regression on covariates observed for everyone (statsmodels' GLM, binomial
family, fitted by maximum likelihood on all episodes), and each responder
weighs ``1 / p̂``, so that responders stand in for the non-responders who
resemble them. Under "missing at random" (whether the outcome is missing
depends only on the covariates) and a correct propensity model, the weighted
mean estimates the mean over all episodes, responders and non-responders
alike; the unweighted mean of the responders (complete-case) does not.

The interval accounts for the estimation of the weights: M-estimation, the
logistic score equations stacked with one weighted-mean equation per group
(Lunceford & Davidian 2004; Stefanski & Boos 2002). Normal (z) quantiles: the
sandwich is a large-sample variance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from outcomes.stats._arrays import ArrayLike, FloatArray, as_float, check_level, independent_columns

__all__ = ["EXTREME_WEIGHT", "MIN_EVENTS_PER_COEFFICIENT", "SEPARATION_ETA", "WeightedMeans", "ipw_means"]

EXTREME_WEIGHT = 20.0
"""A weight above this (an estimated follow-up probability under 5 %) is reported as extreme."""

MIN_EVENTS_PER_COEFFICIENT = 10
"""Fewer episodes of the rarer outcome (with or without follow-up) per propensity coefficient are reported."""

SEPARATION_ETA = 15.0
"""A linear predictor beyond -+ this (p̂ within 3e-7 of 0 or 1) is taken as a separated fit's infinity."""


@dataclass(frozen=True)
class WeightedMeans:
    """Inverse-probability-weighted means of an outcome in groups, from one propensity model.

    Per group (arrays of one value per group, groups ``0 .. G - 1``):

    Attributes
    ----------
    estimate : numpy.ndarray
        The weighted (Hajek) mean; NaN where it cannot be estimated (see ``notes``).
    se : numpy.ndarray
        Sandwich standard error, the estimation of the weights included.
    ci_low, ci_high : numpy.ndarray
        ``estimate -+ z se``, z the normal quantile of ``confidence_level``.
    se_fixed_weights : numpy.ndarray
        The standard error that treats the weights as known (the robust,
        HC0, standard error of a weighted least-squares mean). With the
        propensity fitted by maximum likelihood it is usually the larger
        (Lunceford & Davidian 2004): ignoring the fit is conservative.
    n, n_responded : numpy.ndarray
        Observations of the group, and those with an outcome.
    effective_n : numpy.ndarray
        Kish's effective sample size of the responders' weights,
        ``(sum w)^2 / sum w^2``; ``n_responded`` when the weights are equal.
    min_weight, max_weight : numpy.ndarray
        The smallest and the largest weight ``1 / p̂`` of the group's responders.
    notes : tuple of (str or None)
        Per group: why the estimate is missing or should be read with care,
        ``; ``-separated (the model's notes first); None where there is nothing to say.

    For the model:

    propensity : numpy.ndarray
        ``p̂`` of every observation (NaN where the model was not fitted).
    coefficients : numpy.ndarray
        Intercept, then one per covariate column kept (``columns``).
    columns : tuple of int
        The covariate columns in the model; constant columns and columns that
        are linear combinations of others are left out.
    model_notes : tuple of str
        Why the model was not fitted, or what to watch in its fit.
    confidence_level : float
    """

    estimate: FloatArray
    se: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    se_fixed_weights: FloatArray
    n: FloatArray
    n_responded: FloatArray
    effective_n: FloatArray
    min_weight: FloatArray
    max_weight: FloatArray
    notes: tuple[str | None, ...]
    propensity: FloatArray
    coefficients: FloatArray
    columns: tuple[int, ...]
    model_notes: tuple[str, ...]
    confidence_level: float


def _fit_logistic(r: FloatArray, design: FloatArray) -> tuple[FloatArray, FloatArray, list[str]]:
    """Logistic regression of ``r`` on ``design`` (statsmodels GLM, binomial): coefficients, p̂, notes.

    p̂ is NaN where the fit failed. A separated fit is kept: see :func:`ipw_means`.
    """
    # statsmodels (and the pandas it loads) is imported here, not with the package: most uses never fit this
    from statsmodels.genmod.families import Binomial  # type: ignore[import-untyped]
    from statsmodels.genmod.generalized_linear_model import GLM  # type: ignore[import-untyped]
    from statsmodels.tools.sm_exceptions import (  # type: ignore[import-untyped]
        ConvergenceWarning,
        PerfectSeparationWarning,
    )

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = GLM(r, design, family=Binomial()).fit(maxiter=100)
        except (np.linalg.LinAlgError, ValueError) as exc:  # statsmodels raises on a singular fit
            return np.full(design.shape[1], np.nan), np.full(r.shape, np.nan), [f"the propensity model failed: {exc}"]
    beta = np.asarray(result.params, dtype=np.float64)
    eta = design @ beta
    separated = bool((np.abs(eta) > SEPARATION_ETA).any())
    if not separated and (
        not result.converged
        or any(issubclass(w.category, ConvergenceWarning | PerfectSeparationWarning) for w in caught)
    ):
        notes.append("the propensity model did not converge")
    p: FloatArray = 1.0 / (1.0 + np.exp(-eta))
    return beta, p, notes


def ipw_means(
    y: ArrayLike,
    responded: ArrayLike,
    covariates: ArrayLike,
    /,
    *,
    groups: npt.ArrayLike | None = None,
    n_groups: int | None = None,
    confidence_level: float = 0.95,
) -> WeightedMeans:
    """Inverse-probability-weighted means of ``y`` per group, the weights from one logistic model.

    Parameters
    ----------
    y : array_like, shape (n,)
        The outcome; finite where ``responded``, ignored (NaN allowed) elsewhere.
    responded : array_like of bool, shape (n,)
        Whether the outcome was observed.
    covariates : array_like, shape (n, k) or (n,)
        Predictors of responding, finite for every observation (encode
        missing values first, e.g. a filled value plus an indicator column).
        An intercept is added; constant and collinear columns are left out.
    groups : array_like of int, shape (n,), optional
        Group code ``0 .. G - 1`` of each observation; one group if left out.
        The propensity model is fitted once, on every observation.
    n_groups : int, optional
        ``G``, when some groups have no observation; else ``max(groups) + 1``.
    confidence_level : float, default 0.95

    Returns
    -------
    WeightedMeans

    Notes
    -----
    With ``R_i`` the response indicator, ``G_i`` membership of group g,
    ``X_i`` the covariates with a leading 1 and ``p̂_i = expit(X_i' β̂)``, β̂ the
    maximum-likelihood logistic fit on all n observations, the estimate is
    the normalised (Hajek) weighted mean

    ``μ̂_g = sum_i G_i R_i Y_i / p̂_i  /  sum_i G_i R_i / p̂_i``.

    ``(β̂, μ̂_g)`` solve the stacked estimating equations
    ``sum_i (R_i - p_i) X_i = 0`` and ``sum_i G_i R_i (Y_i - μ_g) / p_i = 0``,
    so the M-estimation sandwich (Stefanski & Boos 2002) gives
    ``Var(μ̂_g) = n^-2 sum_i φ_i^2`` over all n observations, with the
    influence values

    ``φ_i = [G_i R_i (Y_i - μ̂_g) / p̂_i - (R_i - p̂_i) X_i' Ê^-1 Ĥ_g] / ĉ_g``,

    ``Ê = n^-1 sum_i p̂_i (1 - p̂_i) X_i X_i'`` (the logistic information),
    ``Ĥ_g = n^-1 sum_i G_i R_i (Y_i - μ̂_g) (1 - p̂_i) / p̂_i X_i`` and
    ``ĉ_g = n^-1 sum_i G_i R_i / p̂_i``: the variance of Lunceford & Davidian
    (2004) for their normalised weighted estimator with an estimated
    propensity. Dropping the second term of ``φ_i`` gives
    ``se_fixed_weights``. The interval uses normal quantiles.

    Nothing is estimated (NaN, with a note) where no observation has an
    outcome, where the rarer of responders and non-responders is less
    numerous than the model's coefficients; a group without a responder has
    no estimate.

    Separation (a covariate pattern in which every observation, or none, has
    an outcome) has no finite maximum-likelihood fit; the fit then has a
    linear predictor beyond -+ :data:`SEPARATION_ETA`. Where every one has an
    outcome (p̂ -> 1), those observations weigh 1 and stand for no one else,
    which is the limit of the estimator, so it is kept (with a note; the
    near-null direction of ``Ê`` is dropped, by a least-squares solve, in
    the variance, where its term vanishes in the limit). Where none has an
    outcome (p̂ -> 0 for observations without one), no observation with an
    outcome stands in for them, the weighted mean describes the others only,
    and a group holding such observations gets no estimate (positivity
    fails). When every observation has an
    outcome the weights are 1 and the estimate is the unweighted mean (with
    the sandwich standard error ``sqrt(sum (y - ȳ)^2) / n``).

    References
    ----------
    .. [1] Lunceford, J. K., & Davidian, M. (2004). Stratification and weighting via the propensity
       score in estimation of causal treatment effects: a comparative study. *Statistics in Medicine*,
       23(19), 2937-2960. https://doi.org/10.1002/sim.1903
    .. [2] Stefanski, L. A., & Boos, D. D. (2002). The calculus of M-estimation. *The American
       Statistician*, 56(1), 29-38. https://doi.org/10.1198/000313002753631330
    .. [3] Kish, L. (1965). *Survey Sampling*. Wiley (the effective sample size of weights).

    Examples
    --------
    Without covariates every responder weighs n / n_responded: the weighted
    mean is the complete-case mean.

    >>> res = ipw_means([1.0, 2.0, 3.0, 6.0, np.nan], [True, True, True, True, False], np.empty((5, 0)))
    >>> round(float(res.estimate[0]), 6), round(float(res.max_weight[0]), 6)
    (3.0, 1.25)
    >>> round(float(res.se[0]), 4)  # sqrt(sum (y - ȳ)^2) / n_responded
    0.9354
    """
    check_level(confidence_level)
    yy = as_float(y).ravel()
    r = np.asarray(responded, dtype=bool).ravel()
    x = as_float(covariates)
    if x.ndim == 1:
        x = x[:, None]
    n = yy.size
    if r.size != n or x.ndim != 2 or x.shape[0] != n:
        raise ValueError("y, responded and the rows of covariates must have the same length")
    if not np.isfinite(yy[r]).all():
        raise ValueError("y must be finite wherever responded is true")
    if not np.isfinite(x).all():
        raise ValueError("covariates must be finite; encode missing values first (a filled value and an indicator)")
    if groups is None:
        g = np.zeros(n, dtype=np.int64)
    else:
        g = np.asarray(groups).ravel()
        if g.size != n or (g.size and (not np.issubdtype(g.dtype, np.integer) or g.min() < 0)):
            raise ValueError("groups must hold one integer code 0, 1, ... per observation")
        g = g.astype(np.int64)
    n_g = n_groups if n_groups is not None else (int(g.max()) + 1 if n else 1)
    if n and int(g.max()) >= n_g:
        raise ValueError("n_groups is smaller than the largest group code + 1")

    rf = r.astype(np.float64)
    n_resp = int(r.sum())
    n_miss = n - n_resp
    kept = independent_columns(x)
    design = np.column_stack([np.ones(n), x[:, kept]])
    k = design.shape[1]
    model_notes: list[str] = []
    beta = np.full(k, np.nan)
    p = np.full(n, np.nan)
    if n_resp == 0:
        model_notes.append("no observation has an outcome")
    elif n_miss == 0:
        model_notes.append("every observation has an outcome: weights 1, the weighted mean is the unweighted one")
        p = np.ones(n)
    elif min(n_resp, n_miss) < k:
        rarer = "without" if n_miss < n_resp else "with"
        model_notes.append(
            f"too few observations {rarer} an outcome ({min(n_resp, n_miss)}) to fit a propensity model with "
            f"{k} coefficients: no weighted estimate"
        )
    else:
        beta, p, fit_notes = _fit_logistic(rf, design)
        model_notes += fit_notes
        if np.isfinite(p).all() and not (p[r] > 0).all():  # not a maximum of the likelihood
            model_notes.append("the propensity model gives an observation with an outcome a probability of 0")
            p = np.full(n, np.nan)
        epv = min(n_resp, n_miss) / k
        if np.isfinite(p).all() and epv < MIN_EVENTS_PER_COEFFICIENT:
            rarer = "without" if n_miss < n_resp else "with"
            model_notes.append(
                f"{epv:.1f} observations {rarer} an outcome per coefficient of the propensity model (fewer than "
                f"{MIN_EVENTS_PER_COEFFICIENT}): the weights may be overfitted"
            )

    z = float(stats.norm.ppf(0.5 + confidence_level / 2))
    shape = (n_g,)
    est, se, se_fixed = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    ess, w_min, w_max = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    count = np.bincount(g, minlength=n_g).astype(np.float64)
    count_resp = np.bincount(g, weights=rf, minlength=n_g).astype(np.float64)
    notes: list[str | None] = []
    fitted = bool(np.isfinite(p).all()) and n > 0
    if fitted:
        w = np.where(r, 1.0 / p, 0.0)
        y0 = np.where(r, yy, 0.0)
        # scores of the logistic model and its information, shared by every group
        scores = (rf - p)[:, None] * design
        info = (design * (p * (1.0 - p))[:, None]).T @ design / n
        with np.errstate(divide="ignore"):
            eta = np.log(p) - np.log1p(-p) if n_miss > 0 else np.full(n, np.inf)
        hopeless = ~r & (eta < -SEPARATION_ETA)  # without an outcome, and no one like them has one
        if (r & (eta > SEPARATION_ETA)).any():
            model_notes.append(
                f"{int((r & (eta > SEPARATION_ETA)).sum())} observation(s) are in a covariate pattern in which every "
                "one has an outcome (the propensity fit separates them, p̂ = 1): they weigh 1"
            )
    else:
        hopeless = np.zeros(n, dtype=bool)
    for j in range(n_g):
        group_notes = list(model_notes)
        member = g == j
        resp = member & r
        if not resp.any():
            if count[j] > 0 and n_resp > 0:
                group_notes.append("no observation of the group has an outcome")
        elif (member & hopeless).any():
            group_notes.append(
                f"{int((member & hopeless).sum())} observation(s) without an outcome are in a covariate pattern in "
                "which none has one (the propensity fit separates them, p̂ = 0): no observation with an outcome "
                "stands in for them, so there is no weighted estimate"
            )
        elif fitted:
            wj = w[resp]
            mu = float((wj * y0[resp]).sum() / wj.sum())
            a = np.where(resp, (y0 - mu) * w, 0.0)  # G R (Y - mu) / p
            c = float(np.where(resp, w, 0.0).sum()) / n
            if n_miss > 0:
                h = (a * (1.0 - p)) @ design / n
                correction = scores @ np.linalg.lstsq(info, h, rcond=1e-12)[0]
            else:
                correction = np.zeros(n)
            phi = (a - correction) / c
            est[j] = mu
            se[j] = float(np.sqrt((phi**2).sum()) / n)
            se_fixed[j] = float(np.sqrt((a**2).sum()) / n / c)
            ess[j] = float(wj.sum() ** 2 / (wj**2).sum())
            w_min[j], w_max[j] = float(wj.min()), float(wj.max())
            heavy = int((wj > EXTREME_WEIGHT).sum())
            if heavy:
                group_notes.append(
                    f"{heavy} observation(s) with an outcome weigh more than {EXTREME_WEIGHT:g} (an estimated "
                    f"probability of an outcome under {100 / EXTREME_WEIGHT:g} %): the estimate leans on few "
                    "observations"
                )
            unlike = int((member & ~r & (p < 1.0 / EXTREME_WEIGHT)).sum())
            if unlike:
                group_notes.append(
                    f"{unlike} observation(s) without an outcome have an estimated probability of one under "
                    f"{100 / EXTREME_WEIGHT:g} %: few observations with an outcome resemble them"
                )
        notes.append("; ".join(group_notes) or None)
    return WeightedMeans(
        estimate=est,
        se=se,
        ci_low=est - z * se,
        ci_high=est + z * se,
        se_fixed_weights=se_fixed,
        n=count,
        n_responded=count_resp,
        effective_n=ess,
        min_weight=w_min,
        max_weight=w_max,
        notes=tuple(notes),
        propensity=p,
        coefficients=beta,
        columns=tuple(kept),
        model_notes=tuple(model_notes),
        confidence_level=confidence_level,
    )
