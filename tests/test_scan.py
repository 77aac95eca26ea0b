"""Lazy, multi-file scanning gives the same per-episode changes and summaries as the validated read."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from outcomes import DatasetError, episode_changes, read_dataset, scan_dataset, summarize
from outcomes.synth import demo_dataset_path, make_demo


def test_scan_matches_read_on_the_demo_data() -> None:
    eager = episode_changes(read_dataset(demo_dataset_path()))
    lazy = episode_changes(scan_dataset(demo_dataset_path()), lazy=True)
    assert isinstance(lazy, pl.LazyFrame)
    streamed = lazy.collect(engine="streaming")
    assert streamed.equals(eager)


@pytest.mark.parametrize("layout", ["folder_per_clinic", "folder_per_table"])
def test_a_dataset_split_into_files_is_read_as_one(tmp_path: Path, layout: str) -> None:
    demo = make_demo(600, seed=21)
    whole = tmp_path / "whole"
    whole.mkdir()
    for name in ("episodes", "treatments", "measurements"):
        getattr(demo, name).write_parquet(whole / f"{name}.parquet")
    split = tmp_path / "split"
    clinic_of = demo.episodes.select("episode_id", "clinic_id")
    for clinic in sorted(demo.episodes["clinic_id"].unique()):
        for name in ("episodes", "treatments", "measurements"):
            part = getattr(demo, name)
            if name != "episodes":
                part = part.join(clinic_of, on="episode_id").filter(clinic_id=clinic).drop("clinic_id")
            else:
                part = part.filter(clinic_id=clinic)
            target = (
                split / clinic / f"{name}.parquet"
                if layout == "folder_per_clinic"
                else split / name / f"{clinic}.parquet"
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            part.write_parquet(target)
    ds = scan_dataset(split)
    assert len(ds.files["episodes"]) == 4
    got = summarize(episode_changes(ds, lazy=True), by="condition", min_cell=1).table
    want = summarize(episode_changes(scan_dataset(whole), lazy=True), by="condition", min_cell=1).table
    assert got.drop("wilcoxon_method").equals(want.drop("wilcoxon_method"))
    # and the same as the validated, in-memory path
    eager = summarize(episode_changes(read_dataset(whole)), by="condition", min_cell=1).table
    assert got.equals(eager)


def test_scan_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        scan_dataset(tmp_path / "nope")
    (tmp_path / "episodes.csv").write_text("episode_id,patient_id,condition\nE1,P1,neck_pain\n")
    with pytest.raises(DatasetError, match="required column"):
        scan_dataset(tmp_path)
    (tmp_path / "episodes.csv").write_text("episode_id,patient_id,condition,start_date\nE1,P1,neck_pain,2025-01-01\n")
    with pytest.raises(DatasetError, match=r"no treatments\.parquet"):
        scan_dataset(tmp_path)
