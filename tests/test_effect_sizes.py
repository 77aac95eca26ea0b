"""Tests of outcomes.stats (effect sizes, intervals, tests) against independent computations.

Every expected number comes from outside the module under test: scipy,
numpy, statsmodels or the ``statistics`` module on the same data, a formula
written out here (the gamma-function Hedges factor with ``math.gamma``, the
noncentral-t inversion with ``scipy.optimize.brentq`` on
``scipy.stats.nct.cdf``, brute-force loops), or a published table
(Lakens 2013, Table 1; Newcombe 1998, Table I). Each check states its tolerance.
"""

from __future__ import annotations

import gc
import math
import statistics
import warnings
from itertools import product

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from outcomes.stats import (
    EffectSize,
    cliffs_delta,
    cohens_d_av,
    cohens_d_s,
    g_av_stats,
    glass_delta,
    hedges_g,
    hedges_g_av,
    hedges_g_stats,
    hedges_j,
    holm,
    mean_interval_stats,
    nct_interval,
    srm,
    srm_stats,
    welch_stats,
    wilson_interval,
)

SETTINGS = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.too_slow]}

# Lakens (2013, Frontiers in Psychology 4:863), Table 1: ratings of two movies by ten people.
MOVIE1 = [9, 7, 8, 9, 8, 9, 9, 10, 9, 9]
MOVIE2 = [9, 6, 7, 8, 7, 9, 8, 8, 8, 7]

# Tolerance for the noncentrality limits: the module bisects to ~1e-12 relative, brentq below to ~1e-12.
NCP_RTOL = 1e-8


# ----------------------------------------------------------------- independent references


def ref_j(v: float) -> float:
    """Hedges (1981) exact factor J(v) = Gamma(v/2) / (sqrt(v/2) Gamma((v-1)/2)), with math.gamma (v <= ~340)."""
    return math.gamma(v / 2) / (math.sqrt(v / 2) * math.gamma((v - 1) / 2))


def ref_ncp(t: float, df: float, target: float) -> float | None:
    """Solve nct.cdf(t, df, ncp) = target by brentq; None when no finite sign-changing bracket is found.

    The bracket starts at ``t`` and doubles outward (the cdf falls as ncp rises), so it stays where
    scipy's nct.cdf is finite and monotone.
    """

    def f(ncp: float) -> float:
        return float(sps.nct.cdf(t, df, ncp)) - target

    step, a = 1.0, t - 1.0
    while not f(a) > 0:
        step *= 2
        a = t - step
        if step > 1e5:
            return None
    step, b = 1.0, t + 1.0
    while not f(b) < 0:
        step *= 2
        b = t + step
        if step > 1e5:
            return None
    try:
        return float(optimize.brentq(f, a, b, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=500))
    except (ValueError, RuntimeError):
        return None


def assert_ncp_limit(value: float, t: float, df: float, target: float) -> None:
    """The module's limit agrees with brentq to NCP_RTOL, or (where brentq finds no bracket in an extreme
    tail) satisfies the defining equation nct.cdf(t, df, value) == target to 1e-8 where that cdf is finite."""
    expected = ref_ncp(t, df, target)
    if expected is not None:
        assert value == pytest.approx(expected, rel=NCP_RTOL, abs=NCP_RTOL), (t, df, target)
    else:
        cdf = float(sps.nct.cdf(t, df, value))
        assert math.isfinite(cdf), (t, df, target, value)
        assert abs(cdf - target) <= 1e-8, (t, df, target, value, cdf)


def ref_limits(t: float, df: float, level: float) -> tuple[float, float]:
    """Both noncentrality limits by brentq (test data stay away from the tails, so brentq must succeed)."""
    alpha = 1 - level
    lo, hi = ref_ncp(t, df, 1 - alpha / 2), ref_ncp(t, df, alpha / 2)
    assert lo is not None
    assert hi is not None
    return lo, hi


