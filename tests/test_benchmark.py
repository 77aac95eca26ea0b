"""Risk-adjusted benchmarking (issue 12, item 2 in part): a seeded network with known therapist effects and a
therapist who sees mostly chronic patients; expected values against numpy's least squares on a hand-built design."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from outcomes.analyses import BENCHMARK_COLUMNS, BenchmarkResult, benchmark
from outcomes.stats import wilson_interval

CHRONIC_EFFECT = -1.5
NOISE_SD = 1.5
TAU = 0.4


def network(seed: int, n_units: int = 20) -> tuple[pl.DataFrame, dict[str, float]]:
    """Complete episodes of one measure: improvement = 2 + effect(therapist) - 1.5 chronic + 0.3 (baseline - 6) + noise.

    T00 sees 90% chronic patients and has a true effect of 0; the others see 20-50% chronic.
    """
    rng = np.random.default_rng(seed)
    effects = rng.normal(0, TAU, n_units)
    effects[0] = 0.0
    effects -= effects.mean()
    rows = []
    for j in range(n_units):
        n = int(rng.integers(40, 160))
        chronic = rng.random(n) < (0.9 if j == 0 else rng.uniform(0.2, 0.5))
        baseline = np.clip(np.round(rng.normal(6, 1.5, n)), 0, 10)
        imp = 2 + effects[j] + CHRONIC_EFFECT * chronic + 0.3 * (baseline - 6) + rng.normal(0, NOISE_SD, n)
        rows.append(
            pl.DataFrame(
                {
                    "therapist_id": f"T{j:02d}",
                    "chronicity": np.where(chronic, "chronic", "acute"),
                    "baseline": baseline,
                    "improvement": imp,
                }
            )
        )
    frame = pl.concat(rows).with_columns(
        measure=pl.lit("nprs"), side=pl.lit(None, dtype=pl.String), status=pl.lit("complete")
    )
    return frame, {f"T{j:02d}": float(effects[j]) for j in range(n_units)}


def test_expected_values_are_least_squares_on_the_case_mix() -> None:
    frame, _ = network(1)
    b = benchmark(frame, adjust_for=("baseline", "chronicity"), min_reliability=0)
    assert isinstance(b, BenchmarkResult)
    assert b.table.columns == ["therapist_id", *BENCHMARK_COLUMNS]
    assert b.terms == ("baseline", "chronicity")
    # independent: numpy least squares on [1, baseline, chronic]
    x = np.column_stack(
        [np.ones(frame.height), frame["baseline"].to_numpy(), (frame["chronicity"] == "chronic").to_numpy()]
    )
    y = frame["improvement"].to_numpy()
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = y - x @ beta
    hand = (
        frame.select("therapist_id")
        .with_columns(pl.Series("e", x @ beta), pl.Series("r", residual))
        .group_by("therapist_id")
        .agg(
            pl.col("e").mean(),
            pl.col("r").mean(),
            pl.col("r").std().alias("sd"),
            pl.len().alias("n"),
            (pl.col("r") >= 0).sum().alias("k"),
        )
    )
    both = b.table.join(hand, on="therapist_id")
    assert both.height == 20
    np.testing.assert_allclose(both["expected_mean"], both["e"], rtol=1e-9)
    np.testing.assert_allclose(both["residual_mean"], both["r"], atol=1e-10)
    half = stats.t.ppf(0.975, both["n"].to_numpy() - 1) * both["sd"].to_numpy() / np.sqrt(both["n"].to_numpy())
    np.testing.assert_allclose(both["residual_ci_high"] - both["residual_mean"], half, rtol=1e-9)
    lo, _hi = wilson_interval(both["k"].to_numpy(), both["n"].to_numpy())
    np.testing.assert_allclose(both["met_ci_low"], lo, rtol=1e-12)
    np.testing.assert_allclose(both["met_rate"], both["k"] / both["n"], rtol=1e-12)
    # reliability is tau2 / (tau2 + sigma2 / n) with the result's own variance components (Adams 2009)
    np.testing.assert_allclose(both["reliability"], b.tau2 / (b.tau2 + b.sigma2 / both["n"].to_numpy()), rtol=1e-12)
    assert b.notes == ()  # the mixed-model cross-check of tau2 agreed


def test_case_mix_is_not_credited_to_the_therapist() -> None:
    # T00 (90% chronic, true effect 0) is flagged low on raw means and not after adjustment, in every seed
    for seed in range(1, 6):
        frame, _ = network(seed)
        raw = frame.group_by("therapist_id").agg(pl.col("improvement").mean(), pl.len().alias("n"))
        overall, sd = frame["improvement"].mean(), frame["improvement"].std()
        t00 = raw.filter(therapist_id="T00").row(0, named=True)
        assert t00["improvement"] < overall - 1.96 * sd / np.sqrt(t00["n"])  # raw: outside the 95% funnel, low
        b = benchmark(frame, adjust_for=("baseline", "chronicity"), min_reliability=0)
        assert not b.table.filter(therapist_id="T00")["outside_95"].item()


def test_shrunken_scores_are_closer_to_the_truth_and_their_intervals_cover_it() -> None:
    rmse = {"raw": [], "adjusted": [], "shrunken": []}
    covered = total = 0
    for seed in range(1, 21):
        frame, truth = network(seed)
        b = benchmark(frame, adjust_for=("baseline", "chronicity"), min_reliability=0).table
        true = np.array([truth[u] for u in b["therapist_id"]])
        raw = frame.group_by("therapist_id").agg(pl.col("improvement").mean())
        raw_dev = np.array([raw.filter(therapist_id=u)["improvement"].item() for u in b["therapist_id"]])
        raw_dev -= raw_dev.mean()
        for name, est in (
            ("raw", raw_dev),
            ("adjusted", b["residual_mean"].to_numpy()),
            ("shrunken", b["shrunken_residual"].to_numpy()),
        ):
            rmse[name].append(np.sqrt(np.mean((est - true) ** 2)))
        z = stats.norm.ppf(0.975)
        est, sd = b["shrunken_residual"].to_numpy(), b["shrunken_sd"].to_numpy()
        covered += int(((est - z * sd <= true) & (true <= est + z * sd)).sum())
        total += true.size
    mean = {k: float(np.mean(v)) for k, v in rmse.items()}
    # seen: RMSE raw 0.291, adjusted 0.153, shrunken 0.137; coverage 0.955 (20 seeds x 20 therapists)
    assert mean["shrunken"] < mean["adjusted"] < mean["raw"]
    # plug-in empirical-Bayes intervals ignore the uncertainty of tau2: near nominal, allow 5 points
    assert abs(covered / total - 0.95) < 0.05, covered / total


def test_units_not_scored_say_why_and_show_no_score() -> None:
    frame, _ = network(3)
    small = frame.filter(pl.col("therapist_id") != "T05").vstack(frame.filter(therapist_id="T05").head(8))
    b = benchmark(small, adjust_for=("baseline", "chronicity"), min_n=5, min_reliability=0.8)
    assert b.min_n == 11  # never below the small-cell threshold
    t05 = b.table.filter(therapist_id="T05").row(0, named=True)
    assert t05["suppressed"]
    assert t05["reason"] == "fewer than 11 complete episodes"
    assert all(t05[c] is None for c in ("residual_mean", "shrunken_residual", "rank", "met_rate", "outside_95"))
    low = b.table.filter(pl.col("reason").str.starts_with("reliability"))
    assert low.height > 0
    assert (low["reliability"].is_null()).all()
    scored = b.table.filter(~pl.col("suppressed"))
    assert sorted(scored["rank"].to_list()) == list(range(1, scored.height + 1))
    assert b.table.head(scored.height)["suppressed"].not_().all()  # scored first, best first


def test_bad_calls() -> None:
    frame, _ = network(2)
    with pytest.raises(ValueError, match="nothing to benchmark"):
        benchmark(frame.head(2))
    with pytest.raises(ValueError, match="one therapist_id only"):
        benchmark(frame.filter(therapist_id="T01"))
    with pytest.raises(ValueError, match="min_reliability"):
        benchmark(frame, min_reliability=1.0)
    with pytest.raises(ValueError, match="lacks column"):
        benchmark(frame.drop("baseline"))
