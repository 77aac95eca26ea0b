"""The machine-readable contract in data_schemas/: complete, consistent, and read at run time."""

from __future__ import annotations

import json

import polars as pl
import pytest

from outcomes.contract import TABLES, load_table_schema, schemas_dir, vocabulary
from outcomes.ingest import builtin_catalog

CONTRACT_COLUMNS = {
    # docs/data-contract.md, "Input: a dataset"
    "episodes": [
        "episode_id", "patient_id", "condition", "start_date", "end_date", "clinic_id", "therapist_id",
        "icd10", "body_region", "chronicity", "discharge_reason", "age", "sex", "payer", "surgical",
        "comorbidities", "prior_episodes",
    ],
    "treatments": [
        "episode_id", "visit_date", "cpt_code", "technique", "minutes", "units", "body_region", "therapist_id",
    ],
    "measurements": ["episode_id", "measured_on", "measure", "value", "side"],
}  # fmt: skip
REQUIRED = {
    "episodes": ["episode_id", "patient_id", "condition", "start_date"],
    "treatments": ["episode_id", "visit_date", "cpt_code", "technique"],
    "measurements": ["episode_id", "measured_on", "measure", "value"],
}


@pytest.mark.parametrize("table", TABLES)
def test_table_schema_matches_contract(table: str) -> None:
    schema = load_table_schema(table)
    assert schema.names == CONTRACT_COLUMNS[table]
    assert schema.required == REQUIRED[table]


def test_every_vocabulary_reference_exists() -> None:
    index = json.loads((schemas_dir() / "vocabularies.json").read_text())["vocabularies"]
    for table in TABLES:
        for col in load_table_schema(table).columns:
            if col.vocabulary is not None:
                assert col.vocabulary in index
                assert vocabulary(col.vocabulary)["code"].is_unique().all()


def test_catalog_holds_every_reference_measure() -> None:
    codes = set(builtin_catalog()["code"])
    expected = {
        "nprs", "vas", "odi", "ndi", "quickdash", "lefs", "psfs",
        "rom_shoulder_flexion", "rom_shoulder_abduction", "rom_shoulder_external_rotation",
        "rom_shoulder_internal_rotation", "rom_cervical_rotation", "rom_cervical_flexion",
        "rom_cervical_extension", "rom_knee_flexion", "rom_knee_extension_deficit", "rom_hip_flexion",
        "rom_lumbar_flexion",
    }  # fmt: skip
    assert expected <= codes
    cat = builtin_catalog()
    assert cat["source"].null_count() == 0
    assert (cat.filter(pl.col("kind") == "rom")["code"].str.starts_with("rom_")).all()


@pytest.mark.parametrize(
    ("code", "lo", "hi", "better", "mcid", "mcid_pct", "mdc", "loinc"),
    [
        # docs/clinical-reference.md, "Pain scales" and "Patient-reported function"
        ("nprs", 0, 10, "lower", 2, 30, 2, "72514-3"),  # Farrar 2001; Childs 2005
        ("vas", 0, 100, "lower", 15, 30, None, "38214-3"),  # Ostelo 2008
        ("odi", 0, 100, "lower", 10, None, 10, None),  # Ostelo 2008
        ("ndi", 0, 100, "lower", 14, None, 10, None),  # Abbott & Schmitt 2014
        ("quickdash", 0, 100, "lower", 8, None, 12.85, None),  # Mintken 2009
        ("lefs", 0, 80, "higher", 9, None, 9, None),  # Binkley 1999
        ("psfs", 0, 10, "higher", 2, None, None, None),  # Abbott & Schmitt 2014
    ],
)
def test_published_thresholds(
    code: str,
    lo: float,
    hi: float,
    better: str,
    mcid: float,
    mcid_pct: float | None,
    mdc: float | None,
    loinc: str | None,
) -> None:
    row = builtin_catalog().filter(code=code).row(0, named=True)
    assert (row["min"], row["max"], row["better"]) == (lo, hi, better)
    assert row["mcid"] == mcid
    assert row["mcid_pct"] == mcid_pct
    assert row["mdc"] == mdc
    assert row["loinc"] == loinc


def test_vocabularies_cover_the_issue_lists() -> None:
    conditions = set(vocabulary("conditions")["code"])
    assert {
        "low_back_pain", "neck_pain", "shoulder_impingement", "rotator_cuff", "adhesive_capsulitis",
        "lateral_epicondylitis", "knee_osteoarthritis", "post_surgical", "myofascial_pain", "fibromyalgia",
        "tendinitis", "bursitis",
    } <= conditions  # fmt: skip
    tech = vocabulary("techniques")
    cpt = dict(zip(tech["code"], tech["cpt_code"], strict=True))
    for manual in [
        "soft_tissue_mobilization", "joint_mobilization", "manipulation", "myofascial_release", "manual_traction",
        "manual_lymphatic_drainage", "muscle_energy", "iastm",
    ]:  # fmt: skip
        assert cpt[manual] == "97140"
    assert cpt["therapeutic_exercise"] == "97110"
    assert cpt["neuromuscular_reeducation"] == "97112"
    assert cpt["therapeutic_activities"] == "97530"
    assert cpt["massage"] == "97124"  # massage is not 97140 (clinical-reference.md)
    assert cpt["chiropractic_manipulation"] == "98940;98941;98942"
    assert cpt["mechanical_traction"] == "97012"
    timed = dict(zip(tech["code"], tech["timed"], strict=True))
    assert timed["mechanical_traction"] == "false"  # supervised modality, untimed
    assert timed["joint_mobilization"] == "true"
