"""Stage 4: trajectories, a measure's mean by week since the episode started, per group.

The weekly values come from :func:`outcomes.episodes.weekly_values`: each
episode contributes at most one value per week (its last value that week),
so an episode measured at every visit does not outweigh one measured weekly.
Week 0 is days 0-6 after ``start_date``; values before the start date are
left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from outcomes.aggregate import group_columns
from outcomes.analyses.results import TrajectoryResult
from outcomes.analyses.suppression import DEFAULT_MIN_CELL, check_min_cell, suppress
from outcomes.episodes import weekly_values
from outcomes.ingest import Dataset
from outcomes.stats import mean_interval_stats

__all__ = ["TRAJECTORY_COLUMNS", "trajectories"]

TRAJECTORY_COLUMNS: tuple[str, ...] = (
    "measure",
    "side",
    "week",
    "n_episodes",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "suppressed",
)
"""Columns after the group columns."""


def trajectories(
    dataset: Dataset,
    /,
    *,
    measure: str | Sequence[str] = "nprs",
    by: str | Sequence[str] = ("condition", "technique"),
    min_cell: int = DEFAULT_MIN_CELL,
    confidence_level: float = 0.95,
) -> TrajectoryResult:
    """Mean of a measure by week since the start of the episode, per group.

    Parameters
    ----------
    dataset : Dataset
        A validated dataset.
    measure : str or sequence of str, default "nprs"
        Measure code(s) from the catalog.
    by : str or sequence of str, default ("condition", "technique")
        Episode columns (``technique`` is the primary technique); ``()`` for
        one trajectory over all episodes.
    min_cell : int, default 11
        Weeks where fewer episodes were measured are suppressed.
    confidence_level : float, default 0.95
        For the t-interval of each weekly mean.

    Returns
    -------
    TrajectoryResult
        ``.table``: group columns, then :data:`TRAJECTORY_COLUMNS`, sorted by
        group, measure, side and week (``n_episodes`` is the number of
        episodes measured that week); and the settings (``measures``, ``by``,
        ``min_cell``, ``confidence_level``).

    Examples
    --------
    >>> from outcomes import read_dataset
    >>> from outcomes.synth import demo_dataset_path
    >>> tr = trajectories(read_dataset(demo_dataset_path()), by=())
    >>> tr.table.filter(week=0).select("n_episodes").item() > 1000
    True
    """
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
    check_min_cell(min_cell)
    measures = [measure] if isinstance(measure, str) else list(measure)
    unknown = sorted(set(measures) - set(dataset.catalog["code"].to_list()))
    if unknown:
        raise ValueError(f"unknown measure(s) {', '.join(unknown)}; see the measure catalog")
    by_cols = group_columns(by)
    keys = [*by_cols, "measure", "side"]
    weekly = (
        weekly_values(dataset, measures=measures, by=by_cols)
        .group_by([*keys, "week"])
        .agg(
            pl.len().cast(pl.Int64).alias("n_episodes"),
            pl.col("value").mean().alias("mean"),
            pl.col("value").std().alias("sd"),
        )
        .sort([*keys, "week"], nulls_last=False)
        .collect()
    )
    lo, hi, _ = mean_interval_stats(
        weekly["mean"].to_numpy().astype(float),
        weekly["sd"].to_numpy().astype(float),
        weekly["n_episodes"].to_numpy().astype(float),
        confidence_level=confidence_level,
    )
    suppressed = weekly["n_episodes"].to_numpy() < min_cell
    out = weekly.with_columns(
        pl.Series("ci_low", lo, nan_to_null=True),
        pl.Series("ci_high", hi, nan_to_null=True),
        pl.Series("suppressed", suppressed),
    ).with_columns(suppress(["mean", "sd", "ci_low", "ci_high"]))
    return TrajectoryResult(
        out.select(*by_cols, *TRAJECTORY_COLUMNS),
        measures=tuple(measures),
        by=tuple(by_cols),
        min_cell=min_cell,
        confidence_level=confidence_level,
    )
