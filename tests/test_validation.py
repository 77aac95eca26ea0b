"""Validation of a dataset against the data contract (docs: data-contract.md, "Input" and "Bad input").

One small hand-written dataset per rule. Every test checks the exact reasons
(or a distinctive part of them), the exact spreadsheet row numbers (header =
row 1, first data row = row 2), and that rows read = accepted + rejected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from outcomes import Dataset, DatasetError, read_dataset

MakeDataset = Callable[..., Path]

CPT_RULE = "is not a CPT code of 5 characters: 5 digits, or 4 digits and a letter"
ICD_RULE = (
    "is not an ICD-10-CM code such as M54.50 or M5450 "
    "(a letter, two characters, then up to four more, with or without the dot)"
)
NOT_A_DATE = "is not a date in ISO 8601 form (YYYY-MM-DD)"
NOT_A_CALENDAR_DATE = "is not a calendar date"
DECIMAL_POINT = "is not a number (write decimals with a point, 7.5, in a comma-separated file)"
DUP_MEASUREMENT = "(same episode_id, measured_on, measure, side, value)"

#: One episode, E1, open since 2024-01-01: the parent of the treatment and measurement rows.
ONE_EPISODE = """\
    episode_id,patient_id,condition,start_date,end_date
    E1,P1,neck_pain,2024-01-01,
