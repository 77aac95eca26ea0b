"""Tests for ``outcomes.episodes``: per-episode change (data contract, "Output: per-episode changes").

Every dataset here is a handful of CSV rows written into a temporary folder and
read with :func:`outcomes.read_dataset`. Every expected number is worked out by
hand next to the data (or, in the property tests, by a brute-force Python loop
over the generated rows), never taken from an earlier run of the code.

Day arithmetic used throughout: 2025-01-01 + 14 days = 2025-01-15, + 15 days =
2025-01-16; January has 31 days.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import textwrap
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from outcomes import read_dataset
from outcomes.episodes import CHANGE_COLUMNS, episode_changes, primary_technique

EPISODES_HEADER = "episode_id,patient_id,condition,start_date,end_date,clinic_id,age,sex"
TREATMENTS_HEADER = "episode_id,visit_date,cpt_code,technique,minutes"
MEASUREMENTS_HEADER = "episode_id,measured_on,measure,value,side"
MEASURES_HEADER = "code,label,kind,unit,min,max,better,mcid,mcid_pct,mdc"

# The columns that must be empty on an incomplete row.
CHANGE_VALUE_COLUMNS = (
    "final",
    "final_date",
    "change",
    "improvement",
    "pct_improvement",
    "responder",
    "exceeds_mdc",
    "duration_days",
)


def D(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _text(data: str) -> str:
    return textwrap.dedent(data).strip("\n") + "\n"


def write_csvs(
    folder: Path,
    *,
    episodes: str,
    measurements: str,
    treatments: str = TREATMENTS_HEADER,
    measures: str | None = None,
) -> Path:
    """Write a dataset folder from CSV text (dedented; each table's header included in the text)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "episodes.csv").write_text(_text(episodes), encoding="utf-8")
    (folder / "treatments.csv").write_text(_text(treatments), encoding="utf-8")
    (folder / "measurements.csv").write_text(_text(measurements), encoding="utf-8")
    if measures is not None:
        (folder / "measures.csv").write_text(_text(measures), encoding="utf-8")
    return folder


def changes(folder: Path, **options: object) -> pl.DataFrame:
    """Read the dataset (which must be clean) and return its per-episode changes."""
    ds = read_dataset(folder)
    assert ds.rejected.height == 0, ds.rejected.to_dicts()
    result = episode_changes(ds, **options)  # type: ignore[arg-type]
    assert isinstance(result, pl.DataFrame)
    return result


def one_row(frame: pl.DataFrame, **keys: object) -> dict[str, object]:
    """The single row of ``frame`` matching ``keys`` (a None value matches a null)."""
    mask = pl.lit(True)
    for column, value in keys.items():
        mask = mask & (pl.col(column).is_null() if value is None else (pl.col(column) == value))
    rows = frame.filter(mask).to_dicts()
    assert len(rows) == 1, f"expected one row for {keys}, found {len(rows)}"
    return rows[0]


def series_keys(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return frame.select("episode_id", "measure", "side").rows()


# --------------------------------------------------------------------------------------------------
# baseline
# --------------------------------------------------------------------------------------------------


def test_baseline_is_first_value_on_or_after_start_and_value_before_start_is_ignored(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,2025-02-28,C1,40,female
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2024-12-31,nprs,9,
            E1,2025-01-03,nprs,7,
            E1,2025-01-10,nprs,6,
            E1,2025-01-20,nprs,4,
        """,
    )
    row = one_row(changes(folder), episode_id="E1", measure="nprs")
    # 2024-12-31 is before start_date: ignored; the first value on/after start is 7 on 2025-01-03.
    assert row["baseline"] == 7.0
    assert row["baseline_date"] == D("2025-01-03")
    assert row["final"] == 4.0
    assert row["final_date"] == D("2025-01-20")
    assert row["change"] == -3.0  # 4 - 7
    assert row["improvement"] == 3.0  # nprs: lower is better
    assert row["pct_improvement"] == pytest.approx(3 / 7 * 100)  # 42.857...
    assert row["responder"] is True  # 3 >= mcid 2
    assert row["exceeds_mdc"] is True  # 3 >= mdc 2
    assert row["duration_days"] == 17  # Jan 3 -> Jan 20
    assert row["status"] == "complete"


@pytest.mark.parametrize(
    ("window", "expected_e2"),
    [
        (14, None),  # 2025-01-16 is start + 15 days: outside the default 14-day window
        (15, (8.0, D("2025-01-16"))),
    ],
)
def test_baseline_window_boundary(tmp_path: Path, window: int, expected_e2: tuple[float, dt.date] | None) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
            E2,P2,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-15,nprs,6,
            E1,2025-01-25,nprs,3,
            E2,2025-01-16,nprs,8,
            E2,2025-01-25,nprs,5,
        """,
    )
    out = changes(folder, baseline_window_days=window)
    # E1: 2025-01-15 = start + 14 days is inside both windows (the window is inclusive).
    e1 = one_row(out, episode_id="E1")
    assert (e1["baseline"], e1["baseline_date"], e1["status"]) == (6.0, D("2025-01-15"), "complete")
    assert e1["improvement"] == 3.0  # 6 -> 3
    e2 = one_row(out, episode_id="E2")
    if expected_e2 is None:
        assert e2["status"] == "no_baseline"
        assert e2["baseline"] is None
        assert e2["baseline_date"] is None
        for column in CHANGE_VALUE_COLUMNS:
            assert e2[column] is None, column
    else:
        assert (e2["baseline"], e2["baseline_date"]) == expected_e2
        assert e2["status"] == "complete"
        assert e2["improvement"] == 3.0  # 8 -> 5
        assert e2["duration_days"] == 9  # Jan 16 -> Jan 25


def test_baseline_window_zero_only_accepts_the_start_date(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
            E2,P2,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-01,nprs,6,
            E1,2025-01-05,nprs,4,
            E2,2025-01-02,nprs,6,
            E2,2025-01-05,nprs,4,
        """,
    )
    out = changes(folder, baseline_window_days=0)
    assert one_row(out, episode_id="E1")["status"] == "complete"
    assert one_row(out, episode_id="E2")["status"] == "no_baseline"


def test_dates_before_1970_come_back_unchanged(tmp_path: Path) -> None:
    # Baseline and final dates are decoded from the (day, row) key; days before 1970-01-01 are
    # negative, so the decoding must floor, not truncate. The expected dates are the input's.
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,1969-12-20,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,1969-12-22,nprs,7,
            E1,1970-01-02,nprs,5,
            E1,1969-12-31,nprs,4,
        """,
    )
    row = one_row(changes(folder), episode_id="E1")
    assert (row["baseline"], row["baseline_date"]) == (7.0, dt.date(1969, 12, 22))
    assert (row["final"], row["final_date"]) == (5.0, dt.date(1970, 1, 2))
    assert row["duration_days"] == 11


def test_ties_on_a_date_are_broken_by_file_order(tmp_path: Path) -> None:
    # E1 and E2 hold the same values on the same dates, in opposite file order. Within a date the
    # first row in the file is the baseline, the last row in the file is the final. The final-date
    # rows come first in the file, so date order must win over file position across dates.
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
            E2,P2,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-20,nprs,3,
            E1,2025-01-20,nprs,4,
            E2,2025-01-20,nprs,4,
            E2,2025-01-20,nprs,3,
            E1,2025-01-02,nprs,6,
            E1,2025-01-02,nprs,8,
            E2,2025-01-02,nprs,8,
            E2,2025-01-02,nprs,6,
        """,
    )
    out = changes(folder)
    e1 = one_row(out, episode_id="E1")
    assert (e1["baseline"], e1["final"]) == (6.0, 4.0)
    assert e1["change"] == -2.0  # 4 - 6
    e2 = one_row(out, episode_id="E2")
    assert (e2["baseline"], e2["final"]) == (8.0, 3.0)
    assert e2["change"] == -5.0  # 3 - 8
    # Same answer on a second run.
    assert_frame_equal(changes(folder), out)


# --------------------------------------------------------------------------------------------------
# final
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("respect_end_date", "final", "final_date"),
    [(True, 5.0, D("2025-01-31")), (False, 2.0, D("2025-02-10"))],
)
def test_values_after_end_date(tmp_path: Path, respect_end_date: bool, final: float, final_date: dt.date) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,2025-01-31,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-01,nprs,7,
            E1,2025-01-20,nprs,6,
            E1,2025-01-31,nprs,5,
            E1,2025-02-10,nprs,2,
        """,
    )
    row = one_row(changes(folder, respect_end_date=respect_end_date), episode_id="E1")
    # A value on end_date itself counts (on or before end_date).
    assert (row["final"], row["final_date"]) == (final, final_date)
    assert row["change"] == final - 7.0
    assert row["duration_days"] == (final_date - D("2025-01-01")).days  # 30 or 40


def test_respect_end_date_can_leave_no_followup(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,2025-01-10,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-02,nprs,7,
            E1,2025-01-15,nprs,3,
        """,
    )
    assert one_row(changes(folder), episode_id="E1")["status"] == "no_followup"
    row = one_row(changes(folder, respect_end_date=False), episode_id="E1")
    assert row["status"] == "complete"
    assert row["improvement"] == 4.0  # 7 -> 3


def test_open_episode_takes_the_last_value(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-06-01,nprs,3,
            E1,2025-01-01,nprs,8,
            E1,2025-03-01,nprs,6,
        """,
    )
    row = one_row(changes(folder), episode_id="E1")
    assert (row["final"], row["final_date"]) == (3.0, D("2025-06-01"))
    assert row["change"] == -5.0  # 3 - 8
    assert row["duration_days"] == 151  # Jan 31 + Feb 28 + Mar 31 + Apr 30 + May 31


@pytest.mark.parametrize(
    ("min_followup_days", "status", "final"),
    [(1, "complete", 5.0), (2, "complete", 5.0), (3, "no_followup", None)],
)
def test_min_followup_days(tmp_path: Path, min_followup_days: int, status: str, final: float | None) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
            E2,P2,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-01,nprs,7,
            E1,2025-01-03,nprs,5,
            E2,2025-01-01,nprs,7,
            E2,2025-01-02,nprs,5,
            E2,2025-01-04,nprs,6,
        """,
    )
    out = changes(folder, min_followup_days=min_followup_days)
    e1 = one_row(out, episode_id="E1")
    # E1: the only later value is 2 days after the baseline.
    assert (e1["status"], e1["final"]) == (status, final)
    # E2: the last value (Jan 4, 3 days after) qualifies for every option: final is 6, never 5.
    e2 = one_row(out, episode_id="E2")
    assert (e2["status"], e2["final"], e2["final_date"]) == ("complete", 6.0, D("2025-01-04"))


def test_same_day_as_baseline_is_not_a_followup(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-01,nprs,7,
            E1,2025-01-01,nprs,3,
        """,
    )
    row = one_row(changes(folder), episode_id="E1")
    assert row["status"] == "no_followup"
    assert row["baseline"] == 7.0  # first row of the date


