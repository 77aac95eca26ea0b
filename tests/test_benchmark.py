"""Risk-adjusted benchmarking (issue 12, item 2 in part): a seeded network with known therapist effects and a
therapist who sees mostly chronic patients; expected values against numpy's least squares on a hand-built design."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats
from scipy.optimize import minimize

from outcomes.analyses import BENCHMARK_COLUMNS, BenchmarkResult, benchmark
from outcomes.analyses.benchmarks import _design, _fit_logistic
from outcomes.stats import wilson_interval

RESPONDER_COLUMNS = (
    "responders",
    "expected_responders",
    "adjusted_responder_rate",
    "adjusted_responder_ci_low",
    "adjusted_responder_ci_high",
)

CHRONIC_EFFECT = -1.5
NOISE_SD = 1.5
TAU = 0.4
# the responder model of network(): logit P(responder) = 0.5 + effect(therapist) - 1.5 chronic + 0.3 (baseline - 6)
RESPONDER_INTERCEPT = 0.5
RESPONDER_CHRONIC = -1.5
RESPONDER_BASELINE = 0.3


def network(seed: int, n_units: int = 20, *, t00_n: int | None = None) -> tuple[pl.DataFrame, dict[str, float]]:
    """Complete episodes of one measure: improvement = 2 + effect(therapist) - 1.5 chronic + 0.3 (baseline - 6) + noise.

    T00 sees 90% chronic patients and has a true effect of 0; the others see 20-50% chronic. ``responder`` is
    drawn from a logistic model with the same therapist effects (on the logit scale), independently of the
    improvement and from a stream of its own (so the improvements are those drawn before it was added):
    logit P = 0.5 + effect(therapist) - 1.5 chronic + 0.3 (baseline - 6). ``t00_n`` sets T00's number of
    episodes (the draws after it then differ from those of the same seed without it).
    """
    rng = np.random.default_rng(seed)
    effects = rng.normal(0, TAU, n_units)
    effects[0] = 0.0
    effects -= effects.mean()
    rows = []
    for j in range(n_units):
        n = int(rng.integers(40, 160))
        if j == 0 and t00_n is not None:
            n = t00_n
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
    truth = {f"T{j:02d}": float(effects[j]) for j in range(n_units)}
    eta = (
        RESPONDER_INTERCEPT
        + frame["therapist_id"].replace_strict(truth).to_numpy()
        + RESPONDER_CHRONIC * (frame["chronicity"] == "chronic").to_numpy()
        + RESPONDER_BASELINE * (frame["baseline"].to_numpy() - 6)
    )
    drawn = np.random.default_rng([seed, 1]).random(frame.height) < 1 / (1 + np.exp(-eta))
    frame = frame.with_columns(responder=pl.Series(drawn), responder_rule=pl.lit("either"))
    return frame, truth


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
    assert all(
        t05[c] is None
        for c in ("residual_mean", "shrunken_residual", "rank", "met_rate", "outside_95", *RESPONDER_COLUMNS)
    )
    low = b.table.filter(pl.col("reason").str.starts_with("reliability"))
    assert low.height > 0
    assert (low["reliability"].is_null()).all()
    assert all(low[c].is_null().all() for c in RESPONDER_COLUMNS)
    assert scored_responders_present(b)
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
    with pytest.raises(ValueError, match="responder column must be true/false"):
        benchmark(frame.with_columns(responder=pl.lit("yes")))


def scored_responders_present(b: BenchmarkResult) -> bool:
    """Every scored unit has all five responder columns."""
    scored = b.table.filter(~pl.col("suppressed"))
    return all(scored[c].is_not_null().all() for c in RESPONDER_COLUMNS)


def logistic_by_scipy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fitted probabilities of a logistic regression written here, independently of statsmodels.

    The mean Bernoulli log-likelihood mean(y eta - log(1 + exp(eta))), eta = x beta, maximised by scipy's
    trust-region Newton method (``trust-exact``) with its analytic gradient x'(p - y) / n and Hessian
    x' diag(p (1 - p)) x / n (McCullagh & Nelder 1989, section 4.4); stopped at a gradient below 1e-10.
    """
    n = y.size

    def negloglik(beta: np.ndarray) -> float:
        eta = x @ beta
        return float(np.mean(np.logaddexp(0, eta) - y * eta))

    def gradient(beta: np.ndarray) -> np.ndarray:
        return x.T @ (1 / (1 + np.exp(-(x @ beta))) - y) / n

    def hessian(beta: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(x @ beta)))
        return (x * (p * (1 - p))[:, None]).T @ x / n

    fit = minimize(negloglik, np.zeros(x.shape[1]), jac=gradient, hess=hessian, method="trust-exact", tol=1e-12)
    assert np.abs(gradient(fit.x)).max() < 1e-10, fit
    return 1 / (1 + np.exp(-(x @ fit.x)))