"""


@pytest.fixture
def load(assert_reconciles: Callable[[Dataset], None]) -> Callable[[Path], Dataset]:
    """read_dataset, plus the check that every row is accepted or rejected exactly once."""

    def _load(folder: Path) -> Dataset:
        ds = read_dataset(folder)
        assert_reconciles(ds)
        return ds

    return _load


def issues(ds: Dataset, table: str) -> list[tuple[int, str, str]]:
    """(row, column, reason) of the rejected rows of one table, sorted."""
    frame = ds.rejected.filter(pl.col("table") == table)
    return sorted(frame.select("row", "column", "reason").iter_rows())


def accepted_rows(ds: Dataset, table: str) -> list[int]:
    return ds.table(table)["row"].to_list()


def counts(ds: Dataset) -> dict[str, tuple[int, int, int]]:
    return {r[0]: r[1:] for r in ds.counts().iter_rows()}


# ---------------------------------------------------------------------------
# Single-column rules: one good row (row 2), then the row under test (row 3).
# ---------------------------------------------------------------------------

BASE_ROWS: dict[str, dict[str, str]] = {
    "episodes": {
        "episode_id": "E1",
        "patient_id": "P1",
        "condition": "neck_pain",
        "start_date": "2024-01-01",
        "end_date": "",
        "clinic_id": "",
        "icd10": "",
        "body_region": "",
        "chronicity": "",
        "discharge_reason": "",
        "age": "",
        "sex": "",
        "surgical": "",
        "comorbidities": "",
        "prior_episodes": "",
    },
    "treatments": {
        "episode_id": "E1",
        "visit_date": "2024-01-05",
        "cpt_code": "97140",
        "technique": "joint_mobilization",
        "minutes": "",
        "units": "",
        "body_region": "",
    },
    "measurements": {
        "episode_id": "E1",
        "measured_on": "2024-01-05",
        "measure": "nprs",
        "value": "5",
        "side": "",
    },
}

# (table, overrides of the row under test, expected (column, reason) list; [] = accepted)
SINGLE_ROW_CASES: list[tuple[str, dict[str, str], list[tuple[str, str]]]] = [
    # required columns
    ("episodes", {"episode_id": ""}, [("episode_id", "episode_id is empty; it is required")]),
    ("episodes", {"patient_id": "   "}, [("patient_id", "patient_id is empty; it is required")]),
    ("episodes", {"condition": ""}, [("condition", "condition is empty; it is required")]),
    ("episodes", {"start_date": ""}, [("start_date", "start_date is empty; it is required")]),
    ("treatments", {"episode_id": ""}, [("episode_id", "episode_id is empty; it is required")]),
    ("treatments", {"visit_date": ""}, [("visit_date", "visit_date is empty; it is required")]),
    ("treatments", {"cpt_code": " "}, [("cpt_code", "cpt_code is empty; it is required")]),
    ("treatments", {"technique": ""}, [("technique", "technique is empty; it is required")]),
    ("measurements", {"episode_id": ""}, [("episode_id", "episode_id is empty; it is required")]),
    ("measurements", {"measured_on": ""}, [("measured_on", "measured_on is empty; it is required")]),
    ("measurements", {"measure": ""}, [("measure", "measure is empty; it is required")]),
    ("measurements", {"value": ""}, [("value", "value is empty; it is required")]),
    # several problems in one row: one issue each, still one rejected row
    (
        "episodes",
        {"patient_id": "", "age": "130", "sex": "f"},
        [
            ("age", "age 130 is outside 0-120"),
            ("patient_id", "patient_id is empty; it is required"),
            ("sex", "sex 'f' is not one of female, male, other, unknown"),
        ],
    ),
    # dates
    ("episodes", {"start_date": "2024-13-01"}, [("start_date", f"start_date '2024-13-01' {NOT_A_CALENDAR_DATE}")]),
    ("episodes", {"start_date": "01/02/2024"}, [("start_date", f"start_date '01/02/2024' {NOT_A_DATE}")]),
    ("episodes", {"start_date": "2023-02-29"}, [("start_date", f"start_date '2023-02-29' {NOT_A_CALENDAR_DATE}")]),
    ("episodes", {"start_date": "2024-02-29"}, []),
    ("episodes", {"start_date": " 2024-01-01 "}, []),
    ("episodes", {"end_date": "2024-02-30"}, [("end_date", f"end_date '2024-02-30' {NOT_A_CALENDAR_DATE}")]),
    ("treatments", {"visit_date": "yesterday"}, [("visit_date", f"visit_date 'yesterday' {NOT_A_DATE}")]),
    ("measurements", {"measured_on": "2024/01/05"}, [("measured_on", f"measured_on '2024/01/05' {NOT_A_DATE}")]),
    # integers and ranges
    ("episodes", {"age": "44.5"}, [("age", "age '44.5' is not a whole number")]),
    ("episodes", {"age": "forty"}, [("age", "age 'forty' is not a whole number")]),
    ("episodes", {"age": "nan"}, []),  # a missing-value token (data_schemas/reading.json): age is optional
    ("episodes", {"age": "7,5"}, [("age", "age '7,5' is not a whole number")]),
    ("episodes", {"age": "130"}, [("age", "age 130 is outside 0-120")]),
    ("episodes", {"age": "-1"}, [("age", "age -1 is outside 0-120")]),
    ("episodes", {"age": "121"}, [("age", "age 121 is outside 0-120")]),
    ("episodes", {"age": "0"}, []),
    ("episodes", {"age": "120"}, []),
    ("episodes", {"age": " 44 "}, []),
    ("treatments", {"minutes": "0"}, [("minutes", "minutes 0 is outside 1-120")]),
    ("treatments", {"minutes": "121"}, [("minutes", "minutes 121 is outside 1-120")]),
    ("treatments", {"minutes": "7,5"}, [("minutes", "minutes '7,5' is not a whole number")]),
    ("treatments", {"minutes": "12.5"}, [("minutes", "minutes '12.5' is not a whole number")]),
    ("treatments", {"minutes": "1"}, []),
    ("treatments", {"minutes": "120"}, []),
    ("treatments", {"units": "9"}, [("units", "units 9 is outside 0-8")]),
    ("treatments", {"units": "-1"}, [("units", "units -1 is outside 0-8")]),
    ("treatments", {"units": "two"}, [("units", "units 'two' is not a whole number")]),
    ("treatments", {"units": "0"}, []),
    ("treatments", {"units": "8"}, []),
    # floats and the catalog range
    ("measurements", {"value": "nan"}, [("value", "value is empty; it is required")]),
    ("measurements", {"value": "NaN"}, [("value", "value is empty; it is required")]),
    ("measurements", {"value": "inf"}, [("value", "value 'inf' is not a number")]),
    ("measurements", {"value": "7,5"}, [("value", f"value '7,5' {DECIMAL_POINT}")]),
    ("measurements", {"value": "five"}, [("value", "value 'five' is not a number")]),
    ("measurements", {"value": "11"}, [("value", "nprs value 11 is outside 0-10")]),
    ("measurements", {"value": "-1"}, [("value", "nprs value -1 is outside 0-10")]),
    ("measurements", {"value": "10.5"}, [("value", "nprs value 10.5 is outside 0-10")]),
    ("measurements", {"value": "0"}, []),
    ("measurements", {"value": "10"}, []),
    ("measurements", {"value": "7.5"}, []),
    (
        "measurements",
        {"measure": "rom_knee_flexion", "value": "161"},
        [("value", "rom_knee_flexion value 161 is outside 0-160")],
    ),
    ("measurements", {"measure": "rom_knee_extension_deficit", "value": "-5"}, []),
    (
        "measurements",
        {"measure": "rom_knee_extension_deficit", "value": "-21"},
        [("value", "rom_knee_extension_deficit value -21 is outside -20-60")],
    ),
    # enums (lower-cased before checking)
    ("episodes", {"sex": "f"}, [("sex", "sex 'f' is not one of female, male, other, unknown")]),
    ("episodes", {"sex": "Male"}, []),
    ("episodes", {"sex": " FEMALE "}, []),
    ("episodes", {"chronicity": "long"}, [("chronicity", "chronicity 'long' is not one of acute, subacute, chronic")]),
    ("episodes", {"chronicity": "Subacute"}, []),
    (
        "episodes",
        {"discharge_reason": "cured"},
        [
            (
                "discharge_reason",
                "discharge_reason 'cured' is not one of goals_met, plateau, self_discharged, referred_out, other",
            )
        ],
    ),
    ("episodes", {"discharge_reason": "Goals_Met"}, []),
    (
        "measurements",
        {"measure": "rom_knee_flexion", "value": "90", "side": "both"},
        [("side", "side 'both' is not one of left, right")],
    ),
    ("measurements", {"measure": "rom_knee_flexion", "value": "90", "side": "Left"}, []),
    ("measurements", {"measure": "rom_knee_flexion", "value": "90", "side": "right"}, []),
    ("measurements", {"measure": "rom_knee_flexion", "value": "90", "side": ""}, []),
    # case mix (issue 12): true/false words of data_schemas/reading.json, counts as whole numbers in range
    ("episodes", {"surgical": " Yes "}, []),
    ("episodes", {"surgical": "FALSE"}, []),
    ("episodes", {"surgical": "0"}, []),
    ("episodes", {"surgical": "N/A"}, []),
    (
        "episodes",
        {"surgical": "maybe"},
        [("surgical", "surgical 'maybe' is not true or false (write one of true, yes, y, t, 1, false, no, n, f, 0)")],
    ),
    (
        "episodes",
        {"surgical": "2"},
        [("surgical", "surgical '2' is not true or false (write one of true, yes, y, t, 1, false, no, n, f, 0)")],
    ),
    ("episodes", {"comorbidities": "3"}, []),
    ("episodes", {"comorbidities": "-1"}, [("comorbidities", "comorbidities -1 is outside 0-50")]),
    ("episodes", {"comorbidities": "1.5"}, [("comorbidities", "comorbidities '1.5' is not a whole number")]),
    ("episodes", {"prior_episodes": "101"}, [("prior_episodes", "prior_episodes 101 is outside 0-100")]),
    # body_region: rejected in episodes (treatments only warn, see below)
    (
        "episodes",
        {"body_region": "foot"},
        [("body_region", "body_region 'foot' is not in the body-region vocabulary (data_schemas/body_regions.csv)")],
    ),
    ("episodes", {"body_region": "Lumbar"}, []),
    # icd10: with or without the dot, upper-cased
    ("episodes", {"icd10": "M54.5"}, []),
    ("episodes", {"icd10": "M54.50"}, []),
    ("episodes", {"icd10": "M5450"}, []),
    ("episodes", {"icd10": "m17"}, []),
    ("episodes", {"icd10": "54.5"}, [("icd10", f"icd10 '54.5' {ICD_RULE}")]),
    ("episodes", {"icd10": "M54."}, [("icd10", f"icd10 'M54.' {ICD_RULE}")]),
    ("episodes", {"icd10": "low back"}, [("icd10", f"icd10 'LOW BACK' {ICD_RULE}")]),
    ("episodes", {"icd10": "M54.50123"}, [("icd10", f"icd10 'M54.50123' {ICD_RULE}")]),
    # cpt_code: 5 digits, or 4 digits and a letter
    ("treatments", {"cpt_code": "97140"}, []),
    ("treatments", {"cpt_code": "1234A"}, []),
    ("treatments", {"cpt_code": "0001f"}, []),
    ("treatments", {"cpt_code": "9714"}, [("cpt_code", f"cpt_code '9714' {CPT_RULE}")]),
    ("treatments", {"cpt_code": "971400"}, [("cpt_code", f"cpt_code '971400' {CPT_RULE}")]),
    ("treatments", {"cpt_code": "A1234"}, [("cpt_code", f"cpt_code 'A1234' {CPT_RULE}")]),
    # measure catalog
    (
        "measurements",
        {"measure": "grip_strength"},
        [
            (
                "measure",
                "measure 'grip_strength' is not in the measure catalog; add a row for it to the dataset's measures.csv",
            )
        ],
    ),
    ("measurements", {"measure": "NPRS"}, []),
    (
        "measurements",
        {"side": "left"},
        [("side", "side 'left' is given for nprs, which is not a range-of-motion measure; leave side empty")],
    ),
]


def _case_id(case: tuple[str, dict[str, str], list[tuple[str, str]]]) -> str:
    table, overrides, expected = case
    values = ",".join(f"{k}={v!r}" for k, v in overrides.items())
    return f"{table}-{values}-{'rejected' if expected else 'accepted'}"


@pytest.mark.parametrize("case", SINGLE_ROW_CASES, ids=[_case_id(c) for c in SINGLE_ROW_CASES])
def test_single_column_rule(
    case: tuple[str, dict[str, str], list[tuple[str, str]]],
    make_dataset: MakeDataset,
    load: Callable[[Path], Dataset],
) -> None:
    table, overrides, expected = case
    good = dict(BASE_ROWS[table])
    if table == "episodes":
        good["episode_id"] = "E0"
    if table == "measurements":
        good["measured_on"] = "2024-01-04"  # so the row under test is never its exact duplicate
    assert set(overrides) <= set(good), "a column under test must be in BASE_ROWS, or the frame drops it"
    tested = {**BASE_ROWS[table], **overrides}
    frame = pl.DataFrame([good, tested], schema=dict.fromkeys(good, pl.String))
    tables: dict[str, object] = {table: frame}
    if table != "episodes":
        tables["episodes"] = ONE_EPISODE
    ds = load(make_dataset(**tables))

    assert issues(ds, table) == [(3, col, reason) for col, reason in sorted(expected)]
    assert accepted_rows(ds, table) == ([2] if expected else [2, 3])
    assert ds.rejected.filter(pl.col("table") != table).is_empty()
    read, acc, rej = counts(ds)[table]
    assert (read, acc, rej) == ((2, 1, 1) if expected else (2, 2, 0))


def test_accepted_values_are_typed_and_normalized(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,end_date,age,sex,chronicity,icd10,body_region,payer,surgical,comorbidities
             E1 , P1 ,Neck_Pain, 2024-01-01 ,2024-03-01, 44 ,Male,Chronic,m54.2,Cervical,  Acme Health, Yes ,2
        """,
        treatments="""\
            episode_id,visit_date,cpt_code,technique,minutes,units
            E1,2024-01-05,0001f,Joint_Mobilization,30,2
        """,
        measurements="""\
            episode_id,measured_on,measure,value,side
            E1,2024-01-05,NPRS,7.5,
            E1,2024-01-05,ROM_Knee_Flexion,90,RIGHT
        """,
    )
    ds = load(folder)
    assert ds.is_clean
    assert ds.warnings.is_empty()
    ep = ds.episodes.row(0, named=True)
    assert ep == {
        "row": 2,
        "episode_id": "E1",
        "patient_id": "P1",
        "condition": "neck_pain",
        "start_date": dt.date(2024, 1, 1),
        "end_date": dt.date(2024, 3, 1),
        "clinic_id": None,
        "therapist_id": None,
        "icd10": "M54.2",
        "body_region": "cervical",
        "chronicity": "chronic",
        "discharge_reason": None,
        "age": 44,
        "sex": "male",
        "payer": "Acme Health",
        "surgical": True,
        "comorbidities": 2,
        "prior_episodes": None,
    }
    assert ds.episodes.schema["age"] == pl.Int64
    assert ds.episodes.schema["surgical"] == pl.Boolean
    tr = ds.treatments.row(0, named=True)
    assert (tr["cpt_code"], tr["technique"], tr["minutes"], tr["units"]) == ("0001F", "joint_mobilization", 30, 2)
    assert ds.treatments.schema["visit_date"] == pl.Date
    assert ds.measurements.select("row", "measure", "value", "side").rows() == [
        (2, "nprs", 7.5, None),
        (3, "rom_knee_flexion", 90.0, "right"),
    ]
    assert ds.measurements.schema["value"] == pl.Float64


