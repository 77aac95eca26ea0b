"""Missing-discharge sensitivity (issue 11, item 11): the weighted mean, its sandwich variance, and the dropout demo.

Each check names its independent reference and its tolerance in a comment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

from outcomes import episode_changes, read_dataset
from outcomes.analyses.dropout import DROPOUT_COLUMNS, dropout_sensitivity
from outcomes.analyses.summary import summarize
from outcomes.stats.intervals import mean_interval_stats
from outcomes.stats.weighting import ipw_means
from outcomes.synth import demo_dataset_path, make_demo, write_demo


def _mar_sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(baseline, final improvement, early improvement, has follow-up): follow-up logistic in baseline and early
    response, so missing at random given them. E[improvement] = 2 exactly."""
    base = rng.normal(6.0, 1.7, n)
    imp = 2.0 + 0.4 * (base - 6.0) + rng.normal(0.0, 1.8, n)
    early = 0.5 * imp + rng.normal(0.0, 0.8, n)
    p = 1.0 / (1.0 + np.exp(-(1.0 + 0.15 * (base - 6.0) + 0.35 * (early - 1.0))))
    return base, imp, early, rng.random(n) < p


def _stacked_psi(theta: np.ndarray, x: np.ndarray, r: np.ndarray, y0: np.ndarray, g: np.ndarray, k: int) -> np.ndarray:
    """Per-observation estimating functions: logistic scores, then one weighted-mean equation per group."""
    beta, mu = theta[: x.shape[1]], theta[x.shape[1] :]
    p = 1.0 / (1.0 + np.exp(-x @ beta))
    cols = [(r - p)[:, None] * x] + [((g == j) * r * (y0 - mu[j]) / p)[:, None] for j in range(k)]
    return np.hstack(cols)


# --------------------------------------------------------------------------- the estimator


def test_without_covariates_it_is_the_complete_case_mean() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(3, 2, 50)
    r = rng.random(50) < 0.7
    res = ipw_means(np.where(r, y, np.nan), r, np.empty((50, 0)))
    yr = y[r]
    # hand formula: every weight n / n_r, the correction term 0 (H = 0), so se = sqrt(sum (y - ybar)^2) / n_r
    assert res.estimate[0] == pytest.approx(yr.mean(), rel=1e-12)
    assert res.se[0] == pytest.approx(np.sqrt(((yr - yr.mean()) ** 2).sum()) / r.sum(), rel=1e-10)
    assert res.effective_n[0] == pytest.approx(r.sum(), rel=1e-12)
    assert res.max_weight[0] == pytest.approx(50 / r.sum(), rel=1e-9)


def test_sandwich_equals_a_numerical_m_estimation() -> None:
    """Independent reference: the stacked estimating equations solved by scipy's root finder, A by central
    differences, B by the outer products, V = A^-1 B A^-T / n (Stefanski & Boos 2002). Tolerance: 1e-9 relative on
    the estimates, 1e-5 on the standard errors (finite-difference error)."""
    rng = np.random.default_rng(5)
    n, k = 60, 3
    x = rng.normal(size=(n, 2))
    g = rng.integers(0, k, n)
    r = rng.random(n) < 1.0 / (1.0 + np.exp(-(0.5 + x[:, 0] - 0.5 * x[:, 1])))
    y = np.where(r, 1.0 + x[:, 0] + rng.normal(size=n), np.nan)
    res = ipw_means(y, r, x, groups=g)

    design, y0, rf = np.column_stack([np.ones(n), x]), np.nan_to_num(y), r.astype(float)
    sol = optimize.root(lambda t: _stacked_psi(t, design, rf, y0, g, k).mean(0), np.zeros(3 + k), tol=1e-14)
    assert sol.success
    theta, eps = sol.x, 1e-6
    jac = np.column_stack(
        [
            (_stacked_psi(theta + eps * e, design, rf, y0, g, k).mean(0)
             - _stacked_psi(theta - eps * e, design, rf, y0, g, k).mean(0)) / (2 * eps)
            for e in np.eye(3 + k)
        ]
    )  # fmt: skip
    psi = _stacked_psi(theta, design, rf, y0, g, k)
    a_inv = np.linalg.inv(-jac)
    v = a_inv @ (psi.T @ psi / n) @ a_inv.T / n
    np.testing.assert_allclose(res.estimate, theta[3:], rtol=1e-9)
    np.testing.assert_allclose(res.coefficients, theta[:3], rtol=1e-6)
    np.testing.assert_allclose(res.se, np.sqrt(np.diag(v))[3:], rtol=1e-5)


