"""Tables for people: rounding only here, suppressed cells unreadable, text escaped."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from outcomes import episode_changes, read_dataset, summarize
from outcomes.analyses import SummaryResult
from outcomes.ingest import builtin_catalog
from outcomes.present.tables import HtmlTable, html_table, key_figures_table, measures_table, summary_table
from outcomes.synth import demo_dataset_path


@pytest.fixture(scope="module")
def summary() -> SummaryResult:
    return summarize(episode_changes(read_dataset(demo_dataset_path())))


def test_summary_table_rounds_and_suppresses(summary: SummaryResult) -> None:
    t = summary_table(summary, measure="nprs", catalog=builtin_catalog())
    assert t.header[:2] == ("Condition", "Technique")
    rows = {(r[0], r[1]): r for r in t.rows}
    lbp = summary.table.filter(condition="low_back_pain", technique="joint_mobilization", measure="nprs").row(
        0, named=True
    )
    row = rows[("low back pain", "joint mobilization")]
    assert row[2] == str(lbp["n"])
    assert row[5] == f"{lbp['mean_improvement']:.1f} ({lbp['ci_low']:.1f} to {lbp['ci_high']:.1f})"
    small = summary.table.filter(measure="nprs", suppressed=True).row(0, named=True)
    hidden = rows[(small["condition"].replace("_", " "), small["technique"].replace("_", " "))]
    assert hidden[2] == "< 11"
    assert set(hidden[3:]) == {"–"}  # no statistic of a small cell is printed
    assert any("Reached MCID: an improvement of at least 2 points or 30% of baseline" in n for n in t.notes)


def test_detail_and_no_negative_zero(summary: SummaryResult) -> None:
    t = summary_table(summary, measure="nprs", catalog=builtin_catalog(), detail=True)
    assert "SRM (95% CI)" in t.header
    # a value that rounds to zero prints as 0.0, never -0.0 (-0.05 is a real value)
    assert not any(re.search(r"-0\.0+(?![0-9])", cell) for row in t.rows for cell in row)


def test_measures_table_rows_per_measure_and_side() -> None:
    overall = summarize(episode_changes(read_dataset(demo_dataset_path())), by=())
    t = measures_table(overall, measures=["rom_shoulder_flexion", "rom_cervical_flexion"], catalog=builtin_catalog())
    assert [r[:2] for r in t.rows] == [
        ("Cervical flexion (degrees)", "–"),
        ("Shoulder flexion (degrees)", "left"),
        ("Shoulder flexion (degrees)", "right"),
    ]
    assert t.rows[1][2:4] == ("180", "8")  # normal (AAOS) and MDC (Kolber 2011) from the catalog


def test_html_is_escaped_and_text_form_readable() -> None:
    t = html_table(pl.DataFrame({"a": ["<b>x</b>"], "n": [3]}), {"a": ("Name", str), "n": ("N", str)}, caption="C & D")
    html = t._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<caption>C &amp; D</caption>" in html
    assert "Name" in str(t)
    assert repr(t) == "<HtmlTable: 1 rows x 2 columns>"
    k = key_figures_table({"Episodes": "2,000"})
    assert isinstance(k, HtmlTable)
    assert k.rows == (("Episodes", "2,000"),)


def test_rounding_to_zero_drops_the_sign() -> None:
    from outcomes.present.tables import _num

    assert _num(-0.04) == "0.0"
    assert _num(-0.05, 2) == "-0.05"
    assert _num(None) == "–"


def _bench_changes() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    units = np.repeat(["A", "B", "C", "D", "E"], [80, 70, 90, 60, 5])
    chronic = rng.random(units.size) < np.where(units == "B", 0.9, 0.3)
    improvement = 2 + 0.8 * (units == "A") - 1.5 * chronic + rng.normal(0, 1, units.size)
    return pl.DataFrame(
        {
            "therapist_id": units,
            "chronicity": np.where(chronic, "chronic", "acute"),
            "baseline": rng.normal(6, 1, units.size),
            "improvement": improvement,
            "measure": "nprs",
            "status": "complete",
        }
    ).with_columns(side=pl.lit(None, dtype=pl.String))


def test_scorecard_table_lists_scored_units_by_shrunken_score_and_hides_the_rest() -> None:
    from scipy import stats

    from outcomes import benchmark
    from outcomes.present.tables import scorecard_table

    b = benchmark(_bench_changes(), adjust_for=("baseline", "chronicity"), min_reliability=0)
    card = scorecard_table(b)
    scored = b.table.filter(~pl.col("suppressed"))
    # order: scored units by shrunken score, best first, then the unscored
    expected_order = scored.sort("shrunken_residual", descending=True)["therapist_id"].to_list()
    assert [r[0] for r in card.rows][: scored.height] == expected_order
    row = dict(zip(card.header, card.rows[0], strict=True))
    top = scored.sort("shrunken_residual", descending=True).row(0, named=True)
    z = stats.norm.ppf(0.975)  # the shrunken interval: estimate -+ z sd (normal, plug-in)
    lo, hi = top["shrunken_residual"] - z * top["shrunken_sd"], top["shrunken_residual"] + z * top["shrunken_sd"]
    assert row["Shrunken score (95% interval)"] == f"{top['shrunken_residual']:.2f} ({lo:.2f} to {hi:.2f})"
    assert row["Episodes"] == str(top["n"])
    e = dict(zip(card.header, card.rows[-1], strict=True))
    assert e["Therapist"] == "E"
    assert e["Episodes"] == "< 11"  # 5 episodes: a small cell, not its count
    assert e["Status"] == "not scored: fewer than 11 complete episodes"
    assert all(v == "–" for k, v in e.items() if k not in ("Therapist", "Episodes", "Status"))
    with pytest.raises(TypeError, match="scorecard_table takes the BenchmarkResult"):
        scorecard_table(b.table)  # type: ignore[arg-type]