def test_extra_columns_are_kept_as_text(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,referrer
            E1,P1,neck_pain,2024-01-01, Dr. Who
            E2,P2,neck_pain,2024-01-01,
        """
    )
    ds = load(folder)
    assert ds.episodes.select("row", "referrer").rows() == [(2, "Dr. Who"), (3, None)]


def test_header_names_are_stripped_and_lower_cased(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
             Episode_ID ,PATIENT_ID,Condition, Start_Date,AGE
            E1,P1,neck_pain,2024-01-01,130
            E2,P2,neck_pain,2024-01-01,40
        """,
        fmt={"episodes": "csv"},
    )
    ds = load(folder)
    assert issues(ds, "episodes") == [(2, "age", "age 130 is outside 0-120")]
    assert ds.episodes.select("row", "episode_id", "age").rows() == [(3, "E2", 40)]


def test_header_names_of_parquet_are_stripped_and_lower_cased(make_dataset: MakeDataset, load: Callable) -> None:
    frame = pl.DataFrame(
        {" Episode_ID": ["E1"], "Patient_ID ": ["P1"], "CONDITION": ["neck_pain"], "Start_Date": ["2024-01-01"]}
    )
    ds = load(make_dataset(episodes=frame, fmt={"episodes": "parquet"}))
    assert ds.episodes.select("row", "episode_id", "patient_id").rows() == [(2, "E1", "P1")]


# ---------------------------------------------------------------------------
# Cross-column and cross-row rules in episodes
# ---------------------------------------------------------------------------


def test_end_date_before_start_date(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,end_date
            E1,P1,neck_pain,2024-03-01,2024-02-01
            E2,P2,neck_pain,2024-03-01,2024-03-01
            E3,P3,neck_pain,2024-03-01,
            E4,P4,neck_pain,2024-03-01,2024-02-29
        """
    )
    ds = load(folder)
    assert issues(ds, "episodes") == [
        (2, "end_date", "end_date 2024-02-01 is before start_date 2024-03-01"),
        (5, "end_date", "end_date 2024-02-29 is before start_date 2024-03-01"),
    ]
    assert accepted_rows(ds, "episodes") == [3, 4]


def test_every_copy_of_a_duplicated_episode_id_is_rejected(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date
            E1,P1,neck_pain,2024-01-01
            E4,P4,neck_pain,2024-01-01
            E2,P2,neck_pain,2024-01-01
            E4,P5,low_back_pain,2024-02-01
             E4 ,P6,low_back_pain,2024-02-01
            e2,P7,neck_pain,2024-01-01
        """,
        treatments="""\
            episode_id,visit_date,cpt_code,technique
            E4,2024-02-02,97140,joint_mobilization
            E1,2024-02-02,97140,joint_mobilization
        """,
    )
    ds = load(folder)
    reason = "episode_id 'E4' appears in 3 rows (rows 3, 5, 6); every row with a duplicated episode_id is rejected"
    assert issues(ds, "episodes") == [(3, "episode_id", reason), (5, "episode_id", reason), (6, "episode_id", reason)]
    # ids are case-sensitive: E2 and e2 are different episodes
    assert ds.episodes.select("row", "episode_id").rows() == [(2, "E1"), (4, "E2"), (7, "e2")]
    assert issues(ds, "treatments") == [(2, "episode_id", "episode E4 was rejected")]
    assert counts(ds) == {"episodes": (6, 3, 3), "treatments": (2, 1, 1), "measurements": (0, 0, 0)}


