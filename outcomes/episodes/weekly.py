"""Stage 2: one value per episode and week, for trajectories.

Each episode contributes at most one value per week (its last value that
week, ordered by date and then row), so an episode measured at every visit
does not outweigh one measured weekly. Week 0 is days 0-6 after
``start_date``. Values before the start date are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from outcomes.contract import ROW
from outcomes.episodes.techniques import primary_technique
from outcomes.ingest import Dataset

__all__ = ["weekly_values"]


def weekly_values(dataset: Dataset, /, *, measures: Sequence[str], by: Sequence[str] = ()) -> pl.LazyFrame:
    """The last value of each episode, measure and side per week since the episode started.

    Parameters
    ----------
    dataset : Dataset
        A validated dataset.
    measures : sequence of str
        Measure codes to keep.
    by : sequence of str
        Episode columns to carry (``technique`` is the primary technique).

    Returns
    -------
    polars.LazyFrame
        ``by`` columns, ``measure``, ``side``, ``episode_id``, ``week`` and ``value``.

    Raises
    ------
    ValueError
        When a column of ``by`` is not an episode column.
    """
    by_cols = list(by)
    episodes = (
        dataset.episodes.lazy().drop(ROW).join(primary_technique(dataset.treatments), on="episode_id", how="left")
    )
    names = episodes.collect_schema().names()
    missing = [c for c in by_cols if c not in names]
    if missing:
        raise ValueError(f"no episode column(s) {', '.join(missing)}")
    keys = [*by_cols, "measure", "side"]
    return (
        dataset.measurements.lazy()
        .filter(pl.col("measure").is_in(list(measures)))
        .join(episodes.select("episode_id", "start_date", *by_cols), on="episode_id", how="inner")
        .with_columns(((pl.col("measured_on") - pl.col("start_date")).dt.total_days() // 7).alias("week"))
        .filter(pl.col("week") >= 0)
        .group_by([*keys, "episode_id", "week"])
        .agg(pl.col("value").sort_by(["measured_on", ROW]).last())
    )
