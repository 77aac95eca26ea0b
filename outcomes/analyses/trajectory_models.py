"""Stage 4: mixed-model trajectories, a measure over time since the episode started, per group.

Every measurement of the measure on or after the episode's ``start_date`` is
one observation at its exact time (days / 7 for ``time="weeks"``); unlike
:func:`outcomes.analyses.trajectory.trajectories`, nothing is averaged by
week, and episodes measured at different times and different numbers of times
are used as they are. The model (:mod:`outcomes.stats.mixed`): one intercept
and one slope per group (cell means, no reference group), a random intercept
and slope per episode with an unstructured 2 x 2 covariance, REML, Wald (z)
intervals.

Small cells: a group with fewer than ``min_cell`` episodes is left out of the
fit (not shown, not pooled) and named in ``notes``. A measure recorded per
side (range of motion) is fitted for one side at a time: pass ``side``.

What the chart should draw (from ``curve``): per group, the line ``fit``
against ``time`` and a shaded band between ``ci_low`` and ``ci_high`` (the
uncertainty of the group's mean curve, not the spread of episodes); the axis
label from ``time`` ("weeks since the episode started") and the measure's
unit; the caption from ``notes`` when there are any (boundary fits, left-out
groups) and, for ``transform="log1p"``, that the line is the back-transformed
mean (a median-type curve), not the arithmetic mean. The curve runs from 0 to
the group's 95th centile of measurement times, so it does not extrapolate into
the sparse tail; optionally the weekly means of
:func:`~outcomes.analyses.trajectory.trajectories` as points behind it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from outcomes.analyses.suppression import DEFAULT_MIN_CELL, check_min_cell
from outcomes.contract import ROW
from outcomes.episodes.techniques import primary_technique
from outcomes.ingest import Dataset
from outcomes.stats.mixed import MixedFit, mixed_fit

__all__ = ["TrajectoryModel", "trajectory_model"]

Time = Literal["weeks", "days", "log_weeks"]
Transform = Literal["linear", "log1p"]

_ALL = "all"
"""The group label when ``by`` is None."""


@dataclass(frozen=True, repr=False, eq=False)
class TrajectoryModel:
    """A mixed-model trajectory fit, read by attribute.

    Attributes
    ----------
    fixed : polars.DataFrame
        ``group``, ``n_episodes``, ``term`` ("intercept": the mean at time 0;
        "slope": the change per unit of ``time``), ``estimate``, ``se``,
        ``ci_low``, ``ci_high``, ``p_value`` (Wald, z). On the transformed
        scale for ``transform="log1p"``.
    variance : polars.DataFrame
        ``component`` (``intercept_variance``, ``slope_variance``,
        ``intercept_slope_covariance``, ``intercept_slope_correlation``,
        ``residual_variance``) and ``estimate``; per episode, common to all groups.
    curve : polars.DataFrame
        ``group``, ``time``, ``fit``, ``ci_low``, ``ci_high``: the fitted mean
        and its pointwise band on the original scale of the measure.
    measure, side, by, time, transform : str or None
    confidence_level : float
    min_cell : int
    n_episodes, n_obs : int
        Episodes and measurements in the fit.
    notes : tuple of str
        Left-out groups and episodes, boundary fits, optimizer trouble,
        the back-transformation; empty for a plain fit.
    fit : MixedFit
        The array-level fit.
    """

    fixed: pl.DataFrame
    variance: pl.DataFrame
    curve: pl.DataFrame
    measure: str
    side: str | None
    by: str | None
    time: str
    transform: str
    confidence_level: float
    min_cell: int
    n_episodes: int
    n_obs: int
    notes: tuple[str, ...]
    fit: MixedFit

    def to_frame(self) -> pl.DataFrame:
        """The fixed-effects table."""
        return self.fixed

    @property
    def settings(self) -> dict[str, object]:
        """The settings that produced the fit, by name."""
        names = ("measure", "side", "by", "time", "transform", "confidence_level", "min_cell")
        return {name: getattr(self, name) for name in names}

    def _settings_text(self) -> str:
        text = "; ".join(f"{k} = {v}" for k, v in self.settings.items())
        return f"{text}; {self.n_episodes} episodes, {self.n_obs} measurements"

    def __repr__(self) -> str:
        return f"<TrajectoryModel: {self._settings_text()}>"

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        parts = [
            f'<p class="outcomes-result"><b>TrajectoryModel</b>: {html.escape(self._settings_text())}</p>',
            self.fixed._repr_html_(),
            self.variance._repr_html_(),
        ]
        if notes:
            parts.append(f"<ul>{notes}</ul>")
        return "\n".join(parts)


def _observations(
    dataset: Dataset, measure: str, side: str | None, by: str | None, time: Time
) -> tuple[pl.DataFrame, list[str]]:
    """``episode_id``, ``group``, ``time``, ``value`` of the measure, with notes on what was left out."""
    if measure not in set(dataset.catalog["code"].to_list()):
        raise ValueError(f"unknown measure {measure!r}; see the measure catalog")
    episodes = (
        dataset.episodes.lazy().drop(ROW).join(primary_technique(dataset.treatments), on="episode_id", how="left")
    )
    names = episodes.collect_schema().names()
    if by is not None and by not in names:
        raise ValueError(f"no episode column {by!r} (the primary technique is 'technique')")
    rows = dataset.measurements.filter(pl.col("measure") == measure)
    unsided = 0
    sides = sorted(s for s in rows["side"].unique().to_list() if s is not None)
    if side is None and sides:
        raise ValueError(f"measure {measure!r} is recorded per side ({', '.join(sides)}); pass side=")
    if side is not None:
        if not sides:
            raise ValueError(f"measure {measure!r} is not recorded per side; leave side=None")
        if side not in sides:
            raise ValueError(f"no {measure!r} measurements on side {side!r} (recorded: {', '.join(sides)})")
        unsided = rows.filter(pl.col("side").is_null()).height
        rows = rows.filter(pl.col("side") == side)
    per = 1.0 if time == "days" else 7.0  # log_weeks: weeks here, log(1 + weeks) in the model
    group = pl.lit(_ALL) if by is None else pl.col(by).cast(pl.String)
    data = (
        rows.lazy()
        .join(episodes.select("episode_id", "start_date", group.alias("group")), on="episode_id", how="inner")
        .with_columns(((pl.col("measured_on") - pl.col("start_date")).dt.total_days() / per).alias("time"))
        .select("episode_id", "group", "time", "value")
        .collect()
    )
    notes = []
    if side is not None and unsided:
        notes.append(f"{unsided} {measure} measurements with no side left out")
    before = data.filter(pl.col("time") < 0)
    if before.height:
        notes.append(f"{before.height} measurements before the episode's start date left out")
    data = data.filter(pl.col("time") >= 0, pl.col("value").is_not_null())
    missing = data.filter(pl.col("group").is_null())["episode_id"].n_unique()
    if missing:
        notes.append(f"{missing} episodes with no {by} left out")
        data = data.filter(pl.col("group").is_not_null())
    return data, notes


def trajectory_model(
    dataset: Dataset,
    /,
    *,
    measure: str,
    by: str | None = None,
    side: str | None = None,
    time: Time = "weeks",
    transform: Transform = "linear",
    confidence_level: float = 0.95,
    min_cell: int = DEFAULT_MIN_CELL,
) -> TrajectoryModel:
    """A measure over time since the episode started: a mixed model with a random intercept and slope per episode.

    Parameters
    ----------
    dataset : Dataset
        A validated dataset.
    measure : str
        Measure code from the catalog (any measure, not only pain).
    by : str, optional
        Episode column that defines the groups (``technique`` is the primary
        technique); None for one group, ``"all"``. Episodes with no value in
        it are left out.
    side : {"left", "right"}, optional
        Required for a measure recorded per side, refused otherwise.
    time : {"weeks", "days", "log_weeks"}, default "weeks"
        Time since ``start_date`` in the model: days / 7 (a fraction of a
        week), days, or ``log(1 + weeks)``. A straight line in weeks fits a
        recovery that slows down (most pain does: a fast fall in the first
        weeks, then a plateau) badly; in log(1 + weeks) such a curve is close
        to straight, and the slope is the change per unit of log(1 + weeks),
        e.g. from week 0 to week e - 1 = 1.7. The curve's ``time`` is in weeks
        (days for ``"days"``) whatever the model's scale.
    transform : {"linear", "log1p"}, default "linear"
        ``log1p`` fits ``log(1 + value)`` (values must be at least 0): the
        slope is then a relative change of ``1 + value``, and the curve is
        back-transformed with ``expm1``, a median-type curve rather than the
        arithmetic mean.
    confidence_level : float, default 0.95
    min_cell : int, default 11
        Groups with fewer episodes are left out of the fit and named in ``notes``.

    Returns
    -------
    TrajectoryModel

    Raises
    ------
    ValueError
        Unknown measure or column, a side missing or not applicable, an
        unknown ``time`` or ``transform``, negative values with ``log1p``, or
        no group with data left to fit.

    Examples
    --------
    >>> from outcomes import read_dataset
    >>> from outcomes.synth import demo_dataset_path
    >>> tm = trajectory_model(read_dataset(demo_dataset_path()), measure="nprs")
    >>> slope = tm.fixed.filter(term="slope")["estimate"].item()
    >>> print(f"{slope:.2f} {tm.n_episodes}")
    -0.31 1534
    """
    check_min_cell(min_cell)
    if time not in ("weeks", "days", "log_weeks"):
        raise ValueError("time must be 'weeks', 'days' or 'log_weeks'")
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
    if transform not in ("linear", "log1p"):
        raise ValueError("transform must be 'linear' or 'log1p'")
    data, notes = _observations(dataset, measure, side, by, time)
    if transform == "log1p" and data.height and float(data["value"].min()) < 0:  # type: ignore[arg-type]
        raise ValueError(f"transform='log1p' needs values of at least 0; {measure!r} has negative values")
    sizes = data.group_by("group").agg(pl.col("episode_id").n_unique().alias("n")).sort("group")
    small = sizes.filter(pl.col("n") < min_cell)["group"].to_list()
    if small:
        label = "group" if len(small) == 1 else "groups"
        notes.append(
            f"{label} {', '.join(small)}: fewer than {min_cell} episodes, left out of the fit "
            "(small cells are suppressed)"
        )
        data = data.filter(~pl.col("group").is_in(small))
    flat = data.group_by("group").agg((pl.col("time").max() == pl.col("time").min()).alias("flat")).filter("flat")
    if flat.height:
        notes.append(f"{', '.join(sorted(flat['group'].to_list()))}: all measured at one time, left out (no slope)")
        data = data.filter(~pl.col("group").is_in(flat["group"]))
    if data.height == 0 or data["episode_id"].n_unique() < 2:
        raise ValueError(f"no data left to fit for measure {measure!r}" + (f" ({'; '.join(notes)})" if notes else ""))
    y = data["value"].to_numpy().astype(np.float64)
    if transform == "log1p":
        y = np.log1p(y)
    t = data["time"].to_numpy().astype(np.float64)
    fit = mixed_fit(
        y,
        np.log1p(t) if time == "log_weeks" else t,
        data["episode_id"].to_numpy(),
        data["group"].to_numpy(),
        confidence_level=confidence_level,
    )
    notes += list(fit.notes)
    if transform == "log1p":
        notes.append(
            "log1p: estimates are on the log(1 + value) scale; the curve is back-transformed with expm1, "
            "a median-type curve, not the arithmetic mean"
        )
    return TrajectoryModel(
        fixed=_fixed_table(fit),
        variance=pl.DataFrame(
            {
                "component": [
                    "intercept_variance",
                    "slope_variance",
                    "intercept_slope_covariance",
                    "intercept_slope_correlation",
                    "residual_variance",
                ],
                "estimate": [
                    fit.intercept_var,
                    fit.slope_var,
                    fit.intercept_slope_cov,
                    fit.correlation,
                    fit.residual_var,
                ],
            },
            schema={"component": pl.String, "estimate": pl.Float64},
        ).with_columns(pl.col("estimate").fill_nan(None)),
        curve=_curve(fit, data, time, transform),
        measure=measure,
        side=side,
        by=by,
        time=time,
        transform=transform,
        confidence_level=confidence_level,
        min_cell=min_cell,
        n_episodes=fit.n_subjects,
        n_obs=fit.n_obs,
        notes=tuple(notes),
        fit=fit,
    )


def _fixed_table(fit: MixedFit) -> pl.DataFrame:
    i_lo, i_hi, s_lo, s_hi = fit.intervals()
    i_p, s_p = fit.p_values()
    k = len(fit.groups)
    return pl.DataFrame(
        {
            "group": [g for g in fit.groups for _ in range(2)],
            "n_episodes": np.repeat(fit.group_subjects, 2),
            "term": ["intercept", "slope"] * k,
            "estimate": np.column_stack([fit.intercept, fit.slope]).ravel(),
            "se": np.column_stack([fit.intercept_se, fit.slope_se]).ravel(),
            "ci_low": np.column_stack([i_lo, s_lo]).ravel(),
            "ci_high": np.column_stack([i_hi, s_hi]).ravel(),
            "p_value": np.column_stack([i_p, s_p]).ravel(),
        },
        schema={
            "group": pl.String,
            "n_episodes": pl.Int64,
            "term": pl.String,
            "estimate": pl.Float64,
            "se": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "p_value": pl.Float64,
        },
    )


def _curve(fit: MixedFit, data: pl.DataFrame, time: Time, transform: Transform) -> pl.DataFrame:
    """The mean curve per group on a grid from 0 to the group's 95th centile of times (half weeks, or days)."""
    step = 1.0 if time == "days" else 0.5
    ends = dict(data.group_by("group").agg(pl.col("time").quantile(0.95)).iter_rows())
    frames = []
    for j, group in enumerate(fit.groups):
        grid = np.arange(0.0, np.ceil(float(ends[group]) / step) * step + step / 2, step)
        f, lo, hi = (a[j] for a in fit.mean_curve(np.log1p(grid) if time == "log_weeks" else grid))
        if transform == "log1p":
            f, lo, hi = np.expm1(f), np.expm1(lo), np.expm1(hi)
        frames.append(pl.DataFrame({"group": group, "time": grid, "fit": f, "ci_low": lo, "ci_high": hi}))
    return pl.concat(frames).sort("group", "time")