def test_duplicated_episode_id_lists_at_most_ten_rows(make_dataset: MakeDataset, load: Callable) -> None:
    rows = "".join(f"E1,P{i},neck_pain,2024-01-01\n" for i in range(12))
    ds = load(make_dataset(episodes="episode_id,patient_id,condition,start_date\n" + rows))
    reasons = {r for _, _, r in issues(ds, "episodes")}
    assert reasons == {
        "episode_id 'E1' appears in 12 rows (rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...); "
        "every row with a duplicated episode_id is rejected"
    }
    assert counts(ds)["episodes"] == (12, 0, 12)


# ---------------------------------------------------------------------------
# Cross-table rules
# ---------------------------------------------------------------------------


def test_rows_of_rejected_or_missing_episodes_are_rejected(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,age
            E1,P1,neck_pain,2024-01-01,40
            E3,P3,neck_pain,2024-01-01,130
        """,
        treatments="""\
            episode_id,visit_date,cpt_code,technique
            E1,2024-01-05,97140,joint_mobilization
            E3,2024-01-05,97140,joint_mobilization
            E99,2024-01-05,97140,joint_mobilization
             E1 ,2024-01-06,97140,joint_mobilization
            e1,2024-01-06,97140,joint_mobilization
        """,
        measurements="""\
            episode_id,measured_on,measure,value
            E99,2024-01-05,nprs,5
            E3,2024-01-05,nprs,5
            E1,2024-01-05,nprs,5
            E3,2024-01-05,nprs,11
        """,
    )
    ds = load(folder)
    assert issues(ds, "episodes") == [(3, "age", "age 130 is outside 0-120")]
    assert issues(ds, "treatments") == [
        (3, "episode_id", "episode E3 was rejected"),
        (4, "episode_id", "episode E99 does not exist in episodes"),
        (6, "episode_id", "episode e1 does not exist in episodes (episodes has E1; ids are case-sensitive)"),
    ]
    assert accepted_rows(ds, "treatments") == [2, 5]
    assert issues(ds, "measurements") == [
        (2, "episode_id", "episode E99 does not exist in episodes"),
        (3, "episode_id", "episode E3 was rejected"),
        (5, "episode_id", "episode E3 was rejected"),
        (5, "value", "nprs value 11 is outside 0-10"),
    ]
    assert accepted_rows(ds, "measurements") == [4]
    assert counts(ds) == {"episodes": (2, 1, 1), "treatments": (5, 2, 3), "measurements": (4, 1, 3)}


def test_visit_date_within_the_episode(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,end_date
            E1,P1,neck_pain,2024-01-02,2024-02-29
            E2,P2,neck_pain,2024-01-02,
        """,
        treatments="""\
            episode_id,visit_date,cpt_code,technique
            E1,2024-01-01,97140,joint_mobilization
            E1,2024-01-02,97140,joint_mobilization
            E1,2024-02-29,97140,joint_mobilization
            E1,2024-03-01,97140,joint_mobilization
            E2,2023-12-30,97140,joint_mobilization
            E2,2024-01-02,97140,joint_mobilization
            E2,2030-06-30,97140,joint_mobilization
        """,
    )
    ds = load(folder)
    assert issues(ds, "treatments") == [
        (2, "visit_date", "visit_date 2024-01-01 is before the episode's start_date 2024-01-02"),
        (5, "visit_date", "visit_date 2024-03-01 is after the episode's end_date 2024-02-29"),
        (6, "visit_date", "visit_date 2023-12-30 is before the episode's start_date 2024-01-02"),
    ]
    assert accepted_rows(ds, "treatments") == [3, 4, 7, 8]


def test_exact_duplicate_measurements_are_accepted_once(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes=ONE_EPISODE,
        measurements="""\
            episode_id,measured_on,measure,value,side
            E1,2024-01-05,nprs,5,
            E1,2024-01-05,nprs,6,
            E1,2024-01-05,nprs,5,
            E1,2024-01-05,NPRS,5.0,
            E1,2024-01-06,nprs,5,
            E1,2024-01-05,rom_knee_flexion,90,left
            E1,2024-01-05,rom_knee_flexion,90,right
            E1,2024-01-05,rom_knee_flexion,90,Left
            E1,2024-01-05,rom_knee_flexion,90,
            E1,2024-01-05,rom_knee_flexion,90,
        """,
    )
    ds = load(folder)
    assert issues(ds, "measurements") == [
        (4, "", f"exact duplicate of row 2 {DUP_MEASUREMENT}"),
        (5, "", f"exact duplicate of row 2 {DUP_MEASUREMENT}"),
        (9, "", f"exact duplicate of row 7 {DUP_MEASUREMENT}"),
        (11, "", f"exact duplicate of row 10 {DUP_MEASUREMENT}"),
    ]
    # the near-duplicate (value 6), another date and another side are separate measurements
    assert accepted_rows(ds, "measurements") == [2, 3, 6, 7, 8, 10]
    assert counts(ds)["measurements"] == (10, 6, 4)


def test_duplicate_of_a_rejected_measurement_is_not_reported_as_duplicate(
    make_dataset: MakeDataset, load: Callable
) -> None:
    folder = make_dataset(
        episodes=ONE_EPISODE,
        measurements="""\
            episode_id,measured_on,measure,value
            E1,2024-01-05,nprs,11
            E1,2024-01-05,nprs,11
        """,
    )
    ds = load(folder)
    assert issues(ds, "measurements") == [
        (2, "value", "nprs value 11 is outside 0-10"),
        (3, "value", "nprs value 11 is outside 0-10"),
    ]


# ---------------------------------------------------------------------------
# Warnings: unknown vocabulary values that are accepted
# ---------------------------------------------------------------------------


