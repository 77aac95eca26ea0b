"""Funnel-plot data: control limits checked by hand and against the normal approximation."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from matplotlib.axes import Axes
from matplotlib.text import Text
from scipy import stats

from outcomes import benchmark, benchmark_funnel, episode_changes, funnel, read_dataset
from outcomes.analyses import BenchmarkResult, FunnelResult
from outcomes.stats import binomial_limits
from outcomes.stats.funnel_limits import overdispersion as overdispersion_of
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


# --- the adjusted funnel of a benchmark, a table beside the chart, labels ---------------------------------------
# Synthetic inputs only: the bundled demo dataset is being redrawn, so no number of it is asserted below.


def network(seed: int, extra: dict[str, int] | None = None) -> pl.DataFrame:
    """Complete episodes of one measure, as ``network()`` of tests/test_benchmark.py (copied, then extended).

    improvement = 2 + effect(therapist) - 1.5 chronic + 0.3 (baseline - 6) + noise, effects ~ N(0, 0.4^2),
    noise SD 1.5, 20 therapists T00-T19 of 40-159 episodes; ``extra`` adds therapists of the given sizes
    (a size below 11 is not scored for its size; about 12 episodes, not for its reliability).
    """
    rng = np.random.default_rng(seed)
    sizes = {f"T{j:02d}": int(rng.integers(40, 160)) for j in range(20)} | (extra or {})
    effects = rng.normal(0, 0.4, len(sizes))
    rows = []
    for (unit, n), effect in zip(sizes.items(), effects, strict=True):
        chronic = rng.random(n) < rng.uniform(0.2, 0.5)
        baseline = np.clip(np.round(rng.normal(6, 1.5, n)), 0, 10)
        imp = 2 + effect - 1.5 * chronic + 0.3 * (baseline - 6) + rng.normal(0, 1.5, n)
        rows.append(
            pl.DataFrame(
                {
                    "therapist_id": unit,
                    "chronicity": np.where(chronic, "chronic", "acute"),
                    "baseline": baseline,
                    "improvement": imp,
                }
            )
        )
    return pl.concat(rows).with_columns(
        measure=pl.lit("nprs"), side=pl.lit(None, dtype=pl.String), status=pl.lit("complete")
    )


@pytest.fixture(scope="module")
def scored() -> BenchmarkResult:
    b = benchmark(network(4, {"T20": 6, "T21": 12}), adjust_for=("baseline", "chronicity"))
    reasons = dict(b.table.select("therapist_id", "reason").rows())
    assert reasons["T20"] == "fewer than 11 complete episodes"  # the two kinds of unit not scored are there
    assert reasons["T21"].startswith("reliability")
    return b


def test_benchmark_funnel_limits_and_flags_by_hand(scored: BenchmarkResult) -> None:
    f = benchmark_funnel(scored)
    assert isinstance(f, FunnelResult)
    assert (f.metric, f.target, f.measure, f.unit_column) == ("residual_mean", 0.0, "nprs", "therapist_id")
    assert f.sd == pytest.approx(np.sqrt(scored.sigma2), rel=1e-15)
    # Spiegelhalter (2005) limits for a mean with target 0: 0 -+ z sqrt(sigma2 / n), z = Phi^-1(0.975), Phi^-1(0.999)
    assert f.limits["n"].to_list() == list(range(1, int(scored.table["n"].max()) + 1))
    for n in (1, 12, 50, f.limits.height):
        row = f.limits.filter(n=n).row(0, named=True)
        for name, level in (("95", 0.95), ("99_8", 0.998)):
            half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(scored.sigma2 / n)
            assert row[f"lower_{name}"] == pytest.approx(-half, rel=1e-12)
            assert row[f"upper_{name}"] == pytest.approx(half, rel=1e-12)
    # every unit of the benchmark is there, sorted, with its n; those not scored keep n and have no value or flag
    table = scored.table.sort("therapist_id")
    assert f.units["unit"].to_list() == table["therapist_id"].to_list()
    assert f.units["n"].to_list() == table["n"].to_list()
    assert f.units["suppressed"].to_list() == table["suppressed"].to_list()
    hidden = f.units.filter("suppressed")
    assert hidden["unit"].to_list() == ["T20", "T21"]
    assert hidden.select("value", "outside_95", "outside_99_8").null_count().row(0) == (2, 2, 2)
    # flags against the hand formula at each unit's own n
    shown = f.units.filter(~pl.col("suppressed")).join(table, left_on="unit", right_on="therapist_id")
    np.testing.assert_allclose(shown["value"], shown["residual_mean"], rtol=0, atol=0)
    n, r = shown["n"].to_numpy(), shown["value"].to_numpy()
    for name, level in (("95", 0.95), ("99_8", 0.998)):
        half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(scored.sigma2 / n)
        assert shown[f"outside_{name}"].to_list() == (np.abs(r) > half).tolist()
    assert 0 < int(shown["outside_95"].sum()) < shown.height  # some in, some out: the check means something
    # and they are the benchmark's own flags (docs/data-contract.md says so)
    assert shown["outside_95"].to_list() == shown["outside_95_right"].to_list()
    assert shown["outside_99_8"].to_list() == shown["outside_99_8_right"].to_list()


def test_benchmark_funnel_overdispersion(scored: BenchmarkResult) -> None:
    shown = scored.table.filter(~pl.col("suppressed")).sort("therapist_id")
    n, r = shown["n"].to_numpy().astype(float), shown["residual_mean"].to_numpy()
    z = r / np.sqrt(scored.sigma2 / n)  # the scored units' z-scores, by hand
    phi = overdispersion_of(z, trim=0.1).phi  # Spiegelhalter (2005): mean of the squared winsorised z-scores
    mult = benchmark_funnel(scored, overdispersion="multiplicative")
    assert mult.phi == pytest.approx(phi, rel=1e-12)
    assert phi > 1  # tau = 0.4 against within-unit SE of about 0.15: over-dispersed
    row = mult.limits.filter(n=50).row(0, named=True)
    assert row["upper_95"] == pytest.approx(stats.norm.ppf(0.975) * np.sqrt(phi * scored.sigma2 / 50), rel=1e-12)
    # additive: tau2 = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w)), w = n / sigma2 (Spiegelhalter 2005)
    add = benchmark_funnel(scored, overdispersion="additive", trim=0.0)
    w = n / scored.sigma2
    phi0 = float(np.mean(z**2))
    tau2 = max(0.0, (z.size * phi0 - (z.size - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    assert add.tau2 == pytest.approx(tau2, rel=1e-10)
    half = stats.norm.ppf(0.975) * np.sqrt(scored.sigma2 / n + tau2)
    flags = add.units.filter(~pl.col("suppressed"))["outside_95"].to_list()
    assert flags == (np.abs(r) > half).tolist()


def test_benchmark_funnel_refuses() -> None:
    with pytest.raises(TypeError, match="BenchmarkResult"):
        benchmark_funnel(pl.DataFrame({"n": [1]}))  # type: ignore[arg-type]
    b = benchmark(network(5), adjust_for=("baseline",), min_reliability=0)
    with pytest.raises(ValueError, match="overdispersion"):
        benchmark_funnel(b, overdispersion="both")  # type: ignore[arg-type]


def rate_changes() -> pl.DataFrame:
    """Complete episodes of 18 clinics with exact responder counts: 3 below 11 episodes, 4 of about 100 episodes
    at 75% and 3 at 25% (close points, so their labels crowd), the rest at 50%."""
    rng = np.random.default_rng(11)
    sizes = [4, 7, 9, 30, 45, 60, 80, 100, 102, 104, 106, 120, 150, 180, 200, 96, 98, 101]
    rates = [0.5] * 7 + [0.75] * 4 + [0.5] * 4 + [0.25] * 3
    rows = []
    for j, (n, p) in enumerate(zip(sizes, rates, strict=True)):
        responder = np.zeros(n, dtype=bool)
        responder[: round(p * n)] = True
        rows.append(
            pl.DataFrame(
                {"clinic_id": f"C{j:02d}", "responder": rng.permutation(responder), "improvement": rng.normal(2, 1, n)}
            )
        )
    return pl.concat(rows).with_columns(
        measure=pl.lit("nprs"), side=pl.lit(None, dtype=pl.String), status=pl.lit("complete")
    )


def _drawn_labels(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _assert_labels_apart(ax: Axes) -> None:
    figure = ax.get_figure(root=True)
    assert figure is not None
    figure.draw_without_rendering()
    boxes = [Text.get_window_extent(t) for t in ax.texts]  # the text alone, without its leader line
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)  # no label written over another


@pytest.mark.parametrize("kind", ["rates", "benchmark"])
def test_plot_labels_exactly_the_units_outside_the_first_level(kind: str, scored: BenchmarkResult) -> None:
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_rgba

    from outcomes.present.plots import PALETTE, plot_funnel

    f = funnel(rate_changes(), unit="clinic_id") if kind == "rates" else benchmark_funnel(scored)
    ax = plot_funnel(f)
    shown = f.units.filter(~pl.col("suppressed"))
    out95 = shown.filter("outside_95")["unit"].to_list()
    assert sorted(_drawn_labels(ax)) == sorted(out95)
    # the units outside 95% but inside 99.8% are labelled too, not only the outer ones (rates: C07-C10 and
    # C15-C17 are all outside 99.8%, so this is asserted on the benchmark, which has one in between)
    if kind == "benchmark":
        assert shown.filter(pl.col("outside_95") & ~pl.col("outside_99_8")).height > 0
    assert not set(_drawn_labels(ax)) & set(f.units.filter("suppressed")["unit"].to_list())
    _assert_labels_apart(ax)
    # colours keyed to the levels, and the legend says what they mean
    scatter = next(c for c in ax.collections if isinstance(c, PathCollection))
    region = shown["outside_95"].cast(pl.Int8) + shown["outside_99_8"].cast(pl.Int8)
    want = [to_rgba((PALETTE[0], PALETTE[1], PALETTE[5])[k]) for k in region.to_list()]
    np.testing.assert_allclose(scatter.get_facecolors(), want)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-3:] == ["inside the 95% limits", "outside 95%, inside 99.8%", "outside the 99.8% limits"]
    title = ax.get_title(loc="right").replace("\n", " ")
    if kind == "rates":
        assert "3 with too few episodes not shown" in title
        assert ax.get_ylabel() == "Numeric Pain Rating Scale: responders (%)"
    else:
        assert "2 the benchmark did not score are not shown" in title
        assert ax.get_ylabel().endswith("observed - expected (points)")
        target = ax.lines[4]  # after the 2 levels x (lower, upper) limits
        assert target.get_label() == "as expected (0)"
        np.testing.assert_array_equal(target.get_ydata(), [0, 0])


@pytest.mark.parametrize("kind", ["rates", "benchmark"])
def test_funnel_table_lists_every_unit(kind: str, scored: BenchmarkResult) -> None:
    from outcomes.present.tables import funnel_table

    f = funnel(rate_changes(), unit="clinic_id") if kind == "rates" else benchmark_funnel(scored)
    t = funnel_table(f)
    assert t.header[:3] == (
        ("Clinic", "Episodes", "Responders")
        if kind == "rates"
        else ("Therapist", "Episodes", "Observed − expected (points)")
    )
    assert t.header[3:] == ("Against the 95% limits", "Against the 99.8% limits")
    units = sorted(f.units["unit"].to_list())
    assert [r[0] for r in t.rows] == units  # every unit, sorted by unit
    rows = {r[0]: r for r in t.rows}
    for u in f.units.iter_rows(named=True):
        row = rows[u["unit"]]
        if u["suppressed"]:
            assert row[2:] == ("–", "–", "–")  # no value, no position
            assert row[1] == ("< 11" if u["n"] < 11 else str(u["n"]))
            continue
        assert row[1] == str(u["n"])
        # the value as printed: percent with one decimal for rates, two decimals for observed - expected
        assert float(row[2].rstrip("%")) == pytest.approx(u["value"] * (100 if kind == "rates" else 1), abs=0.051)
        for name, flag in (("95%", u["outside_95"]), ("99.8%", u["outside_99_8"])):
            side = "above" if u["value"] > f.target else "below"
            assert row[3 if name == "95%" else 4] == (f"{side} {name}" if flag else "inside")
    if kind == "benchmark":
        assert rows["T20"][1] == "< 11"  # too few episodes
        assert rows["T21"][1] == "12"  # enough episodes, too low a reliability: n shown, no value
        assert any("did not score" in n for n in t.notes)
    assert {r[3] for r in t.rows} >= {"inside", "above 95%", "below 95%"}  # every position occurs


def test_funnel_table_takes_the_result() -> None:
    from outcomes.present.tables import funnel_table

    f = funnel(rate_changes(), unit="clinic_id")
    with pytest.raises(TypeError, match="FunnelResult"):
        funnel_table(f.units)  # type: ignore[arg-type]