def test_fixed_weight_se_and_propensity_match_statsmodels() -> None:
    """Independent references: statsmodels' Logit (Newton, a different fitter from the GLM's IRLS) for p̂, 1e-7
    relative; statsmodels' WLS of y on a constant with weights 1/p̂ and HC0 errors for the estimate and the
    fixed-weights standard error (the same weighted mean, with the weights taken as known), 1e-9 relative."""
    rng = np.random.default_rng(2)
    base, imp, early, r = _mar_sample(rng, 400)
    x = np.column_stack([base, early])
    res = ipw_means(np.where(r, imp, np.nan), r, x)
    logit = sm.Logit(r.astype(float), sm.add_constant(x)).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(res.propensity, logit.predict(sm.add_constant(x)), rtol=1e-7)
    w = 1.0 / res.propensity[r]
    wls = sm.WLS(imp[r], np.ones(int(r.sum())), weights=w).fit(cov_type="HC0")
    assert res.estimate[0] == pytest.approx(float(wls.params[0]), rel=1e-9)
    assert res.se_fixed_weights[0] == pytest.approx(float(wls.bse[0]), rel=1e-9)
    # the fitted propensity makes the estimate more precise than known weights would (Lunceford & Davidian 2004)
    assert res.se[0] < res.se_fixed_weights[0]


def test_sandwich_agrees_with_a_bootstrap_of_the_whole_procedure() -> None:
    """Independent reference: nonparametric bootstrap (1,000 resamples of episodes, the propensity model refitted
    each time) of the weighted mean; its SD and the sandwich SE agree within 10 % (the bootstrap SD's own Monte
    Carlo error is about 2 % at 1,000 resamples)."""
    rng = np.random.default_rng(3)
    n = 800
    base, imp, early, r = _mar_sample(rng, n)
    x = np.column_stack([base, early])
    y = np.where(r, imp, np.nan)
    res = ipw_means(y, r, x)
    boot = np.empty(1000)
    for b in range(boot.size):
        i = rng.integers(0, n, n)
        boot[b] = ipw_means(y[i], r[i], x[i]).estimate[0]
    assert res.se[0] == pytest.approx(boot.std(ddof=1), rel=0.10)
    assert boot.mean() == pytest.approx(res.estimate[0], abs=0.25 * res.se[0])


def test_coverage_complete_case_below_nominal_weighted_near_nominal() -> None:
    """Simulation, 2,000 seeded replications (seed 20261128) of 600 episodes missing at random given baseline and
    early response (`_mar_sample`; true mean improvement 2). Reference: the nominal 95 %; the weighted interval
    must cover within 2 points (about 4 Monte Carlo SEs of 0.49 point), the complete-case t-interval
    (`mean_interval_stats`, as in the summary) covers far less (below 80 %), and the complete-case mean is biased
    by more than 0.15 while the weighted one is within 0.02 of 2."""
    rng = np.random.default_rng(20261128)
    reps, n, truth = 2000, 600, 2.0
    cc_hit = ipw_hit = 0
    cc_est, ipw_est = np.empty(reps), np.empty(reps)
    for i in range(reps):
        base, imp, early, r = _mar_sample(rng, n)
        yr = imp[r]
        lo, hi, _ = mean_interval_stats(yr.mean(), yr.std(ddof=1), r.sum())
        cc_hit += bool(lo <= truth <= hi)
        res = ipw_means(np.where(r, imp, np.nan), r, np.column_stack([base, early]))
        ipw_hit += bool(res.ci_low[0] <= truth <= res.ci_high[0])
        cc_est[i], ipw_est[i] = yr.mean(), res.estimate[0]
    cc_cov, ipw_cov = cc_hit / reps, ipw_hit / reps
    assert abs(ipw_cov - 0.95) <= 0.02, (cc_cov, ipw_cov)
    assert cc_cov < 0.80, (cc_cov, ipw_cov)
    assert cc_est.mean() - truth > 0.15
    assert abs(ipw_est.mean() - truth) < 0.02


