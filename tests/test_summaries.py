"""The grouped summary, checked against scipy / statsmodels / numpy on the same data, and by coverage."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import optimize, stats
from statsmodels.stats.proportion import proportion_confint

from outcomes import episode_changes, read_dataset, summarize
from outcomes.stats import BOOTSTRAP_MIN_N
from outcomes.synth import demo_dataset_path, make_demo, write_demo


def _changes_frame(seed: int = 0) -> pl.DataFrame:
    """A hand-built `changes` table: two conditions x two techniques, NPRS-like integer data."""
    rng = np.random.default_rng(seed)
    rows = []
    for cond, tech, n, effect in [
        ("lbp", "jm", 40, 2.0),
        ("lbp", "stm", 25, 1.0),
        ("neck", "jm", 14, 3.0),
        ("neck", "stm", 8, 0.5),
    ]:
        base = rng.integers(3, 11, n).astype(float)
        final = np.clip(base - np.round(rng.normal(effect, 2.0, n)), 0, 10)
        for b, f in zip(base, final, strict=True):
            imp = b - f
            responder = bool(imp >= 2 or imp / b >= 0.3)
            rows.append((cond, tech, "nprs", None, "complete", b, f, f - b, imp, responder, bool(imp >= 2)))
        for _ in range(3):  # incomplete episodes count in n_incomplete only
            rows.append((cond, tech, "nprs", None, "no_followup", 7.0, None, None, None, None, None))
    return pl.DataFrame(
        rows,
        schema={
            "condition": pl.String,
            "technique": pl.String,
            "measure": pl.String,
            "side": pl.String,
            "status": pl.String,
            "baseline": pl.Float64,
            "final": pl.Float64,
            "change": pl.Float64,
            "improvement": pl.Float64,
            "responder": pl.Boolean,
            "exceeds_mdc": pl.Boolean,
        },
        orient="row",
    )


def _nct_limits(t: float, df: float, level: float = 0.95) -> tuple[float, float]:
    """Reference noncentral-t inversion with brentq (independent of outcomes.stats)."""

    def f(ncp: float, target: float) -> float:
        return float(stats.nct.cdf(t, df, ncp)) - target

    a = (1 - level) / 2
    w = 4 * math.sqrt(1 + t**2 / (2 * df))  # about 4 standard deviations of the noncentral t
    lo = optimize.brentq(f, t - w, t + w, args=(1 - a,), xtol=1e-12)
    hi = optimize.brentq(f, t - w, t + w, args=(a,), xtol=1e-12)
    return lo, hi


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return _changes_frame()


@pytest.fixture(scope="module")
def summary(table: pl.DataFrame) -> pl.DataFrame:
    return summarize(table, by=("condition", "technique"), min_cell=10).table


def test_one_row_per_group_with_contract_columns(summary: pl.DataFrame) -> None:
    assert summary.select("condition", "technique").rows() == [
        ("lbp", "jm"),
        ("lbp", "stm"),
        ("neck", "jm"),
        ("neck", "stm"),
    ]
    for col in [
        "n", "n_incomplete", "baseline_mean", "baseline_sd", "final_mean", "final_sd", "mean_change",
        "mean_improvement", "sd_improvement", "ci_low", "ci_high", "srm", "srm_ci_low", "srm_ci_high",
        "g_av", "g_av_ci_low", "g_av_ci_high", "responder_rate", "responder_ci_low", "responder_ci_high",
        "p_value", "suppressed",
    ]:  # fmt: skip
        assert col in summary.columns


def test_statistics_match_scipy(table: pl.DataFrame, summary: pl.DataFrame) -> None:
    for row in summary.filter(~pl.col("suppressed")).iter_rows(named=True):
        g = table.filter(condition=row["condition"], technique=row["technique"], status="complete")
        b, f = g["baseline"].to_numpy(), g["final"].to_numpy()
        imp = b - f  # NPRS: lower is better
        n = imp.size
        assert row["n"] == n
        assert row["n_incomplete"] == 3
        assert row["followup_rate"] == pytest.approx(n / (n + 3), rel=1e-12)
        assert row["baseline_mean"] == pytest.approx(b.mean(), rel=1e-12)
        assert row["baseline_sd"] == pytest.approx(b.std(ddof=1), rel=1e-12)
        assert row["final_sd"] == pytest.approx(f.std(ddof=1), rel=1e-12)
        assert row["mean_change"] == pytest.approx((f - b).mean(), rel=1e-12)
        # t-interval and paired t-test: scipy.stats.ttest_1samp / ttest_rel on the same data
        ci = stats.ttest_1samp(imp, 0).confidence_interval(0.95)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)
        assert row["p_value"] == pytest.approx(stats.ttest_rel(f, b).pvalue, rel=1e-8)
        # SRM = d_z with noncentral-t interval (reference: brentq on scipy.stats.nct)
        d_z = imp.mean() / imp.std(ddof=1)
        lo, hi = _nct_limits(d_z * math.sqrt(n), n - 1)
        assert row["srm"] == pytest.approx(d_z, rel=1e-12)
        assert (row["srm_ci_low"], row["srm_ci_high"]) == pytest.approx(
            (lo / math.sqrt(n), hi / math.sqrt(n)), abs=1e-8
        )
        # g_av: d_av times exact J(n-1); Bonett's (2015) interval for d_av, from the sample covariance
        (var_b, cov_bf), (_, var_f) = np.cov(b, f, ddof=1)
        s_av = math.sqrt((var_b + var_f) / 2)
        v = n - 1
        j = math.gamma(v / 2) / (math.sqrt(v / 2) * math.gamma((v - 1) / 2))
        d_av = imp.mean() / s_av
        assert row["g_av"] == pytest.approx(d_av * j, rel=1e-10)
        se = math.sqrt(
            d_av**2 * (var_b**2 + var_f**2 + 2 * cov_bf**2) / (8 * v * s_av**4) + imp.var(ddof=1) / (v * s_av**2)
        )
        z = stats.norm.ppf(0.975)
        assert (row["g_av_ci_low"], row["g_av_ci_high"]) == pytest.approx((d_av - z * se, d_av + z * se), abs=1e-9)
        # responder rate: Wilson interval from statsmodels
        k = int(g["responder"].sum())
        assert row["responder_rate"] == pytest.approx(k / n, rel=1e-12)
        wl, wh = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert (row["responder_ci_low"], row["responder_ci_high"]) == pytest.approx((wl, wh), abs=1e-12)
        # share reaching the MDC (2 points): Wilson interval from statsmodels
        k_mdc = int(g["exceeds_mdc"].sum())
        assert row["exceeds_mdc_rate"] == pytest.approx(k_mdc / n, rel=1e-12)
        wl, wh = proportion_confint(k_mdc, n, alpha=0.05, method="wilson")
        assert (row["exceeds_mdc_ci_low"], row["exceeds_mdc_ci_high"]) == pytest.approx((wl, wh), abs=1e-12)
        # median and quartiles: numpy's default (linear) percentiles
        assert row["median_improvement"] == pytest.approx(np.median(imp))
        assert row["q1_improvement"] == pytest.approx(np.percentile(imp, 25))
        assert row["q3_improvement"] == pytest.approx(np.percentile(imp, 75))
        # Wilcoxon: integer NPRS has ties and zeros, so the asymptotic test (scipy, no continuity correction)
        assert row["wilcoxon_method"] == "asymptotic"
        ref = stats.wilcoxon(imp, method="asymptotic", correction=False, zero_method="wilcox")
        assert row["wilcoxon_p_value"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_exact_wilcoxon_for_small_groups_without_ties() -> None:
    imp = np.array([1.5, -0.25, 2.75, 3.1, 0.6, -1.1, 4.2, 2.2, 0.9, 1.3, 5.05, -0.4])
    base = np.full(imp.size, 50.0)
    frame = pl.DataFrame(
        {
            "g": ["x"] * imp.size,
            "measure": ["m"] * imp.size,
            "side": [None] * imp.size,
            "status": ["complete"] * imp.size,
            "baseline": base,
            "final": base + imp,
            "change": imp,
            "improvement": imp,
            "responder": [None] * imp.size,
            "exceeds_mdc": [None] * imp.size,
        },
        schema_overrides={"side": pl.String, "responder": pl.Boolean, "exceeds_mdc": pl.Boolean},
    )
    row = summarize(frame, by="g", min_cell=1).table.row(0, named=True)
    assert row["wilcoxon_method"] == "exact"
    assert row["wilcoxon_p_value"] == pytest.approx(stats.wilcoxon(imp, method="exact").pvalue, rel=1e-12)
    assert row["responder_rate"] is None  # no responder definition -> empty, not 0
    assert row["exceeds_mdc_rate"] is None


def test_small_cells_are_suppressed(summary: pl.DataFrame) -> None:
    small = summary.filter(condition="neck", technique="stm").row(0, named=True)
    assert small["suppressed"] is True
    assert small["n"] == 8
    assert small["n_incomplete"] == 3
    for col in ("mean_improvement", "ci_low", "srm", "g_av", "responder_rate", "p_value", "median_improvement"):
        assert small[col] is None
    assert summary.filter(condition="neck", technique="jm")["suppressed"].item() is False
    assert summarize(_changes_frame(), min_cell=1).table["suppressed"].sum() == 0


def test_row_order_does_not_matter(table: pl.DataFrame, summary: pl.DataFrame) -> None:
    shuffled = table.sample(fraction=1.0, shuffle=True, seed=3)
    again = summarize(shuffled, by=("condition", "technique"), min_cell=10).table
    assert again.drop("wilcoxon_method").equals(summary.drop("wilcoxon_method")) or np.allclose(
        again.select(pl.selectors.float()).fill_null(0).to_numpy(),
        summary.select(pl.selectors.float()).fill_null(0).to_numpy(),
        rtol=1e-12,
    )


def test_constant_shift_leaves_effect_sizes_unchanged(table: pl.DataFrame, summary: pl.DataFrame) -> None:
    shifted = summarize(
        table.with_columns(pl.col("baseline") + 100, pl.col("final") + 100), by=("condition", "technique"), min_cell=10
    ).table
    for col in ("mean_improvement", "srm", "srm_ci_low", "g_av", "g_av_ci_high", "p_value", "responder_rate"):
        np.testing.assert_allclose(
            shifted[col].to_numpy().astype(float), summary[col].to_numpy().astype(float), rtol=1e-9, equal_nan=True
        )
    np.testing.assert_allclose(
        shifted["baseline_mean"].to_numpy().astype(float) - 100,
        summary["baseline_mean"].to_numpy().astype(float),
        rtol=1e-12,
        equal_nan=True,
    )


def test_bootstrap_intervals() -> None:
    table = _changes_frame(seed=5)
    a = summarize(table, min_cell=10, bootstrap=True, n_resamples=999, rng=42).table
    b = summarize(table, min_cell=10, bootstrap=True, n_resamples=999, rng=42).table
    assert a.equals(b)  # seeded: the same intervals twice
    plain = summarize(table, min_cell=10).table
    assert plain["boot_ci_low"].null_count() == plain.height  # the column stays, empty
    assert a.filter(~pl.col("suppressed") & (pl.col("n") >= BOOTSTRAP_MIN_N)).height >= 1  # not vacuous
    for row in a.filter(~pl.col("suppressed")).iter_rows(named=True):
        if row["n"] < BOOTSTRAP_MIN_N:
            assert row["boot_ci_low"] is None
            assert "no bootstrap interval" in row["notes"]
            continue
        g = table.filter(condition=row["condition"], technique=row["technique"], status="complete")
        imp = g["improvement"].to_numpy()
        ref = stats.bootstrap(
            (imp,), np.mean, n_resamples=999, method="BCa", rng=np.random.default_rng(0), vectorized=True
        ).confidence_interval
        # a different resampling stream: agree within Monte Carlo error (about 0.1 points here)
        assert row["boot_ci_low"] == pytest.approx(ref.low, abs=0.25)
        assert row["boot_ci_high"] == pytest.approx(ref.high, abs=0.25)
        assert row["boot_ci_low"] < row["mean_improvement"] < row["boot_ci_high"]


def test_by_must_not_repeat_measure_and_options_are_checked(table: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="measure and side are always grouped"):
        summarize(table, by=("measure",))
    with pytest.raises(ValueError, match="lacks column"):
        summarize(table, by=("clinic_id",))
    with pytest.raises(ValueError, match="min_cell"):
        summarize(table, min_cell=0)


def _coverage(summary: pl.DataFrame, truth: pl.DataFrame, min_n: int) -> tuple[float, float, int]:
    joined = summary.filter(pl.col("n") >= min_n).join(truth, on=["condition", "technique", "measure"])
    mean_cov = (
        (joined["ci_low"] <= joined["true_mean_improvement"]) & (joined["true_mean_improvement"] <= joined["ci_high"])
    ).mean()
    true_srm = joined["true_mean_improvement"] / joined["true_sd_improvement"]
    srm_cov = ((joined["srm_ci_low"] <= true_srm) & (true_srm <= joined["srm_ci_high"])).mean()
    return float(mean_cov), float(srm_cov), joined.height  # type: ignore[arg-type]


def test_intervals_cover_the_true_effects_at_about_the_nominal_rate(tmp_path: object) -> None:
    """Seeded simulation: six synthetic networks, every condition x technique x measure cell with n >= 15."""
    hits_mean, hits_srm, cells = 0.0, 0.0, 0
    for seed in range(6):
        folder = tmp_path / f"d{seed}"  # type: ignore[operator]
        demo = write_demo(folder, 2500, seed=100 + seed, format="parquet")
        s = summarize(episode_changes(read_dataset(folder)), min_cell=1).table
        mean_cov, srm_cov, k = _coverage(s, demo.truth, 15)
        hits_mean += mean_cov * k
        hits_srm += srm_cov * k
        cells += k
    assert cells > 800
    # nominal 0.95; binomial sd over ~1000 cells is about 0.007. Therapist clustering costs a little.
    assert 0.92 <= hits_mean / cells <= 0.98
    assert 0.92 <= hits_srm / cells <= 0.98


def test_bundled_demo_recovers_the_true_effects() -> None:
    s = summarize(episode_changes(read_dataset(demo_dataset_path()))).table
    truth = pl.read_csv(demo_dataset_path() / "truth.csv")
    mean_cov, srm_cov, cells = _coverage(s.filter(~pl.col("suppressed")), truth, 11)
    assert cells > 150
    assert mean_cov >= 0.9
    assert srm_cov >= 0.9


def test_seed_independent_truth_is_recovered_by_a_large_draw() -> None:
    demo = make_demo(30000, seed=8)
    from outcomes.ingest import Dataset

    ds = Dataset(
        episodes=demo.episodes.with_row_index("row", offset=2).with_columns(pl.col("row").cast(pl.Int64)),
        treatments=demo.treatments.with_row_index("row", offset=2).with_columns(pl.col("row").cast(pl.Int64)),
        measurements=demo.measurements.with_row_index("row", offset=2).with_columns(pl.col("row").cast(pl.Int64)),
        rejected=pl.DataFrame(),
        warnings=pl.DataFrame(),
        catalog=read_dataset(demo_dataset_path()).catalog,
        n_read={},
        path=demo_dataset_path(),
    )
    s = summarize(episode_changes(ds), by="condition", min_cell=1).table.filter(measure="nprs")
    # the NPRS truth per condition is the episode-weighted mean of its technique cells
    primary = episode_changes(ds).filter(measure="nprs", status="complete").group_by("condition", "technique").len()
    weighted = (
        primary.join(demo.truth.filter(measure="nprs"), on=["condition", "technique"])
        .group_by("condition")
        .agg(((pl.col("true_mean_improvement") * pl.col("len")).sum() / pl.col("len").sum()).alias("truth"))
    )
    joined = s.join(weighted, on="condition")
    assert joined.height == 12
    inside = (joined["ci_low"] <= joined["truth"]) & (joined["truth"] <= joined["ci_high"])
    assert inside.sum() >= 10
    assert (joined["mean_improvement"] - joined["truth"]).abs().max() < 0.35


def test_lazy_and_materialized_changes_give_the_same_summary() -> None:
    # `outcomes summarize` passes the per-episode stage lazily; notebooks pass the materialized
    # table. Both must give the same numbers, to the last bit.
    from outcomes import episode_changes, read_dataset
    from outcomes.synth import demo_dataset_path

    ds = read_dataset(demo_dataset_path())
    eager = summarize(episode_changes(ds), by=("condition", "technique")).table
    lazy = summarize(episode_changes(ds, lazy=True), by=("condition", "technique")).table
    assert eager.height > 100
    assert lazy.equals(eager)
