"""Trajectories by week: hand-checked on a tiny dataset, and against scipy on the demo data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from outcomes import read_dataset, trajectories
from outcomes.synth import demo_dataset_path

EPISODES = """episode_id,patient_id,condition,start_date,end_date
E1,P1,low_back_pain,2025-01-01,2025-02-01
E2,P2,low_back_pain,2025-01-03,2025-02-01
E3,P3,neck_pain,2025-01-01,2025-02-01
"""
TREATMENTS = """episode_id,visit_date,cpt_code,technique,minutes
E1,2025-01-01,97140,joint_mobilization,20
E2,2025-01-03,97140,joint_mobilization,20
E3,2025-01-01,97140,manipulation,20
"""
# E1: day 0 (8), day 3 (7, same week: the later value counts), day 7 (5), day 20 (3)
# E2: day 0 (6), day 9 (4); a value the day before the start is left out
# E3: day 0 (9)
MEASUREMENTS = """episode_id,measured_on,measure,value
E1,2025-01-01,nprs,8
E1,2025-01-04,nprs,7
E1,2025-01-08,nprs,5
E1,2025-01-21,nprs,3
E2,2025-01-02,nprs,9
E2,2025-01-03,nprs,6
E2,2025-01-12,nprs,4
E3,2025-01-01,nprs,9
E3,2025-01-01,lefs,40
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "episodes.csv").write_text(EPISODES)
    (tmp_path / "treatments.csv").write_text(TREATMENTS)
    (tmp_path / "measurements.csv").write_text(MEASUREMENTS)
    return tmp_path


def test_weekly_means_by_hand(tiny: Path) -> None:
    tr = trajectories(read_dataset(tiny), by="condition", min_cell=1).table
    lbp = tr.filter(condition="low_back_pain").select("week", "n_episodes", "mean").rows()
    # week 0: E1 last value 7, E2 6 -> 6.5; week 1: E1 5, E2 4 -> 4.5; week 2: E1 3
    assert lbp == [(0, 2, 6.5), (1, 2, 4.5), (2, 1, 3.0)]
    neck = tr.filter(condition="neck_pain").select("week", "n_episodes", "mean").rows()
    assert neck == [(0, 1, 9.0)]
    assert tr.filter(condition="neck_pain", week=0)["ci_low"].item() is None  # one value: no interval


def test_grouped_by_primary_technique_and_suppressed(tiny: Path) -> None:
    tr = trajectories(read_dataset(tiny), by="technique", min_cell=2).table
    row = tr.filter(technique="joint_mobilization", week=2).row(0, named=True)
    assert row["n_episodes"] == 1
    assert row["suppressed"] is True
    assert row["mean"] is None
    assert tr.filter(technique="joint_mobilization", week=0)["mean"].item() == 6.5


def test_interval_matches_scipy_on_demo() -> None:
    ds = read_dataset(demo_dataset_path())
    tr = trajectories(ds, by=(), measure="nprs").table
    ep = ds.episodes.select("episode_id", "start_date")
    m = (
        ds.measurements.filter(measure="nprs")
        .join(ep, on="episode_id")
        .with_columns(((pl.col("measured_on") - pl.col("start_date")).dt.total_days() // 7).alias("week"))
        .sort("measured_on", "row")
        .group_by("episode_id", "week")
        .agg(pl.col("value").last())
    )
    for week in (0, 3, 6):
        values = m.filter(week=week)["value"].to_numpy()
        row = tr.filter(week=week).row(0, named=True)
        assert row["n_episodes"] == values.size
        assert row["mean"] == pytest.approx(values.mean(), rel=1e-12)
        ci = stats.ttest_1samp(values, 0).confidence_interval(0.95)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)
    # pain falls over the first weeks of care in the demo data
    means = tr.filter(pl.col("week") <= 4)["mean"].to_numpy()
    assert np.all(np.diff(means) < 0)


def test_unknown_measure_or_column(tiny: Path) -> None:
    ds = read_dataset(tiny)
    with pytest.raises(ValueError, match="unknown measure"):
        trajectories(ds, measure="pain")
    with pytest.raises(ValueError, match="no episode column"):
        trajectories(ds, by="clinic")