def ref_g_s(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    """d_s, and g with its interval, by hand: pooled SD, t = d / sqrt(1/na + 1/nb), brentq limits, exact J."""
    na, nb = len(a), len(b)
    df = na + nb - 2
    pooled = math.sqrt(((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / df)
    d = (np.mean(a) - np.mean(b)) / pooled
    root = math.sqrt(1 / na + 1 / nb)
    lo, hi = ref_limits(d / root, df, level)
    j = ref_j(df)
    return d, d * j, lo * root, hi * root  # J corrects the estimate, not the interval for delta


def ref_g_av(before: np.ndarray, after: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    """d_av, and g_av with Bonett's (2015) interval, by hand from the sample covariance matrix.

    se^2 = d^2 (s_b^4 + s_a^4 + 2 s_ab^2) / (8 (n - 1) s_av^4) + s_d^2 / ((n - 1) s_av^2), d -+ z se.
    """
    n = len(before)
    diff = after - before
    (var_b, cov_ba), (_, var_a) = np.cov(before, after, ddof=1)
    s_av = math.sqrt((var_b + var_a) / 2)
    d_av = float(np.mean(diff)) / s_av
    se = math.sqrt(
        d_av**2 * (var_b**2 + var_a**2 + 2 * cov_ba**2) / (8 * (n - 1) * s_av**4)
        + np.var(diff, ddof=1) / ((n - 1) * s_av**2)
    )
    z = sps.norm.ppf(0.5 + level / 2)
    return d_av, d_av * ref_j(n - 1), d_av - z * se, d_av + z * se


def test_g_av_interval_reproduces_bonetts_published_example() -> None:
    # statpsych (Bonett's R package) reference manual, ci.stdmean.ps(.05, 110.4, 102.1, 15.3, 14.6, .75, 25):
    # LL 0.2394905, UL 0.8705732 (measurement 1: mean 110.4, SD 15.3; measurement 2: 102.1, 14.6; r = .75)
    sd1, sd2, r, n = 15.3, 14.6, 0.75, 25
    sd_diff = math.sqrt(sd1**2 + sd2**2 - 2 * r * sd1 * sd2)
    _, lo, hi = g_av_stats(110.4 - 102.1, sd_diff, sd2, sd1, n)
    assert (float(lo), float(hi)) == pytest.approx((0.2394905, 0.8705732), abs=5e-7)


# ----------------------------------------------------------------- hedges_j


@pytest.mark.parametrize("df", [1.001, 1.5, 2, 3, 4, 5, 7.25, 10, 18, 29, 50, 99.5, 150, 250, 330])
def test_hedges_j_matches_gamma_formula(df: float) -> None:
    # Reference: the defining gamma-function formula with math.gamma; both are double-precision evaluations.
    assert float(hedges_j(df)) == pytest.approx(ref_j(df), rel=1e-12)


def test_hedges_j_vectorized_keeps_shape() -> None:
    dfs = np.array([[2.0, 5.0, 10.0], [18.0, 40.0, 100.0]])
    out = hedges_j(dfs)
    assert out.shape == dfs.shape
    np.testing.assert_allclose(out, np.vectorize(ref_j)(dfs), rtol=1e-12)


@pytest.mark.parametrize("df", [50, 100, 300, 1_000, 3_000, 10_000])
def test_hedges_j_large_df_classic_approximation(df: float) -> None:
    # Classic approximation J ~ 1 - 3/(4 df - 1) (Hedges 1981). Expanding J(v) = 1 - 3/(4v) - 7/(32v^2) - ...
    # and 1 - 3/(4v-1) = 1 - 3/(4v) - 3/(16v^2) - ... gives an error of 1/(32 v^2) + O(v^-3): allow twice that.
    approx = 1 - 3 / (4 * df - 1)
    assert abs(float(hedges_j(df)) - approx) <= 1 / (16 * df**2)
    # and the error is really of that order (a J that returned the approximation itself would pass the above)
    assert abs(float(hedges_j(df)) - approx) >= 1 / (64 * df**2)


def test_hedges_j_huge_df_stays_below_one_and_accurate() -> None:
    # For v >= 1e12 the approximation 1 - 3/(4v-1) is exact to double precision (error 1/(32 v^2) < 1e-25),
    # so J must equal it to far better than 1e-9 and lie in (0, 1).
    for df in [1e12, 1e13, 1e14, 1e15, 1e16]:
        j = float(hedges_j(df))
        assert 0 < j < 1 or j == pytest.approx(1.0, abs=1e-9), df
        assert abs(j - (1 - 3 / (4 * df - 1))) <= 1e-9, (df, j)


def test_hedges_j_nan_at_or_below_one_df() -> None:
    out = hedges_j([-3.0, 0.0, 0.5, 1.0, np.nan])
    assert np.isnan(out).all()
    assert math.isfinite(float(hedges_j(1.0001)))


# ----------------------------------------------------------------- nct_interval

T_GRID = [-50, -8, 0, 0.5, 3, 8, 50, 1000]
DF_GRID = [1, 2, 5, 30, 1000]


@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
def test_nct_interval_matches_brentq_on_grid(level: float) -> None:
    # Reference: brentq on scipy.stats.nct.cdf(t, df, ncp) = 1 - alpha/2 (lower) and alpha/2 (upper);
    # where brentq finds no bracket (far tails) the defining equation is checked to 1e-8 instead.
    alpha = 1 - level
    for t, df in product(T_GRID, DF_GRID):
        lo, hi = nct_interval(t, df, confidence_level=level)
        assert np.shape(lo) == ()
        assert math.isfinite(float(lo))
        assert math.isfinite(float(hi))
        assert float(lo) < float(hi)
        assert_ncp_limit(float(lo), t, df, 1 - alpha / 2)
        assert_ncp_limit(float(hi), t, df, alpha / 2)


def test_nct_interval_vectorized_matches_brentq() -> None:
    t = np.array([[-2.5], [0.7], [4.0]])
    df = np.array([3.0, 12.0, 60.0, 250.0])
    lo, hi = nct_interval(t, df)
    assert lo.shape == hi.shape == (3, 4)
    for i, j in product(range(3), range(4)):
        exp_lo, exp_hi = ref_limits(float(t[i, 0]), float(df[j]), 0.95)
        assert lo[i, j] == pytest.approx(exp_lo, rel=NCP_RTOL, abs=NCP_RTOL)
        assert hi[i, j] == pytest.approx(exp_hi, rel=NCP_RTOL, abs=NCP_RTOL)


@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
def test_nct_interval_at_zero_is_normal_quantile(level: float) -> None:
    # P(T <= 0 | ncp) = P(Z + ncp <= 0) = Phi(-ncp) for any df, so the limits at t = 0 are -+ z_{1-alpha/2}.
    z = sps.norm.ppf(0.5 + level / 2)
    lo, hi = nct_interval(np.zeros(len(DF_GRID)), np.array(DF_GRID, dtype=float), confidence_level=level)
    np.testing.assert_allclose(lo, -z, rtol=1e-10)
    np.testing.assert_allclose(hi, z, rtol=1e-10)


def test_nct_interval_symmetry() -> None:
    # P(T <= t | ncp) = 1 - P(T <= -t | -ncp), so lo(t) = -hi(-t).
    for t, df in product([0.1, 0.5, 1.7, 3, 8, 50, 1000], DF_GRID):
        lo_pos, hi_pos = nct_interval(t, df)
        lo_neg, hi_neg = nct_interval(-t, df)
        assert float(lo_pos) == pytest.approx(-float(hi_neg), rel=1e-9, abs=1e-9), (t, df)
        assert float(hi_pos) == pytest.approx(-float(lo_neg), rel=1e-9, abs=1e-9), (t, df)


@pytest.mark.parametrize("df", DF_GRID)
def test_nct_interval_limits_increase_in_t(df: float) -> None:
    t = np.concatenate([np.linspace(-60, 60, 241), [100, 300, 1000]])
    lo, hi = nct_interval(t, df)
    assert np.all(np.diff(lo) > 0)
    assert np.all(np.diff(hi) > 0)
    assert np.all(lo < hi)


def test_nct_interval_nan_in_nan_out() -> None:
    t = np.array([np.nan, 1.0, np.inf, 1.0, 1.0, -np.inf, 2.0])
    df = np.array([5.0, np.nan, 5.0, 0.0, -2.0, 5.0, 10.0])
    lo, hi = nct_interval(t, df)
    assert np.isnan(lo[:6]).all()
    assert np.isnan(hi[:6]).all()
    # the valid entry next to them is still right (brentq reference)
    exp_lo, exp_hi = ref_limits(2.0, 10.0, 0.95)
    assert lo[6] == pytest.approx(exp_lo, rel=NCP_RTOL)
    assert hi[6] == pytest.approx(exp_hi, rel=NCP_RTOL)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5])
def test_confidence_level_out_of_range_raises(level: float) -> None:
    with pytest.raises(ValueError, match="confidence_level"):
        nct_interval(1.0, 5.0, confidence_level=level)
    with pytest.raises(ValueError, match="confidence_level"):
        wilson_interval(1, 5, confidence_level=level)


# ----------------------------------------------------------------- Lakens (2013), Table 1


def test_lakens_2013_table1_movie_example() -> None:
    # Hand calculation: movie1 mean 8.7, sum of squares 6.1 (var 6.1/9); movie2 mean 7.7, SS 8.1 (var 0.9);
    # pooled SD = sqrt((6.1 + 8.1)/18) = 0.88819; d_s = 1.0 / 0.88819 = 1.12588.
    assert np.mean(MOVIE1) == pytest.approx(8.7, abs=1e-12)
    assert np.var(MOVIE1, ddof=1) == pytest.approx(6.1 / 9, abs=1e-12)
    assert np.var(MOVIE2, ddof=1) == pytest.approx(0.9, abs=1e-12)
    d_hand = 1.0 / math.sqrt((6.1 + 8.1) / 18)

    d_s = cohens_d_s(MOVIE1, MOVIE2)
    assert isinstance(d_s, EffectSize)
    assert (d_s.name, d_s.n, d_s.confidence_level) == ("d_s", 20, 0.95)
    assert d_s.estimate == pytest.approx(d_hand, rel=1e-12)
    # Published (2 decimals): d_s = 1.13, 95% CI [0.16, 2.06]
    assert round(d_s.estimate, 2) == 1.13
    assert (round(d_s.ci_low, 2), round(d_s.ci_high, 2)) == (0.16, 2.06)

    # Published: g_s = 1.08
    assert round(hedges_g(MOVIE1, MOVIE2).estimate, 2) == 1.08

    # Published: independent t(18) = 2.52 (scipy), and d_s / sqrt(1/n1 + 1/n2) is that t exactly.
    t_ind = sps.ttest_ind(MOVIE1, MOVIE2)
    assert round(float(t_ind.statistic), 2) == 2.52
    assert d_s.estimate / math.sqrt(1 / 10 + 1 / 10) == pytest.approx(float(t_ind.statistic), rel=1e-12)

    # Paired: differences 0,1,1,1,1,0,1,2,1,2 -> mean 1, SD 2/3 -> d_z = 1.5, t(9) = 1.5 sqrt(10) = 4.74.
    diff = np.subtract(MOVIE1, MOVIE2)
    d_z = srm(diff)
    assert d_z.estimate == pytest.approx(1.5, rel=1e-12)
    assert round(d_z.estimate, 2) == 1.50  # published d_z = 1.50
    t_rel = sps.ttest_rel(MOVIE1, MOVIE2)
    assert round(float(t_rel.statistic), 2) == 4.74  # published t(9) = 4.74
    assert d_z.estimate * math.sqrt(10) == pytest.approx(float(t_rel.statistic), rel=1e-12)
    assert round(d_z.estimate * math.sqrt(10), 2) == 4.74

    # d_av: equal n, so s_av = pooled SD and d_av = d_s = 1.13 (published d_av = 1.13)
    d_av = cohens_d_av(MOVIE2, MOVIE1)  # before = movie2, after = movie1: after - before = movie1 - movie2
    assert d_av == pytest.approx(d_hand, rel=1e-12)
    assert round(d_av, 2) == 1.13


# ----------------------------------------------------------------- srm / srm_stats


@pytest.mark.parametrize(
    ("n", "seed", "level"), [(2, 1, 0.95), (5, 2, 0.95), (12, 3, 0.9), (40, 4, 0.99), (150, 5, 0.95)]
)
def test_srm_matches_numpy_and_brentq(n: int, seed: int, level: float) -> None:
    rng = np.random.default_rng(seed)
    d = rng.normal(0.6, 1.3, n)
    es = srm(d, confidence_level=level)
    est = np.mean(d) / np.std(d, ddof=1)
    assert (es.name, es.n, es.confidence_level) == ("srm", n, level)
    assert es.estimate == pytest.approx(est, rel=1e-12)
    # interval: brentq limits of t = srm * sqrt(n) with n - 1 df, divided by sqrt(n)
    lo, hi = ref_limits(est * math.sqrt(n), n - 1, level)
    assert es.ci_low == pytest.approx(lo / math.sqrt(n), rel=NCP_RTOL, abs=NCP_RTOL)
    assert es.ci_high == pytest.approx(hi / math.sqrt(n), rel=NCP_RTOL, abs=NCP_RTOL)


def test_srm_drops_missing_values() -> None:
    d = np.array([1.0, np.nan, 2.5, 0.5, np.nan, 3.0])
    kept = d[~np.isnan(d)]
    es = srm(d)
    assert es.n == 4
    assert es.estimate == pytest.approx(statistics.mean(kept) / statistics.stdev(kept), rel=1e-12)


def test_srm_nan_when_undefined() -> None:
    for values in ([1.0], [], [2.0, 2.0, 2.0]):
        es = srm(values)
        assert math.isnan(es.estimate)
        assert math.isnan(es.ci_low)
        assert math.isnan(es.ci_high)


def test_srm_stats_vectorized() -> None:
    mean = np.array([0.5, -1.2, 3.0, 0.0, 1.0, 1.0])
    sd = np.array([1.0, 2.0, 1.5, 0.7, 0.0, 1.0])
    n = np.array([8, 25, 3, 60, 10, 1])
    est, lo, hi = srm_stats(mean, sd, n)
    for i in range(4):
        assert est[i] == pytest.approx(mean[i] / sd[i], rel=1e-12)
        ref_lo, ref_hi = ref_limits(mean[i] / sd[i] * math.sqrt(n[i]), n[i] - 1, 0.95)
        assert lo[i] == pytest.approx(ref_lo / math.sqrt(n[i]), rel=NCP_RTOL, abs=NCP_RTOL)
        assert hi[i] == pytest.approx(ref_hi / math.sqrt(n[i]), rel=NCP_RTOL, abs=NCP_RTOL)
    # sd == 0 and n < 2 are undefined
    assert np.isnan([est[4], lo[4], hi[4], est[5], lo[5], hi[5]]).all()


# ----------------------------------------------------------------- d_av, g_av


@pytest.mark.parametrize(("n", "seed", "level"), [(3, 10, 0.95), (10, 11, 0.95), (25, 12, 0.9), (80, 13, 0.99)])
def test_hedges_g_av_and_d_av_match_hand_formula(n: int, seed: int, level: float) -> None:
    rng = np.random.default_rng(seed)
    before = rng.normal(6, 1.5, n)
    after = before - rng.normal(1.0, 1.2, n) + rng.normal(0, 0.8, n)
    d_av, g_av, lo, hi = ref_g_av(before, after, level)
    assert cohens_d_av(before, after) == pytest.approx(d_av, rel=1e-12)
    es = hedges_g_av(before, after, confidence_level=level)
    assert (es.name, es.n, es.confidence_level) == ("g_av", n, level)
    assert es.estimate == pytest.approx(g_av, rel=1e-12)
    assert es.ci_low == pytest.approx(lo, rel=1e-12)
    assert es.ci_high == pytest.approx(hi, rel=1e-12)


def test_g_av_stats_vectorized() -> None:
    rng = np.random.default_rng(20)
    samples = [(rng.normal(5, 2, n), rng.normal(1, 1, n)) for n in (4, 15, 33)]
    rows = []
    for before, delta in samples:
        after = before + delta
        d = after - before
        rows.append((d.mean(), d.std(ddof=1), before.std(ddof=1), after.std(ddof=1), len(d)))
    cols = [np.array(c, dtype=float) for c in zip(*rows, strict=True)]
    est, lo, hi = g_av_stats(*cols)
    for i, (before, delta) in enumerate(samples):
        _, g_av, ref_lo, ref_hi = ref_g_av(before, before + delta)
        assert est[i] == pytest.approx(g_av, rel=1e-12)
        assert lo[i] == pytest.approx(ref_lo, rel=1e-12)
        assert hi[i] == pytest.approx(ref_hi, rel=1e-12)


def test_paired_functions_drop_incomplete_pairs_and_check_shape() -> None:
    before = np.array([5.0, 6.0, np.nan, 7.0, 4.0, 8.0])
    after = np.array([3.0, 5.5, 2.0, np.nan, 2.0, 5.0])
    keep = np.isfinite(before) & np.isfinite(after)
    d_av, g_av, _, _ = ref_g_av(before[keep], after[keep])
    assert cohens_d_av(before, after) == pytest.approx(d_av, rel=1e-12)
    es = hedges_g_av(before, after)
    assert es.n == 4
    assert es.estimate == pytest.approx(g_av, rel=1e-12)
    with pytest.raises(ValueError, match="same length"):
        cohens_d_av([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="same length"):
        hedges_g_av([[1.0, 2.0]], [[1.0, 2.0]])
    assert math.isnan(cohens_d_av([1.0], [2.0]))
    assert math.isnan(hedges_g_av([1.0], [2.0]).estimate)


# ----------------------------------------------------------------- d_s, g


@pytest.mark.parametrize(
    ("na", "nb", "seed", "level"), [(2, 2, 30, 0.95), (5, 9, 31, 0.95), (20, 13, 32, 0.9), (60, 45, 33, 0.99)]
)
def test_cohens_d_s_and_hedges_g_match_hand_formula(na: int, nb: int, seed: int, level: float) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(2.0, 1.5, na), rng.normal(1.0, 2.0, nb)
    d, g, g_lo, g_hi = ref_g_s(a, b, level)
    j = ref_j(na + nb - 2)

    es_d = cohens_d_s(a, b, confidence_level=level)
    assert (es_d.name, es_d.n, es_d.confidence_level) == ("d_s", na + nb, level)
    assert es_d.estimate == pytest.approx(d, rel=1e-12)
    assert j < 1  # d_s and g differ as estimates; they share the exact interval for delta
    assert es_d.ci_low == pytest.approx(g_lo, rel=NCP_RTOL, abs=NCP_RTOL)
    assert es_d.ci_high == pytest.approx(g_hi, rel=NCP_RTOL, abs=NCP_RTOL)

    es_g = hedges_g(a, b, confidence_level=level)
    assert (es_g.name, es_g.n) == ("hedges_g", na + nb)
    assert es_g.estimate == pytest.approx(g, rel=1e-12)
    assert es_g.ci_low == pytest.approx(g_lo, rel=NCP_RTOL, abs=NCP_RTOL)
    assert es_g.ci_high == pytest.approx(g_hi, rel=NCP_RTOL, abs=NCP_RTOL)


def test_two_sample_functions_drop_missing_values() -> None:
    a = np.array([3.0, np.nan, 4.5, 5.0, 2.0])
    b = np.array([1.0, 2.0, np.nan, 2.5])
    ka, kb = a[np.isfinite(a)], b[np.isfinite(b)]
    d, g, _, _ = ref_g_s(ka, kb)
    assert cohens_d_s(a, b).estimate == pytest.approx(d, rel=1e-12)
    assert hedges_g(a, b).estimate == pytest.approx(g, rel=1e-12)
    assert hedges_g(a, b).n == 7
    assert glass_delta(a, b) == pytest.approx((statistics.mean(ka) - statistics.mean(kb)) / statistics.stdev(kb))


def test_hedges_g_stats_vectorized_and_nan_when_undefined() -> None:
    rng = np.random.default_rng(40)
    pairs = [(rng.normal(0, 1, na), rng.normal(0.5, 1.3, nb)) for na, nb in ((3, 4), (11, 30), (50, 50))]
    cols = [[], [], [], [], [], []]
    for a, b in pairs:
        for col, v in zip(cols, (a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b)), strict=True):
            col.append(v)
    # two undefined rows: one group of size 1, and zero pooled SD
    for col, v in zip(cols, (1.0, np.nan, 1, 2.0, 1.0, 5), strict=True):
        col.append(v)
    for col, v in zip(cols, (1.0, 0.0, 4, 2.0, 0.0, 5), strict=True):
        col.append(v)
    est, lo, hi = hedges_g_stats(*[np.array(c, dtype=float) for c in cols])
    for i, (a, b) in enumerate(pairs):
        _, g, g_lo, g_hi = ref_g_s(a, b)
        assert est[i] == pytest.approx(g, rel=1e-12)
        assert lo[i] == pytest.approx(g_lo, rel=NCP_RTOL, abs=NCP_RTOL)
        assert hi[i] == pytest.approx(g_hi, rel=NCP_RTOL, abs=NCP_RTOL)
    assert np.isnan(est[3:]).all()
    assert np.isnan(lo[3:]).all()
    assert np.isnan(hi[3:]).all()


def test_two_sample_functions_nan_without_warnings_for_tiny_samples() -> None:
    # Undefined estimates are NaN (EffectSize docstring: "NaN where undefined"), like srm and hedges_g_av,
    # which return NaN for n < 2 without any warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(hedges_g([1.0], [1.0, 2.0, 3.0]).estimate)
        assert math.isnan(cohens_d_s([1.0, 2.0], [3.0]).estimate)
        assert math.isnan(hedges_g([], [1.0, 2.0, 3.0]).estimate)
        assert math.isnan(glass_delta([], [1.0, 2.0, 3.0]))


# ----------------------------------------------------------------- welch_stats, mean_interval_stats


@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
def test_welch_stats_matches_scipy(level: float) -> None:
    rng = np.random.default_rng(50)
    pairs = [(rng.normal(1, 1, na), rng.normal(0, s, nb)) for na, nb, s in ((2, 3, 1), (8, 30, 3), (40, 12, 0.5))]
    summaries = [(a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), len(b)) for a, b in pairs]
    args = [np.array(c, dtype=float) for c in zip(*summaries, strict=True)]
    diff, lo, hi, p = welch_stats(*args, confidence_level=level)
    for i, (a, b) in enumerate(pairs):
        res = sps.ttest_ind(a, b, equal_var=False)
        ci = res.confidence_interval(confidence_level=level)
        assert diff[i] == pytest.approx(np.mean(a) - np.mean(b), rel=1e-12)
        assert lo[i] == pytest.approx(ci.low, rel=1e-10)
        assert hi[i] == pytest.approx(ci.high, rel=1e-10)
        assert p[i] == pytest.approx(res.pvalue, rel=1e-10)


def test_welch_stats_undefined_cases() -> None:
    # n_a = 1: the difference exists, its interval and test do not; n = 0: nothing; both SDs 0: no test.
    diff, lo, hi, p = welch_stats(
        [1.0, np.nan, 3.0], [np.nan, np.nan, 0.0], [1, 0, 4], [2.0, 2.0, 1.0], [1.0, 1.0, 0.0], [5, 5, 4]
    )
    assert diff[0] == pytest.approx(-1.0)
    assert diff[2] == pytest.approx(2.0)
    assert np.isnan([lo[0], hi[0], p[0], diff[1], lo[1], hi[1], p[1], lo[2], hi[2], p[2]]).all()


@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
def test_mean_interval_stats_matches_scipy(level: float) -> None:
    rng = np.random.default_rng(60)
    samples = [rng.normal(mu, s, n) for mu, s, n in ((0.3, 1, 2), (1.0, 2, 9), (-0.4, 0.5, 50), (0.0, 3, 300))]
    mean = np.array([x.mean() for x in samples])
    sd = np.array([x.std(ddof=1) for x in samples])
    n = np.array([len(x) for x in samples])
    lo, hi, p = mean_interval_stats(mean, sd, n, confidence_level=level)
    for i, x in enumerate(samples):
        res = sps.ttest_1samp(x, 0.0)
        ci = res.confidence_interval(confidence_level=level)
        assert lo[i] == pytest.approx(ci.low, rel=1e-10)
        assert hi[i] == pytest.approx(ci.high, rel=1e-10)
        assert p[i] == pytest.approx(res.pvalue, rel=1e-10)
    lo, hi, p = mean_interval_stats([1.0, 2.0], [np.nan, 0.0], [1, 6])
    assert np.isnan([lo[0], hi[0], p[0], p[1]]).all()
    assert np.isnan([lo[1], hi[1]]).all()  # SD 0: no interval (a zero width would claim certainty)


# ----------------------------------------------------------------- wilson_interval


@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
def test_wilson_interval_matches_statsmodels(level: float) -> None:
    ks, ns = [], []
    for n in (1, 2, 3, 5, 10, 37, 100, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            ks.append(k)
            ns.append(n)
    lo, hi = wilson_interval(ks, ns, confidence_level=level)
    for i, (k, n) in enumerate(zip(ks, ns, strict=True)):
        ref_lo, ref_hi = proportion_confint(k, n, alpha=1 - level, method="wilson")
        assert lo[i] == pytest.approx(ref_lo, rel=1e-10, abs=1e-12), (k, n)
        assert hi[i] == pytest.approx(ref_hi, rel=1e-10, abs=1e-12), (k, n)
    assert lo.min() >= 0
    assert hi.max() <= 1


def test_wilson_interval_published_and_empty() -> None:
    # Newcombe (1998, Stat Med 17:857), Table I example (c): 81/263 -> 0.2553 to 0.3662 (4 decimals).
    lo, hi = wilson_interval(81, 263)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)
    lo, hi = wilson_interval([0, 3], [0, 0])
    assert np.isnan(lo).all()
    assert np.isnan(hi).all()


# ----------------------------------------------------------------- cliffs_delta, glass_delta


def brute_cliff(a: list[float], b: list[float]) -> float:
    """P(a > b) - P(a < b) by a double loop over all pairs (Cliff 1993)."""
    score = 0
    for x in a:
        for y in b:
            score += (x > y) - (x < y)
    return score / (len(a) * len(b))


def test_cliffs_delta_matches_brute_force_with_ties() -> None:
    rng = np.random.default_rng(70)
    for _ in range(200):
        na, nb = rng.integers(1, 30, size=2)
        a = rng.integers(0, 5, na).astype(float)  # five values: many ties
        b = (rng.integers(0, 5, nb) + rng.integers(0, 2)).astype(float)
        expected = brute_cliff(a.tolist(), b.tolist())
        assert cliffs_delta(a, b) == pytest.approx(expected, abs=1e-12)
        assert cliffs_delta(b, a) == pytest.approx(-expected, abs=1e-12)


@settings(max_examples=150, **SETTINGS)
@given(
    a=st.lists(st.integers(-3, 3), min_size=1, max_size=20),
    b=st.lists(st.integers(-3, 3), min_size=1, max_size=20),
)
def test_cliffs_delta_property(a: list[int], b: list[int]) -> None:
    expected = brute_cliff([float(x) for x in a], [float(x) for x in b])
    assert cliffs_delta(a, b) == pytest.approx(expected, abs=1e-12)
    assert cliffs_delta(b, a) == pytest.approx(-expected, abs=1e-12)


def test_cliffs_delta_drops_nan_and_empty_is_nan() -> None:
    assert cliffs_delta([3.0, np.nan, 1.0], [2.0, np.nan]) == pytest.approx(brute_cliff([3.0, 1.0], [2.0]))
    assert math.isnan(cliffs_delta([], [1.0]))
    assert math.isnan(cliffs_delta([1.0], [np.nan]))


def test_glass_delta_hand_formula() -> None:
    # (mean_a - mean_b) / sd_b, with the statistics module. a: mean 5, b = [1, 2, 4, 5]: mean 3, SD sqrt(10/3).
    a, b = [4.0, 5.0, 6.0], [1.0, 2.0, 4.0, 5.0]
    assert glass_delta(a, b) == pytest.approx(2 / math.sqrt(10 / 3), rel=1e-12)
    rng = np.random.default_rng(80)
    for _ in range(20):
        x, y = rng.normal(1, 2, 7).tolist(), rng.normal(0, 3, 11).tolist()
        assert glass_delta(x, y) == pytest.approx((statistics.mean(x) - statistics.mean(y)) / statistics.stdev(y))
    assert math.isnan(glass_delta([1.0, 2.0], [3.0]))
    assert math.isnan(glass_delta([1.0, 2.0], [3.0, 3.0]))


# ----------------------------------------------------------------- holm


@pytest.fixture
def fast_multipletests(monkeypatch: pytest.MonkeyPatch) -> None:
    """statsmodels' multipletests(method="holm") runs gc.collect() on every call (~0.2 s under pytest);
    make that a no-op for the test, which changes nothing in its arithmetic."""
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


@pytest.mark.usefixtures("fast_multipletests")
def test_holm_matches_statsmodels() -> None:
    rng = np.random.default_rng(90)
    for _ in range(200):
        m = int(rng.integers(1, 25))
        p = rng.uniform(0, 1, m) ** rng.uniform(1, 4)  # skewed toward small p-values
        if m > 3:
            p[1] = p[2]  # a tie
        expected = multipletests(p, method="holm")[1]
        np.testing.assert_allclose(holm(p), expected, rtol=1e-12, atol=0)


@pytest.mark.usefixtures("fast_multipletests")
def test_holm_nan_stay_nan_and_are_not_counted() -> None:
    rng = np.random.default_rng(91)
    for _ in range(100):
        m = int(rng.integers(1, 15))
        p = rng.uniform(0, 0.2, m)
        p[rng.uniform(size=m) < 0.3] = np.nan
        out = holm(p)
        ok = ~np.isnan(p)
        assert np.isnan(out[~ok]).all()
        if ok.any():
            np.testing.assert_allclose(out[ok], multipletests(p[ok], method="holm")[1], rtol=1e-12, atol=0)
    # the published docstring example, by hand: sorted 0.01, 0.03, 0.04 -> 0.03, 0.06, max(0.06, 0.04) = 0.06
    np.testing.assert_allclose(holm([0.01, np.nan, 0.04, 0.03]), [0.03, np.nan, 0.06, 0.06], rtol=1e-12)
    assert holm([]).shape == (0,)


# ----------------------------------------------------------------- invariances


samples = st.lists(st.integers(-50, 50), min_size=2, max_size=15)


def _spread(x: list[int]) -> float:
    return float(np.var(x, ddof=1)) if len(x) > 1 else 0.0


@settings(max_examples=30, **SETTINGS)
@given(a=samples, b=samples, shift=st.integers(-1000, 1000), scale=st.floats(0.01, 100))
def test_d_s_and_g_invariant_to_shift_and_scale(a: list[int], b: list[int], shift: int, scale: float) -> None:
    assume(_spread(a) + _spread(b) > 0.5)
    xa, xb = np.array(a, dtype=float), np.array(b, dtype=float)
    for fn in (cohens_d_s, hedges_g):
        base = fn(xa, xb)
        for ta, tb in (
            (xa + shift, xb + shift),
            (xa * scale, xb * scale),
            ((xa + shift) * scale, (xb + shift) * scale),
        ):
            moved = fn(ta, tb)
            for got, want in (
                (moved.estimate, base.estimate),
                (moved.ci_low, base.ci_low),
                (moved.ci_high, base.ci_high),
            ):
                assert got == pytest.approx(want, rel=1e-8, abs=1e-8)
    assert cliffs_delta(xa + shift, xb + shift) == pytest.approx(cliffs_delta(xa, xb), abs=1e-12)


@settings(max_examples=30, **SETTINGS)
@given(a=samples, b=samples)
def test_swapping_groups_flips_signs(a: list[int], b: list[int]) -> None:
    assume(_spread(a) + _spread(b) > 0.5)
    for fn in (cohens_d_s, hedges_g):
        ab, ba = fn(a, b), fn(b, a)
        assert ba.estimate == pytest.approx(-ab.estimate, rel=1e-9, abs=1e-12)
        assert ba.ci_low == pytest.approx(-ab.ci_high, rel=1e-8, abs=1e-8)
        assert ba.ci_high == pytest.approx(-ab.ci_low, rel=1e-8, abs=1e-8)
    assert cliffs_delta(b, a) == pytest.approx(-cliffs_delta(a, b), abs=1e-12)


# ----------------------------------------------------------------- t tests and sign conventions


def test_effect_sizes_carry_their_t_test_as_scipy_computes_it() -> None:
    rng = np.random.default_rng(44)
    before = rng.normal(6, 1.5, 17)
    after = before - rng.normal(1.0, 1.2, 17)
    ref = sps.ttest_rel(after, before)  # after - before, the package's paired convention
    for es in (srm(after - before), hedges_g_av(before, after)):
        assert es.statistic == pytest.approx(ref.statistic, rel=1e-12)
        assert es.df == ref.df
        assert es.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    a, b = rng.normal(2.0, 1.5, 12), rng.normal(1.0, 2.0, 20)
    ref = sps.ttest_ind(a, b)  # Student's pooled t of a - b
    for es in (cohens_d_s(a, b), hedges_g(a, b)):
        assert es.statistic == pytest.approx(ref.statistic, rel=1e-12)
        assert es.df == ref.df
        assert es.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert math.isnan(srm([2.0, 2.0, 2.0]).p_value)  # SD 0: no test


def test_paired_sign_convention_matches_pingouin_published_example() -> None:
    # pingouin.compute_effsize(x, y, paired=True, eftype="hedges") docstring: x = 1..7, y = 1, 3, ..., 13
    # gives -0.8222477210374874 (x - y, with the approximate factor 1 - 3 / (4 (n_x + n_y) - 9)).
    x = [1, 2, 3, 4, 5, 6, 7]
    y = [1, 3, 5, 7, 9, 11, 13]
    d = -0.8222477210374874 / (1 - 3 / (4 * 14 - 9))
    assert cohens_d_av(y, x) == pytest.approx(d, rel=1e-12)  # (before, after) = (y, x): after - before = x - y
