"""Funnel-plot data: control limits checked by hand and against the normal approximation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from outcomes import episode_changes, funnel, read_dataset
from outcomes.stats import binomial_limits
from outcomes.synth import demo_dataset_path


def test_binomial_limit_by_hand() -> None:
    # Spiegelhalter (2005), exact binomial limit with interpolation, worked for n = 20, target 0.3,
    # lower 95% limit (p = 0.025): P(X <= 1) = 0.00764, P(X <= 2) = 0.03548 -> r = 2,
    # a = (0.03548 - 0.025) / (0.03548 - 0.00764) = 0.3765, limit = (2 - 0.3765) / 20 = 0.08118.
    lo, hi = binomial_limits(np.array([20.0]), 0.3, 0.95)
    assert lo[0] == pytest.approx(0.08118, abs=5e-5)
    # upper: P(X <= 9) = 0.95204 < 0.975 <= P(X <= 10) = 0.98286 -> r = 10,
    # a = (0.98286 - 0.975) / (0.98286 - 0.95204) = 0.2550, limit = (10 - 0.2550) / 20 = 0.48725
    assert hi[0] == pytest.approx(0.48725, abs=5e-5)
    assert stats.binom.cdf(1, 20, 0.3) == pytest.approx(0.00764, abs=1e-5)  # the table values used above
    assert stats.binom.cdf(10, 20, 0.3) == pytest.approx(0.98286, abs=1e-5)


@pytest.mark.parametrize("level", [0.95, 0.998])
def test_binomial_limits_approach_the_normal_ones(level: float) -> None:
    n = np.array([2000.0, 10000.0])
    lo, hi = binomial_limits(n, 0.6, level)
    z = stats.norm.ppf(0.5 + level / 2)
    half = z * np.sqrt(0.6 * 0.4 / n)
    # skewness and discreteness move the exact limits by O(1/n) from the normal ones
    assert np.all(np.abs(lo - (0.6 - half)) < 1.5 / n + 1e-4)
    assert np.all(np.abs(hi - (0.6 + half)) < 1.5 / n + 1e-4)


def test_funnel_units_and_mean_limits() -> None:
    ch = episode_changes(read_dataset(demo_dataset_path()))
    f = funnel(ch, unit="therapist_id", measure="nprs", metric="mean_improvement", min_cell=1)
    data = ch.filter(measure="nprs", status="complete")
    assert f.target == pytest.approx(data["improvement"].mean(), rel=1e-12)
    assert f.sd == pytest.approx(data["improvement"].std(), rel=1e-12)
    per = data.group_by("therapist_id").agg(pl.len().alias("n"), pl.col("improvement").mean()).sort("therapist_id")
    assert f.units["unit"].to_list() == per["therapist_id"].to_list()
    assert f.units["n"].to_list() == per["n"].to_list()
    np.testing.assert_allclose(f.units["value"].to_numpy(), per["improvement"].to_numpy(), rtol=1e-12)
    row = f.limits.filter(n=100).row(0, named=True)
    z = stats.norm.ppf(0.975)
    assert row["lower_95"] == pytest.approx(f.target - z * f.sd / 10, rel=1e-12)
    assert row["upper_99_8"] == pytest.approx(f.target + stats.norm.ppf(0.999) * f.sd / 10, rel=1e-12)
    assert f.limits["n"].to_list() == list(range(1, int(per["n"].max()) + 1))


def test_funnel_rates_flags_and_suppression() -> None:
    ch = episode_changes(read_dataset(demo_dataset_path()))
    f = funnel(ch, unit="therapist_id", measure="nprs", min_cell=125)
    data = ch.filter(measure="nprs", status="complete")
    assert f.target == pytest.approx(data["responder"].cast(pl.Float64).mean(), rel=1e-12)
    small = f.units.filter(pl.col("n") < 125)
    assert small.height > 0
    assert small["suppressed"].all()
    assert small["value"].null_count() == small.height
    big = f.units.filter(~pl.col("suppressed"))
    lo, hi = binomial_limits(big["n"].to_numpy().astype(float), f.target, 0.95)
    v = big["value"].to_numpy()
    assert big["outside_95"].to_list() == ((v < lo) | (v > hi)).tolist()


def test_funnel_errors() -> None:
    ch = episode_changes(read_dataset(demo_dataset_path()))
    with pytest.raises(ValueError, match="no complete episodes"):
        funnel(ch, measure="rom_shoulder_flexion", side="left")  # ROM has no MCID: no responder rate
    with pytest.raises(ValueError, match="metric"):
        funnel(ch, metric="median")  # type: ignore[arg-type]