def test_unknown_condition_and_technique_are_warnings(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,age
            E1,P1,neck_pain,2024-01-01,
            E2,P2,Whiplash,2024-01-01,
            E3,P3,whiplash,2024-01-01,
            E4,P4,tennis_elbow,2024-01-01,
            E5,P5,gout,2024-01-01,130
        """,
        treatments="""\
            episode_id,visit_date,cpt_code,technique,body_region
            E1,2024-01-05,97140,cupping,foot
            E2,2024-01-05,97140,joint_mobilization,Cervical
            E3,2024-01-05,97140,Cupping,
        """,
    )
    ds = load(folder)
    assert ds.is_clean is False
    assert issues(ds, "episodes") == [(6, "age", "age 130 is outside 0-120")]  # no warning for gout
    assert accepted_rows(ds, "episodes") == [2, 3, 4, 5]
    assert accepted_rows(ds, "treatments") == [2, 3, 4]
    assert ds.treatments["technique"].to_list() == ["cupping", "joint_mobilization", "cupping"]
    assert ds.warnings.select("table", "column", "value", "n_rows", "first_row").rows() == [
        ("episodes", "condition", "tennis_elbow", 1, 5),
        ("episodes", "condition", "whiplash", 2, 3),
        ("treatments", "body_region", "foot", 1, 2),
        ("treatments", "technique", "cupping", 2, 2),
    ]
    messages = ds.warnings["message"].to_list()
    assert messages[1] == (
        "condition 'whiplash' is not in the condition vocabulary (data_schemas/conditions.csv); "
        "accepted as a custom value (2 rows, first at row 3)"
    )
    assert messages[2] == (
        "body_region 'foot' is not in the body-region vocabulary (data_schemas/body_regions.csv); "
        "accepted as a custom value (1 row, first at row 2)"
    )
    assert "technique 'cupping' is not in the technique vocabulary" in messages[3]


# ---------------------------------------------------------------------------
# Whole-row problems and row numbers
# ---------------------------------------------------------------------------


def test_empty_rows_are_rejected_and_blank_lines_skipped(make_dataset: MakeDataset, load: Callable) -> None:
    # A row of empty fields is a row (rejected as empty); a blank line holds no field at all: it is
    # skipped, not counted as read, and keeps its row number.
    text = (
        "episode_id,patient_id,condition,start_date,age\n"
        "E1,P1,neck_pain,2024-01-01,40\n"
        ",,,,\n"
        "   ,  , ,\t,\n"
        "\n"
        "E2,P2,neck_pain,2024-01-01,\n"
    )
    ds = load(make_dataset(episodes=text.encode()))
    assert issues(ds, "episodes") == [
        (3, "", "the row is empty"),
        (4, "", "the row is empty"),
    ]
    assert accepted_rows(ds, "episodes") == [2, 6]
    assert ds.n_read["episodes"] == 4


def test_row_with_only_an_extra_column_is_not_empty(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,note
            ,,,,call back
        """
    )
    ds = load(folder)
    assert issues(ds, "episodes") == [
        (2, "condition", "condition is empty; it is required"),
        (2, "episode_id", "episode_id is empty; it is required"),
        (2, "patient_id", "patient_id is empty; it is required"),
        (2, "start_date", "start_date is empty; it is required"),
    ]


def test_row_numbers_are_those_a_spreadsheet_shows(make_dataset: MakeDataset, load: Callable) -> None:
    # A quoted line break stays inside one spreadsheet row; a blank line is a row of its own (skipped).
    text = (
        "episode_id,patient_id,condition,start_date,payer\n"  # row 1
        "E1,P1,neck_pain,2024-01-01,\n"  # row 2
        'E2,P2,neck_pain,2024-01-01,"Acme\nHealth"\n'  # row 3 (two lines of text)
        "E3,P3,neck_pain,2024-13-01,\n"  # row 4
        "\n"  # row 5
        "E5,P5,neck_pain,2024-01-01,\n"  # row 6
        "E6,P6,,2024-01-01,\n"  # row 7
    )
    folder = make_dataset(
        episodes=text.encode(),
        treatments=(
            "episode_id,visit_date,cpt_code,technique\r\n"
            + "".join(f"E1,2024-01-{d:02d},97140,joint_mobilization\r\n" for d in range(2, 30))
            + "E1,2024-01-30,9714,joint_mobilization\r\n"  # the 29th data row: row 30
        ).encode(),
    )
    ds = load(folder)
    assert issues(ds, "episodes") == [
        (4, "start_date", f"start_date '2024-13-01' {NOT_A_CALENDAR_DATE}"),
        (7, "condition", "condition is empty; it is required"),
    ]
    assert ds.episodes.select("row", "episode_id", "payer").rows() == [
        (2, "E1", None),
        (3, "E2", "Acme\nHealth"),
        (6, "E5", None),
    ]
    assert issues(ds, "treatments") == [(30, "cpt_code", f"cpt_code '9714' {CPT_RULE}")]
    assert accepted_rows(ds, "treatments") == list(range(2, 30))


def test_row_numbers_of_a_parquet_file(make_dataset: MakeDataset, load: Callable) -> None:
    frame = pl.DataFrame(
        {
            "episode_id": ["E1", "E2", "E3", None],
            "patient_id": ["P1", "P2", "P3", None],
            "condition": ["neck_pain", "neck_pain", "neck_pain", None],
            "start_date": ["2024-01-01", "2024-01-01", "2024-99-01", None],
        }
    )
    ds = load(make_dataset(episodes=frame, fmt={"episodes": "parquet"}))
    assert issues(ds, "episodes") == [
        (4, "start_date", f"start_date '2024-99-01' {NOT_A_CALENDAR_DATE}"),
        (5, "", "the row is empty"),
    ]
    assert accepted_rows(ds, "episodes") == [2, 3]


