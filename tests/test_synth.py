"""The synthetic data generator: valid, deterministic, and of the documented shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from outcomes import read_dataset
from outcomes.contract import vocabulary
from outcomes.synth import demo_dataset_path, make_demo, write_demo
from outcomes.synth.generator import _units_8_minute_rule


@pytest.fixture(scope="module")
def demo() -> object:
    return make_demo(1500, seed=11)


def _cms_units(total_minutes: pl.Expr) -> pl.Expr:
    # CMS 8-minute rule, Medicare Claims Processing Manual ch. 5 sec. 20.2:
    # 8-22 min = 1 unit, 23-37 = 2, 38-52 = 3, ... every further 15 minutes one more; < 8 min no unit.
    return pl.when(total_minutes < 8).then(0).otherwise(1 + (total_minutes - 8) // 15)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_demo_is_valid_in_both_formats(tmp_path: Path, fmt: str) -> None:
    write_demo(tmp_path, 400, seed=3, format=fmt)  # type: ignore[arg-type]
    assert (tmp_path / "truth.csv").is_file()
    ds = read_dataset(tmp_path)
    assert ds.rejected.height == 0, ds.rejected.head()
    assert ds.warnings.height == 0
    assert ds.counts()["accepted"].to_list() == ds.counts()["read"].to_list()


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = make_demo(300, seed=5), make_demo(300, seed=5), make_demo(300, seed=6)
    for name in ("episodes", "treatments", "measurements", "truth"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.measurements.equals(c.measurements)
    assert a.truth.equals(c.truth)  # the true effects are the design, not the draw


def test_bundled_demo_is_the_documented_draw() -> None:
    bundled = read_dataset(demo_dataset_path())
    fresh = make_demo(2000, seed=2026)
    assert bundled.rejected.height == 0
    for name in ("episodes", "treatments", "measurements"):
        got = bundled.table(name).drop("row")
        assert got.equals(fresh.table(name) if hasattr(fresh, "table") else getattr(fresh, name)), name
    truth = pl.read_csv(demo_dataset_path() / "truth.csv")
    assert truth.select("condition", "technique", "measure").equals(
        fresh.truth.select("condition", "technique", "measure")
    )
    np.testing.assert_allclose(truth["true_mean_improvement"], fresh.truth["true_mean_improvement"], atol=1e-5)


def test_episode_shape(demo) -> None:  # type: ignore[no-untyped-def]
    ep, tr = demo.episodes, demo.treatments
    assert ep.height == 1500
    assert ep["episode_id"].n_unique() == 1500
    assert set(ep["condition"]) <= set(vocabulary("conditions")["code"])
    assert set(tr["technique"]) <= set(vocabulary("techniques")["code"])
    assert ep["clinic_id"].n_unique() == 4
    # each therapist works in one clinic
    assert ep.group_by("therapist_id").agg(pl.col("clinic_id").n_unique())["clinic_id"].max() == 1
    assert ep["patient_id"].n_unique() < ep.height  # some patients return with a new episode
    visits = tr.group_by("episode_id").agg(
        pl.col("visit_date").n_unique().alias("n_visits"),
        (pl.col("visit_date").max() - pl.col("visit_date").min()).dt.total_days().alias("days"),
    )
    joined = ep.join(visits, on="episode_id")
    completers = joined.filter(pl.col("discharge_reason").is_in(["goals_met", "plateau", "referred_out", "other"]))
    assert completers["n_visits"].min() >= 4
    assert completers["n_visits"].max() <= 16
    assert completers["days"].min() >= 14
    assert completers["days"].max() <= 84
    assert joined["n_visits"].min() >= 2


def test_share_without_discharge_measurement(demo) -> None:  # type: ignore[no-untyped-def]
    pain = demo.measurements.filter(pl.col("measure").is_in(["nprs", "vas"]))
    per_episode = pain.group_by("episode_id").agg(pl.col("measured_on").n_unique().alias("dates"))
    share_no_followup = (per_episode["dates"] == 1).mean()
    assert 0.15 <= share_no_followup <= 0.30


def test_pain_scales(demo) -> None:  # type: ignore[no-untyped-def]
    m = demo.measurements.join(demo.episodes.select("episode_id", "clinic_id"), on="episode_id")
    nprs = m.filter(measure="nprs")["value"]
    assert ((nprs % 1) == 0).all()  # integer NPRS
    assert nprs.min() == 0  # floor reached
    assert nprs.max() <= 10
    # one clinic records VAS instead of NPRS
    assert set(m.filter(measure="vas")["clinic_id"]) == {"C04"}
    assert "C04" not in set(m.filter(measure="nprs")["clinic_id"])


def test_rom_sides(demo) -> None:  # type: ignore[no-untyped-def]
    m = demo.measurements
    rom = m.filter(pl.col("measure").str.starts_with("rom_"))
    assert set(rom["side"].drop_nulls()) == {"left", "right"}
    assert (
        m.filter(~pl.col("measure").str.starts_with("rom_"))["side"].null_count()
        == m.filter(~pl.col("measure").str.starts_with("rom_")).height
    )
    # cervical rotation is measured on both sides in the same episode
    both = rom.filter(measure="rom_cervical_rotation").group_by("episode_id").agg(pl.col("side").n_unique())
    assert (both["side"] == 2).all()
    # a shoulder is measured on one side per episode
    one = rom.filter(measure="rom_shoulder_flexion").group_by("episode_id").agg(pl.col("side").n_unique())
    assert (one["side"] == 1).all()


def test_units_follow_8_minute_rule_mostly(demo) -> None:  # type: ignore[no-untyped-def]
    timed = set(vocabulary("techniques").filter(pl.col("timed") == "true")["cpt_code"])
    visits = (
        demo.treatments.filter(pl.col("cpt_code").is_in(list(timed)))
        .group_by("episode_id", "visit_date")
        .agg(
            pl.col("minutes").sum().alias("minutes"),
            pl.col("minutes").null_count().alias("gaps"),
            pl.col("units").sum().alias("units"),
        )
        .with_columns(_cms_units(pl.col("minutes")).alias("expected"))
    )
    consistent = (visits["units"] == visits["expected"]).mean()
    assert 0.85 <= consistent < 1.0  # mostly consistent, a few billing slips and documentation gaps
    complete = visits.filter(gaps=0)
    assert (complete["units"] == complete["expected"]).mean() > 0.9
    manual = demo.treatments.filter(cpt_code="97140")
    assert 0 < manual["minutes"].null_count() / manual.height < 0.06  # documentation gaps
    assert 0 < demo.treatments["body_region"].null_count() / demo.treatments.height < 0.1


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        # CMS examples (Medicare Claims Processing Manual ch. 5 sec. 20.2):
        ([24, 23], [2, 1]),  # 47 min -> 3 units; the extra unit to the service with more minutes
        ([33, 7], [2, 1]),  # 40 min -> 3 units
        ([7, 7], [1, 0]),  # 14 min -> 1 unit, to either service (ties go to the first here)
        ([5, 0], [0, 0]),  # under 8 minutes: no timed unit
        ([8, 0], [1, 0]),
        ([22, 0], [1, 0]),
        ([23, 0], [2, 0]),
        ([53, 0], [4, 0]),
    ],
)
def test_units_allocation(minutes: list[int], expected: list[int]) -> None:
    got = _units_8_minute_rule(np.array([minutes]))
    assert got.tolist() == [expected]


def test_truth_matches_the_drawn_data() -> None:
    """Complete-episode mean improvement (first vs last value) agrees with the Monte Carlo truth."""
    demo = make_demo(12000, seed=99)
    m = demo.measurements.join(demo.episodes.select("episode_id", "condition"), on="episode_id")
    primary = (
        demo.treatments.group_by("episode_id", "technique")
        .agg(pl.col("minutes").fill_null(0).sum())
        .sort("minutes", "technique", descending=[True, False])
        .group_by("episode_id", maintain_order=True)
        .first()
        .select("episode_id", "technique")
    )
    # hand-rolled, independent of the package's per-episode stage: first and last value per series
    series = (
        m.sort("measured_on")
        .group_by("episode_id", "condition", "measure", "side")
        .agg(pl.col("value").first().alias("b"), pl.col("value").last().alias("f"), pl.len().alias("k"))
        .filter(pl.col("k") > 1)
        .join(primary, on="episode_id")
    )
    lower = ["nprs", "vas", "odi", "ndi", "quickdash", "rom_knee_extension_deficit"]
    series = series.with_columns(
        pl.when(pl.col("measure").is_in(lower)).then(pl.col("b") - pl.col("f")).otherwise(pl.col("f") - pl.col("b"))
        .alias("imp")
    )  # fmt: skip
    cells = (
        series.group_by("condition", "technique", "measure")
        .agg(pl.col("imp").mean().alias("mean"), pl.col("imp").std().alias("sd"), pl.len().alias("n"))
        .filter(pl.col("n") >= 150)
        .join(demo.truth, on=["condition", "technique", "measure"])
    )
    assert cells.height >= 20
    z = (cells["mean"] - cells["true_mean_improvement"]) / (cells["sd"] / cells["n"].sqrt())
    # Therapist effects add a little between-cluster variance; |z| should still rarely exceed 3.5.
    assert (z.abs() > 3.5).mean() < 0.05, cells.with_columns(z=z).sort("z")
    assert abs(z.mean()) < 1.0