@pytest.mark.parametrize(("option", "value"), [("baseline_window_days", -1), ("min_followup_days", 0)])
def test_invalid_options_are_rejected(tmp_path: Path, option: str, value: int) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-01,nprs,7,
        """,
    )
    with pytest.raises(ValueError, match=option):
        episode_changes(read_dataset(folder), **{option: value})  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# status and completeness
# --------------------------------------------------------------------------------------------------


def test_statuses_incomplete_rows_and_one_row_per_series(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,2025-03-01,C1,40,female
            E2,P2,low_back_pain,2025-01-01,2025-03-01,C2,55,male
            E3,P3,knee_osteoarthritis,2025-01-01,,C1,67,female
            E4,P4,neck_pain,2025-01-01,2025-01-20,C2,30,male
            E5,P5,neck_pain,2025-01-01,2025-03-01,C1,22,other
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-01,nprs,6,
            E1,2025-02-01,nprs,2,
            E2,2024-12-20,nprs,8,
            E2,2025-01-20,nprs,5,
            E2,2025-02-01,nprs,4,
            E3,2025-01-05,lefs,30,
            E4,2025-01-02,nprs,7,
            E4,2025-02-01,nprs,3,
            E1,2025-01-01,lefs,40,
        """,
    )
    out = changes(folder)
    # E5 has no measurement: no row. Every other (episode, measure, side) exactly once.
    assert sorted(series_keys(out)) == [
        ("E1", "lefs", None),
        ("E1", "nprs", None),
        ("E2", "nprs", None),
        ("E3", "lefs", None),
        ("E4", "nprs", None),
    ]
    assert out.height == 5

    e1 = one_row(out, episode_id="E1", measure="nprs")
    assert e1["status"] == "complete"
    assert e1["improvement"] == 4.0  # 6 -> 2

    # E1 lefs: a single value -> no follow-up.
    e1_lefs = one_row(out, episode_id="E1", measure="lefs")
    assert e1_lefs["status"] == "no_followup"
    assert (e1_lefs["baseline"], e1_lefs["baseline_date"]) == (40.0, D("2025-01-01"))

    # E2: a value before start (ignored) and values from day 19 on: no baseline in 14 days.
    e2 = one_row(out, episode_id="E2")
    assert e2["status"] == "no_baseline"
    assert (e2["baseline"], e2["baseline_date"]) == (None, None)
    assert (e2["patient_id"], e2["condition"], e2["clinic_id"], e2["age"], e2["sex"]) == (
        "P2",
        "low_back_pain",
        "C2",
        55,
        "male",
    )

    # E3: one value -> no follow-up; E4: the only later value is after end_date -> no follow-up.
    e3 = one_row(out, episode_id="E3")
    assert e3["status"] == "no_followup"
    assert (e3["baseline"], e3["baseline_date"]) == (30.0, D("2025-01-05"))
    assert (e3["patient_id"], e3["condition"], e3["clinic_id"], e3["age"], e3["sex"]) == (
        "P3",
        "knee_osteoarthritis",
        "C1",
        67,
        "female",
    )
    assert e3["end_date"] is None
    e4 = one_row(out, episode_id="E4")
    assert e4["status"] == "no_followup"
    assert e4["baseline"] == 7.0

    for row in (e1_lefs, e2, e3, e4):
        for column in CHANGE_VALUE_COLUMNS:
            assert row[column] is None, (row["episode_id"], column)
        assert row["n_visits"] == 0  # no treatments in this dataset
    assert set(out["status"].to_list()) <= {"complete", "no_baseline", "no_followup"}


