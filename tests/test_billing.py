"""The 97140 documentation check, worked by hand on a small clinic."""

from __future__ import annotations

from pathlib import Path

import pytest

from outcomes import read_dataset
from outcomes.audit import documentation_check
from outcomes.contract import expected_timed_units, timed_codes

EPISODES = """episode_id,patient_id,condition,start_date,clinic_id
E1,P1,low_back_pain,2025-01-01,C1
E2,P2,neck_pain,2025-01-01,C1
E3,P3,neck_pain,2025-01-01,C2
"""
# Visits (CMS 8-minute rule, Medicare Claims Processing Manual ch. 5 sec. 20.2):
#  E1 01-01: 97140 20 min + 97110 15 min = 35 min -> 2 units; billed 1 + 1      -> consistent
#  E1 01-08: 97140 10 min                 = 10 min -> 1 unit;  billed 1          -> consistent
#  E2 01-01: 97140 5 min + 97110 5 min    = 10 min -> 1 unit;  billed 1 + 1 = 2  -> over-billed
#  E2 01-08: 97140 (no minutes), 1 unit                                            -> not checked
#  E3 01-01: 97140 30 min, billed 1 (30 min -> 2 units) + 97012 untimed, 1 unit   -> under-billed
TREATMENTS = """episode_id,visit_date,cpt_code,technique,minutes,units,body_region
E1,2025-01-01,97140,joint_mobilization,20,1,lumbar
E1,2025-01-01,97110,therapeutic_exercise,15,1,lumbar
E1,2025-01-08,97140,joint_mobilization,10,1,
E2,2025-01-01,97140,soft_tissue_mobilization,5,1,cervical
E2,2025-01-01,97110,therapeutic_exercise,5,1,cervical
E2,2025-01-08,97140,soft_tissue_mobilization,,1,cervical
E3,2025-01-01,97140,manipulation,30,1,cervical
E3,2025-01-01,97012,mechanical_traction,15,1,cervical
"""


@pytest.fixture
def clinic(tmp_path: Path) -> Path:
    (tmp_path / "episodes.csv").write_text(EPISODES)
    (tmp_path / "treatments.csv").write_text(TREATMENTS)
    (tmp_path / "measurements.csv").write_text("episode_id,measured_on,measure,value\n")
    return tmp_path


def test_eight_minute_rule_table() -> None:
    # the CMS table: 8-22 = 1, 23-37 = 2, 38-52 = 3, 53-67 = 4, 68-82 = 5, 83-97 = 6; under 8: none
    minutes = [0, 7, 8, 22, 23, 37, 38, 52, 53, 67, 68, 82, 83, 97]
    assert expected_timed_units(minutes).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]


def test_timed_codes_come_from_the_vocabulary() -> None:
    codes = timed_codes()
    assert {"97140", "97110", "97112", "97530", "97124"} <= set(codes)
    assert "97012" not in codes  # mechanical traction is untimed
    assert "98940" not in codes  # chiropractic manipulation is billed per region, untimed


def test_documentation_check_by_hand(clinic: Path) -> None:
    doc = documentation_check(read_dataset(clinic), min_cell=1)
    c1 = doc.filter(clinic_id="C1").row(0, named=True)
    assert c1["n_manual_rows"] == 4
    assert c1["minutes_recorded_rate"] == pytest.approx(3 / 4)
    assert c1["body_region_recorded_rate"] == pytest.approx(3 / 4)
    assert c1["n_visits"] == 4
    assert c1["n_visits_checked"] == 3
    assert c1["units_consistent_rate"] == pytest.approx(2 / 3)
    assert (c1["n_over_billed"], c1["n_under_billed"]) == (1, 0)
    c2 = doc.filter(clinic_id="C2").row(0, named=True)
    assert (c2["n_visits"], c2["n_visits_checked"], c2["n_under_billed"]) == (1, 1, 1)
    assert c2["units_consistent_rate"] == 0.0


def test_small_groups_are_suppressed(clinic: Path) -> None:
    doc = documentation_check(read_dataset(clinic), min_cell=2)
    c2 = doc.filter(clinic_id="C2").row(0, named=True)
    assert c2["suppressed"] is True
    assert c2["units_consistent_rate"] is None
    overall = documentation_check(read_dataset(clinic), by=(), min_cell=1).row(0, named=True)
    assert overall["n_visits"] == 5
    assert overall["units_consistent_rate"] == pytest.approx(2 / 4)
