"""The HTML report and the notebooks under nbval, used as a clinic would use them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from outcomes.cli import main
from outcomes.present.report import NOTEBOOKS, ReportError, _embedded_images, build_report, notebooks_dir
from outcomes.synth import make_demo

REPO = Path(__file__).resolve().parents[1]


def _no_identifiers(page: str) -> None:
    # synthetic identifiers look like E000123 / P000123; none may appear in what directors read
    assert not re.search(r"\bE\d{6}\b", page)
    assert not re.search(r"\bP\d{6}\b", page)


def test_report_on_the_demo_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nested" / "report.html"
    assert main(["report", "--out", str(out)]) == 0
    progress = capsys.readouterr().out
    for i, name in enumerate(NOTEBOOKS, start=1):
        assert f"[{i}/{len(NOTEBOOKS)}] {name} done" in progress
    page = out.read_text()
    assert "<h1>Outcomes report: demo_data</h1>" in page
    assert "Episodes starting January 2025 to December 2025. 2,000 episodes of care" in page
    for heading in (
        "Clinic overview",
        "Effect sizes by condition and technique",
        "Range of motion",
        "Therapists and clinics, fairly compared",
        "Data quality",
    ):
        assert f">{heading}" in page
    # benchmarking: scorecards name the units; a unit the benchmark did not score shows no number at all
    rows = re.findall(r"<tr><td>(T\d\d|C\d\d)</td>(.*?)</tr>", page)
    unscored = [cells for _, cells in rows if "not scored" in cells]
    assert unscored, "the demo has therapists below the reliability threshold"
    for cells in unscored:
        values = re.findall(r"<td>(.*?)</td>", cells)
        assert all(v == "–" for v in values[1:-1]), values  # episodes, then dashes, then the reason
    images = _embedded_images(page)
    assert len(images) >= 15
    assert all(img.startswith(b"\x89PNG") for img in images)
    assert "def label(code)" not in page  # no code cells
    assert '<script src="http' not in page  # nothing fetched from the network
    _no_identifiers(page)
    assert "&lt; 11" in page  # small cells are suppressed, not shown


def test_report_on_a_dataset_with_only_custom_measures(tmp_path: Path) -> None:
    demo = make_demo(400, seed=12)
    data = tmp_path / "clinic_export"
    data.mkdir()
    demo.episodes.write_csv(data / "episodes.csv")
    demo.treatments.write_csv(data / "treatments.csv")
    nprs = demo.measurements.filter(measure="nprs")
    lefs = demo.measurements.filter(measure="lefs")
    custom = pl.concat(
        [
            nprs.with_columns(pl.lit("pain_0_10").alias("measure")),
            lefs.with_columns(pl.lit("stairs_score").alias("measure")),
        ]
    )
    custom.write_csv(data / "measurements.csv")
    (data / "measures.csv").write_text(
        "code,label,kind,unit,min,max,better,mcid,mcid_pct,mdc,source\n"
        "pain_0_10,Clinic pain score,pain,points,0,10,lower,2,,,clinic's own\n"
        "stairs_score,Stairs score,other,points,0,80,higher,,,,clinic's own\n"
    )
    out = tmp_path / "custom.html"
    build_report(data, out, min_cell=11, progress=None)
    page = out.read_text()
    assert "<h1>Outcomes report: clinic_export</h1>" in page
    assert "Clinic pain score" in page
    assert "Stairs score" in page
    assert "This dataset has no range-of-motion measure with 11 or more complete episodes." in page
    assert len(_embedded_images(page)) >= 5
    _no_identifiers(page)


def test_a_failing_notebook_stops_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    broken = {
        "cells": [
            {"id": "params", "cell_type": "code", "metadata": {"tags": ["parameters"]},
             "source": "dataset = None\nmin_cell = 11", "outputs": [], "execution_count": None},
            {"id": "boom", "cell_type": "code", "metadata": {}, "source": "raise RuntimeError('boom')", "outputs": [],
             "execution_count": None},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    (nb_dir / "01_clinic_overview.ipynb").write_text(json.dumps(broken))
    monkeypatch.setattr("outcomes.present.report.notebooks_dir", lambda: nb_dir)
    monkeypatch.setattr("outcomes.present.report.NOTEBOOKS", ("01_clinic_overview",))
    out = tmp_path / "r.html"
    with pytest.raises(
        ReportError, match=r"notebook 01_clinic_overview failed: RuntimeError: boom \(in the cell that starts \"raise"
    ):
        build_report(None, out, progress=None)
    assert not out.exists()


def test_report_needs_an_html_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--out", str(tmp_path / "r.pdf")]) == 2
    assert "must end in .html" in capsys.readouterr().err


def test_nbval_fails_when_a_stored_number_changes(tmp_path: Path) -> None:
    """The notebooks are regression tests: editing a stored output number must make nbval fail."""
    source = notebooks_dir() / "04_data_quality.ipynb"
    nb = json.loads(source.read_text())
    text = json.dumps(nb)
    assert "32,683" in text  # treatments read in the demo data, stored in the counts table
    for name, content in (("unchanged", text), ("changed", text.replace("32,683", "32,684"))):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "nb.ipynb").write_text(content)
        shutil.copy(REPO / "notebooks" / "sanitize.cfg", folder)
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
             "--nbval-sanitize-with", "sanitize.cfg", "-q", "nb.ipynb", "-c", "/dev/null"],
            cwd=folder, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if name == "unchanged":
            assert run.returncode == 0, run.stdout[-2000:]
        else:
            assert run.returncode == 1, run.stdout[-2000:]
            assert "32,684" in run.stdout


def test_report_on_a_tiny_messy_export_draws_nothing_from_small_cells(tmp_path: Path) -> None:
    data = tmp_path / "tiny"
    data.mkdir()
    (data / "episodes.csv").write_text(
        "episode_id,patient_id,condition,start_date,end_date,clinic_id,therapist_id\n"
        "E1,P1,low_back_pain,2025-01-02,2025-02-15,C1,T1\n"
        "E2,P2,whiplash,2025-01-05,,C1,T2\n"
        "E3,P3,neck_pain,2025-13-01,,C1,T1\n"
    )
    (data / "treatments.csv").write_text(
        "episode_id,visit_date,cpt_code,technique,minutes,units\n"
        "E1,2025-01-02,97140,joint_mobilization,20,1\n"
        "E2,2025-01-05,97140,soft_tissue_mobilization,,1\n"
        "E9,2025-01-05,97140,soft_tissue_mobilization,20,1\n"
    )
    (data / "measurements.csv").write_text(
        "episode_id,measured_on,measure,value,side\n"
        "E1,2025-01-02,nprs,7,\n"
        "E1,2025-02-15,nprs,3,\n"
        "E2,2025-01-05,nprs,6,\n"
        "E2,2025-01-20,nprs,11,\n"
    )
    out = tmp_path / "tiny.html"
    build_report(data, out, progress=None)
    page = out.read_text()
    assert "3 rows rejected (see Data quality)" in page  # E3 bad date, E9 unknown, nprs 11
    assert _embedded_images(page) == []  # every group is below the small-cell threshold: no chart at all
    assert "Fewer than 11 complete episodes: individual changes are not shown." in page
    assert "fewer than 11 episodes have a baseline and a follow-up value" in page
    _no_identifiers(page)