def test_output_columns_follow_the_contract(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER},payer
            E1,P1,neck_pain,2025-01-01,,,,,acme
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-01,nprs,7,
            E1,2025-01-08,nprs,4,
        """,
    )
    out = changes(folder)
    expected_tail = [
        "technique",
        "measure",
        "side",
        "baseline",
        "baseline_date",
        "final",
        "final_date",
        "change",
        "improvement",
        "pct_improvement",
        "responder",
        "responder_rule",
        "exceeds_mdc",
        "n_visits",
        "duration_days",
        "status",
    ]
    assert list(CHANGE_COLUMNS) == expected_tail[1:]
    assert out.columns[-len(expected_tail) :] == expected_tail
    for column in ("episode_id", "patient_id", "condition", "start_date", "end_date", "clinic_id", "payer"):
        assert column in out.columns
    assert "row" not in out.columns
    assert one_row(out, episode_id="E1")["payer"] == "acme"


def test_lazy_option_returns_the_same_table(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
            E2,P2,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-01,nprs,7,
            E1,2025-01-08,nprs,4,
            E2,2025-01-20,nprs,4,
        """,
    )
    ds = read_dataset(folder)
    lazy = episode_changes(ds, lazy=True)
    assert isinstance(lazy, pl.LazyFrame)
    collected = lazy.collect()
    assert collected.height == 2
    assert_frame_equal(collected, episode_changes(ds))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# change, improvement, pct_improvement, responder, exceeds_mdc
# --------------------------------------------------------------------------------------------------