def test_csv_row_with_too_many_fields_is_rejected_and_the_others_kept(
    make_dataset: MakeDataset, load: Callable
) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date
            E1,P1,neck_pain,2024-01-01
            E2,P2,neck_pain,2024-01-01,extra,fields
            E3,P3,neck_pain,2024-01-01
            E4,P4,neck_pain,2024-13-01
            E5,P5
        """,
        treatments="""\
            episode_id,visit_date,cpt_code,technique
            E1,2024-01-05,97140,joint_mobilization
            E1,2024-01-05,97,140,joint_mobilization
            E3,2024-01-05,97140,joint_mobilization
        """,
    )
    ds = load(folder)
    assert issues(ds, "episodes") == [
        (3, "", "the row has 6 fields but the header has 4 (extra: 'extra,fields')"),
        (5, "start_date", f"start_date '2024-13-01' {NOT_A_CALENDAR_DATE}"),
        (6, "condition", "condition is empty; it is required"),
        (6, "start_date", "start_date is empty; it is required"),
    ]
    assert ds.episodes.select("row", "episode_id").rows() == [(2, "E1"), (4, "E3")]
    assert issues(ds, "treatments") == [
        (3, "", "the row has 5 fields but the header has 4 (extra: 'joint_mobilization')")
    ]
    assert accepted_rows(ds, "treatments") == [2, 4]
    assert counts(ds) == {"episodes": (5, 2, 3), "treatments": (3, 2, 1), "measurements": (0, 0, 0)}


# ---------------------------------------------------------------------------
# The dataset's measures.csv
# ---------------------------------------------------------------------------

MEASURES_HEADER = "code,label,kind,unit,min,max,better,mcid,mcid_pct,mdc,normal,loinc,source\n"


def test_measures_csv_adds_a_custom_measure(make_dataset: MakeDataset, load: Callable) -> None:
    measurements = """\
        episode_id,measured_on,measure,value,side
        E1,2024-01-05,grip_strength,30,
        E1,2024-01-05,grip_strength,101,
        E1,2024-01-06,Grip_Strength,35.5,
        E1,2024-01-06,grip_strength,35.5,left
    """
    folder = make_dataset(
        episodes=ONE_EPISODE,
        measurements=measurements,
        measures=MEASURES_HEADER + "Grip_Strength,Grip strength,other,kg,0,100,higher,5,,,,,local\n",
    )
    ds = load(folder)
    assert issues(ds, "measurements") == [
        (3, "value", "grip_strength value 101 is outside 0-100"),
        (5, "side", "side 'left' is given for grip_strength, which is not a range-of-motion measure; leave side empty"),
    ]
    assert accepted_rows(ds, "measurements") == [2, 4]
    grip = ds.catalog.filter(pl.col("code") == "grip_strength").row(0, named=True)
    assert (grip["kind"], grip["min"], grip["max"], grip["better"], grip["mcid"]) == (
        "other",
        0.0,
        100.0,
        "higher",
        5.0,
    )
    assert {"nprs", "vas", "rom_knee_flexion"} <= set(ds.catalog["code"].to_list())

    # without measures.csv the same measure is unknown
    plain = load(make_dataset(episodes=ONE_EPISODE, measurements=measurements))
    assert {r for _, c, r in issues(plain, "measurements") if c == "measure"} == {
        "measure 'grip_strength' is not in the measure catalog; add a row for it to the dataset's measures.csv"
    }
    assert accepted_rows(plain, "measurements") == []


def test_measures_csv_overrides_a_builtin_range(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes=ONE_EPISODE,
        measurements="""\
            episode_id,measured_on,measure,value
            E1,2024-01-05,nprs,50
            E1,2024-01-06,nprs,101
            E1,2024-01-06,vas,101
        """,
        measures="code,label,kind,unit,min,max,better\nnprs,Pain 0-100,pain,points,0,100,lower\n",
    )
    ds = load(folder)
    assert issues(ds, "measurements") == [
        (3, "value", "nprs value 101 is outside 0-100"),
        (4, "value", "vas value 101 is outside 0-100"),
    ]
    assert accepted_rows(ds, "measurements") == [2]
    nprs = ds.catalog.filter(pl.col("code") == "nprs")
    assert nprs.height == 1
    assert nprs.select("label", "min", "max").row(0) == ("Pain 0-100", 0.0, 100.0)
    # the built-in rows the file does not name are untouched
    vas = ds.catalog.filter(pl.col("code") == "vas").row(0, named=True)
    assert (vas["min"], vas["max"], vas["mcid"]) == (0.0, 100.0, 15.0)


MEASURES_REQUIRED = "code,label,kind,unit,min,max,better\n"


@pytest.mark.parametrize(
    ("measures", "message"),
    [
        pytest.param(
            "code,label\ngrip,Grip\n", "required column(s) kind, unit, min, max, better missing", id="missing-col"
        ),
        pytest.param(
            MEASURES_REQUIRED + "grip,Grip,strength,kg,0,100,higher\n",
            "row 2: kind 'strength' is not one of pain, rom, function, other",
            id="bad-kind",
        ),
        pytest.param(
            MEASURES_REQUIRED + "grip,Grip,other,kg,100,0,higher\n", "row 2: max 0 is below min 100", id="max<min"
        ),
        pytest.param(
            MEASURES_REQUIRED + "grip,Grip,other,kg,0,100,up\n",
            "row 2: better 'up' is not one of lower, higher",
            id="better",
        ),
        pytest.param(
            MEASURES_REQUIRED + "grip,Grip,other,kg,zero,100,higher\n", "row 2: min 'zero' is not a number", id="min"
        ),
        pytest.param(
            MEASURES_REQUIRED + "grip,Grip,other,kg,0,100,higher\nGrip,Grip 2,other,kg,0,50,higher\n",
            "row 3: code 'grip' appears in 2 rows (rows 2, 3)",
            id="dup-code",
        ),
        pytest.param(
            MEASURES_REQUIRED + "grip strength,Grip,other,kg,0,100,higher\n",
            "row 2: code 'grip strength' is not lower-case letters, digits and underscores",
            id="code-pattern",
        ),
        pytest.param(
            MEASURES_REQUIRED + ",Grip,other,kg,0,100,higher\n", "row 2: code is empty; it is required", id="no-code"
        ),
        pytest.param(
            MEASURES_REQUIRED + "grip,Grip,other,kg,0,100,higher,x\n", "row 2: the row has 8 fields", id="ragged"
        ),
        pytest.param("", "the file is empty", id="empty"),
        pytest.param(
            "code,label,kind,unit,min,max,better\ngrip,Gr\xe9p,other,kg,0,100,higher\n".encode("latin-1"),
            "not UTF-8",
            id="latin1",
        ),
    ],
)
def test_broken_measures_csv_is_a_dataset_error(measures: str | bytes, message: str, make_dataset: MakeDataset) -> None:
    folder = make_dataset(episodes=ONE_EPISODE, measures=measures)
    with pytest.raises(DatasetError) as info:
        read_dataset(folder)
    text = str(info.value)
    assert str(folder / "measures.csv") in text
    assert message in text


# ---------------------------------------------------------------------------
# Unreadable inputs: DatasetError naming the file
# ---------------------------------------------------------------------------


def _latin1_episodes(folder: Path) -> None:
    (folder / "episodes.csv").write_bytes(
        "episode_id,patient_id,condition,start_date\nE1,Jos\xe9,neck_pain,2024-01-01\n".encode("latin-1")
    )


@pytest.mark.parametrize(
    ("spoil", "file", "message"),
    [
        pytest.param(
            lambda f: (f / "treatments.csv").unlink(),
            "",
            "no treatments.csv or treatments.parquet found",
            id="missing-file",
        ),
        pytest.param(
            lambda f: (f / "measurements.csv").write_text("episode_id,measured_on,value\n"),
            "measurements.csv",
            "required column(s) measure missing (columns found: episode_id, measured_on, value)",
            id="missing-column",
        ),
        pytest.param(
            _latin1_episodes,
            "episodes.csv",
            "line 2: byte 0xE9 (byte 50 of the file) is not UTF-8 text; the file may be saved as Windows-1252",
            id="latin-1",
        ),
        pytest.param(lambda f: (f / "episodes.csv").write_bytes(b""), "episodes.csv", "the file is empty", id="empty"),
        pytest.param(
            lambda f: (f / "episodes.csv").write_bytes(b"\n\n  \n"), "episodes.csv", "the file is empty", id="blank"
        ),
        pytest.param(
            lambda f: pl.DataFrame({"episode_id": ["E1"]}).write_parquet(f / "episodes.parquet"),
            "",
            "both episodes.csv and episodes.parquet exist",
            id="csv-and-parquet",
        ),
        pytest.param(
            lambda f: [(f / "treatments.csv").unlink(), (f / "treatments.parquet").write_bytes(b"PAR1 not really")],
            "treatments.parquet",
            "not a readable Parquet file",
            id="garbage-parquet",
        ),
        pytest.param(
            lambda f: (f / "episodes.csv").write_text("episode_id,patient_id,Condition,condition ,start_date\n"),
            "episodes.csv",
            "the header names column 'condition' twice",
            id="duplicate-header",
        ),
        pytest.param(
            lambda f: (f / "episodes.csv").write_text('episode_id,patient_id,condition,start_date\nE1,"P1,neck_pain\n'),
            "episodes.csv",
            'line 2: a quote (") opens a field here and is never closed, so line 2 cannot be split into rows',
            id="unclosed-quote",
        ),
    ],
)
def test_unreadable_input_is_a_dataset_error(
    spoil: Callable[[Path], object], file: str, message: str, make_dataset: MakeDataset
) -> None:
    folder = make_dataset(episodes=ONE_EPISODE)
    spoil(folder)
    with pytest.raises(DatasetError) as info:
        read_dataset(folder)
    text = str(info.value)
    assert text.startswith(str(folder / file) if file else str(folder))
    assert message in text


def test_a_folder_that_does_not_exist_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        read_dataset(tmp_path / "nowhere")


# ---------------------------------------------------------------------------
# CSV and Parquet
# ---------------------------------------------------------------------------

MIXED_EPISODES = """\
    episode_id,patient_id,condition,start_date,end_date,age,sex,body_region
    E1,P1,neck_pain,2024-01-01,2024-03-01,44,Female,cervical
    E2,P2,whiplash,2024-01-01,,130,m,
    E3,P3,low_back_pain,2024-02-01,2024-01-01,,,lumbar
    E4,P4,low_back_pain,2024-01-01,,,,foot
    E5,P5,knee_osteoarthritis,2024-01-01,,,,
    E5,P6,knee_osteoarthritis,2024-01-01,,,,
    E6,P6,Whiplash,2024-01-10,,,,
    ,,,,,,,