def test_groups_share_one_model() -> None:
    rng = np.random.default_rng(4)
    base, imp, early, r = _mar_sample(rng, 600)
    g = (base > 6).astype(int)
    x = np.column_stack([base, early])
    res = ipw_means(np.where(r, imp, np.nan), r, x, groups=g)
    whole = ipw_means(np.where(r, imp, np.nan), r, x)
    np.testing.assert_allclose(res.propensity, whole.propensity)
    for j in (0, 1):  # the group's Hajek mean with the common weights
        m = r & (g == j)
        w = 1.0 / whole.propensity[m]
        assert res.estimate[j] == pytest.approx((w * imp[m]).sum() / w.sum(), rel=1e-12)
    assert res.n.tolist() == [float((g == 0).sum()), float((g == 1).sum())]


def test_diagnostics_in_words() -> None:
    rng = np.random.default_rng(6)
    n = 200
    x = rng.normal(size=(n, 1))
    y = rng.normal(size=n)
    # every observation has an outcome: weights 1, the unweighted mean
    res = ipw_means(y, np.ones(n, bool), x)
    assert res.estimate[0] == pytest.approx(y.mean())
    assert "every observation has an outcome" in (res.notes[0] or "")
    # none has: nothing to estimate
    res = ipw_means(np.full(n, np.nan), np.zeros(n, bool), x)
    assert np.isnan(res.estimate[0])
    assert "no observation has an outcome" in (res.notes[0] or "")
    # too few without an outcome for the coefficients
    r = np.ones(n, bool)
    r[:2] = False
    res = ipw_means(np.where(r, y, np.nan), r, rng.normal(size=(n, 4)))
    assert np.isnan(res.estimate[0])
    assert "too few observations without an outcome" in (res.notes[0] or "")
    # few per coefficient: estimated, with a warning
    r = np.ones(n, bool)
    r[:8] = False
    res = ipw_means(np.where(r, y, np.nan), r, x)
    assert np.isfinite(res.estimate[0])
    assert "may be overfitted" in (res.notes[0] or "")


def test_separation_positivity_and_extreme_weights() -> None:
    rng = np.random.default_rng(7)
    n = 300
    cat = np.repeat([0, 1, 2], 100)
    y = rng.normal(size=n)
    r = rng.random(n) < 0.7
    r[cat == 1] = True  # every episode of category 1 has an outcome: p̂ -> 1, weight 1, kept
    r[cat == 2] = False  # none of category 2 has one: nobody stands in for them
    x = np.column_stack([cat == 1, cat == 2]).astype(float)
    res = ipw_means(np.where(r, y, np.nan), r, x, groups=cat)
    assert np.isfinite(res.estimate[0])
    assert np.isfinite(res.estimate[1])
    assert res.max_weight[1] == pytest.approx(1.0, abs=1e-6)
    assert "every one has an outcome" in (res.notes[1] or "")
    assert np.isnan(res.estimate[2])
    assert "no observation of the group has an outcome" in (res.notes[2] or "")
    # the same model without groups: the whole-sample estimate has category-2 dropouts nobody stands in for
    res = ipw_means(np.where(r, y, np.nan), r, x)
    assert np.isnan(res.estimate[0])
    assert "none has one" in (res.notes[0] or "")
    # a strong predictor: a few responders with a tiny p̂ weigh a lot
    z = rng.normal(size=2000)
    r = rng.random(2000) < 1.0 / (1.0 + np.exp(-(1.0 + 2.5 * z)))
    res = ipw_means(np.where(r, z, np.nan), r, z)
    assert res.max_weight[0] > 20
    assert "weigh more than 20" in (res.notes[0] or "")
    assert "under 5 %" in (res.notes[0] or "")
    assert res.effective_n[0] < res.n_responded[0]


