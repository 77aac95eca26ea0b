"""Linear mixed model of a measure over time: one intercept and slope per group, random intercept and slope per subject.

The model, for observation ``j`` of subject ``i`` in group ``g(i)``::

    y_ij = a_g + b_g t_ij + u_i + v_i t_ij + e_ij,
    (u_i, v_i) ~ N(0, G) with G an unstructured 2 x 2 covariance,  e_ij ~ N(0, s2),

fitted by REML. The fixed effects use the cell-means parameterisation
``0 + group + group:time``: every group has its own intercept ``a_g`` (the
mean at time 0) and slope ``b_g`` (change per unit of time) and no group is
a reference, so each row of the result reads on its own; a difference between
groups is a contrast of two rows (:meth:`MixedFit.contrast`). ``G`` and
``s2`` are common to all groups.

The engine is lme4's formulation (Bates et al. 2015, section 3): the REML
deviance profiled over the fixed effects and ``s2``, as a function of the
relative Cholesky factor ``theta`` of ``G / s2``, minimised by scipy with the
diagonal of ``theta`` bounded at 0, so a variance can reach 0 exactly. It is
computed from per-subject sums (``Z'Z``, ``Z'y``, ``y'y`` with ``Z = [1, t]``)
with 2 x 2 algebra vectorized across subjects. Why not statsmodels'
``MixedLM``: it loops over subjects in Python at every evaluation (about 18 s
per optimizer on the 1,534 episodes of the bundled demo against 0.5 s here)
and its L-BFGS run stops there unconverged at a REML log-likelihood 59 below
the optimum; on small data both give the same fit (``tests/test_trajectory_model.py``
checks them against each other and against lme4's published output).

Intervals and p-values are Wald intervals with the normal quantile (z), as
statsmodels reports them; with the hundreds of subjects of clinic data the t
and z quantiles differ in the third decimal. The fixed-effects covariance is
``s2 (X' W^-1 X)^-1`` at the REML estimates (lme4's ``vcov``); with the
cell-means design it is block diagonal, one block per group.

Guards against a silent failure (a variance at 0, or an optimizer stopping
early, while everything claims success), reported in ``notes`` in words:

- time is centred at its mean and divided by its SD inside the fit (REML is
  invariant to this; estimates are mapped back exactly), so a time origin far
  from the data, such as days since 1970, does not stall the optimizer;
- the fit is run with two optimizers (:data:`OPTIMIZERS`: L-BFGS-B and
  Powell, gradient-based and derivative-free), each from two starts (the
  identity and the moments of the per-subject least-squares lines); the
  lowest REML deviance is restarted from its own solution until the
  log-likelihood gains less than 1e-6 and checked with finite differences.
  Only an optimum that fails these checks is noted (with what the optimizers
  reached): L-BFGS-B routinely stops early when a variance is large relative
  to the residual, and that is no problem when another run reaches the
  optimum. An optimizer that does not report convergence at the kept
  optimum is noted;
- boundary (singular) fits are detected as lme4's ``isSingular`` does: a
  diagonal element of ``theta`` below :data:`BOUNDARY_TOL`, with time
  centred and in units of its SD inside the fit so the rule does not depend on
  weeks or days. A random-slope variance at 0 is refitted with a random
  intercept only (on the boundary the two models have the same optimum; the
  result then says ``random_slope=False``); a correlation at +-1 is noted and
  the fit kept.

References
----------
.. [1] Laird, N. M., & Ware, J. H. (1982). Random-effects models for longitudinal data.
   *Biometrics*, 38(4), 963-974.
.. [2] Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects
   models using lme4. *Journal of Statistical Software*, 67(1), 1-48 (the profiled REML
   deviance, eq. 34-42; singular fits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from outcomes.stats._arrays import ArrayLike, FloatArray, as_float, check_level

__all__ = ["BOUNDARY_TOL", "OPTIMIZERS", "MixedFit", "mixed_fit"]

BOUNDARY_TOL = 1e-4
"""A diagonal element of the relative Cholesky factor of ``G`` below this is a boundary fit (lme4's default)."""

OPTIMIZERS: tuple[str, ...] = ("L-BFGS-B", "Powell")
"""The optimizers tried by default, in order; the fit with the higher REML log-likelihood is kept."""

_OPTIONS: dict[str, dict[str, float]] = {
    "Powell": {"xtol": 1e-6, "ftol": 1e-10},
    "Nelder-Mead": {"xatol": 1e-6, "fatol": 1e-8},
}
"""Tolerances of the derivative-free optimizers, tighter than scipy's defaults (the REML surface is flat at its top)."""

_LLF_TOL = 1e-3
"""REML log-likelihoods closer than this count as the same optimum."""

_RESTART_TOL = 1e-6
"""The optimizers are restarted from the best point until the REML log-likelihood gains less than this."""

_MAX_RESTARTS = 20
"""Restart rounds before the optimum is reported as not settled."""


@dataclass(frozen=True)
class MixedFit:
    """A fitted trajectory mixed model (see the module for the model).

    Attributes
    ----------
    groups : tuple of str
        Group labels, sorted; the order of the rows below.
    intercept, slope : numpy.ndarray
        Per group: the fixed intercept (mean at time 0) and slope (change per unit time).
    intercept_se, slope_se : numpy.ndarray
        Their standard errors.
    cov_fixed : numpy.ndarray
        Covariance of the fixed effects, ``2 k x 2 k`` in the order
        ``intercept_1, slope_1, intercept_2, slope_2, ...``.
    intercept_var, slope_var, intercept_slope_cov, residual_var : float
        Variance components: ``G`` and ``s2``. ``slope_var`` and the
        covariance are 0 when the random slope was dropped (``random_slope`` False).
    random_slope : bool
        Whether the final model has a random slope.
    llf : float
        REML log-likelihood of the final model (``-REML criterion / 2`` in lme4's terms).
    n_obs, n_subjects : int
        Observations and subjects in the fit.
    group_obs, group_subjects : numpy.ndarray
        The same per group.
    converged : bool
        The kept optimizer reported convergence.
    optimizer : str
        The kept optimizer.
    confidence_level : float
    notes : tuple of str
        Everything worth knowing about the fit, in words: boundary fits,
        refits, disagreement between optimizers, statsmodels' warnings.
        Empty for a regular fit.
    """

    groups: tuple[str, ...]
    intercept: FloatArray
    slope: FloatArray
    intercept_se: FloatArray
    slope_se: FloatArray
    cov_fixed: FloatArray
    intercept_var: float
    slope_var: float
    intercept_slope_cov: float
    residual_var: float
    random_slope: bool
    llf: float
    n_obs: int
    n_subjects: int
    group_obs: npt.NDArray[np.int64]
    group_subjects: npt.NDArray[np.int64]
    converged: bool
    optimizer: str
    confidence_level: float
    notes: tuple[str, ...]

    @property
    def correlation(self) -> float:
        """Correlation of the random intercept and slope (NaN without a random slope or intercept)."""
        denom = np.sqrt(self.intercept_var * self.slope_var)
        return float(self.intercept_slope_cov / denom) if denom > 0 else float("nan")

    @property
    def healthy(self) -> bool:
        """Converged, with a random slope and no note: the fit needs no caveat."""
        return self.converged and self.random_slope and not self.notes

    def _z(self) -> float:
        return float(stats.norm.ppf(0.5 + self.confidence_level / 2))

    def intervals(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Wald (z) limits of the intercepts and slopes: ``intercept_low, intercept_high, slope_low, slope_high``."""
        z = self._z()
        return (
            self.intercept - z * self.intercept_se,
            self.intercept + z * self.intercept_se,
            self.slope - z * self.slope_se,
            self.slope + z * self.slope_se,
        )

    def p_values(self) -> tuple[FloatArray, FloatArray]:
        """Two-sided Wald (z) p-values of ``intercept = 0`` and ``slope = 0`` per group."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (
                2 * stats.norm.sf(np.abs(self.intercept / self.intercept_se)),
                2 * stats.norm.sf(np.abs(self.slope / self.slope_se)),
            )

    def mean_curve(self, times: ArrayLike, /) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The fitted mean ``a_g + b_g t`` of every group at ``times``, with its pointwise band.

        The band is ``fit -+ z sqrt(x' C x)`` with ``x = (1, t)`` on the group's
        two fixed effects and ``C`` their covariance: the uncertainty of the
        mean curve, not the spread of individual trajectories.

        Returns
        -------
        fit, low, high : numpy.ndarray
            Shape ``(number of groups, number of times)``.
        """
        t = as_float(times).ravel()
        k = len(self.groups)
        cov = self.cov_fixed.reshape(k, 2, k, 2)[np.arange(k), :, np.arange(k), :]  # (k, 2, 2) diagonal blocks
        fit = self.intercept[:, None] + self.slope[:, None] * t[None, :]
        var = cov[:, 0, 0, None] + 2 * t[None, :] * cov[:, 0, 1, None] + t[None, :] ** 2 * cov[:, 1, 1, None]
        half = self._z() * np.sqrt(np.maximum(var, 0.0))
        return fit, fit - half, fit + half

    def contrast(self, a: int, b: int, /, *, term: str = "slope") -> tuple[float, float, float, float, float]:
        """Group ``a`` minus group ``b`` (indices into ``groups``) on ``term`` ("intercept" or "slope").

        Returns
        -------
        estimate, se, low, high, p_value : float
            Wald (z) interval and two-sided p-value.
        """
        if term not in ("intercept", "slope"):
            raise ValueError("term must be 'intercept' or 'slope'")
        x = np.zeros(2 * len(self.groups))
        offset = 0 if term == "intercept" else 1
        x[2 * a + offset] += 1.0
        x[2 * b + offset] -= 1.0
        est = float(x @ self._fixed())
        se = float(np.sqrt(max(float(x @ self.cov_fixed @ x), 0.0)))
        z = self._z()
        p = float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
        return est, se, est - z * se, est + z * se, p

    def _fixed(self) -> FloatArray:
        return np.column_stack([self.intercept, self.slope]).ravel()


@dataclass(frozen=True)
class _Stats:
    """Per-subject sums on centred, standardised time: ``Z'Z``, ``Z'y``, ``y'y`` with ``Z = [1, t]``."""

    zz: FloatArray  # (m, 2, 2)
    zy: FloatArray  # (m, 2)
    yy: FloatArray  # (m,)
    group: npt.NDArray[np.intp]  # (m,) group of each subject
    k: int
    n_obs: int


@dataclass(frozen=True)
class _Optimum:
    optimizer: str
    theta: FloatArray  # (l11, l21, l22): the relative Cholesky factor of G / s2
    deviance: float
    converged: bool
    message: str


def _profile(theta: FloatArray, st: _Stats) -> tuple[float, FloatArray, npt.NDArray[np.float64], float]:
    """REML deviance at ``theta`` with the fixed effects and ``s2`` profiled out.

    ``d(theta) = sum log|M_i| + log|X'W^-1 X| + (N - p)(1 + log(2 pi r2 / (N - p)))``,
    ``M_i = I + L'Z_i'Z_i L``, ``W_i^-1 = I - Z_i L M_i^-1 L'Z_i'``, ``r2`` the
    generalised residual sum of squares (Bates et al. 2015, eq. 34-42). With
    the cell-means design ``X_i'X_i = X_i'Z_i = Z_i'Z_i`` on the subject's
    group block, so ``X'W^-1X`` is block diagonal, one 2 x 2 block per group.

    Returns
    -------
    deviance, beta (k, 2), info (k, 2, 2) = X'W^-1X blocks, s2
    """
    lam = np.array([[theta[0], 0.0], [theta[1], theta[2]]])
    a = st.zz
    al = a @ lam  # (m, 2, 2)
    m_ = np.eye(2) + lam.T @ al  # I + L'AL
    det_m = m_[:, 0, 0] * m_[:, 1, 1] - m_[:, 0, 1] * m_[:, 1, 0]
    m_inv = np.stack([m_[:, 1, 1], -m_[:, 0, 1], -m_[:, 1, 0], m_[:, 0, 0]], axis=1).reshape(-1, 2, 2)
    m_inv /= det_m[:, None, None]
    p_ = lam @ m_inv @ lam.T  # (m, 2, 2): W^-1 = I - Z P Z'
    ap = a @ p_
    xwx_i = a - ap @ a
    xwy_i = st.zy - np.einsum("mij,mj->mi", ap, st.zy)
    ywy_i = st.yy - np.einsum("mi,mij,mj->m", st.zy, p_, st.zy)
    info = np.zeros((st.k, 2, 2))
    xwy = np.zeros((st.k, 2))
    np.add.at(info, st.group, xwx_i)
    np.add.at(xwy, st.group, xwy_i)
    beta = np.asarray(np.linalg.solve(info, xwy[:, :, None])[:, :, 0], dtype=np.float64)
    df = st.n_obs - 2 * st.k
    r2 = float(ywy_i.sum() - np.einsum("ki,ki->", xwy, beta))
    det_info = info[:, 0, 0] * info[:, 1, 1] - info[:, 0, 1] * info[:, 1, 0]
    if r2 <= 0 or (det_info <= 0).any() or (det_m <= 0).any():
        return np.inf, beta, info, np.nan
    dev = float(np.log(det_m).sum() + np.log(det_info).sum() + df * (1 + np.log(2 * np.pi * r2 / df)))
    return dev, beta, info, r2 / df


def _start(st: _Stats) -> FloatArray:
    """A data-based start: ``theta`` from the moments of the per-subject least-squares lines.

    Each subject with at least three observations at two or more times gives
    its own intercept and slope and a residual variance; ``G`` is the spread of
    the lines less the average sampling covariance ``s2 (Z_i'Z_i)^-1``, its
    eigenvalues floored at 1% of ``s2``; the start is the Cholesky factor of
    ``G / s2``. Falls back to the identity when too few subjects qualify.
    """
    fallback = np.array([1.0, 0.0, 1.0])
    n_i = st.zz[:, 0, 0]
    det = st.zz[:, 0, 0] * st.zz[:, 1, 1] - st.zz[:, 0, 1] ** 2
    ok = (n_i >= 3) & (det > 1e-9 * np.maximum(n_i, 1) ** 2)
    if ok.sum() < 3:
        return fallback
    with np.errstate(all="ignore"):
        zz, zy, yy = st.zz[ok], st.zy[ok], st.yy[ok]
        coef = np.linalg.solve(zz, zy[:, :, None])[:, :, 0]
        rss = yy - np.einsum("mi,mi->m", coef, zy)
        s2 = float(np.maximum(rss, 0.0).sum() / (n_i[ok] - 2).sum())
        if not np.isfinite(s2) or s2 <= 0:
            return fallback
        # the spread of the lines around their group's mean line
        means = np.zeros((st.k, 2))
        counts = np.bincount(st.group[ok], minlength=st.k).astype(np.float64)
        np.add.at(means, st.group[ok], coef)
        dev = coef - means[st.group[ok]] / np.maximum(counts[st.group[ok]], 1)[:, None]
        spread = dev.T @ dev / max(int(ok.sum()) - st.k, 1)
        g = spread - s2 * np.linalg.inv(zz).mean(axis=0)
        w, v = np.linalg.eigh((g + g.T) / 2)
        g = (v * np.maximum(w, 0.01 * s2)) @ v.T
        lam = np.linalg.cholesky(g / s2)
    start = np.array([lam[0, 0], lam[1, 0], lam[1, 1]])
    return start if np.isfinite(start).all() else fallback


def _optimize(st: _Stats, optimizer: str, start: FloatArray, *, slope: bool) -> _Optimum:
    """Minimise the REML deviance over ``theta`` with the Cholesky diagonal bounded at 0 (lme4's formulation)."""
    x0 = np.asarray(start, dtype=np.float64) if slope else np.asarray(start[:1], dtype=np.float64)

    def full(x: FloatArray) -> FloatArray:
        return x if slope else np.array([x[0], 0.0, 0.0])

    def objective(x: FloatArray) -> float:
        return _profile(full(x), st)[0]

    bounds = [(0.0, None), (None, None), (0.0, None)] if slope else [(0.0, None)]
    options: dict[str, float] = _OPTIONS.get(optimizer, {})
    with np.errstate(all="ignore"):
        res = optimize.minimize(objective, x0, method=optimizer, bounds=bounds, options=options)
    x = np.asarray(res.x, dtype=np.float64)
    dev = objective(x)  # the objective at the returned point, not the optimizer's own record of it
    return _Optimum(optimizer, full(x), dev, bool(res.success), str(res.message))


def _polish(best: _Optimum, st: _Stats, optimizers: Sequence[str], *, slope: bool) -> tuple[_Optimum, bool]:
    """Restart every optimizer from the best point until the REML log-likelihood gains less than :data:`_RESTART_TOL`.

    Returns the polished optimum and whether it settled within :data:`_MAX_RESTARTS` rounds.
    """
    for _ in range(_MAX_RESTARTS):
        start = best.theta if slope else best.theta[:1]
        tries = [_optimize(st, o, start, slope=slope) for o in optimizers]
        ok = [o for o in tries if np.isfinite(o.deviance)]
        if not ok:
            return best, True
        new = min(ok, key=lambda o: o.deviance)
        gain = (best.deviance - new.deviance) / 2
        if gain > 0:
            converged = new.converged or any(o.converged and o.deviance - new.deviance <= 2 * _RESTART_TOL for o in ok)
            best = _Optimum(new.optimizer, new.theta, new.deviance, converged, new.message)
        elif not best.converged and any(o.converged and o.deviance - best.deviance <= 2 * _RESTART_TOL for o in ok):
            best = _Optimum(best.optimizer, best.theta, best.deviance, True, best.message)
        if gain < _RESTART_TOL:
            return best, True
    return best, False


def _gradient_ok(best: _Optimum, st: _Stats, *, slope: bool) -> bool:
    """A finite-difference check that no feasible direction lowers the deviance by more than rounding."""
    x = best.theta if slope else best.theta[:1]

    def f(v: FloatArray) -> float:
        return _profile(v if slope else np.array([v[0], 0.0, 0.0]), st)[0]

    bounded = [True, False, True] if slope else [True]
    with np.errstate(all="ignore"):
        for i in range(x.size):
            h = 1e-4 * max(1.0, abs(float(x[i])))
            up = x.copy()
            up[i] += h
            down = x.copy()
            down[i] = max(x[i] - h, 0.0) if bounded[i] else x[i] - h
            # the deviance may not fall by more than 1e-5 along a step of 1e-4 (relative) in any feasible direction
            if f(up) < best.deviance - 2e-5 or f(down) < best.deviance - 2e-5:
                return False
    return True


def _best(
    optima: list[_Optimum],
    st: _Stats,
    optimizers: Sequence[str],
    notes: list[str],
    what: str,
    *,
    slope: bool,
    llf_shift: float,
) -> _Optimum:
    """The optimum with the lowest REML deviance, polished by restarts; notes when it fails the checks.

    ``llf_shift`` turns a log-likelihood on the standardised time of the fit
    into the caller's time (``-k log(scale)``).
    """
    ok = [o for o in optima if np.isfinite(o.deviance)]
    if not ok:
        raise ValueError(f"every optimizer failed on the {what}: " + "; ".join(o.message for o in optima))
    best = min(ok, key=lambda o: o.deviance)
    if not best.converged:  # an optimizer that reports success at the same optimum is the better witness
        best = next((o for o in ok if o.converged and (o.deviance - best.deviance) / 2 <= _LLF_TOL), best)
    best, settled = _polish(best, st, optimizers, slope=slope)
    if not settled or not _gradient_ok(best, st, slope=slope):
        # only now is a disagreement between the optimizers a warning: the kept optimum failed a check
        others = "; ".join(
            f"{o.optimizer} {-o.deviance / 2 + llf_shift:.3f}"
            for o in ok
            if (o.deviance - best.deviance) / 2 > _LLF_TOL
        )
        notes.append(
            f"{what}: the optimum did not settle under restarts from its own solution or fails a gradient check "
            f"(REML log-likelihood {-best.deviance / 2 + llf_shift:.3f} with {best.optimizer}"
            + (f"; first runs: {others}" if others else "")
            + "); the estimates may not be the REML optimum"
        )
    if not best.converged:
        notes.append(
            f"{what}: {best.optimizer} did not report convergence ({best.message}); the estimates may not "
            "be the REML optimum"
        )
    return best


def mixed_fit(
    value: ArrayLike,
    time: ArrayLike,
    subject: ArrayLike,
    group: ArrayLike | None = None,
    /,
    *,
    confidence_level: float = 0.95,
    optimizers: Sequence[str] = OPTIMIZERS,
) -> MixedFit:
    """Fit ``value ~ 0 + group + group:time`` with a random intercept and slope per subject, by REML.

    Parameters
    ----------
    value, time : array_like
        One entry per observation; finite.
    subject : array_like
        The subject (episode) of each observation; a subject belongs to one group.
    group : array_like, optional
        The group of each observation; None for one group labelled ``"all"``.
        Labels are compared as text.
    confidence_level : float, default 0.95
        For the Wald (z) intervals.
    optimizers : sequence of str, default :data:`OPTIMIZERS`
        ``scipy.optimize.minimize`` methods that accept bounds, each run from
        the same two starts and used for the restarts; the lowest REML
        deviance is kept. One optimizer turns the cross-check off.

    Returns
    -------
    MixedFit

    Raises
    ------
    ValueError
        Arrays of different lengths, non-finite values, a missing (None or
        NaN) subject ID or group label, values exactly on each group's line
        (nothing left to estimate), a subject in two
        groups, a group whose time does not vary (its slope is not
        estimable), fewer than two subjects, or every optimizer failing.

    Examples
    --------
    Twenty subjects, each falling by 0.5 a week from their own start, with
    their own rate:

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> t = np.tile(np.arange(6.0), 20)
    >>> s = np.repeat(np.arange(20), 6)
    >>> y = 6 + rng.normal(0, 1, 20)[s] + (-0.5 + rng.normal(0, 0.2, 20)[s]) * t + rng.normal(0, 0.5, t.size)
    >>> fit = mixed_fit(y, t, s)
    >>> print(f"{float(fit.slope[0]):.2f} {fit.n_subjects} {fit.random_slope}")
    -0.51 20 True
    """
    check_level(confidence_level)
    if not optimizers:
        raise ValueError("give at least one optimizer")
    y, t = as_float(value).ravel(), as_float(time).ravel()
    subj_raw = np.asarray(subject).ravel()
    grp_in = None if group is None else np.asarray(group).ravel()
    if not (y.size == t.size == subj_raw.size == (y.size if grp_in is None else grp_in.size)):
        raise ValueError("value, time, subject and group need one entry per observation")
    if not (np.isfinite(y).all() and np.isfinite(t).all()):
        raise ValueError("value and time must be finite (drop missing values first)")
    if _missing(subj_raw).any():
        raise ValueError("subject IDs must not be missing (None or NaN); drop those observations first")
    if grp_in is not None and _missing(grp_in).any():
        raise ValueError("group labels must not be missing (None or NaN); drop those observations first")
    grp_raw = np.full(y.size, "all") if grp_in is None else grp_in.astype(str)
    labels, g = np.unique(grp_raw, return_inverse=True)
    try:
        _, s = np.unique(subj_raw, return_inverse=True)
    except TypeError as err:
        raise ValueError(f"subject IDs must be comparable with each other (one type): {err}") from None
    m = int(s.max()) + 1 if s.size else 0
    if m < 2:
        raise ValueError("a mixed model needs at least two subjects")
    group_of = np.full(m, -1, dtype=np.intp)
    group_of[s] = g
    if (group_of[s] != g).any():
        raise ValueError("a subject appears in more than one group; each subject (episode) belongs to one group")
    k = int(labels.size)
    for j in range(k):
        if np.ptp(t[g == j]) == 0:
            raise ValueError(f"group {labels[j]!r}: time does not vary, so its slope cannot be estimated")
    if y.size <= 2 * k:
        raise ValueError("fewer observations than fixed effects")
    # Time centred at its mean and in units of its SD inside the fit, so theta and the boundary rule do not
    # depend on weeks or days, and a time origin far from the data (days since 1970) does not make the REML
    # surface ill-conditioned. REML is invariant to this change: the fixed effects, G and their covariances
    # are mapped back with B = [[1, -c / sd], [0, 1 / sd]], and the log-likelihood gains -k log(sd).
    centre = float(np.mean(t))
    scale_t = float(np.std(t))
    ts = (t - centre) / scale_t
    one = np.ones_like(ts)
    z = np.stack([one, ts], axis=1)
    zz = np.zeros((m, 2, 2))
    zy = np.zeros((m, 2))
    np.add.at(zz, s, z[:, :, None] * z[:, None, :])
    np.add.at(zy, s, z * y[:, None])
    st = _Stats(
        zz=zz,
        zy=zy,
        yy=np.bincount(s, weights=y**2, minlength=m).astype(np.float64),
        group=group_of,
        k=k,
        n_obs=int(y.size),
    )
    # the fixed effects alone: values exactly on each group's line (or constant) leave nothing to estimate
    info0 = np.zeros((k, 2, 2))
    xy0 = np.zeros((k, 2))
    np.add.at(info0, group_of, zz)
    np.add.at(xy0, group_of, zy)
    beta0 = np.linalg.solve(info0, xy0[:, :, None])[:, :, 0]
    rss0 = float(np.sum((y - beta0[g, 0] - beta0[g, 1] * ts) ** 2))
    if rss0 <= 1e-20 * max(float(np.sum(y**2)), 1e-300):
        raise ValueError(
            "the values lie exactly on each group's line (or are constant): no residual or episode variation "
            "to estimate"
        )

    notes: list[str] = []
    per_subject = np.bincount(s, minlength=m)
    if (per_subject < 2).all():
        notes.append(
            "no subject has two or more observations: the random effects and the residual variance are not "
            "separately identifiable, so the variance components (and the standard errors) are not reliable"
        )
    elif not (
        np.bincount(s, weights=ts**2, minlength=m) * per_subject - np.bincount(s, weights=ts, minlength=m) ** 2
        > 1e-12 * per_subject**2
    ).any():
        notes.append(
            "no subject was measured at two different times: the random slope is not separately identifiable "
            "from the random intercept and the residual, so the variance components are not reliable"
        )
    llf_shift = -k * np.log(scale_t)
    starts = [np.array([1.0, 0.0, 1.0]), _start(st)]
    optima = [_optimize(st, o, x0, slope=True) for x0 in starts for o in optimizers]
    best = _best(optima, st, optimizers, notes, "random intercept and slope", slope=True, llf_shift=llf_shift)
    l11, l21, l22 = (float(x) for x in best.theta)
    random_slope = True
    if np.hypot(l21, l22) < BOUNDARY_TOL:
        notes.append(
            "the random-slope variance is at the boundary (estimated as 0): the episodes' slopes do not vary "
            "beyond what the residual noise explains; refitted with a random intercept only"
        )
        optima = [_optimize(st, o, x0, slope=False) for x0 in starts for o in optimizers]
        best = _best(optima, st, optimizers, notes, "random intercept only", slope=False, llf_shift=llf_shift)
        random_slope = False
    elif l22 < BOUNDARY_TOL:
        corr = l21 / np.hypot(l21, l22) if l11 > 0 else float("nan")
        notes.append(
            f"the random intercept and slope are perfectly correlated (correlation {corr:+.2f} at the mean time): "
            "a boundary (singular) fit; the variance components are not well determined"
        )
    if best.theta[0] < BOUNDARY_TOL:
        what = "at the mean time " if random_slope else ""
        notes.append(f"the random-intercept variance {what}is at the boundary (estimated as 0): a singular fit")
    with np.errstate(all="ignore"):
        dev, beta_s, info, s2 = _profile(best.theta, st)
        lam = np.array([[best.theta[0], 0.0], [best.theta[1], best.theta[2]]])
        back = np.array([[1.0, -centre / scale_t], [0.0, 1.0 / scale_t]])  # centred standardised time -> caller's
        g_cov = back @ (s2 * lam @ lam.T) @ back.T
        block = back @ (s2 * np.linalg.inv(info)) @ back.T  # (k, 2, 2): groups' fixed effects are uncorrelated
        beta = beta_s @ back.T
    if s2 <= 1e-10 * float(np.var(y)):
        notes.append(
            f"the residual variance is essentially 0 ({s2:.3g}): the values are (nearly) fitted exactly, so the "
            "variance components and standard errors are not reliable"
        )
    cov_fixed = np.zeros((2 * k, 2 * k))
    for j in range(k):
        cov_fixed[2 * j : 2 * j + 2, 2 * j : 2 * j + 2] = block[j]
    return MixedFit(
        groups=tuple(str(x) for x in labels),
        intercept=beta[:, 0].copy(),
        slope=beta[:, 1].copy(),
        intercept_se=np.sqrt(block[:, 0, 0]),
        slope_se=np.sqrt(block[:, 1, 1]),
        cov_fixed=cov_fixed,
        intercept_var=float(g_cov[0, 0]),
        slope_var=float(g_cov[1, 1]),
        intercept_slope_cov=float(g_cov[0, 1]),
        residual_var=float(s2),
        random_slope=random_slope,
        llf=-dev / 2 + llf_shift,  # the REML criterion on the caller's time scale
        n_obs=int(y.size),
        n_subjects=m,
        group_obs=np.bincount(g, minlength=k).astype(np.int64),
        group_subjects=np.bincount(group_of, minlength=k).astype(np.int64),
        converged=best.converged,
        optimizer=best.optimizer,
        confidence_level=confidence_level,
        notes=tuple(notes),
    )


def _missing(a: npt.NDArray[np.generic]) -> npt.NDArray[np.bool_]:
    """None or a non-finite number in an array of IDs or labels."""
    if a.dtype.kind in "fc":
        return np.asarray(~np.isfinite(a), dtype=bool)
    if a.dtype.kind == "O":
        return np.array(
            [x is None or (isinstance(x, (float, np.floating)) and not np.isfinite(x)) for x in a], dtype=bool
        )
    return np.zeros(a.shape, dtype=bool)
