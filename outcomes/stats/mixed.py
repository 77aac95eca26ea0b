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

- the fit is run with two optimizers (:data:`OPTIMIZERS`: L-BFGS-B and
  Powell, gradient-based and derivative-free) from the same start; the lower
  REML deviance is kept and a disagreement of more than 0.001 in the
  log-likelihood is noted, as is an optimizer that does not report convergence;
- boundary (singular) fits are detected as lme4's ``isSingular`` does: a
  diagonal element of ``theta`` below :data:`BOUNDARY_TOL`, with time in
  units of its root mean square inside the fit so the rule does not depend on
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
    """Per-subject sufficient statistics on standardised time: ``Z'Z``, ``Z'y``, ``y'y`` with ``Z = [1, t]``."""

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


def _optimize(st: _Stats, optimizer: str, *, slope: bool) -> _Optimum:
    """Minimise the REML deviance over ``theta`` with the Cholesky diagonal bounded at 0 (lme4's formulation)."""
    start = np.array([1.0, 0.0, 1.0]) if slope else np.array([1.0])

    def full(x: FloatArray) -> FloatArray:
        return x if slope else np.array([x[0], 0.0, 0.0])

    def objective(x: FloatArray) -> float:
        return _profile(full(x), st)[0]

    bounds = [(0.0, None), (None, None), (0.0, None)] if slope else [(0.0, None)]
    options: dict[str, float] = _OPTIONS.get(optimizer, {})
    res = optimize.minimize(objective, start, method=optimizer, bounds=bounds, options=options)
    return _Optimum(
        optimizer, full(np.asarray(res.x, dtype=np.float64)), float(res.fun), bool(res.success), str(res.message)
    )


def _best(optima: list[_Optimum], notes: list[str], what: str) -> _Optimum:
    """The optimum with the lowest REML deviance (a converged one if as good); notes on disagreement and failure."""
    ok = [o for o in optima if np.isfinite(o.deviance)]
    if not ok:
        raise ValueError(f"every optimizer failed on the {what}: " + "; ".join(o.message for o in optima))
    best = min(ok, key=lambda o: o.deviance)
    if not best.converged:  # an optimizer that reports success at the same optimum is the better witness
        best = next((o for o in ok if o.converged and (o.deviance - best.deviance) / 2 <= _LLF_TOL), best)
    for other in ok:
        if other is not best and (other.deviance - best.deviance) / 2 > _LLF_TOL:
            notes.append(
                f"{what}: {other.optimizer} stopped at a lower REML log-likelihood ({-other.deviance / 2:.3f}) "
                f"than {best.optimizer} ({-best.deviance / 2:.3f}); kept {best.optimizer}"
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
        the same start; the lowest REML deviance is kept. One optimizer turns
        the cross-check off.

    Returns
    -------
    MixedFit

    Raises
    ------
    ValueError
        Arrays of different lengths, non-finite values, a subject in two
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
    grp_raw = np.full(y.size, "all") if group is None else np.asarray(group).astype(str).ravel()
    if not (y.size == t.size == subj_raw.size == grp_raw.size):
        raise ValueError("value, time, subject and group need one entry per observation")
    if not (np.isfinite(y).all() and np.isfinite(t).all()):
        raise ValueError("value and time must be finite (drop missing values first)")
    labels, g = np.unique(grp_raw, return_inverse=True)
    _, s = np.unique(subj_raw, return_inverse=True)
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
    # Time in units of its SD inside the fit, so theta and the boundary rule do not depend on weeks or days.
    scale_t = float(np.sqrt(np.mean(t**2)))
    ts = t / scale_t
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

    notes: list[str] = []
    best = _best([_optimize(st, o, slope=True) for o in optimizers], notes, "random intercept and slope")
    l11, l21, l22 = (float(x) for x in best.theta)
    random_slope = True
    if np.hypot(l21, l22) < BOUNDARY_TOL:
        notes.append(
            "the random-slope variance is at the boundary (estimated as 0): the episodes' slopes do not vary "
            "beyond what the residual noise explains; refitted with a random intercept only"
        )
        best = _best([_optimize(st, o, slope=False) for o in optimizers], notes, "random intercept only")
        random_slope = False
    elif l22 < BOUNDARY_TOL:
        corr = l21 / np.hypot(l21, l22) if l11 > 0 else float("nan")
        notes.append(
            f"the random intercept and slope are perfectly correlated (correlation {corr:+.2f}): a boundary "
            "(singular) fit; the variance components are not well determined"
        )
    if best.theta[0] < BOUNDARY_TOL:
        notes.append("the random-intercept variance is at the boundary (estimated as 0)")
    dev, beta, info, s2 = _profile(best.theta, st)
    lam = np.array([[best.theta[0], 0.0], [best.theta[1], best.theta[2]]])
    back = np.diag([1.0, 1.0 / scale_t])  # standardised time -> the caller's time
    g_cov = back @ (s2 * lam @ lam.T) @ back
    block = back @ (s2 * np.linalg.inv(info)) @ back  # (k, 2, 2): groups' fixed effects are uncorrelated
    cov_fixed = np.zeros((2 * k, 2 * k))
    for j in range(k):
        cov_fixed[2 * j : 2 * j + 2, 2 * j : 2 * j + 2] = block[j]
    return MixedFit(
        groups=tuple(str(x) for x in labels),
        intercept=beta[:, 0].copy(),
        slope=beta[:, 1] / scale_t,
        intercept_se=np.sqrt(block[:, 0, 0]),
        slope_se=np.sqrt(block[:, 1, 1]),
        cov_fixed=cov_fixed,
        intercept_var=float(g_cov[0, 0]),
        slope_var=float(g_cov[1, 1]),
        intercept_slope_cov=float(g_cov[0, 1]),
        residual_var=float(s2),
        random_slope=random_slope,
        llf=-(dev + 2 * k * np.log(scale_t)) / 2,  # the REML criterion on the caller's time scale
        n_obs=int(y.size),
        n_subjects=m,
        group_obs=np.bincount(g, minlength=k).astype(np.int64),
        group_subjects=np.bincount(group_of, minlength=k).astype(np.int64),
        converged=best.converged,
        optimizer=best.optimizer,
        confidence_level=confidence_level,
        notes=tuple(notes),
    )