def test_invalid_input() -> None:
    with pytest.raises(ValueError, match="finite wherever responded"):
        ipw_means([1.0, np.nan], [True, True], np.zeros((2, 1)))
    with pytest.raises(ValueError, match="covariates must be finite"):
        ipw_means([1.0, 2.0], [True, False], [[np.nan], [1.0]])
    with pytest.raises(ValueError, match="same length"):
        ipw_means([1.0, 2.0], [True], np.zeros((2, 1)))
    with pytest.raises(ValueError, match="integer code"):
        ipw_means([1.0, 2.0], [True, False], np.zeros((2, 1)), groups=[0.5, 1.0])
    with pytest.raises(ValueError, match="confidence_level"):
        ipw_means([1.0, 2.0], [True, False], np.zeros((2, 1)), confidence_level=1.0)


def test_interval_is_normal() -> None:
    rng = np.random.default_rng(8)
    base, imp, _early, r = _mar_sample(rng, 300)
    res = ipw_means(np.where(r, imp, np.nan), r, base, confidence_level=0.9)
    z = stats.norm.ppf(0.95)
    assert res.ci_high[0] - res.estimate[0] == pytest.approx(z * res.se[0], rel=1e-12)


# --------------------------------------------------------------------------- the generator


def test_default_dropout_is_the_old_draw() -> None:
    # the bundled demo itself is checked in tests/test_synth.py; here: the keyword's default is that draw, and the
    # informative mode shares the episodes' attributes (the main stream is unchanged up to the dropout decision)
    a, b = make_demo(300, seed=5), make_demo(300, seed=5, dropout="random")
    for name in ("episodes", "treatments", "measurements", "truth", "potential_outcomes"):
        assert getattr(a, name).equals(getattr(b, name)), name
    c = make_demo(300, seed=5, dropout="informative")
    moved = ["end_date", "discharge_reason"]
    assert a.episodes.drop(moved).equals(c.episodes.drop(moved))
    assert a.truth.equals(c.truth)
    with pytest.raises(ValueError, match="dropout must be one of"):
        make_demo(10, dropout="mnar")


