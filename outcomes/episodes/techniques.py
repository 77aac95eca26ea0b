"""Stage 2: the primary technique of each episode."""

from __future__ import annotations

import polars as pl

__all__ = ["primary_technique"]


def primary_technique(treatments: pl.DataFrame | pl.LazyFrame, /) -> pl.LazyFrame:
    """The primary technique of each episode that has treatments.

    The technique with the most total minutes across the episode's treatments
    (a missing ``minutes`` counts as 0); ties are broken by the earliest first
    use (``visit_date``), then by the technique's name.

    Returns
    -------
    polars.LazyFrame
        ``episode_id``, ``technique``.

    Examples
    --------
    >>> import datetime as dt
    >>> t = pl.DataFrame({
    ...     "episode_id": ["E1", "E1", "E1", "E2"],
    ...     "visit_date": [dt.date(2025, 1, d) for d in (2, 2, 9, 3)],
    ...     "technique": ["therapeutic_exercise", "joint_mobilization", "joint_mobilization", "iastm"],
    ...     "minutes": [25, 15, 15, None],
    ... })
    >>> primary_technique(t).collect().sort("episode_id")["technique"].to_list()
    ['joint_mobilization', 'iastm']
    """
    return (
        treatments.lazy()
        .group_by("episode_id", "technique")
        .agg(
            pl.col("minutes").fill_null(0).sum().alias("__minutes"),
            pl.col("visit_date").min().alias("__first_use"),
        )
        .group_by("episode_id")
        .agg(
            pl.col("technique")
            .sort_by("__minutes", "__first_use", "technique", descending=[True, False, False])
            .first()
        )
    )
