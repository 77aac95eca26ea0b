"""Mixed-model trajectories: a published lme4 fit, statsmodels, known slopes, boundary fits, the analysis."""

from __future__ import annotations

import dataclasses
import pathlib
import warnings
from typing import Any

import numpy as np
import polars as pl
import pytest
import statsmodels
from statsmodels.regression.mixed_linear_model import MixedLM

from outcomes import Dataset, read_dataset
from outcomes.analyses.trajectory_models import TrajectoryModel, trajectory_model
from outcomes.stats.mixed import mixed_fit
from outcomes.synth import demo_dataset_path

DIETOX = pathlib.Path(statsmodels.__file__).parent / "regression" / "tests" / "results" / "dietox.csv"


@pytest.fixture(scope="module")
def dietox() -> pl.DataFrame:
    """Growth of 72 pigs over 12 weeks (Lauridsen et al. 1999; R package geepack), as shipped with statsmodels.

    The file has R's row names as an unnamed first column.
    """
    names = ["row", "Weight", "Feed", "Time", "Pig", "Evit", "Cu", "Litter"]
    return pl.read_csv(DIETOX, has_header=False, skip_rows=1, new_columns=names, null_values="NA")


@pytest.fixture(scope="module")
def demo() -> Dataset:
    return read_dataset(demo_dataset_path())


def test_dietox_matches_the_published_lme4_fit(dietox: pl.DataFrame) -> None:
    # Published: statsmodels' example notebook "Linear Mixed Effects Models" (examples/notebooks/
    # mixed_lm_example.ipynb in the statsmodels repository, rendered in its documentation), section
    # "Growth curves of pigs", the output of R 3.5.1 / lme4 1.1 for
    #   lmer("Weight ~ Time + (1 + Time | Pig)", data=dietox)          (REML)
    #   REML criterion at convergence: 4434.1
    #   Pig (Intercept) variance 19.493 (SD 4.415); Time variance 0.416 (SD 0.645), Corr 0.10
    #   Residual variance 6.038 (SD 2.457); 861 obs, 72 pigs
    #   (Intercept) 15.73865 (SE 0.55012); Time 6.93901 (SE 0.07982)
    # Tolerance: one unit in the last printed digit (the print rounds to half a unit; the other half
    # allows for where two optimizers stop on the flat top of the REML surface: statsmodels' L-BFGS
    # stops at intercept variance 19.503, Powell at 19.493).
    fit = mixed_fit(dietox["Weight"].to_numpy(), dietox["Time"].to_numpy(), dietox["Pig"].to_numpy())
    assert fit.notes == ()
    assert fit.healthy
    assert (fit.n_obs, fit.n_subjects) == (861, 72)
    assert -2 * fit.llf == pytest.approx(4434.1, abs=0.1)
    assert fit.intercept[0] == pytest.approx(15.73865, abs=1e-5)
    assert fit.slope[0] == pytest.approx(6.93901, abs=1e-5)
    assert fit.intercept_se[0] == pytest.approx(0.55012, abs=1e-5)
    assert fit.slope_se[0] == pytest.approx(0.07982, abs=1e-5)
    assert fit.intercept_var == pytest.approx(19.493, abs=1e-3)
    assert fit.slope_var == pytest.approx(0.416, abs=1e-3)
    assert fit.residual_var == pytest.approx(6.038, abs=1e-3)
    assert np.sqrt(fit.intercept_var) == pytest.approx(4.415, abs=1e-3)
    assert np.sqrt(fit.slope_var) == pytest.approx(0.645, abs=1e-3)
    assert np.sqrt(fit.residual_var) == pytest.approx(2.457, abs=1e-3)
    assert fit.correlation == pytest.approx(0.10, abs=0.01)


def _statsmodels_fit(y: np.ndarray, t: np.ndarray, s: np.ndarray, g: np.ndarray) -> tuple[float, np.ndarray]:
    labels, gi = np.unique(g, return_inverse=True)
    exog = np.zeros((y.size, 2 * labels.size))
    exog[np.arange(y.size), 2 * gi] = 1.0
    exog[np.arange(y.size), 2 * gi + 1] = t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MixedLM(y, exog, groups=s, exog_re=np.column_stack([np.ones_like(t), t])).fit(
            reml=True, method=["powell"], ftol=1e-10
        )
    return float(res.llf), np.asarray(res.fe_params)