@pytest.fixture(scope="module")
def informative(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    folder = tmp_path_factory.mktemp("informative")
    demo = write_demo(folder, 6000, seed=7, format="parquet", dropout="informative")
    return demo, read_dataset(folder)


def test_informative_demo_shape(informative) -> None:  # type: ignore[no-untyped-def]
    demo, ds = informative
    assert ds.rejected.height == 0
    assert ds.warnings.height == 0
    po = demo.potential_outcomes
    assert po["improvement"].null_count() == 0
    share = po.filter(pl.col("measure").is_in(["nprs", "vas"]))["dropped_out"].mean()
    assert 0.2 <= share <= 0.35
    # dropouts keep nothing after day 13 and keep their intake value; completers keep their discharge value
    days = ds.measurements.join(ds.episodes.select("episode_id", "start_date"), on="episode_id").with_columns(
        (pl.col("measured_on") - pl.col("start_date")).dt.total_days().alias("day")
    )
    dropped = po.filter("dropped_out")["episode_id"].unique()
    assert days.filter(pl.col("episode_id").is_in(dropped.implode()))["day"].max() <= 13
    ch = episode_changes(ds, min_followup_days=14).join(
        po.rename({"improvement": "would_be"}).select("episode_id", "measure", "side", "would_be", "dropped_out"),
        on=["episode_id", "measure", "side"],
        nulls_equal=True,
    )
    assert ch.height == po.height
    assert ((ch["status"] == "complete") == ~ch["dropped_out"]).all()
    done = ch.filter(status="complete")
    assert (done["improvement"] == done["would_be"]).all()
    # some dropouts were measured in the second week (the early response the dropout depended on)
    early = days.filter(pl.col("episode_id").is_in(dropped.implode()), pl.col("day").is_between(7, 13))
    assert early["episode_id"].n_unique() > 0.3 * dropped.len()


def test_weighting_recovers_the_truth_on_the_informative_demo(informative) -> None:  # type: ignore[no-untyped-def]
    """Reference: the mean, over all NPRS episodes, of the improvement each would have had at discharge
    (DemoData.potential_outcomes; every episode has a baseline). 6,000 episodes, seed 7: the complete-case mean is
    more than 3 of its SEs above it; the weighted estimate within 2 of its SEs, and its interval covers it."""
    demo, ds = informative
    out = dropout_sensitivity(ds, by=(), measure=["nprs", "vas"]).table
    truth = demo.potential_outcomes.group_by("measure").agg(pl.col("improvement").mean().alias("truth"))
    row = out.join(truth, on="measure").filter(measure="nprs").row(0, named=True)
    cc_se = (row["ci_high"] - row["ci_low"]) / (2 * stats.t.ppf(0.975, row["n"] - 1))
    assert (row["mean_improvement"] - row["truth"]) / cc_se > 3
    assert abs(row["ipw_mean_improvement"] - row["truth"]) / row["ipw_se"] < 2
    assert row["ipw_ci_low"] <= row["truth"] <= row["ipw_ci_high"]
    assert row["n_no_followup"] > 0.2 * (row["n"] + row["n_no_followup"])
    assert row["effective_n"] < row["n"]
    # by condition: the weighted estimates are, on average, closer to each condition's would-be mean
    per = dropout_sensitivity(ds, by="condition", measure="nprs", min_cell=30).table
    cells = (
        demo.potential_outcomes.filter(measure="nprs")
        .join(demo.episodes.select("episode_id", "condition"), on="episode_id")
        .group_by("condition")
        .agg(pl.col("improvement").mean().alias("truth"))
    )
    per = per.join(cells, on="condition").filter(~pl.col("suppressed"))
    cc_err = (per["mean_improvement"] - per["truth"]).mean()
    ipw_err = (per["ipw_mean_improvement"] - per["truth"]).mean()
    assert cc_err > 0.1, (cc_err, ipw_err)
    assert abs(ipw_err) < cc_err / 2, (cc_err, ipw_err)


# --------------------------------------------------------------------------- the table


@pytest.fixture(scope="module")
def bundled() -> object:
    return read_dataset(demo_dataset_path())


def test_table_columns_and_complete_case_match_the_summary(bundled) -> None:  # type: ignore[no-untyped-def]
    out = dropout_sensitivity(bundled, by="condition").table
    assert out.columns == ["condition", "measure", "side", *DROPOUT_COLUMNS]
    # independent path for the complete-case columns: summarize on the same per-episode rule
    summary = summarize(episode_changes(bundled, min_followup_days=14), by="condition").table
    keys = ["condition", "measure", "side"]
    both = out.join(summary, on=keys, nulls_equal=True, suffix="_s")
    assert both.height == out.height == summary.height
    assert (both["n"] == both["n_s"]).all()
    assert (both["n_incomplete"] == both["n_incomplete_s"]).all()
    shown = both.filter(~pl.col("suppressed"))
    for col in ("mean_improvement", "ci_low", "ci_high"):
        np.testing.assert_allclose(shown[col].to_numpy(), shown[f"{col}_s"].to_numpy(), rtol=1e-12)
    assert out.sort(keys, nulls_last=False).equals(out)
    assert (out["n_no_followup"] + out["n_no_baseline"] == out["n_incomplete"]).all()


def test_small_cells_are_suppressed(bundled) -> None:  # type: ignore[no-untyped-def]
    out = dropout_sensitivity(bundled, measure="nprs", min_cell=40).table
    small = out.filter(pl.col("n") < 40)
    assert small.height > 0
    assert small["suppressed"].all()
    stats_cols = [c for c in DROPOUT_COLUMNS if c.startswith(("mean", "ci", "ipw", "effective", "max"))]
    assert all(small[c].null_count() == small.height for c in stats_cols)
    assert small["notes"].str.contains("statistics suppressed").all()
    big = out.filter(pl.col("n") >= 40)
    assert big["ipw_mean_improvement"].null_count() == 0


def test_episodes_without_baseline_are_counted_and_named(tmp_path: Path) -> None:
    demo = make_demo(600, seed=13, dropout="informative")
    gone = demo.episodes["episode_id"][:40].implode()
    measurements = demo.measurements.filter(
        ~(pl.col("episode_id").is_in(gone) & (pl.col("measure").is_in(["nprs", "vas"])))
        | (pl.col("measured_on") > pl.col("measured_on").min().over("episode_id", "measure", "side"))
    )
    for name, frame in (("episodes", demo.episodes), ("treatments", demo.treatments), ("measurements", measurements)):
        frame.write_parquet(tmp_path / f"{name}.parquet")
    ds = read_dataset(tmp_path)
    out = dropout_sensitivity(ds, by=(), measure="nprs", baseline_window_days=3).table
    row = out.row(0, named=True)
    assert row["n_no_baseline"] > 0
    assert "without a baseline cannot be weighted" in row["notes"]
    assert np.isfinite(row["ipw_mean_improvement"])


def test_covariates_and_options(bundled) -> None:  # type: ignore[no-untyped-def]
    base = dropout_sensitivity(bundled, by=(), measure="nprs").table
    # without case mix the estimate changes, but it is still there
    bare = dropout_sensitivity(bundled, by=(), measure="nprs", covariates=()).table
    assert bare["ipw_mean_improvement"][0] != base["ipw_mean_improvement"][0]
    assert np.isfinite(bare["ipw_mean_improvement"][0])
    with pytest.raises(ValueError, match="not episode columns"):
        dropout_sensitivity(bundled, covariates=("shoe_size",))
    with pytest.raises(ValueError, match="type Date"):
        dropout_sensitivity(bundled, covariates=("start_date",))
    with pytest.raises(ValueError, match="early_days"):
        dropout_sensitivity(bundled, early_days=(7, 14))
    with pytest.raises(ValueError, match="always grouped"):
        dropout_sensitivity(bundled, by=("measure",))
    with pytest.raises(ValueError, match="min_cell"):
        dropout_sensitivity(bundled, min_cell=0)


def test_the_researchers_table_shows_both_means_and_says_what_they_assume(bundled) -> None:  # type: ignore[no-untyped-def]
    from outcomes.analyses import DropoutResult
    from outcomes.present.tables import dropout_table

    result = dropout_sensitivity(bundled, by="condition", measure="nprs", min_cell=60)
    assert isinstance(result, DropoutResult)
    assert result.settings["min_followup_days"] == 14
    t = dropout_table(result, measure="nprs", catalog=bundled.catalog)
    rows = {r[0]: r for r in t.rows}
    lbp = result.table.filter(condition="low_back_pain").row(0, named=True)
    assert rows["low back pain"][1] == f"{lbp['n']} / {lbp['n_no_followup']}"
    assert rows["low back pain"][3] == (
        f"{lbp['ipw_mean_improvement']:.2f} ({lbp['ipw_ci_low']:.2f} to {lbp['ipw_ci_high']:.2f})"
    )
    small = result.table.filter(pl.col("n") < 60)
    assert small.height > 0
    assert sum(r[1] == "< 60" for r in t.rows) == small.height
    assert any("missing at random" in n for n in t.notes)
    assert len(t.notes) == len(set(t.notes))  # a model note shared by every group is said once
    with pytest.raises(TypeError, match="DropoutResult"):
        dropout_table(result.table, measure="nprs", catalog=bundled.catalog)  # type: ignore[arg-type]
