"""The `outcomes` command: exit codes, messages, output files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from outcomes.cli import main
from outcomes.synth import demo_dataset_path

EPISODES = """episode_id,patient_id,condition,start_date,end_date
E1,P1,low_back_pain,2025-01-02,2025-02-15
E2,P2,neck_pain,2025-13-01,
"""
TREATMENTS = """episode_id,visit_date,cpt_code,technique,minutes,units
E1,2025-01-02,97140,joint_mobilization,20,1
E2,2025-01-03,97140,joint_mobilization,20,1
"""
MEASUREMENTS = """episode_id,measured_on,measure,value,side
E1,2025-01-02,nprs,7,
E1,2025-02-15,nprs,11,
"""


def _messy(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "episodes.csv").write_text(EPISODES)
    (folder / "treatments.csv").write_text(TREATMENTS)
    (folder / "measurements.csv").write_text(MEASUREMENTS)
    return folder


def test_validate_clean_dataset_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(demo_dataset_path())]) == 0
    out = capsys.readouterr().out
    assert "episodes            2000      2000         0" in out


def test_validate_rejections_exit_1_and_write_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _messy(tmp_path / "d")
    out_file = tmp_path / "rejected.csv"
    assert main(["validate", str(data), "--rejected-out", str(out_file)]) == 1
    out = capsys.readouterr().out
    assert "episodes row 3, start_date: start_date '2025-13-01' is not a calendar date" in out
    assert "treatments row 3, episode_id: episode E2 was rejected" in out
    assert "measurements row 3, value: nprs value 11 is outside 0-10" in out
    rejected = pl.read_csv(out_file)
    assert rejected.columns == ["table", "row", "column", "rule", "reason"]  # contract columns plus `rule`
    assert rejected.select("table", "row").rows() == [("episodes", 3), ("treatments", 3), ("measurements", 3)]


def test_validate_rejected_out_parquet(tmp_path: Path) -> None:
    data = _messy(tmp_path / "d")
    assert main(["validate", str(data), "--rejected-out", str(tmp_path / "r.parquet")]) == 1
    assert pl.read_parquet(tmp_path / "r.parquet").height == 3


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing_folder", "not a folder"),
        ("missing_table", "no measurements.csv or measurements.parquet found"),
        ("missing_column", "required column(s) condition missing"),
        ("bad_suffix", "must end in .csv or .parquet"),
    ],
)
def test_unreadable_input_exits_2_with_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str, message: str
) -> None:
    data = _messy(tmp_path / "d")
    extra: list[str] = []
    if setup == "missing_folder":
        data = tmp_path / "nowhere"
    elif setup == "missing_table":
        (data / "measurements.csv").unlink()
    elif setup == "missing_column":
        (data / "episodes.csv").write_text("episode_id,patient_id,start_date\nE1,P1,2025-01-01\n")
    else:
        extra = ["--rejected-out", str(tmp_path / "r.txt")]
    assert main(["validate", str(data), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_demo_writes_a_valid_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--episodes", "150", "--seed", "4", "--format", "parquet"]) == 0
    assert "150 episodes" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "episodes.parquet",
        "measurements.parquet",
        "treatments.parquet",
        "truth.csv",
        "truth_units.csv",
    ]
    assert main(["validate", str(tmp_path)]) == 0


def test_demo_rejects_nonpositive_episodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--episodes", "0"]) == 2
    assert "--episodes must be at least 1" in capsys.readouterr().err


def test_installed_command_runs(tmp_path: Path) -> None:
    exe = shutil.which("outcomes", path=str(Path(sys.executable).parent))
    assert exe is not None, "the outcomes console script is not installed next to the interpreter"
    help_run = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
    assert help_run.returncode == 0
    assert "validate" in help_run.stdout
    bad = subprocess.run([exe, "validate", str(_messy(tmp_path / "d"))], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "nprs value 11 is outside 0-10" in bad.stdout


CONTRACT_CHANGE_COLUMNS = [
    # data-contract.md, "Output: per-episode changes" (after the episode attributes)
    "technique", "measure", "side", "baseline", "baseline_date", "final", "final_date", "change", "improvement",
    "pct_improvement", "responder", "exceeds_mdc", "n_visits", "duration_days", "status",
]  # fmt: skip
CONTRACT_SUMMARY_COLUMNS = [
    # data-contract.md, "Output: grouped summary"
    "measure", "side", "n", "n_incomplete", "baseline_mean", "baseline_sd", "final_mean", "final_sd",
    "mean_change", "mean_improvement", "sd_improvement", "ci_low", "ci_high", "srm", "srm_ci_low", "srm_ci_high",
    "g_av", "g_av_ci_low", "g_av_ci_high", "responder_rate", "responder_ci_low", "responder_ci_high", "p_value",
    "suppressed",
]  # fmt: skip
CONTRACT_COMPARISON_COLUMNS = [
    # data-contract.md, "Output: comparisons between groups"
    "measure", "group_a", "group_b", "n_a", "n_b", "diff", "diff_ci_low", "diff_ci_high", "hedges_g", "g_ci_low",
    "g_ci_high", "cliffs_delta", "p_value", "p_adjusted", "adjusted_diff", "adjusted_ci_low", "adjusted_ci_high",
]  # fmt: skip


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path) if path.suffix == ".csv" else pl.read_parquet(path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_analysis_commands_write_contract_columns(tmp_path: Path, suffix: str) -> None:
    demo = str(demo_dataset_path())
    changes = tmp_path / f"changes{suffix}"
    assert main(["changes", demo, "--out", str(changes)]) == 0
    ch = _read(changes)
    assert ch.columns[:2] == ["episode_id", "patient_id"]
    assert [c for c in ch.columns if c in CONTRACT_CHANGE_COLUMNS] == CONTRACT_CHANGE_COLUMNS
    assert ch.height == ch.select("episode_id", "measure", "side").unique().height

    summary = tmp_path / f"summary{suffix}"
    assert main(["summarize", demo, "--by", "condition,technique", "--out", str(summary)]) == 0
    s = _read(summary)
    assert s.columns[:2] == ["condition", "technique"]
    assert [c for c in s.columns if c in CONTRACT_SUMMARY_COLUMNS] == CONTRACT_SUMMARY_COLUMNS
    assert s.filter(pl.col("n") < 11)["suppressed"].all()
    assert s.filter(pl.col("suppressed"))["mean_improvement"].null_count() == s.filter(pl.col("suppressed")).height

    comparisons = tmp_path / f"compare{suffix}"
    assert main(["compare", demo, "--between", "technique", "--within", "condition", "--out", str(comparisons)]) == 0
    c = _read(comparisons)
    assert c.columns[0] == "condition"
    assert [x for x in c.columns if x in CONTRACT_COMPARISON_COLUMNS] == CONTRACT_COMPARISON_COLUMNS
    assert (c["group_a"] < c["group_b"]).all()


def test_min_cell_1_turns_suppression_off(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    assert (
        main(["summarize", str(demo_dataset_path()), "--by", "therapist_id", "--min-cell", "1", "--out", str(out)]) == 0
    )
    s = pl.read_csv(out)
    assert not s.filter(pl.col("n") > 0)["suppressed"].any()


def test_unknown_group_column_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summarize", str(demo_dataset_path()), "--by", "clinic", "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "--by: no episode column clinic" in err
    assert "clinic_id" in err


def test_analysis_on_a_dataset_with_rejected_rows_notes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _messy(tmp_path / "d")
    assert main(["changes", str(data), "--out", str(tmp_path / "c.csv")]) == 0
    captured = capsys.readouterr()
    assert "3 input rows were rejected" in captured.err
    ch = pl.read_csv(tmp_path / "c.csv")
    assert ch.select("episode_id", "measure", "status").rows() == [("E1", "nprs", "no_followup")]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_benchmark_writes_the_scorecard_columns(
    tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from outcomes import benchmark, episode_changes, read_dataset
    from outcomes.analyses import BENCHMARK_COLUMNS

    out = tmp_path / f"clinics{suffix}"
    assert main(["benchmark", str(demo_dataset_path()), "--unit", "clinic_id", "--out", str(out)]) == 0
    table = pl.read_csv(out) if suffix == ".csv" else pl.read_parquet(out)
    assert table.columns == ["clinic_id", *BENCHMARK_COLUMNS]
    # the same numbers as the Python API on the same data
    api = benchmark(episode_changes(read_dataset(demo_dataset_path())), unit="clinic_id").table
    np.testing.assert_allclose(table["shrunken_residual"].to_numpy(), api["shrunken_residual"].to_numpy(), rtol=1e-9)
    # the responder columns come through the file too (CSV reads the count back as an integer)
    assert table["responders"].dtype == pl.Int64
    assert table["responders"].to_list() == api["responders"].to_list()
    for column in ("expected_responders", "adjusted_responder_rate", "adjusted_responder_ci_high"):
        np.testing.assert_allclose(
            table[column].cast(pl.Float64).to_numpy(), api[column].cast(pl.Float64).to_numpy(), rtol=1e-9
        )
    assert "3 scored" in capsys.readouterr().out
    assert main(["benchmark", str(demo_dataset_path()), "--unit", "clinic", "--out", str(out)]) == 2
    assert "--unit: no episode column clinic" in capsys.readouterr().err