def _simulate(
    seed: int,
    *,
    subjects: int = 40,
    groups: tuple[tuple[str, float, float], ...] = (("a", 6.0, -0.4), ("b", 5.5, -0.2)),
    sd_intercept: float = 1.0,
    sd_slope: float = 0.3,
    sd_residual: float = 0.7,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Episodes with 3-8 visits over 8 weeks (the first at week 0), true per-group intercepts and slopes."""
    rng = np.random.default_rng(seed)
    m = subjects * len(groups)
    visits = rng.integers(3, 9, size=m)
    s = np.repeat(np.arange(m), visits)
    g = s // subjects
    t = rng.uniform(0, 8, s.size)
    t[np.r_[0, np.cumsum(visits)[:-1]]] = 0.0
    a = np.array([x[1] for x in groups])
    b = np.array([x[2] for x in groups])
    u, v = rng.normal(0, sd_intercept, m), rng.normal(0, sd_slope, m)
    y = a[g] + u[s] + (b[g] + v[s]) * t + rng.normal(0, sd_residual, s.size)
    return y, t, s, np.array([x[0] for x in groups])[g]


def test_the_same_optimum_as_statsmodels_mixedlm() -> None:
    y, t, s, g = _simulate(3)
    fit = mixed_fit(y, t, s, g)
    llf, fe = _statsmodels_fit(y, t, s, g)
    assert fit.llf == pytest.approx(llf, abs=1e-4)
    np.testing.assert_allclose(np.column_stack([fit.intercept, fit.slope]).ravel(), fe, atol=1e-4)


def test_known_slopes_are_recovered_and_the_interval_covers_them() -> None:
    # 200 seeded replications of 80 episodes in two groups; truth: slopes -0.4 and -0.2, G = diag(1, 0.09),
    # residual variance 0.49. Each estimate within 4 SE of its truth; the 95% intervals of the slopes cover
    # the truth in 95% +- 3.5 pp of replications (binomial SD 1.5 pp); the variance components are unbiased
    # to within 4 Monte Carlo SEs.
    true_slope = np.array([-0.4, -0.2])
    covered = np.zeros(2)
    components = []
    for seed in range(200):
        y, t, s, g = _simulate(seed)
        fit = mixed_fit(y, t, s, g)
        assert fit.groups == ("a", "b")
        assert (np.abs(fit.slope - true_slope) < 4 * fit.slope_se).all()
        assert (np.abs(fit.intercept - [6.0, 5.5]) < 4 * fit.intercept_se).all()
        _, _, lo, hi = fit.intervals()
        covered += (lo < true_slope) & (true_slope < hi)
        components.append([fit.intercept_var, fit.slope_var, fit.residual_var])
    coverage = covered / 200
    assert (np.abs(coverage - 0.95) <= 0.035).all(), coverage
    comp = np.array(components)
    mc_se = comp.std(axis=0, ddof=1) / np.sqrt(len(comp))
    assert (np.abs(comp.mean(axis=0) - [1.0, 0.09, 0.49]) < 4 * mc_se).all(), comp.mean(axis=0)


def test_a_random_slope_variance_of_zero_is_reported_not_hidden() -> None:
    # No random slope: every episode falls at exactly the group's rate, and each episode's noise is made
    # orthogonal to its own (1, time), so the episodes' own slopes do not vary at all: the REML optimum of
    # the slope variance is 0, on the boundary.
    rng = np.random.default_rng(5)
    t_one = np.arange(6.0)
    basis = np.column_stack([np.ones(6), t_one])
    resid = np.eye(6) - basis @ np.linalg.pinv(basis)
    m = 40
    s = np.repeat(np.arange(m), 6)
    t = np.tile(t_one, m)
    noise = (resid @ rng.normal(0, 0.7, (6, m))).T.ravel()
    y = 6 + rng.normal(0, 1, m)[s] - 0.4 * t + noise
    fit = mixed_fit(y, t, s)
    assert not fit.healthy
    assert not fit.random_slope
    assert fit.slope_var == 0.0
    assert any("random-slope variance is at the boundary" in n for n in fit.notes), fit.notes
    assert fit.slope[0] == pytest.approx(-0.4, abs=1e-9)


def test_mean_curve_and_contrast() -> None:
    y, t, s, g = _simulate(11)
    fit = mixed_fit(y, t, s, g)
    f, lo, hi = fit.mean_curve([0.0, 4.0])
    assert f.shape == (2, 2)
    np.testing.assert_allclose(f[:, 0], fit.intercept)
    np.testing.assert_allclose(f[:, 1], fit.intercept + 4 * fit.slope)
    i_lo, i_hi, _, _ = fit.intervals()
    np.testing.assert_allclose(lo[:, 0], i_lo)
    np.testing.assert_allclose(hi[:, 0], i_hi)
    est, se, c_lo, c_hi, p = fit.contrast(1, 0)
    assert est == pytest.approx(fit.slope[1] - fit.slope[0])
    assert se == pytest.approx(np.hypot(fit.slope_se[0], fit.slope_se[1]))  # groups' fixed effects uncorrelated
    assert c_lo < est < c_hi
    assert 0 <= p <= 1


def test_mixed_fit_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="one entry per observation"):
        mixed_fit([1.0, 2.0], [0.0], [1, 1])
    with pytest.raises(ValueError, match="finite"):
        mixed_fit([1.0, np.nan, 2.0, 3.0], [0.0, 1.0, 0.0, 1.0], [1, 1, 2, 2])
    with pytest.raises(ValueError, match="more than one group"):
        mixed_fit([1.0, 2.0, 2.0, 3.0], [0.0, 1.0, 0.0, 1.0], [1, 1, 2, 2], ["a", "b", "a", "a"])
    with pytest.raises(ValueError, match="time does not vary"):
        mixed_fit([1.0, 2.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.0], [1, 1, 2, 2])
    with pytest.raises(ValueError, match="at least two subjects"):
        mixed_fit([1.0, 2.0, 3.0], [0.0, 1.0, 2.0], [1, 1, 1])


def test_trajectory_model_on_the_demo(demo: Dataset) -> None:
    tm = trajectory_model(demo, measure="nprs", by="technique")
    assert isinstance(tm, TrajectoryModel)
    groups = tm.fixed["group"].unique().sort().to_list()
    assert tm.fixed.height == 2 * len(groups)
    assert tm.fixed.columns == ["group", "n_episodes", "term", "estimate", "se", "ci_low", "ci_high", "p_value"]
    assert tm.to_frame() is tm.fixed
    slopes = tm.fixed.filter(term="slope")
    assert (slopes["estimate"] < 0).all()  # pain falls over the episode
    assert (slopes["ci_low"] < slopes["estimate"]).all()
    assert (slopes["estimate"] < slopes["ci_high"]).all()
    assert tm.variance["component"].to_list()[0] == "intercept_variance"
    assert tm.variance.filter(component="residual_variance")["estimate"].item() > 0
    assert tm.curve.columns == ["group", "time", "fit", "ci_low", "ci_high"]
    assert sorted(tm.curve["group"].unique().to_list()) == groups
    assert (tm.curve["ci_low"] <= tm.curve["fit"]).all()
    assert (tm.curve["fit"] <= tm.curve["ci_high"]).all()
    assert tm.curve["time"].min() == 0.0
    assert tm.n_episodes == int(tm.fixed.filter(term="slope")["n_episodes"].sum())
    assert tm.n_obs > tm.n_episodes
    html = tm._repr_html_()
    assert "measure = nprs" in html
    assert "by = technique" in html
    assert tm.settings["time"] == "weeks"
    assert repr(tm).startswith("<TrajectoryModel: measure = nprs")
    assert "<table" in html
    days = trajectory_model(demo, measure="nprs", time="days")
    weeks = trajectory_model(demo, measure="nprs")
    assert days.fixed.filter(term="slope")["estimate"].item() * 7 == pytest.approx(
        weeks.fixed.filter(term="slope")["estimate"].item(), rel=1e-4
    )


def test_small_groups_are_left_out_and_named(demo: Dataset) -> None:
    full = trajectory_model(demo, measure="nprs", by="technique")
    sizes = dict(full.fixed.filter(term="slope").select("group", "n_episodes").iter_rows())
    cut = sorted(sizes.values())[2] + 1  # the three smallest groups fall below
    tm = trajectory_model(demo, measure="nprs", by="technique", min_cell=cut)
    small = sorted(g for g, n in sizes.items() if n < cut)
    assert len(small) == 3
    assert set(tm.fixed["group"]) == set(sizes) - set(small)
    assert set(tm.curve["group"]) == set(sizes) - set(small)
    assert any(all(g in n for g in small) and "small cells" in n for n in tm.notes), tm.notes
    with pytest.raises(ValueError, match="no data left"):
        trajectory_model(demo, measure="nprs", by="technique", min_cell=10_000)


def test_log1p(demo: Dataset) -> None:
    tm = trajectory_model(demo, measure="nprs", transform="log1p")
    start = tm.fixed.filter(term="intercept")["estimate"].item()
    assert tm.curve.filter(time=0.0)["fit"].item() == pytest.approx(np.expm1(start))
    assert any("median-type" in n for n in tm.notes)
    negative = dataclasses.replace(
        demo,
        measurements=demo.measurements.with_columns(
            pl.when(pl.col("measure") == "nprs").then(pl.col("value") - 5).otherwise(pl.col("value")).alias("value")
        ),
    )
    with pytest.raises(ValueError, match=r"log1p.*at least 0"):
        trajectory_model(negative, measure="nprs", transform="log1p")


def test_sides(demo: Dataset) -> None:
    with pytest.raises(ValueError, match=r"per side.*side="):
        trajectory_model(demo, measure="rom_knee_flexion")
    tm = trajectory_model(demo, measure="rom_knee_flexion", side="left")
    assert tm.side == "left"
    assert tm.fixed.height == 2
    with pytest.raises(ValueError, match="not recorded per side"):
        trajectory_model(demo, measure="nprs", side="left")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"measure": "pain_score"}, "unknown measure 'pain_score'"),
        ({"measure": "nprs", "by": "therapist_name"}, "no episode column 'therapist_name'"),
        ({"measure": "nprs", "time": "months"}, "time must be 'weeks', 'days' or 'log_weeks'"),
        ({"measure": "nprs", "transform": "sqrt"}, "transform must be 'linear' or 'log1p'"),
        ({"measure": "nprs", "min_cell": 0}, "min_cell must be at least 1"),
        ({"measure": "nprs", "confidence_level": 1.5}, "confidence_level must be between 0 and 1"),
    ],
)
def test_bad_arguments(demo: Dataset, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trajectory_model(demo, **kwargs)


def test_log_weeks_is_the_same_model_on_log_time_and_fits_a_slowing_recovery_better(demo: Dataset) -> None:
    log = trajectory_model(demo, measure="nprs", time="log_weeks")
    assert log.settings["time"] == "log_weeks"
    # independent path: the measurements and start dates joined by hand, time = log(1 + days / 7)
    rows = (
        demo.measurements.filter(measure="nprs")
        .join(demo.episodes.select("episode_id", "start_date"), on="episode_id")
        .with_columns(weeks=(pl.col("measured_on") - pl.col("start_date")).dt.total_days() / 7)
        .filter(pl.col("weeks") >= 0)
    )
    direct = mixed_fit(rows["value"].to_numpy(), np.log1p(rows["weeks"].to_numpy()), rows["episode_id"].to_numpy())
    slope = log.fixed.filter(term="slope")["estimate"].item()
    assert slope == pytest.approx(float(direct.slope[0]), rel=1e-6)
    # the curve is on the weeks axis: fit = a + b log(1 + weeks)
    a = log.fixed.filter(term="intercept")["estimate"].item()
    curve = log.curve
    np.testing.assert_allclose(curve["fit"].to_numpy(), a + slope * np.log1p(curve["time"].to_numpy()), rtol=1e-10)
    # the demo's recovery slows down (a saturating curve, synth/generator.py): a straight line in log time
    # leaves less unexplained within-episode variance than a straight line in weeks
    linear = trajectory_model(demo, measure="nprs", time="weeks")
    resid = {m.time: m.variance.filter(component="residual_variance")["estimate"].item() for m in (log, linear)}
    assert resid["log_weeks"] < 0.9 * resid["weeks"]


Z95 = 1.959963985  # the normal 97.5% quantile, written out so a t quantile or a wrong level fails


def test_the_band_away_from_time_zero_and_the_z_half_width() -> None:
    y, t, s, g = _simulate(11)
    fit = mixed_fit(y, t, s, g)
    times = np.array([0.0, 2.5, 7.0])
    f, lo, hi = fit.mean_curve(times)
    for j in range(2):
        c = fit.cov_fixed[2 * j : 2 * j + 2, 2 * j : 2 * j + 2]
        x = np.column_stack([np.ones_like(times), times])
        half = Z95 * np.sqrt(np.einsum("ti,ij,tj->t", x, c, x))  # direct x'Cx, cross term included
        np.testing.assert_allclose(hi[j] - f[j], half, rtol=1e-9)
        np.testing.assert_allclose(f[j] - lo[j], half, rtol=1e-9)
    assert abs(fit.cov_fixed[0, 1]) > 1e-3 * np.sqrt(fit.cov_fixed[0, 0] * fit.cov_fixed[1, 1])  # the term matters
    _, i_hi, s_lo, _ = fit.intervals()
    np.testing.assert_allclose(i_hi - fit.intercept, Z95 * fit.intercept_se, rtol=1e-9)
    np.testing.assert_allclose(fit.slope - s_lo, Z95 * fit.slope_se, rtol=1e-9)


def test_reml_does_not_depend_on_the_time_origin() -> None:
    # REML is invariant to shifting time (X -> X A with det A = 1): a fit on weeks + 30, weeks + 1e6 or days
    # since 1970 is the same fit. The optimizer used to stop 15 to 98 log-likelihood units short on these.
    y, t, s, g = _simulate(5)
    base = mixed_fit(y, t, s, g)
    assert base.healthy
    for shift, per in [(30.0, 1.0), (1e6, 1.0), (19_000.0, 1 / 7)]:
        fit = mixed_fit(y, shift + t / per, s, g)  # per = 1/7: days
        assert fit.llf == pytest.approx(base.llf - 2 * np.log(1 / per), abs=1e-6)  # k = 2 groups, -k log(scale)
        np.testing.assert_allclose(fit.slope / per, base.slope, rtol=1e-6)
        np.testing.assert_allclose(fit.slope_se / per, base.slope_se, rtol=1e-5)
        np.testing.assert_allclose(fit.intercept + fit.slope * shift, base.intercept, rtol=1e-6)  # at weeks 0
        assert fit.slope_var / per**2 == pytest.approx(base.slope_var, rel=1e-5)
        assert fit.residual_var == pytest.approx(base.residual_var, rel=1e-6)
        # G at weeks 0: var(u + v shift) with u, v at the shifted origin
        g0 = fit.intercept_var + 2 * shift * fit.intercept_slope_cov + shift**2 * fit.slope_var
        assert g0 == pytest.approx(base.intercept_var, rel=1e-4 if shift < 1e5 else 1e-2)
        assert fit.healthy, fit.notes


def _dense_reml(y: np.ndarray, t: np.ndarray, s: np.ndarray, g: np.ndarray, start: np.ndarray) -> float:
    """The best REML log-likelihood found from ``start`` and a generic start, with the dense ``n x n`` formula.

    Independent of ``mixed_fit``'s profiled per-subject algebra: ``V = s2 I + Z G Z'`` on the same subject,
    ``-2 llf = (n - p) log 2 pi + log|V| + log|X'V^-1 X| + r'V^-1 r``, X and Z on the caller's time. The
    parameters are the Cholesky factor of G on centred, standardised time (a reparameterisation, not a
    change of the model) and log s2.
    """
    from scipy import linalg, optimize

    labels, gi = np.unique(g, return_inverse=True)
    n = y.size
    x = np.zeros((n, 2 * labels.size))
    x[np.arange(n), 2 * gi] = 1.0
    x[np.arange(n), 2 * gi + 1] = t
    u = (t - t.mean()) / t.std()
    same = s[:, None] == s[None, :]

    def nll(p: np.ndarray) -> float:
        lam = np.array([[p[0], 0.0], [p[1], p[2]]])
        zg = np.column_stack([np.ones(n), u]) @ lam
        v = np.exp(p[3]) * np.eye(n) + same * (zg @ zg.T)
        try:
            cv = linalg.cho_factor(v, lower=True)
            vix = linalg.cho_solve(cv, x)
            cx = linalg.cho_factor(x.T @ vix, lower=True)
        except linalg.LinAlgError:
            return 1e300
        beta = linalg.cho_solve(cx, vix.T @ y)
        r = y - x @ beta
        logdet = 2 * np.log(np.diag(cv[0])).sum() + 2 * np.log(np.diag(cx[0])).sum()
        return 0.5 * ((n - x.shape[1]) * np.log(2 * np.pi) + logdet + r @ linalg.cho_solve(cv, r))

    v0 = float(np.var(y))
    best = np.inf
    for p0 in (start, np.array([np.sqrt(v0 / 2), 0.0, np.sqrt(v0 / 4), np.log(v0 / 2)])):
        res = optimize.minimize(nll, p0, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10})
        res = optimize.minimize(nll, res.x, method="Powell", options={"xtol": 1e-8, "ftol": 1e-14})
        best = min(best, float(res.fun))
    return -best


def test_the_optimum_is_reached_on_random_data() -> None:
    # A seeded sweep like the review's: variance components over orders of magnitude, correlations up to
    # +-0.95, 1-10 visits, 8-52 weeks. The dense reference starts from the fit's own estimates (it can only
    # find a higher optimum nearby) and from a generic start. Before centring and restarts 2 of the review's
    # 60 such fits stopped 0.3 and 1.8 short, and seed 5 here 2.6e-4 short.
    rng = np.random.default_rng(0)
    for seed in range(20):
        sizes = rng.integers(5, 25, size=2)
        sd_i, sd_s, sd_e = np.exp(rng.uniform(-1, 3)), np.exp(rng.uniform(-4, 1)), np.exp(rng.uniform(-2, 1))
        rho, tmax = rng.uniform(-0.95, 0.95), rng.choice([8.0, 26.0, 52.0])
        m = int(sizes.sum())
        visits = rng.integers(1, 11, size=m)
        s = np.repeat(np.arange(m), visits)
        g = np.repeat(np.repeat(np.array(["a", "b"]), sizes), visits)
        t = rng.uniform(0, tmax, s.size)
        t[np.r_[0, np.cumsum(visits)[:-1]]] = 0.0
        c = [[sd_i**2, rho * sd_i * sd_s], [rho * sd_i * sd_s, sd_s**2]]
        uv = rng.multivariate_normal([0, 0], c, size=m)
        y = np.where(g == "a", 6 - 0.4 * t, 5 - 0.2 * t) + uv[s, 0] + uv[s, 1] * t + rng.normal(0, sd_e, s.size)
        fit = mixed_fit(y, t, s, g)
        sd = t.std()
        gc = (
            np.array([[1, t.mean()], [0, sd]])
            @ np.array(  # G on centred, standardised time
                [[fit.intercept_var, fit.intercept_slope_cov], [fit.intercept_slope_cov, fit.slope_var]]
            )
            @ np.array([[1, 0], [t.mean(), sd]])
        )
        w, vec = np.linalg.eigh(gc)
        lam = np.linalg.cholesky((vec * np.maximum(w, 1e-12 * w.max())) @ vec.T)
        start = np.array([lam[0, 0], lam[1, 0], lam[1, 1], np.log(fit.residual_var)])
        ref = _dense_reml(y, t, s, g, start)
        assert fit.llf >= ref - 1e-6, (seed, fit.llf, ref, fit.notes)
        assert fit.llf <= ref + 1e-6 * abs(ref)  # the code's value is a REML log-likelihood, not above it


def test_missing_ids_and_degenerate_data_are_refused_or_noted() -> None:
    y, t = [1.0, 2.0, 5.0, 7.0, 3.0, 3.5], [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="subject IDs must not be missing"):
        mixed_fit(y, t, [1.0, 1.0, np.nan, np.nan, 2.0, 2.0])
    with pytest.raises(ValueError, match="subject IDs must not be missing"):
        mixed_fit(y, t, np.array([1, 1, None, None, 2, 2], dtype=object))
    with pytest.raises(ValueError, match="group labels must not be missing"):
        mixed_fit(y, t, [1, 1, 3, 3, 2, 2], [0.0, 0.0, np.nan, np.nan, 0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may leak
        with pytest.raises(ValueError, match="exactly on each group's line"):
            mixed_fit(np.ones(6), t, [1, 1, 1, 2, 2, 2])
        with pytest.raises(ValueError, match="exactly on each group's line"):
            mixed_fit(1 + 2 * np.array(t), t, [1, 1, 1, 2, 2, 2])
        rng = np.random.default_rng(1)
        single = mixed_fit(rng.normal(size=50), rng.uniform(0, 8, 50), np.arange(50))
    assert not single.healthy
    assert any("no subject has two or more observations" in n for n in single.notes), single.notes


def test_measurements_before_the_start_date_are_left_out_and_counted(demo: Dataset) -> None:
    base = trajectory_model(demo, measure="nprs")
    rows = demo.measurements.with_row_index("i")
    moved = (pl.col("measure") == "nprs") & (pl.col("i") % 10 == 0)
    shifted = rows.with_columns(
        pl.when(moved).then(pl.col("measured_on") - pl.duration(days=10_000)).otherwise(pl.col("measured_on"))
    ).drop("i")
    tm = trajectory_model(dataclasses.replace(demo, measurements=shifted), measure="nprs")
    # independently: nprs rows on or after the start date with a value
    kept = (
        shifted.filter(measure="nprs")
        .join(demo.episodes.select("episode_id", "start_date"), on="episode_id")
        .filter(pl.col("measured_on") >= pl.col("start_date"), pl.col("value").is_not_null())
    )
    n_before = shifted.filter(measure="nprs").join(demo.episodes.select("episode_id", "start_date"), on="episode_id")
    n_before = n_before.filter(pl.col("measured_on") < pl.col("start_date")).height
    assert tm.n_obs == kept.height < base.n_obs
    assert f"{n_before} measurements before the episode's start date left out" in tm.notes


def test_the_log1p_band_is_back_transformed(demo: Dataset) -> None:
    tm = trajectory_model(demo, measure="nprs", transform="log1p")
    a, b = tm.fixed["estimate"].to_list()
    c = tm.fit.cov_fixed[:2, :2]
    w = tm.curve["time"].to_numpy()
    half = Z95 * np.sqrt(c[0, 0] + 2 * w * c[0, 1] + w**2 * c[1, 1])
    np.testing.assert_allclose(tm.curve["ci_low"].to_numpy(), np.expm1(a + b * w - half), rtol=1e-9)
    np.testing.assert_allclose(tm.curve["ci_high"].to_numpy(), np.expm1(a + b * w + half), rtol=1e-9)


def test_measurements_with_no_side_are_counted(demo: Dataset) -> None:
    rows = demo.measurements.with_row_index("i")
    knee = (pl.col("measure") == "rom_knee_flexion") & (pl.col("i") % 7 == 0)
    unsided = rows.with_columns(pl.when(knee).then(None).otherwise(pl.col("side")).alias("side")).drop("i")
    n = unsided.filter(pl.col("measure") == "rom_knee_flexion", pl.col("side").is_null()).height
    assert n > 0
    tm = trajectory_model(dataclasses.replace(demo, measurements=unsided), measure="rom_knee_flexion", side="left")
    assert f"{n} rom_knee_flexion measurements with no side left out" in tm.notes
