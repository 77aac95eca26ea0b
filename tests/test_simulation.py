"""Coverage of the package's intervals in seeded simulations with known truth (issue 11, items 3 and 4).

Each test draws samples from a normal (or a discrete) population whose
parameter is known, computes the package's interval for every sample at
once, and counts how often it holds the truth. Tolerances are the documented
target plus two Monte Carlo standard errors, sqrt(p (1 - p) / runs). Every
test also shows that the interval it replaced fails the same check, so the
check can fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from outcomes.stats import BOOTSTRAP_MIN_N, bca_mean_intervals, g_av_stats, hedges_g_stats, hedges_j, nct_interval


def _mc_se(p: float, runs: int) -> float:
    return float(np.sqrt(p * (1 - p) / runs))


def _paired_samples(
    rng: np.random.Generator, n: int, rho: float, ratio: float, delta_av: float, runs: int
) -> tuple[np.ndarray, np.ndarray]:
    """``runs`` samples of n (before, after) pairs: before ~ N(0, 1), after ~ N(mu, ratio^2), correlation rho,
    with mu set so that the population d_av = mu / sqrt((1 + ratio^2) / 2) is ``delta_av``."""
    cov = np.array([[1.0, rho * ratio], [rho * ratio, ratio**2]])
    mu = delta_av * np.sqrt((1 + ratio**2) / 2)
    z = rng.standard_normal((runs, n, 2)) @ np.linalg.cholesky(cov).T
    return z[..., 0], z[..., 1] + mu


# ----------------------------------------------------------------- g_av (paired): Bonett's interval


@pytest.mark.parametrize("n", [5, 10, 30])
def test_g_av_interval_covers_the_population_d_av_at_the_nominal_rate(n: int) -> None:
    rng = np.random.default_rng(20261202 + n)
    runs, level = 20_000, 0.95
    worst_old = 1.0
    for rho in (0.2, 0.5, 0.8):
        for ratio in (1.0, 0.7):
            for delta in (0.0, 0.5, 1.2):
                before, after = _paired_samples(rng, n, rho, ratio, delta, runs)
                d = after - before
                sd_d, sd_b, sd_a = d.std(axis=1, ddof=1), before.std(axis=1, ddof=1), after.std(axis=1, ddof=1)
                _, lo, hi = g_av_stats(d.mean(axis=1), sd_d, sd_b, sd_a, n, confidence_level=level)
                coverage = float(np.mean((lo <= delta) & (delta <= hi)))
                # the documented target: within 1 point of nominal for n >= 5, correlations 0.2-0.8
                tol = 0.01 + 2 * _mc_se(level, runs)
                assert abs(coverage - level) <= tol, (n, rho, ratio, delta, coverage)
                if (n, rho, ratio, delta) != (5, 0.5, 1.0, 1.2):
                    continue
                # the interval it replaced: Algina-Keselman's noncentral-t limits times J(n - 1)
                t = d.mean(axis=1) / (sd_d / np.sqrt(n))
                old_lo, old_hi = nct_interval(t, n - 1, confidence_level=level)
                scale = sd_d / (np.sqrt(n) * np.sqrt((sd_b**2 + sd_a**2) / 2)) * hedges_j(n - 1)
                worst_old = min(worst_old, float(np.mean((old_lo * scale <= delta) & (delta <= old_hi * scale))))
    if n == 5:
        assert worst_old < 0.92  # the old interval fails this check (the issue measured 89.5 % at rho 0.5)


# ----------------------------------------------------------------- Hedges' g (two samples): no J on the limits


@pytest.mark.parametrize(("n", "delta"), [(3, 2.0), (5, 1.0), (10, 0.5), (20, 0.0)])
def test_hedges_g_interval_covers_the_population_delta(n: int, delta: float) -> None:
    rng = np.random.default_rng(7 + n)
    runs, level = 10_000, 0.95
    a = rng.standard_normal((runs, n)) + delta
    b = rng.standard_normal((runs, n))
    _, lo, hi = hedges_g_stats(
        a.mean(axis=1), a.std(axis=1, ddof=1), n, b.mean(axis=1), b.std(axis=1, ddof=1), n, confidence_level=level
    )
    coverage = float(np.mean((lo <= delta) & (delta <= hi)))
    assert abs(coverage - level) <= 3 * _mc_se(level, runs), coverage  # exact under normality
    if (n, delta) == (3, 2.0):
        j = hedges_j(2 * n - 2)
        assert float(np.mean((lo * j <= delta) & (delta <= hi * j))) < 0.93  # J on the limits: about 90 %


# ----------------------------------------------------------------- BCa bootstrap: the documented minimum


def _pain_improvements(rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    """A discrete 0-10-scale improvement: round(N(2.5, 2.2)) clipped to [-10, 10]."""
    return np.clip(np.round(rng.normal(2.5, 2.2, size)), -10, 10)


def test_bca_reaches_its_coverage_at_the_minimum_and_not_below() -> None:
    rng = np.random.default_rng(99)
    # the population mean of round(N(2.5, 2.2)) clipped, by a large sample (SE about 0.002)
    truth = float(_pain_improvements(np.random.default_rng(1), (2_000_000,)).mean())
    runs, level = 600, 0.95
    coverage = {}
    for n in (10, BOOTSTRAP_MIN_N):
        samples = list(_pain_improvements(rng, (runs, n)))
        lo, hi = bca_mean_intervals(samples, confidence_level=level, n_resamples=2000, rng=rng)
        assert not np.isnan(lo).any() or n < BOOTSTRAP_MIN_N
        if n < BOOTSTRAP_MIN_N:  # the package gives none below the minimum: compute it with scipy for the check
            limits = [
                stats.bootstrap((s,), np.mean, n_resamples=2000, method="BCa", rng=rng).confidence_interval
                for s in samples
            ]
            lo, hi = np.array([c.low for c in limits]), np.array([c.high for c in limits])
        coverage[n] = float(np.mean((lo <= truth) & (truth <= hi)))
    se = _mc_se(level, runs)
    assert coverage[BOOTSTRAP_MIN_N] >= level - 0.02 - 2 * se, coverage  # the simulation behind the minimum: 94.0 %
    assert coverage[10] < level - 0.02, coverage  # below it BCa falls short (89.3 % in that simulation)
