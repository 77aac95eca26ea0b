"""Result objects (issue 11, item 8): each result carries the settings that produced it, and the charts and
tables read their labels and thresholds from it instead of being told them again."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from scipy import stats

from outcomes import (
    ComparisonResult,
    SummaryResult,
    TrajectoryResult,
    compare,
    episode_changes,
    funnel,
    read_dataset,
    summarize,
    trajectories,
)
from outcomes.ingest import builtin_catalog
from outcomes.present.plots import (
    plot_change_distribution,
    plot_forest,
    plot_responder_rates,
    plot_trajectories,
)
from outcomes.present.tables import comparison_table, summary_table
from outcomes.synth import demo_dataset_path


@pytest.fixture(scope="module")
def ds():  # type: ignore[no-untyped-def]
    return read_dataset(demo_dataset_path())


@pytest.fixture(scope="module")
def changes(ds) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return episode_changes(ds)


def test_summary_carries_its_settings(changes: pl.DataFrame) -> None:
    s = summarize(changes, by="condition", min_cell=20, confidence_level=0.8)
    assert isinstance(s, SummaryResult)
    assert s.settings == {
        "by": ("condition",),
        "min_cell": 20,
        "confidence_level": 0.8,
        "responder_rule": "either",
        "bootstrap": False,
        "n_resamples": None,
    }
    assert s.to_frame() is s.table
    part = s.filter(measure="nprs")
    assert isinstance(part, SummaryResult)
    assert part.settings == s.settings
    assert set(part.table["measure"]) == {"nprs"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.min_cell = 11  # type: ignore[misc]
    text = repr(s)
    assert text.startswith("<SummaryResult: ")
    assert "confidence_level = 0.8" in text
    assert "min_cell = 20" in text
    page = s._repr_html_()
    assert "responder_rule = either" in page
    assert "<table" in page


def test_the_interval_level_reaches_the_table_and_the_forest_plot(changes: pl.DataFrame) -> None:
    s = summarize(changes, by="condition", confidence_level=0.8)
    row = s.table.filter(condition="low_back_pain", measure="nprs").row(0, named=True)
    # independent: scipy's t-interval at 80% on the same improvements
    values = changes.filter(condition="low_back_pain", measure="nprs", status="complete")["improvement"].to_numpy()
    lo, hi = stats.t.interval(0.8, values.size - 1, loc=values.mean(), scale=stats.sem(values))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), rel=1e-10)
    ax = plot_forest(s, measure="nprs")
    assert "80% CI" in ax.get_xlabel()
    assert "95%" not in ax.get_xlabel()
    t = summary_table(s, measure="nprs", catalog=builtin_catalog())
    assert "Mean improvement (points, 80% CI)" in t.header
    assert "Reached MCID (80% CI)" in t.header


def test_min_cell_is_read_from_the_result_not_passed_twice(changes: pl.DataFrame) -> None:
    s = summarize(changes, by="technique", min_cell=150)
    t = summary_table(s, measure="nprs", catalog=builtin_catalog())
    suppressed = s.table.filter(measure="nprs", suppressed=True)
    assert suppressed.height > 0
    assert sum(row[1] == "< 150" for row in t.rows) == suppressed.height
    assert any("fewer than 150" in note for note in t.notes)
    # the change distribution leaves out the same groups as the summary it is given
    ax = plot_change_distribution(changes, measure="nprs", by="technique", summary=s)
    shown = s.table.filter(measure="nprs", suppressed=False)
    assert len(ax.get_yticks()) == shown.height
    with pytest.raises(ValueError, match="grouped by"):
        plot_change_distribution(changes, measure="nprs", by="condition", summary=s)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("either", "2 points or 30% of baseline"),
        ("both", "2 points and 30% of baseline"),
        ("absolute", "(2 points)"),
        ("percent", "(30% of baseline)"),
    ],
)
def test_the_responder_rule_travels_from_the_changes_to_the_labels(ds, rule: str, words: str) -> None:  # type: ignore[no-untyped-def]
    changes = episode_changes(ds, responder_rule=rule)
    assert changes["responder_rule"].unique().to_list() == [rule]
    s = summarize(changes, by="technique")
    assert s.responder_rule == rule
    ax = plot_responder_rates(s, measure="nprs")
    assert words in ax.get_xlabel()
    t = summary_table(s, measure="nprs", catalog=builtin_catalog())
    assert any(words.strip("()") in note for note in t.notes)
    f = funnel(changes, unit="clinic_id", measure="nprs")
    assert f.responder_rule == rule
    assert f"responder_rule = {rule}" in f._repr_html_()
    # the rates follow the rule: NPRS responders counted by hand from improvement and pct_improvement
    one = changes.filter(measure="nprs", status="complete", technique="manipulation")
    imp, pct = one["improvement"].to_numpy(), one["pct_improvement"].to_numpy()
    hand = {
        "either": (imp >= 2 - 1e-9) | (pct >= 30 - 1e-9),
        "both": (imp >= 2 - 1e-9) & (pct >= 30 - 1e-9),
        "absolute": imp >= 2 - 1e-9,
        "percent": pct >= 30 - 1e-9,
    }[rule]
    got = s.table.filter(technique="manipulation", measure="nprs")["responder_rate"].item()
    assert got == pytest.approx(hand.mean(), abs=1e-12)


def test_mixed_or_unrecorded_rules(ds, changes: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    mixed = pl.concat(
        [
            changes.filter(condition="neck_pain"),
            episode_changes(ds, responder_rule="both").filter(condition="low_back_pain"),
        ]
    )
    with pytest.raises(ValueError, match="mix responder rules"):
        summarize(mixed, by="condition")
    unrecorded = summarize(changes.drop("responder_rule"), by="condition")
    assert unrecorded.responder_rule is None
    ax = plot_responder_rates(unrecorded, measure="nprs")
    assert "2 points or 30% of baseline" in ax.get_xlabel()  # the catalog's rule is the default


def test_comparison_and_trajectory_results(ds, changes: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    c = compare(changes, between="technique", within="condition", min_cell=30, confidence_level=0.9)
    assert isinstance(c, ComparisonResult)
    assert c.settings == {"between": "technique", "within": ("condition",), "min_cell": 30, "confidence_level": 0.9}
    t = comparison_table(c, measure="nprs", catalog=builtin_catalog())
    assert "Hedges' g (90% CI)" in t.header
    assert any(row[3] == "< 30 in a group" for row in t.rows)
    tr = trajectories(ds, by=(), measure="nprs", confidence_level=0.9, min_cell=5)
    assert isinstance(tr, TrajectoryResult)
    assert tr.settings == {"measures": ("nprs",), "by": (), "min_cell": 5, "confidence_level": 0.9}
    ax = plot_trajectories(tr)
    assert "90% CI" in ax.get_ylabel()
    # the weekly band is the 90% t-interval of that week's values
    week = tr.table.filter(week=2).row(0, named=True)
    assert week["ci_high"] - week["mean"] == pytest.approx(
        stats.t.ppf(0.95, week["n_episodes"] - 1) * week["sd"] / np.sqrt(week["n_episodes"]), rel=1e-10
    )
    with pytest.raises(ValueError, match="confidence_level"):
        trajectories(ds, confidence_level=95)


@pytest.mark.parametrize(
    "draw",
    [
        lambda s: plot_forest(s.table, measure="nprs"),
        lambda s: plot_responder_rates(s.table, measure="nprs"),
        lambda s: summary_table(s.table, measure="nprs", catalog=builtin_catalog()),
    ],
)
def test_a_bare_table_gets_advice_not_a_wrong_label(changes: pl.DataFrame, draw) -> None:  # type: ignore[no-untyped-def]
    s = summarize(changes, by="condition")
    with pytest.raises(TypeError, match=r"SummaryResult that summarize\(\) returns .* got DataFrame"):
        draw(s)