# measure, side, baseline, final, improvement, pct_improvement, responder, exceeds_mdc
CASES = [
    # nprs (lower better, mcid 2, mcid_pct 30, mdc 2)
    ("nprs", "", "7", "5", 2.0, 2 / 7 * 100, True, True),  # 2 points (28.6 %): responder by points only
    ("nprs", "", "7", "6", 1.0, 1 / 7 * 100, False, False),  # 1 point, 14.3 %
    ("nprs", "", "3", "2", 1.0, 1 / 3 * 100, True, False),  # 1 point but 33.3 %: responder by percent only
    ("nprs", "", "4", "6", -2.0, -2 / 4 * 100, False, False),  # got worse
    ("nprs", "", "0", "3", -3.0, None, False, False),  # baseline 0: no percent
    # lefs (higher better, mcid 9, mdc 9)
    ("lefs", "", "40", "49", 9.0, 9 / 40 * 100, True, True),  # exactly the mcid
    ("lefs", "", "40", "48", 8.0, 8 / 40 * 100, False, False),
    ("lefs", "", "50", "45", -5.0, -5 / 50 * 100, False, False),
    ("lefs", "", "0", "10", 10.0, None, True, True),  # baseline 0: no percent, responder by points
    # psfs (higher better, mcid 2, no mcid_pct, no mdc); 5.3 - 3.3 = 2 exactly (1.9999999999999996 in floats)
    ("psfs", "", "3.3", "5.3", 2.0, 2 / 3.3 * 100, True, None),
    ("psfs", "", "3.3", "5.2", 1.9, 1.9 / 3.3 * 100, False, None),
    # vas (lower better, mcid 15, mcid_pct 30, no mdc)
    ("vas", "", "50", "35", 15.0, 15 / 50 * 100, True, None),
    ("vas", "", "60", "46", 14.0, 14 / 60 * 100, False, None),
    # 23 -> 16.1: 6.9 mm = exactly 30 % of 23 (29.999999999999993 in floats): responder by percent
    ("vas", "", "23", "16.1", 6.9, 30.0, True, None),
    ("vas", "", "23", "16.2", 6.8, 6.8 / 23 * 100, False, None),  # 29.57 %
    # rom_shoulder_flexion (higher better, mdc 8, no mcid): responder empty
    ("rom_shoulder_flexion", "left", "100", "108", 8.0, 8.0, None, True),
    ("rom_shoulder_flexion", "right", "100", "107", 7.0, 7.0, None, False),
    ("rom_shoulder_flexion", "left", "120", "110", -10.0, -10 / 120 * 100, None, False),
]


@pytest.mark.parametrize(
    ("measure", "side", "baseline", "final", "improvement", "pct", "responder", "exceeds_mdc"),
    CASES,
    ids=[f"{c[0]}-{c[2]}-{c[3]}" for c in CASES],
)
def test_change_improvement_responder_mdc(
    tmp_path: Path,
    measure: str,
    side: str,
    baseline: str,
    final: str,
    improvement: float,
    pct: float | None,
    responder: bool | None,
    exceeds_mdc: bool | None,
) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-02,{measure},{baseline},{side}
            E1,2025-01-30,{measure},{final},{side}
        """,
    )
    out = changes(folder)
    assert out.height == 1
    row = out.row(0, named=True)
    assert row["measure"] == measure
    assert row["side"] == (side or None)
    assert row["status"] == "complete"
    assert row["baseline"] == float(baseline)
    assert row["final"] == float(final)
    lower_better = measure in {"nprs", "vas"}
    assert row["change"] == pytest.approx(-improvement if lower_better else improvement)
    assert row["improvement"] == pytest.approx(improvement)
    if pct is None:
        assert row["pct_improvement"] is None
    else:
        assert row["pct_improvement"] == pytest.approx(pct)
    assert row["responder"] is responder
    assert row["exceeds_mdc"] is exceeds_mdc
    assert row["duration_days"] == 28  # Jan 2 -> Jan 30


def test_rom_sides_are_separate_rows_and_other_measures_have_no_side(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,adhesive_capsulitis,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-02,rom_shoulder_flexion,90,left
            E1,2025-01-02,rom_shoulder_flexion,120,right
            E1,2025-01-02,nprs,6,
            E1,2025-02-02,rom_shoulder_flexion,110,left
            E1,2025-02-02,rom_shoulder_flexion,125,right
            E1,2025-02-02,nprs,3,
        """,
    )
    out = changes(folder)
    assert sorted(series_keys(out), key=str) == sorted(
        [("E1", "nprs", None), ("E1", "rom_shoulder_flexion", "left"), ("E1", "rom_shoulder_flexion", "right")],
        key=str,
    )
    left = one_row(out, measure="rom_shoulder_flexion", side="left")
    assert (left["baseline"], left["final"], left["improvement"]) == (90.0, 110.0, 20.0)
    assert left["exceeds_mdc"] is True  # 20 >= 8
    assert left["responder"] is None  # no mcid for ROM
    right = one_row(out, measure="rom_shoulder_flexion", side="right")
    assert (right["baseline"], right["final"], right["improvement"]) == (120.0, 125.0, 5.0)
    assert right["exceeds_mdc"] is False  # 5 < 8
    assert right["pct_improvement"] == pytest.approx(5 / 120 * 100)
    nprs = one_row(out, measure="nprs")
    assert nprs["side"] is None
    assert (nprs["baseline"], nprs["final"], nprs["improvement"]) == (6.0, 3.0, 3.0)