def hand_design(frame: pl.DataFrame) -> np.ndarray:
    """[1, baseline, chronic], built here rather than by _design."""
    return np.column_stack(
        [np.ones(frame.height), frame["baseline"].to_numpy(), (frame["chronicity"] == "chronic").to_numpy()]
    ).astype(float)


def test_responder_probabilities_are_a_logistic_fit_on_the_same_design() -> None:
    frame, _ = network(4)
    b = benchmark(frame, adjust_for=("baseline", "chronicity"), min_reliability=0)
    assert b.table.columns == ["therapist_id", *BENCHMARK_COLUMNS]
    assert BENCHMARK_COLUMNS.index("responders") == BENCHMARK_COLUMNS.index("met_ci_high") + 1
    assert BENCHMARK_COLUMNS.index("adjusted_responder_ci_high") == BENCHMARK_COLUMNS.index("rank") - 1
    assert b.responder_rule == "either"
    assert b.notes == ()
    x = hand_design(frame)
    y = frame["responder"].cast(pl.Float64).to_numpy()
    p = logistic_by_scipy(x, y)
    # the design benchmark fits on is the hand-built one (column for column), and statsmodels' GLM on it gives
    # scipy's probabilities episode by episode: both stop at a tiny gradient, so 1e-6 is ample
    design, terms, _ = _design(frame, ("baseline", "chronicity"))
    assert terms == ["baseline", "chronicity"]
    np.testing.assert_array_equal(design, x)
    fitted, failure = _fit_logistic(y, design)
    assert failure is None
    np.testing.assert_allclose(fitted, p, atol=1e-6)
    # O, E and the adjusted rate by hand from scipy's probabilities
    overall = y.mean()
    assert b.overall_responder_rate == pytest.approx(overall, rel=1e-12)
    hand = (
        frame.select("therapist_id", "responder")
        .with_columns(pl.Series("p", p))
        .group_by("therapist_id")
        .agg(pl.col("responder").sum().alias("o"), pl.col("p").sum().alias("e"))
    )
    both = b.table.join(hand, on="therapist_id")
    assert both.height == 20
    assert both["responders"].dtype == pl.Int64
    assert (both["responders"] == both["o"]).all()
    np.testing.assert_allclose(both["expected_responders"], both["e"], rtol=1e-6)
    np.testing.assert_allclose(both["adjusted_responder_rate"], both["o"] / both["e"] * overall, rtol=1e-6)
    # the intercept's score equation of a logistic fit: expected responders add up to the observed ones
    assert both["expected_responders"].sum() == pytest.approx(y.sum(), rel=1e-8)


def test_adjusted_responder_interval_is_garwood_scaled_by_the_overall_rate_over_expected() -> None:
    frame, _ = network(5)
    level = 0.9
    b = benchmark(frame, adjust_for=("baseline", "chronicity"), min_reliability=0, confidence_level=level)
    a = 1 - level
    for unit in ("T00", "T07", "T13"):
        row = b.table.filter(therapist_id=unit).row(0, named=True)
        o, e = row["responders"], row["expected_responders"]
        scale = b.overall_responder_rate / e
        # Garwood (1936): lower = chi2.ppf(a/2, 2 O) / 2, upper = chi2.ppf(1 - a/2, 2 O + 2) / 2
        assert row["adjusted_responder_ci_low"] == pytest.approx(stats.chi2.ppf(a / 2, 2 * o) / 2 * scale, rel=1e-10)
        assert row["adjusted_responder_ci_high"] == pytest.approx(
            stats.chi2.ppf(1 - a / 2, 2 * o + 2) / 2 * scale, rel=1e-10
        )
        assert row["adjusted_responder_ci_low"] < row["adjusted_responder_rate"] < row["adjusted_responder_ci_high"]


