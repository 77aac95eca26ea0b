"""Charts are tested by what they drew: points, lines, labels, limits."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from matplotlib.collections import LineCollection, PathCollection

from outcomes import episode_changes, funnel, read_dataset, summarize, trajectories
from outcomes.present.plots import (
    PALETTE,
    plot_change_distribution,
    plot_forest,
    plot_funnel,
    plot_paired_slopes,
    plot_responder_rates,
    plot_rom_vs_normal,
    plot_trajectories,
)
from outcomes.synth import demo_dataset_path


@pytest.fixture(scope="module")
def data() -> dict[str, object]:
    ds = read_dataset(demo_dataset_path())
    ch = episode_changes(ds)
    return {
        "ds": ds,
        "changes": ch,
        "summary": summarize(ch),
        "by_technique": summarize(ch, by="technique"),
        "overall": summarize(ch, by=()),
    }


def _ticklabels(ax: object, axis: str = "y") -> list[str]:
    getter = ax.get_yticklabels if axis == "y" else ax.get_xticklabels  # type: ignore[attr-defined]
    return [t.get_text() for t in getter()]


def test_forest_draws_each_unsuppressed_group_with_its_interval(data: dict) -> None:  # type: ignore[type-arg]
    s = data["summary"].filter(condition="low_back_pain")
    ax = plot_forest(s, measure="nprs")
    shown = s.table.filter(measure="nprs", suppressed=False)
    points = ax.lines[0]  # the errorbar markers
    np.testing.assert_allclose(np.sort(points.get_xdata()), np.sort(shown["mean_improvement"].to_numpy()))
    labels = _ticklabels(ax)
    assert len(labels) == shown.height
    assert "low back pain · joint mobilization  (n=72)" in labels
    # reference lines: zero, MCID 2 and MDC 2 points from the catalog
    vertical = [line.get_xdata()[0] for line in ax.lines[1:]]
    assert vertical.count(0) == 1
    assert vertical.count(2) == 2
    assert "MCID 2 points" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert "points" in ax.get_xlabel()
    assert "n=297" in ax.get_title(loc="right").replace("\n", " ")
    # interval ends: errorbar line collection spans ci_low..ci_high
    segments = ax.collections[0].get_segments()
    ends = sorted((round(seg[0][0], 9), round(seg[1][0], 9)) for seg in segments)
    expected = sorted(zip(shown["ci_low"].round(9).to_list(), shown["ci_high"].round(9).to_list(), strict=True))
    assert ends == expected


def test_forest_notes_suppressed_groups_and_standardized_effects(data: dict) -> None:  # type: ignore[type-arg]
    s = data["summary"]
    ax = plot_forest(s, measure="nprs", effect="srm")
    hidden = s.table.filter(measure="nprs", suppressed=True).height
    assert hidden > 0
    assert f"{hidden} group(s) with too few complete episodes not shown" in ax.get_xlabel()
    assert "no units" in ax.get_xlabel()
    assert ax.get_legend() is None  # no MCID line on a standardized scale
    with pytest.raises(ValueError, match="effect must be one of"):
        plot_forest(s, measure="nprs", effect="d")


def test_responder_rates_in_percent(data: dict) -> None:  # type: ignore[type-arg]
    s = data["by_technique"]
    ax = plot_responder_rates(s, measure="nprs")
    shown = s.table.filter(measure="nprs", suppressed=False)
    heights = sorted(p.get_width() for p in ax.patches)
    np.testing.assert_allclose(heights, np.sort(shown["responder_rate"].to_numpy() * 100))
    assert ax.get_xlim() == (0, 100)
    assert "2 points or 30%" in ax.get_xlabel()


def test_paired_slopes_draw_one_line_per_episode(data: dict) -> None:  # type: ignore[type-arg]
    ch = data["changes"]
    ax = plot_paired_slopes(ch, measure="odi", summary=data["overall"], max_episodes=10_000)
    complete = ch.filter(measure="odi", status="complete")
    lines = next(c for c in ax.collections if isinstance(c, LineCollection))
    assert len(lines.get_segments()) == complete.height
    mean_line = ax.lines[0]
    row = data["overall"].table.filter(measure="odi").row(0, named=True)
    np.testing.assert_allclose(mean_line.get_ydata(), [row["baseline_mean"], row["final_mean"]])
    assert f"n={complete.height}" in ax.get_title(loc="right").replace("\n", " ")
    assert _ticklabels(ax, "x") == ["Baseline", "Final"]
    sampled = plot_paired_slopes(ch, measure="nprs", max_episodes=50)
    segs = next(c for c in sampled.collections if isinstance(c, LineCollection)).get_segments()
    assert len(segs) == 50
    assert "50 drawn" in sampled.get_title(loc="right").replace("\n", " ")


def test_change_distribution_points_and_reference_lines(data: dict) -> None:  # type: ignore[type-arg]
    ch = data["changes"]
    ax = plot_change_distribution(ch, measure="lefs", by="technique", summary=data["by_technique"])
    scatter = [c for c in ax.collections if isinstance(c, PathCollection)]
    drawn = sum(len(c.get_offsets()) for c in scatter)
    counts = ch.filter(measure="lefs", status="complete").group_by("technique").len().filter(pl.col("len") >= 11)
    assert drawn == counts["len"].sum()
    vertical = [
        line.get_xdata()[0] for line in ax.lines if len(set(line.get_xdata())) == 1 and len(line.get_xdata()) == 2
    ]
    assert 9 in vertical  # LEFS MCID and MDC are 9 points (Binkley 1999)
    assert "IQR" in ax.get_xlabel()


def test_trajectories_lines_bands_and_counts(data: dict) -> None:  # type: ignore[type-arg]
    tr = trajectories(data["ds"], by="technique", measure="nprs")
    two = tr.filter(pl.col("technique").is_in(["joint_mobilization", "manipulation"]))
    ax = plot_trajectories(two)
    assert len(ax.lines) == 2
    jm = two.table.filter(technique="joint_mobilization").sort("week")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), jm["mean"].to_numpy().astype(float))
    counts_ax = ax.child_axes[0]
    np.testing.assert_array_equal(counts_ax.lines[0].get_ydata(), jm["n_episodes"].to_numpy())
    assert counts_ax.get_xlabel() == "Weeks since the start of the episode"
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"joint mobilization", "manipulation"}
    assert ax.lines[0].get_color() == PALETTE[0]
    with pytest.raises(ValueError, match="no rows"):
        plot_trajectories(tr.filter(measure="vas").filter(False))


def test_funnel_plot(data: dict) -> None:  # type: ignore[type-arg]
    f = funnel(data["changes"], unit="therapist_id", measure="nprs", min_cell=120)
    ax = plot_funnel(f)
    scatter = next(c for c in ax.collections if isinstance(c, PathCollection))
    shown = f.units.filter(~pl.col("suppressed"))
    np.testing.assert_allclose(scatter.get_offsets()[:, 0], shown["n"].to_numpy())
    np.testing.assert_allclose(scatter.get_offsets()[:, 1], shown["value"].to_numpy() * 100)
    assert len(ax.lines) == 5  # 2 levels x (lower, upper) + the overall line
    np.testing.assert_allclose(ax.lines[0].get_ydata(), f.limits["lower_95"].to_numpy() * 100)
    assert f.units.height - shown.height == 1  # T07, 116 episodes, is below min_cell
    assert "1 with too few episodes not shown" in ax.get_title(loc="right").replace("\n", " ")
    assert ax.get_xlabel() == "Complete episodes per therapist"


def test_rom_against_normal(data: dict) -> None:  # type: ignore[type-arg]
    ax = plot_rom_vs_normal(data["overall"])
    labels = _ticklabels(ax)
    assert "Shoulder flexion (left)  (n=140)" in labels
    assert not any("Lumbar" in label for label in labels)  # cm, not degrees
    normal_marks = ax.collections[-1].get_offsets()
    assert 180 in normal_marks[:, 0]  # shoulder flexion normal (AAOS)
    assert ax.get_xlabel() == "Degrees"


def test_trajectories_with_the_mixed_model_curve(data: dict) -> None:  # type: ignore[type-arg]
    from outcomes import trajectory_model

    tr = trajectories(data["ds"], by="technique", measure="nprs")
    two = tr.filter(pl.col("technique").is_in(["joint_mobilization", "manipulation"]))
    model = trajectory_model(data["ds"], measure="nprs", by="technique", time="log_weeks")
    ax = plot_trajectories(two, model=model)
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 2
    curve = model.curve.filter(group="joint_mobilization").sort("time")
    np.testing.assert_allclose(dashed[0].get_xdata(), curve["time"].to_numpy())
    np.testing.assert_allclose(dashed[0].get_ydata(), curve["fit"].to_numpy())
    weekly = two.table.filter(technique="joint_mobilization").sort("week")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), weekly["week"].to_numpy() + 0.5)  # the middle of each week
    assert "log(1 + weeks)" in ax.child_axes[0].get_xlabel()
    assert "joint mobilization: mixed model" in {t.get_text() for t in ax.get_legend().get_texts()}
    with pytest.raises(ValueError, match="grouped by"):
        plot_trajectories(trajectories(data["ds"], by=(), measure="nprs"), model=model)
    with pytest.raises(ValueError, match="the model is of"):
        plot_trajectories(
            trajectories(data["ds"], by="technique", measure="vas"),
            model=model,
        )


def test_plot_rankings_joins_each_units_raw_and_adjusted_rank() -> None:
    from outcomes import benchmark
    from outcomes.present.plots import plot_rankings

    rng = np.random.default_rng(3)
    units = np.repeat(["A", "B", "C", "D"], 60)
    chronic = rng.random(units.size) < np.where(units == "B", 0.95, 0.2)
    changes = pl.DataFrame(
        {
            "therapist_id": units,
            "chronicity": np.where(chronic, "chronic", "acute"),
            "baseline": rng.normal(6, 1, units.size),
            "improvement": 2 - 2.0 * chronic + rng.normal(0, 1, units.size),
            "measure": "nprs",
            "status": "complete",
        }
    ).with_columns(side=pl.lit(None, dtype=pl.String))
    b = benchmark(changes, adjust_for=("baseline", "chronicity"), min_reliability=0)
    ax = plot_rankings(b)
    t = b.table
    # independent ranks: numpy argsort of the raw means and of the shrunken scores (1 = best)
    raw_rank = {u: i + 1 for i, u in enumerate(np.array(t["therapist_id"])[np.argsort(-t["observed_mean"].to_numpy())])}
    adj_rank = {
        u: i + 1 for i, u in enumerate(np.array(t["therapist_id"])[np.argsort(-t["shrunken_residual"].to_numpy())])
    }
    lines = {(tuple(line.get_xdata()), tuple(line.get_ydata())) for line in ax.get_lines()}
    assert lines == {((0, 1), (raw_rank[u], adj_rank[u])) for u in raw_rank}
    assert raw_rank["B"] == 4  # mostly chronic: last on raw means
    assert adj_rank["B"] < 4  # not last once case mix is taken out
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