"""
MIXED_TREATMENTS = """\
    episode_id,visit_date,cpt_code,technique,minutes,units
    E1,2024-01-05,97140,joint_mobilization,30,2
    E1,2024-03-02,97140,joint_mobilization,30,2
    E2,2024-01-05,97140,joint_mobilization,,
    E99,2024-01-05,97140,joint_mobilization,,
    E6,2024-01-10,1234a,cupping,0,9
    E6,2024-01-11,9714,cupping,15,1
"""
MIXED_MEASUREMENTS = """\
    episode_id,measured_on,measure,value,side
    E1,2024-01-05,nprs,7,
    E1,2024-01-05,nprs,7,
    E1,2024-02-05,nprs,nan,
    E1,2024-02-05,rom_knee_flexion,90,left
    E1,2024-02-06,nprs,3,right
    E6,2024-01-10,grip_strength,30,
    E5,2024-01-10,nprs,3,
    E6,2024-01-10,nprs,"7,5",
"""


def _same_results(a: Dataset, b: Dataset) -> None:
    for name in ("episodes", "treatments", "measurements"):
        assert a.table(name).equals(b.table(name)), name
    assert a.rejected.equals(b.rejected)
    assert a.warnings.equals(b.warnings)
    assert a.counts().equals(b.counts())


def test_csv_and_parquet_give_the_same_result(make_dataset: MakeDataset, load: Callable) -> None:
    tables = {"episodes": MIXED_EPISODES, "treatments": MIXED_TREATMENTS, "measurements": MIXED_MEASUREMENTS}
    from_csv = load(make_dataset(**tables, fmt="csv"))
    from_parquet = load(make_dataset(**tables, fmt="parquet"))
    assert list(from_parquet.path.glob("*.csv")) == []
    _same_results(from_csv, from_parquet)
    # and the content is what the rules say
    assert counts(from_csv) == {"episodes": (8, 2, 6), "treatments": (6, 1, 5), "measurements": (8, 2, 6)}
    assert accepted_rows(from_csv, "episodes") == [2, 8]
    assert {(r, reason) for r, _, reason in issues(from_csv, "measurements")} == {
        (3, f"exact duplicate of row 2 {DUP_MEASUREMENT}"),
        (4, "value is empty; it is required"),
        (6, "side 'right' is given for nprs, which is not a range-of-motion measure; leave side empty"),
        (7, "measure 'grip_strength' is not in the measure catalog; add a row for it to the dataset's measures.csv"),
        (8, "episode E5 was rejected"),
        (9, f"value '7,5' {DECIMAL_POINT}"),
    }


@pytest.mark.parametrize(
    "fmt",
    [
        {"episodes": "parquet", "treatments": "csv", "measurements": "parquet"},
        {"episodes": "csv", "treatments": "parquet", "measurements": "csv"},
    ],
    ids=["pq-csv-pq", "csv-pq-csv"],
)
def test_mixed_csv_and_parquet_folder(fmt: dict[str, str], make_dataset: MakeDataset, load: Callable) -> None:
    tables = {"episodes": MIXED_EPISODES, "treatments": MIXED_TREATMENTS, "measurements": MIXED_MEASUREMENTS}
    mixed = make_dataset(**tables, fmt=fmt)
    assert sorted(p.name for p in mixed.iterdir()) == sorted(f"{t}.{f}" for t, f in fmt.items())
    _same_results(load(make_dataset(**tables)), load(mixed))


def test_typed_parquet_columns_read_like_text(make_dataset: MakeDataset, load: Callable) -> None:
    """Parquet written by other tools has real dates, integers and floats, not text."""
    episodes = pl.DataFrame(
        {
            "episode_id": ["E1", "E2"],
            "patient_id": ["P1", "P2"],
            "condition": ["neck_pain", "neck_pain"],
            "start_date": [dt.date(2024, 1, 1), dt.date(2024, 1, 1)],
            "end_date": [dt.datetime(2024, 3, 1), None],  # midnight: read as the date
            "age": [44, 130],
        }
    )
    measurements = pl.DataFrame(
        {
            "episode_id": ["E1", "E1", "E1", "E1"],
            "measured_on": [dt.date(2024, 1, 5)] * 4,
            "measure": ["nprs"] * 4,
            "value": [7.0, 7.0, float("nan"), 12.0],
        }
    )
    ds = load(
        make_dataset(
            episodes=episodes, measurements=measurements, fmt={"episodes": "parquet", "measurements": "parquet"}
        )
    )
    assert ds.episodes.select("row", "episode_id", "end_date", "age").rows() == [(2, "E1", dt.date(2024, 3, 1), 44)]
    assert issues(ds, "episodes") == [(3, "age", "age 130 is outside 0-120")]
    assert issues(ds, "measurements") == [
        (3, "", f"exact duplicate of row 2 {DUP_MEASUREMENT}"),
        (4, "value", "value is empty; it is required"),
        (5, "value", "nprs value 12.0 is outside 0-10"),
    ]
    assert ds.measurements.select("row", "value").rows() == [(2, 7.0)]


def test_true_false_columns_of_parquet_and_csv(make_dataset: MakeDataset, load: Callable) -> None:
    """surgical: a Parquet boolean column is used as it is; text (CSV, or a Parquet text column) is read by words."""
    base = {
        "episode_id": ["E1", "E2", "E3"],
        "patient_id": ["P1", "P2", "P3"],
        "condition": ["neck_pain"] * 3,
        "start_date": [dt.date(2024, 1, 1)] * 3,
    }
    native = load(
        make_dataset(episodes=pl.DataFrame({**base, "surgical": [True, None, False]}), fmt={"episodes": "parquet"})
    )
    assert native.episodes.schema["surgical"] == pl.Boolean
    assert native.episodes["surgical"].to_list() == [True, None, False]
    text = load(
        make_dataset(episodes=pl.DataFrame({**base, "surgical": ["y", "nope", "No"]}), fmt={"episodes": "parquet"})
    )
    assert text.episodes.select("row", "surgical").rows() == [(2, True), (4, False)]
    assert [(r, c) for r, c, _ in issues(text, "episodes")] == [(3, "surgical")]


def test_parquet_datetimes_with_a_time_of_day_are_rejected_not_cut(make_dataset: MakeDataset, load: Callable) -> None:
    """A time of day is not silently dropped: the value is rejected with the time it has."""
    episodes = pl.DataFrame(
        {
            "episode_id": ["E1", "E2"],
            "patient_id": ["P1", "P2"],
            "condition": ["neck_pain", "neck_pain"],
            "start_date": [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, 0, 0)],
            "end_date": [dt.datetime(2024, 3, 1, 12, 30), None],
        }
    )
    ds = load(make_dataset(episodes=episodes, fmt={"episodes": "parquet"}))
    assert issues(ds, "episodes") == [
        (2, "end_date", "end_date '2024-03-01T12:30:00' has a time of day; give the date only (YYYY-MM-DD)")
    ]
    assert ds.episodes.select("row", "start_date").rows() == [(3, dt.date(2024, 1, 1))]


# ---------------------------------------------------------------------------
# Regression tests for bugs found while writing this suite (fixed).
# ---------------------------------------------------------------------------


def test_parquet_with_a_nested_column_reads_it_as_text(make_dataset: MakeDataset) -> None:
    episodes = pl.DataFrame(
        {
            "episode_id": ["E1"],
            "patient_id": ["P1"],
            "condition": ["neck_pain"],
            "start_date": ["2024-01-01"],
            "tags": [["a", "b"]],
        }
    )
    folder = make_dataset(episodes=episodes, fmt={"episodes": "parquet"})
    # Either outcome honours the contract: the row is read (the extra column kept as text),
    # or a DatasetError names the file. Any other exception is a traceback for the user.
    ds = read_dataset(folder)  # the extra nested column is kept as text
    assert ds.episodes["episode_id"].to_list() == ["E1"]
    assert ds.episodes["tags"].to_list() == ['["a", "b"]']


def test_rows_of_an_episode_with_too_many_fields_say_was_rejected(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date
            E1,P1,neck_pain,2024-01-01,extra
            E2,P2,neck_pain,2024-01-01
        """,
        treatments="""\
            episode_id,visit_date,cpt_code,technique
            E1,2024-01-05,97140,joint_mobilization
        """,
    )
    ds = load(folder)
    assert issues(ds, "episodes") == [(2, "", "the row has 5 fields but the header has 4 (extra: 'extra')")]
    assert issues(ds, "treatments") == [(2, "episode_id", "episode E1 was rejected")]