def test_rom_side_with_only_one_measurement_stays_incomplete(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,adhesive_capsulitis,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-02,rom_shoulder_flexion,90,left
            E1,2025-01-02,rom_shoulder_flexion,120,right
            E1,2025-02-02,rom_shoulder_flexion,110,left
        """,
    )
    out = changes(folder)
    assert out.height == 2
    assert one_row(out, side="left")["status"] == "complete"
    right = one_row(out, side="right")
    assert (right["status"], right["baseline"], right["final"]) == ("no_followup", 120.0, None)


# --------------------------------------------------------------------------------------------------
# dataset measure catalog
# --------------------------------------------------------------------------------------------------


def test_custom_measure_from_the_dataset_catalog(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,lateral_epicondylitis,2025-01-01,,,,
            E2,P2,lateral_epicondylitis,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-02,grip_kg,20,
            E1,2025-02-02,grip_kg,26,
            E2,2025-01-02,grip_kg,20,
            E2,2025-02-02,grip_kg,24,
        """,
        measures=f"""
            {MEASURES_HEADER}
            grip_kg,Grip strength,other,kg,0,100,higher,5,,
        """,
    )
    out = changes(folder)
    e1 = one_row(out, episode_id="E1", measure="grip_kg")
    assert (e1["improvement"], e1["pct_improvement"]) == (6.0, pytest.approx(6 / 20 * 100))
    assert e1["responder"] is True  # 6 >= 5
    assert e1["exceeds_mdc"] is None  # no mdc in the row
    assert e1["side"] is None
    e2 = one_row(out, episode_id="E2", measure="grip_kg")
    assert e2["improvement"] == 4.0
    assert e2["responder"] is False  # 4 < 5


def test_dataset_catalog_overrides_a_builtin_measure(tmp_path: Path) -> None:
    # nprs 7 -> 5 is a responder with the built-in mcid 2; with mcid 3 and no mcid_pct it is not.
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,,,,
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-02,nprs,7,
            E1,2025-02-02,nprs,5,
        """,
        measures=f"""
            {MEASURES_HEADER}
            nprs,Numeric Pain Rating Scale,pain,points,0,10,lower,3,,1
        """,
    )
    row = one_row(changes(folder), episode_id="E1")
    assert row["improvement"] == 2.0
    assert row["responder"] is False  # 2 < 3
    assert row["exceeds_mdc"] is True  # 2 >= 1


# --------------------------------------------------------------------------------------------------
# n_visits, duration_days, technique
# --------------------------------------------------------------------------------------------------


def test_n_visits_counts_distinct_visit_dates(tmp_path: Path) -> None:
    folder = write_csvs(
        tmp_path,
        episodes=f"""
            {EPISODES_HEADER}
            E1,P1,neck_pain,2025-01-01,2025-03-01,,,
            E2,P2,neck_pain,2025-01-01,2025-03-01,,,
        """,
        treatments=f"""
            {TREATMENTS_HEADER}
            E1,2025-01-02,97140,joint_mobilization,15
            E1,2025-01-02,97110,therapeutic_exercise,15
            E1,2025-01-09,97140,joint_mobilization,15
            E1,2025-01-16,97110,therapeutic_exercise,20
        """,
        measurements=f"""
            {MEASUREMENTS_HEADER}
            E1,2025-01-01,nprs,6,
            E1,2025-01-29,nprs,2,
            E1,2025-01-01,lefs,30,
            E2,2025-01-03,nprs,6,
            E2,2025-01-10,nprs,5,
        """,
    )
    out = changes(folder)
    # E1: visits on Jan 2 (two techniques), Jan 9, Jan 16 -> 3 distinct dates, on every row of E1.
    e1 = one_row(out, episode_id="E1", measure="nprs")
    assert e1["n_visits"] == 3
    assert one_row(out, episode_id="E1", measure="lefs")["n_visits"] == 3
    assert e1["duration_days"] == 28  # Jan 1 -> Jan 29
    # E2: no treatments.
    e2 = one_row(out, episode_id="E2")
    assert e2["n_visits"] == 0
    assert e2["technique"] is None
    assert e2["duration_days"] == 7


PRIMARY_TREATMENTS = f"""
    {TREATMENTS_HEADER}
    E1,2025-01-02,97110,therapeutic_exercise,25
    E1,2025-01-05,97140,joint_mobilization,15
    E1,2025-01-09,97140,joint_mobilization,15
    E2,2025-01-02,97140,manipulation,
    E2,2025-01-03,97140,manipulation,
    E2,2025-01-04,97140,manipulation,
    E2,2025-01-05,97124,massage,5
    E3,2025-01-05,97140,iastm,20
    E3,2025-01-03,97140,soft_tissue_mobilization,10
    E3,2025-01-06,97140,soft_tissue_mobilization,10
    E4,2025-01-03,97140,myofascial_release,10
    E4,2025-01-03,97140,joint_mobilization,10