def test_chronic_case_mix_is_not_held_against_the_responder_rate() -> None:
    # T00: 300 episodes, 90% chronic (logit -1.5), true effect 0. Raw: its Wilson interval lies below the overall
    # rate in every seed; adjusted: its Garwood interval covers the overall rate in every seed, and is nearer to it
    # than the raw rate. Seen over seeds 1-8: raw 0.26-0.37, overall 0.46-0.49, adjusted 0.40-0.54.
    ratios = []
    for seed in range(1, 9):
        frame, _ = network(seed, t00_n=300)
        t00 = frame.filter(therapist_id="T00")
        k = int(t00["responder"].sum())
        b = benchmark(frame, adjust_for=("baseline", "chronicity"), min_reliability=0)
        overall = b.overall_responder_rate
        _, raw_hi = wilson_interval(k, t00.height)
        assert raw_hi < overall, seed
        row = b.table.filter(therapist_id="T00").row(0, named=True)
        assert row["responders"] == k
        assert row["adjusted_responder_ci_low"] <= overall <= row["adjusted_responder_ci_high"], seed
        assert abs(row["adjusted_responder_rate"] - overall) < abs(k / t00.height - overall), seed
        ratios.append(row["adjusted_responder_rate"] / overall)
    # O/E of a unit of ~90 responders has an SD of ~0.09; the mean of 8 seeds, ~0.03: allow 0.1 (seen 0.98)
    assert abs(np.mean(ratios) - 1) < 0.1, ratios


def test_no_responder_threshold_or_constant_responder_leaves_the_columns_empty() -> None:
    frame, _ = network(2)
    cases = {
        "no responder threshold": frame.with_columns(responder=pl.lit(None, dtype=pl.Boolean)),
        "no responder threshold (mcid, mcid_pct) under": frame.with_columns(responder=pl.lit(None)),  # dtype Null
        "every episode is a responder": frame.with_columns(responder=pl.lit(True)),
        "no episode is a responder": frame.with_columns(responder=pl.lit(False)),
        "no responder column": frame.drop("responder", "responder_rule"),
        # chronicity decides the responder: separation, no finite maximum-likelihood fit
        "separates": frame.with_columns(responder=pl.col("chronicity") == "acute"),
        "mix responder rules": frame.with_columns(
            responder_rule=pl.when(pl.col("therapist_id") == "T01").then(pl.lit("both")).otherwise(pl.lit("either"))
        ),
    }
    for words, changes in cases.items():
        b = benchmark(changes, adjust_for=("baseline", "chronicity"), min_reliability=0)
        assert b.table.columns == ["therapist_id", *BENCHMARK_COLUMNS]
        assert all(b.table[c].is_null().all() for c in RESPONDER_COLUMNS), words
        assert any(words in note for note in b.notes), (words, b.notes)
        assert b.table["residual_mean"].is_not_null().all()  # the improvement scores do not depend on it
    assert np.isnan(benchmark(cases["no responder threshold"], adjust_for=("baseline",)).overall_responder_rate)
    assert benchmark(cases["every episode is a responder"], adjust_for=("baseline",)).overall_responder_rate == 1.0
    assert benchmark(cases["no responder column"], adjust_for=("baseline",)).responder_rule is None


def test_episodes_without_a_responder_value_are_left_out_and_counted() -> None:
    frame, _ = network(6)
    gone = np.random.default_rng(6).random(frame.height) < 0.1
    changes = frame.with_columns(
        responder=pl.when(pl.Series(gone)).then(None).otherwise(pl.col("responder")),
        # a unit with no responder value at all keeps its improvement score and has empty responder columns
    ).with_columns(responder=pl.when(pl.col("therapist_id") == "T03").then(None).otherwise(pl.col("responder")))
    b = benchmark(changes, adjust_for=("baseline", "chronicity"), min_reliability=0)
    known = changes["responder"].is_not_null().to_numpy()
    assert f"{int((~known).sum())} of {frame.height} episodes without a responder value" in " ".join(b.notes)
    kept = changes.filter(pl.Series(known))
    y = kept["responder"].cast(pl.Float64).to_numpy()
    p = logistic_by_scipy(hand_design(kept), y)  # the fit on the episodes with a value only
    hand = (
        kept.select("therapist_id", "responder")
        .with_columns(pl.Series("p", p))
        .group_by("therapist_id")
        .agg(pl.col("responder").sum().alias("o"), pl.col("p").sum().alias("e"))
    )
    both = b.table.join(hand, on="therapist_id")
    assert both.height == 19
    assert (both["responders"] == both["o"]).all()
    np.testing.assert_allclose(both["expected_responders"], both["e"], rtol=1e-6)  # as in the test above
    assert b.overall_responder_rate == pytest.approx(y.mean(), rel=1e-12)
    t03 = b.table.filter(therapist_id="T03").row(0, named=True)
    assert t03["n"] == frame.filter(therapist_id="T03").height
    assert t03["residual_mean"] is not None
    assert all(t03[c] is None for c in RESPONDER_COLUMNS)