def test_too_many_fields_on_the_last_line_without_newline(make_dataset: MakeDataset, load: Callable) -> None:
    # The same row gets the same verdict whether or not the file ends with a newline: an extra
    # field that is empty (a trailing comma) loses nothing and is dropped; one with text rejects the row.
    body = "episode_id,patient_id,condition,start_date\nE1,P1,neck_pain,2024-01-01\nE2,P2,neck_pain,2024-01-01,"
    for ending in ("\n", ""):
        trailing_comma = load(make_dataset(episodes=(body + ending).encode()))
        assert issues(trailing_comma, "episodes") == []
        assert accepted_rows(trailing_comma, "episodes") == [2, 3]
        extra_text = load(make_dataset(episodes=(body + "x" + ending).encode()))
        assert issues(extra_text, "episodes") == [(3, "", "the row has 5 fields but the header has 4 (extra: 'x')")]


def test_dates_must_have_the_iso_form(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date
            E1,P1,neck_pain,2024-1-5
            E2,P2,neck_pain,2024-01-05
        """
    )
    ds = load(folder)
    assert issues(ds, "episodes") == [
        (2, "start_date", "start_date '2024-1-5' is not a date in ISO 8601 form (YYYY-MM-DD)")
    ]


def test_whole_numbers_are_written_plainly(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,age
            E1,P1,neck_pain,2024-01-05,1e1
            E2,P2,neck_pain,2024-01-05,40.0
        """
    )
    ds = load(folder)
    assert issues(ds, "episodes") == [(2, "age", "age '1e1' is not a whole number")]
    assert ds.episodes["age"].to_list() == [40]


def test_icd10_u_codes_are_accepted(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,icd10
            E1,P1,post_covid,2024-01-05,U09.9
        """
    )
    ds = load(folder)
    assert ds.rejected.height == 0
    assert ds.episodes["icd10"].to_list() == ["U09.9"]


def test_every_rejection_names_its_rule(make_dataset: MakeDataset, load: Callable) -> None:
    folder = make_dataset(
        episodes="""\
            episode_id,patient_id,condition,start_date,end_date,age,sex
            E1,P1,neck_pain,2024-01-05,2024-01-01,130,f
            E2,P2,neck_pain,2024-01-05,,,
            E2,P3,neck_pain,2024-01-05,,,
            E3,P4,,x,,,
        """,
        measurements="""\
            episode_id,measured_on,measure,value,side
            E9,2024-01-05,nprs,5,
            E1,2024-01-05,nprs,5,
        """,
    )
    ds = load(folder)
    got = sorted(set(ds.rejected.select("table", "column", "rule").iter_rows()))
    assert got == [
        ("episodes", "age", "range"),
        ("episodes", "condition", "required"),
        ("episodes", "end_date", "order"),
        ("episodes", "episode_id", "duplicate id"),
        ("episodes", "sex", "allowed values"),
        ("episodes", "start_date", "type"),
        ("measurements", "episode_id", "episode missing"),
        ("measurements", "episode_id", "episode rejected"),
    ]
    # the rule carries no value from the data (no identifiers): it is one of a fixed set of names
    assert not ds.rejected["rule"].str.contains("E[0-9]").any()