"""

# Worked out by hand:
# E1: joint_mobilization 15 + 15 = 30 min > therapeutic_exercise 25 (used first) -> joint_mobilization
# E2: manipulation 3 visits with no minutes = 0 min < massage 5 min -> massage
# E3: iastm 20 = soft_tissue_mobilization 10 + 10; soft tissue first used Jan 3 < Jan 5 -> soft_tissue_mobilization
#     (the name would pick iastm)
# E4: 10 = 10, both first used Jan 3 -> by name: joint_mobilization < myofascial_release (file order says myofascial)
# E5: no treatments -> empty
PRIMARY_EXPECTED = {
    "E1": "joint_mobilization",
    "E2": "massage",
    "E3": "soft_tissue_mobilization",
    "E4": "joint_mobilization",
    "E5": None,
}


def _primary_dataset(tmp_path: Path) -> Path:
    episodes = "\n".join([EPISODES_HEADER] + [f"E{i},P{i},neck_pain,2025-01-01,2025-03-01,,," for i in range(1, 6)])
    measurements = "\n".join(
        [MEASUREMENTS_HEADER] + [f"E{i},2025-01-02,nprs,{i + 4},\nE{i},2025-02-01,nprs,{i}," for i in range(1, 6)]
    )
    return write_csvs(tmp_path, episodes=episodes, treatments=PRIMARY_TREATMENTS, measurements=measurements)


def test_primary_technique_in_episode_changes(tmp_path: Path) -> None:
    out = changes(_primary_dataset(tmp_path))
    assert out.height == 5
    assert dict(out.select("episode_id", "technique").rows()) == PRIMARY_EXPECTED
    # Each episode i went nprs (i + 4) -> i: improvement 4.
    assert out["improvement"].to_list() == [4.0] * 5


def test_primary_technique_function(tmp_path: Path) -> None:
    ds = read_dataset(_primary_dataset(tmp_path))
    result = primary_technique(ds.treatments)
    assert isinstance(result, pl.LazyFrame)
    got = result.collect()
    assert got.height == 4  # E5 has no treatments and no row
    assert dict(got.rows()) == {k: v for k, v in PRIMARY_EXPECTED.items() if v is not None}


def test_per_technique_gives_one_row_per_technique_received(tmp_path: Path) -> None:
    out = changes(_primary_dataset(tmp_path), per_technique=True)
    got = sorted(out.select("episode_id", "technique").rows(), key=str)
    expected = [
        ("E1", "joint_mobilization"),
        ("E1", "therapeutic_exercise"),
        ("E2", "manipulation"),
        ("E2", "massage"),
        ("E3", "iastm"),
        ("E3", "soft_tissue_mobilization"),
        ("E4", "joint_mobilization"),
        ("E4", "myofascial_release"),
        ("E5", None),  # no treatments: the episode keeps one row, with an empty technique
    ]
    assert got == sorted(expected, key=str)
    # The change values do not depend on the technique: episode i went (i + 4) -> i.
    for row in out.iter_rows(named=True):
        i = int(str(row["episode_id"])[1:])
        assert (row["baseline"], row["final"], row["change"], row["improvement"]) == (i + 4.0, float(i), -4.0, 4.0)
        assert row["status"] == "complete"
    # Visits of E1: Jan 2, 5, 9; of E2: Jan 2, 3, 4, 5; of E3: Jan 3, 5, 6; of E4: Jan 3.
    n_visits = dict(out.select("episode_id", "n_visits").unique().rows())
    assert n_visits == {"E1": 3, "E2": 4, "E3": 3, "E4": 1, "E5": 0}


# --------------------------------------------------------------------------------------------------
# property tests on random small datasets
# --------------------------------------------------------------------------------------------------

TECHNIQUES = ("joint_mobilization", "therapeutic_exercise", "massage", "manipulation")
RANGES = {"nprs": (0, 10), "lefs": (0, 80)}
BUILTIN_ROWS = {
    "nprs": ("Numeric Pain Rating Scale", "pain", "points", "lower", "2", "30", "2"),
    "lefs": ("Lower Extremity Functional Scale", "function", "points", "higher", "9", "", "9"),
}
THRESHOLDS = {"nprs": (2, 30, 2), "lefs": (9, None, 9)}  # mcid, mcid_pct, mdc
DAY0 = dt.date(2025, 1, 1)
# Values that make a baseline of 0 or a change of exactly the mcid / mdc likely.
SPECIAL_VALUES = {"nprs": [0, 2, 4, 7], "lefs": [0, 9, 18, 40, 49]}


@st.composite
def datasets(draw: st.DrawFn, *, distinct_dates: bool) -> dict[str, list[tuple[object, ...]]]:
    """A small valid dataset as rows: episodes (id, start, end), treatments, measurements.

    With ``distinct_dates`` every (episode, measure) has its values on distinct dates, so no tie
    depends on file order. Otherwise dates may repeat (values then differ, so no row is an exact
    duplicate).
    """
    n_episodes = draw(st.integers(1, 4))
    episodes, treatments, measurements = [], [], []
    for i in range(n_episodes):
        eid = f"E{i + 1}"
        start = DAY0 + dt.timedelta(days=draw(st.integers(0, 20)))
        length = draw(st.one_of(st.none(), st.integers(0, 60)))
        end = None if length is None else start + dt.timedelta(days=length)
        episodes.append((eid, start, end))
        # Few distinct days and minutes, so that ties on minutes and first use happen.
        last_visit = length if length is not None else 60
        visit_days = st.sampled_from(sorted({min(day, last_visit) for day in (0, 1, 2, last_visit)}))
        for _ in range(draw(st.integers(0, 4))):
            day = draw(visit_days)
            technique = draw(st.sampled_from(TECHNIQUES))
            minutes = draw(st.sampled_from([None, 5, 10, 15, 25]))
            treatments.append((eid, start + dt.timedelta(days=day), technique, minutes))
        # Measurement days come from a small pool per episode, biased to the boundaries: before the
        # start, the start, the first days (min_followup_days), the end of the default baseline
        # window, and the end date; so ties on a date and boundary cases are frequent.
        specials = [-1, 0, 1, 2, 3, 14, 15] + ([length, length + 1] if length is not None else [])
        early = draw(st.sampled_from([0, 1, 2, 3, 14, 15, -1]))
        later = st.one_of(st.sampled_from(specials), st.integers(-5, 60))
        pool = sorted({early, *draw(st.lists(later, min_size=1, max_size=3))})
        for measure, (low, high) in RANGES.items():
            value = st.one_of(st.sampled_from(SPECIAL_VALUES[measure]), st.integers(low, high))
            points = st.tuples(st.sampled_from(pool), value)
            if distinct_dates:
                values = draw(st.lists(points, max_size=len(pool), unique_by=lambda p: p[0]))
            else:
                values = draw(st.lists(points, max_size=6, unique=True))
            for day, v in values:
                measurements.append((eid, start + dt.timedelta(days=day), measure, v))
    # File order of the measurements and treatments is itself random.
    measurements = draw(st.permutations(measurements))
    treatments = draw(st.permutations(treatments))
    return {"episodes": episodes, "treatments": treatments, "measurements": measurements}


def write_rows(folder: Path, data: dict[str, list[tuple[object, ...]]], measures: str | None = None) -> Path:
    def cell(value: object) -> str:
        return "" if value is None else str(value)

    episodes = [EPISODES_HEADER] + [f"{e},P{e},neck_pain,{s},{cell(end)},,," for e, s, end in data["episodes"]]
    treatments = [TREATMENTS_HEADER] + [f"{e},{d},97140,{t},{cell(m)}" for e, d, t, m in data["treatments"]]
    measurements = [MEASUREMENTS_HEADER] + [f"{e},{d},{m},{v}," for e, d, m, v in data["measurements"]]
    return write_csvs(
        folder,
        episodes="\n".join(episodes),
        treatments="\n".join(treatments),
        measurements="\n".join(measurements),
        measures=measures,
    )


def catalog_override(measure: str, *, better: str | None = None, high: int | None = None) -> str:
    label, kind, unit, default_better, mcid, mcid_pct, mdc = BUILTIN_ROWS[measure]
    low, default_high = RANGES[measure]
    return (
        f"{MEASURES_HEADER}\n"
        f"{measure},{label},{kind},{unit},{low},{high if high is not None else default_high},"
        f"{better or default_better},{mcid},{mcid_pct},{mdc}\n"
    )


def sorted_changes(folder: Path, **options: object) -> pl.DataFrame:
    return changes(folder, **options).sort("episode_id", "measure", "side", "technique", nulls_last=False)


PROPERTY_SETTINGS = settings(derandomize=True, max_examples=30, deadline=None)


@PROPERTY_SETTINGS
@given(data=datasets(distinct_dates=True), seed=st.integers(0, 2**32 - 1))
def test_property_row_order_does_not_matter(data: dict[str, list[tuple[object, ...]]], seed: int) -> None:
    rng = random.Random(seed)
    shuffled = {
        "episodes": data["episodes"],
        "treatments": rng.sample(data["treatments"], len(data["treatments"])),
        "measurements": rng.sample(data["measurements"], len(data["measurements"])),
    }
    with tempfile.TemporaryDirectory() as tmp:
        original = sorted_changes(write_rows(Path(tmp) / "a", data))
        reordered = sorted_changes(write_rows(Path(tmp) / "b", shuffled))
        assert_frame_equal(original, reordered)
        original_pt = sorted_changes(Path(tmp) / "a", per_technique=True)
        reordered_pt = sorted_changes(Path(tmp) / "b", per_technique=True)
        assert_frame_equal(original_pt, reordered_pt)


@PROPERTY_SETTINGS
@given(data=datasets(distinct_dates=False), measure=st.sampled_from(sorted(RANGES)))
def test_property_flipping_better_flips_improvement(data: dict[str, list[tuple[object, ...]]], measure: str) -> None:
    flipped_better = "higher" if BUILTIN_ROWS[measure][3] == "lower" else "lower"
    with tempfile.TemporaryDirectory() as tmp:
        plain = sorted_changes(write_rows(Path(tmp) / "a", data))
        flipped = sorted_changes(write_rows(Path(tmp) / "b", data, catalog_override(measure, better=flipped_better)))
    assert series_keys(plain) == series_keys(flipped)
    for a, b in zip(plain.iter_rows(named=True), flipped.iter_rows(named=True), strict=True):
        for column in ("status", "baseline", "final", "change"):
            assert a[column] == b[column], column
        if a["status"] != "complete":
            assert a["improvement"] is None
            assert b["improvement"] is None
            continue
        # Values are integers: change and improvement are exact.
        sign = -1 if BUILTIN_ROWS[a["measure"]][3] == "lower" else 1
        assert a["improvement"] == sign * (a["final"] - a["baseline"])
        if a["measure"] == measure:
            assert b["improvement"] == -a["improvement"]
            assert abs(b["improvement"]) == abs(a["improvement"])
        else:
            assert b["improvement"] == a["improvement"]


@PROPERTY_SETTINGS
@given(data=datasets(distinct_dates=False), measure=st.sampled_from(sorted(RANGES)), shift=st.integers(1, 50))
def test_property_shifting_values_keeps_change(
    data: dict[str, list[tuple[object, ...]]], measure: str, shift: int
) -> None:
    shifted_rows = [(e, d, m, v + shift if m == measure else v) for e, d, m, v in data["measurements"]]  # type: ignore[operator]
    shifted = {**data, "measurements": shifted_rows}
    high = RANGES[measure][1] + shift
    with tempfile.TemporaryDirectory() as tmp:
        plain = sorted_changes(write_rows(Path(tmp) / "a", data))
        moved = sorted_changes(write_rows(Path(tmp) / "b", shifted, catalog_override(measure, high=high)))
    assert series_keys(plain) == series_keys(moved)
    for a, b in zip(plain.iter_rows(named=True), moved.iter_rows(named=True), strict=True):
        offset = shift if a["measure"] == measure else 0
        assert a["status"] == b["status"]
        assert (a["baseline_date"], a["final_date"]) == (b["baseline_date"], b["final_date"])
        if a["baseline"] is not None:
            assert b["baseline"] == a["baseline"] + offset
        if a["final"] is not None:
            assert b["final"] == a["final"] + offset
        assert (a["change"], a["improvement"]) == (b["change"], b["improvement"])


@PROPERTY_SETTINGS
@given(data=datasets(distinct_dates=False))
def test_property_every_measured_series_appears_exactly_once(data: dict[str, list[tuple[object, ...]]]) -> None:
    expected = {(e, m, None) for e, _, m, _ in data["measurements"]}
    with tempfile.TemporaryDirectory() as tmp:
        out = changes(write_rows(Path(tmp) / "a", data))
    keys = series_keys(out)
    assert len(keys) == len(set(keys))
    assert set(keys) == expected
    for measure in RANGES:
        measured = {e for e, _, m, _ in data["measurements"] if m == measure}
        assert set(out.filter(pl.col("measure") == measure)["episode_id"].to_list()) == measured


def brute_force(
    data: dict[str, list[tuple[object, ...]]], *, window: int, min_followup: int, respect_end: bool
) -> dict[tuple[object, object], dict[str, object]]:
    """The contract's rules, by plain loops over the rows in file order."""
    starts = {e: s for e, s, _ in data["episodes"]}
    ends = {e: end for e, _, end in data["episodes"]}
    visits: dict[object, set[object]] = {}
    minutes: dict[object, dict[object, list[object]]] = {}
    for e, d, t, m in data["treatments"]:
        visits.setdefault(e, set()).add(d)
        totals = minutes.setdefault(e, {})
        if t not in totals:
            totals[t] = [0, d]
        totals[t][0] += m or 0  # type: ignore[operator]
        totals[t][1] = min(totals[t][1], d)  # type: ignore[type-var]
    result = {}
    for e, measure in {(e, m) for e, _, m, _ in data["measurements"]}:
        rows = [(d, pos, v) for pos, (e2, d, m, v) in enumerate(data["measurements"]) if (e2, m) == (e, measure)]
        start, end = starts[e], ends[e]
        base = None
        for d, pos, v in rows:
            if start <= d <= start + dt.timedelta(days=window) and (base is None or (d, pos) < base[:2]):  # type: ignore[operator]
                base = (d, pos, v)
        final = None
        if base is not None:
            for d, pos, v in rows:
                if d < base[0] + dt.timedelta(days=min_followup):  # type: ignore[operator]
                    continue
                if respect_end and end is not None and d > end:  # type: ignore[operator]
                    continue
                if final is None or (d, pos) > final[:2]:
                    final = (d, pos, v)
        expected: dict[str, object] = {
            "baseline": None if base is None else base[2],
            "final": None if final is None else final[2],
            "n_visits": len(visits.get(e, set())),
        }
        totals = minutes.get(e, {})
        best = None
        for t, (total, first) in totals.items():
            key = (-total, first, t)  # type: ignore[operator]
            if best is None or key < best:
                best = key
        expected["technique"] = None if best is None else best[2]
        if base is None:
            expected["status"] = "no_baseline"
        elif final is None:
            expected["status"] = "no_followup"
        else:
            expected["status"] = "complete"
            b, f = base[2], final[2]
            improvement = (b - f) if measure == "nprs" else (f - b)  # type: ignore[operator]
            mcid, mcid_pct, mdc = THRESHOLDS[measure]  # type: ignore[index]
            pct = None if b == 0 else Fraction(improvement * 100, abs(b))  # type: ignore[arg-type]
            expected["change"] = f - b  # type: ignore[operator]
            expected["improvement"] = improvement
            expected["pct"] = pct
            by_percent = mcid_pct is not None and pct is not None and pct >= mcid_pct
            expected["responder"] = improvement >= mcid or by_percent
            expected["exceeds_mdc"] = improvement >= mdc
            expected["duration_days"] = (final[0] - base[0]).days  # type: ignore[operator]
        result[(e, measure)] = expected
    return result


@PROPERTY_SETTINGS
@given(
    data=datasets(distinct_dates=False),
    window=st.one_of(st.just(14), st.integers(0, 20)),
    min_followup=st.integers(1, 5),
    respect_end=st.booleans(),
)
def test_property_matches_a_brute_force_loop(
    data: dict[str, list[tuple[object, ...]]], window: int, min_followup: int, respect_end: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = changes(
            write_rows(Path(tmp) / "a", data),
            baseline_window_days=window,
            min_followup_days=min_followup,
            respect_end_date=respect_end,
        )
    expected = brute_force(data, window=window, min_followup=min_followup, respect_end=respect_end)
    assert out.height == len(expected)
    for row in out.iter_rows(named=True):
        want = expected[(row["episode_id"], row["measure"])]
        assert row["side"] is None
        assert row["status"] == want["status"]
        assert row["baseline"] == want["baseline"]
        assert row["final"] == want["final"]
        assert row["n_visits"] == want["n_visits"]
        assert row["technique"] == want["technique"]
        if want["status"] != "complete":
            for column in ("change", "improvement", "pct_improvement", "responder", "exceeds_mdc", "duration_days"):
                assert row[column] is None, column
            continue
        assert row["change"] == want["change"]
        assert row["improvement"] == want["improvement"]
        if want["pct"] is None:
            assert row["pct_improvement"] is None
        else:
            assert row["pct_improvement"] == pytest.approx(float(want["pct"]))  # type: ignore[arg-type]
        assert row["responder"] is want["responder"]
        assert row["exceeds_mdc"] is want["exceeds_mdc"]
        assert row["duration_days"] == want["duration_days"]
