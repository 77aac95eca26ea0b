"""Stage 4: funnel-plot data for comparing clinics or therapists.

Each unit (clinic, therapist, ...) is a point: its responder rate or mean
improvement against its number of complete episodes. Control limits around
the overall value show how far a unit may stray by chance alone at each size
(Spiegelhalter 2005; the formulas are in :mod:`outcomes.stats.funnel_limits`):
exact binomial limits with Spiegelhalter's interpolation for proportions,
``target -+ z * sd / sqrt(n)`` with the overall SD of improvement for means.

Default limits: 95% (about 2 SD) and 99.8% (about 3 SD).

With ``overdispersion="multiplicative"`` or ``"additive"`` the limits are
widened for between-unit variation beyond chance (Spiegelhalter 2005): from
the units' z-scores, winsorised at ``trim`` each end, the factor ``phi`` and
the limits ``target -+ z sqrt(phi) se``, or the DerSimonian-Laird ``tau2`` and
``target -+ z sqrt(se^2 + tau2)``; for rates these use the normal
approximation ``se = sqrt(p (1 - p) / n)`` in place of the exact binomial limits.

:func:`funnel_from_units` makes the limits, flags and over-dispersion from
units already scored; :func:`funnel` uses it, and so does
:func:`outcomes.analyses.benchmark_funnel` (module ``adjusted_funnels``) for
a benchmark's risk-adjusted residual means (metric ``residual_mean``, target 0).
:func:`outcomes.present.plots.plot_funnel` draws either kind and
:func:`outcomes.present.tables.funnel_table` lists every unit beside it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from outcomes.analyses.results import level_text
from outcomes.analyses.suppression import DEFAULT_MIN_CELL, check_min_cell, suppress
from outcomes.episodes import as_changes_frame, check_changes, responder_rule_of
from outcomes.stats import binomial_limits, normal_limits
from outcomes.stats.funnel_limits import (
    dersimonian_laird_tau2,
    overdispersed_normal_limits,
    overdispersed_proportion_limits,
)
from outcomes.stats.funnel_limits import (
    overdispersion as overdispersion_of,
)

__all__ = [
    "Adjustment",
    "EpisodeMetric",
    "FunnelResult",
    "Metric",
    "check_overdispersion",
    "funnel",
    "funnel_from_units",
    "level_suffix",
    "unit_episodes",
]

EpisodeMetric = Literal["responder_rate", "mean_improvement"]
"""What :func:`funnel` computes per unit from the episodes."""
Metric = Literal[EpisodeMetric, "residual_mean"]
"""What a funnel's points are: the two above, or a benchmark's risk-adjusted residual mean."""
Adjustment = Literal["none", "multiplicative", "additive"]
"""How the limits allow for over-dispersion."""


@dataclass(frozen=True, eq=False)
class FunnelResult:
    """Funnel-plot data.

    Attributes
    ----------
    units : polars.DataFrame
        ``unit`` (the unit column's name is kept in ``unit_column``), ``n``,
        ``value``, ``suppressed`` (n below ``min_cell``, or for
        :func:`~outcomes.analyses.benchmark_funnel` a unit the benchmark did
        not score: value empty, n kept), and one ``outside_<level>`` flag per
        control level (null when suppressed).
    limits : polars.DataFrame
        ``n`` from 1 to the largest unit size and ``lower_<level>`` /
        ``upper_<level>`` per level, e.g. ``lower_95``, ``upper_99_8``.
    target : float
        The overall value across all complete episodes (0 for ``residual_mean``).
    sd : float
        The overall SD of improvement (means only; NaN for rates); for
        ``residual_mean``, ``sqrt(sigma2)`` of the benchmark.
    metric : {"responder_rate", "mean_improvement", "residual_mean"}
    measure, unit_column : str
    levels : tuple of float
    min_cell : int
        Units with fewer complete episodes are suppressed.
    responder_rule : str or None
        The rule of the changes' ``responder`` column (responder rates only;
        None for means or where the changes did not record it).
    phi : float
        Spiegelhalter's over-dispersion factor (mean squared winsorised
        z-score over the units that have a value: in :func:`funnel` every
        unit, suppressed ones included; in a benchmark funnel the scored ones); NaN when
        ``overdispersion`` is "none". The multiplicative limits use ``max(phi, 1)``.
    tau2 : float
        The DerSimonian-Laird between-unit variance on the funnel's scale
        ("additive" only; NaN otherwise).
    overdispersion : str
        "none", "multiplicative" or "additive": which limits were drawn.
    trim : float
        The share of z-scores winsorised at each end for ``phi`` and ``tau2``.
    """

    units: pl.DataFrame
    limits: pl.DataFrame
    target: float
    sd: float
    metric: Metric
    measure: str
    unit_column: str
    levels: tuple[float, ...]
    min_cell: int = DEFAULT_MIN_CELL
    responder_rule: str | None = None
    phi: float = float("nan")
    tau2: float = float("nan")
    overdispersion: str = "none"
    trim: float = 0.1

    def to_frame(self) -> pl.DataFrame:
        """The units table."""
        return self.units

    def _settings_text(self) -> str:
        levels = ", ".join(level_text(level) for level in self.levels)
        rule = f"; responder_rule = {self.responder_rule}" if self.metric == "responder_rate" else ""
        return (
            f"{self.metric} of {self.measure} by {self.unit_column}; target = {self.target:.4g}; "
            f"limits {levels}; min_cell = {self.min_cell}{rule}{self._overdispersion_text()}"
        )

    def _overdispersion_text(self) -> str:
        if self.overdispersion == "multiplicative":
            return f"; over-dispersion: multiplicative, phi = {self.phi:.4g}"
        if self.overdispersion == "additive":
            return f"; over-dispersion: additive, tau2 = {self.tau2:.4g}"
        return ""

    def __repr__(self) -> str:
        return f"<FunnelResult: {self.units.height} units; {self._settings_text()}>"

    def _repr_html_(self) -> str:
        head = f'<p class="outcomes-result"><b>FunnelResult</b>: {html.escape(self._settings_text())}</p>'
        return head + self.units._repr_html_()


def unit_episodes(
    changes: pl.DataFrame | pl.LazyFrame, /, *, unit: str, measure: str, side: str | None
) -> pl.DataFrame:
    """The complete episodes of one measure and side (None: rows without a side) that have a ``unit``."""
    return (
        changes.lazy()
        .filter(
            (pl.col("measure") == measure)
            & (pl.col("side").is_null() if side is None else pl.col("side") == side)
            & (pl.col("status") == "complete")
            & pl.col(unit).is_not_null()
        )
        .collect()
    )


def level_suffix(level: float, /) -> str:
    """The suffix that names a control level in column names: 0.95 -> ``95``, 0.998 -> ``99_8``.

    Examples
    --------
    >>> level_suffix(0.95), level_suffix(0.998)
    ('95', '99_8')
    """
    return f"{level * 100:g}".replace(".", "_")


def funnel(
    changes: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    unit: str = "therapist_id",
    measure: str = "nprs",
    side: str | None = None,
    metric: EpisodeMetric = "responder_rate",
    levels: Sequence[float] = (0.95, 0.998),
    min_cell: int = DEFAULT_MIN_CELL,
    overdispersion: Adjustment = "none",
    trim: float = 0.1,
) -> FunnelResult:
    """Funnel-plot data for ``unit`` on one measure.

    Parameters
    ----------
    changes : polars.DataFrame or polars.LazyFrame
        Output of :func:`outcomes.episode_changes`; a pandas (or other Arrow)
        dataframe of the same columns is converted at the door.
    unit : str, default "therapist_id"
        Episode column that defines the units (``clinic_id``, ...).
    measure, side : str
        The measure (and side, for ROM) to compare on.
    metric : {"responder_rate", "mean_improvement"}
    levels : sequence of float, default (0.95, 0.998)
    min_cell : int, default 11
        Units with fewer complete episodes are suppressed (no value, no flag).
    overdispersion : {"none", "multiplicative", "additive"}, default "none"
        Widen the limits for over-dispersion (module docstring); "none" keeps
        the exact binomial (rates) or normal (means) limits.
    trim : float, default 0.1
        Share of the units' z-scores winsorised at each end when estimating
        ``phi`` (and the ``tau2`` built on it).

    Examples
    --------
    >>> from outcomes import read_dataset, episode_changes
    >>> from outcomes.synth import demo_dataset_path
    >>> f = funnel(episode_changes(read_dataset(demo_dataset_path())), unit="clinic_id")
    >>> f.units["unit"].to_list()
    ['C01', 'C02', 'C03']
    """
    check_min_cell(min_cell)
    changes = as_changes_frame(changes)
    check_changes(changes, [unit, "measure", "side", "status", "improvement", "responder"])
    rule = responder_rule_of(changes) if metric == "responder_rate" else None
    data = unit_episodes(changes, unit=unit, measure=measure, side=side)
    if metric == "responder_rate":
        data = data.filter(pl.col("responder").is_not_null())
        value = pl.col("responder").cast(pl.Float64).mean()
    elif metric == "mean_improvement":
        value = pl.col("improvement").mean()
    else:
        raise ValueError("metric must be 'responder_rate' or 'mean_improvement'")
    check_overdispersion(overdispersion)
    if data.height == 0:
        raise ValueError(f"no complete episodes with a {metric.replace('_', ' ')} for measure {measure!r}")
    target = float(data.select(value).item())
    spread = data["improvement"].std() if metric == "mean_improvement" else None
    sd = float(spread) if isinstance(spread, (int, float)) else float("nan")  # one episode: no SD
    units = (
        data.group_by(unit)
        .agg(pl.len().cast(pl.Int64).alias("n"), value.alias("value"))
        .rename({unit: "unit"})
        .with_columns((pl.col("n") < min_cell).alias("suppressed"))
    )
    return funnel_from_units(
        units,
        target=target,
        sd=sd,
        metric=metric,
        measure=measure,
        unit_column=unit,
        levels=levels,
        min_cell=min_cell,
        overdispersion=overdispersion,
        trim=trim,
        responder_rule=rule,
    )


def check_overdispersion(overdispersion: str, /) -> None:
    """Raise ValueError unless ``overdispersion`` is "none", "multiplicative" or "additive"."""
    if overdispersion not in ("none", "multiplicative", "additive"):
        raise ValueError("overdispersion must be 'none', 'multiplicative' or 'additive'")


def funnel_from_units(
    units: pl.DataFrame,
    /,
    *,
    target: float,
    sd: float,
    metric: Metric,
    measure: str,
    unit_column: str,
    levels: Sequence[float],
    min_cell: int,
    overdispersion: Adjustment = "none",
    trim: float = 0.1,
    responder_rule: str | None = None,
) -> FunnelResult:
    """The funnel of units already scored: limits, flags and over-dispersion around ``target``.

    The one place where funnel limits and flags are made, for :func:`funnel` and
    :func:`outcomes.analyses.benchmark_funnel`. ``units`` has one row per unit:
    ``unit``, ``n``, ``value`` (empty where the unit has no score) and
    ``suppressed``. Rates (``metric="responder_rate"``) get the exact binomial
    limits, means (every other metric) ``target -+ z sd / sqrt(n)``; with
    over-dispersion, ``phi`` and ``tau2`` come from the z-scores of the units
    that have a value (suppressed ones included where they have one). The
    suppressed units' values and flags are emptied; they keep their ``n``.
    """
    check_overdispersion(overdispersion)
    units = units.select("unit", pl.col("n").cast(pl.Int64), pl.col("value").cast(pl.Float64), "suppressed").sort(
        "unit"
    )
    max_n = int(units["n"].max())  # type: ignore[arg-type]
    grid = np.arange(1, max_n + 1, dtype=float)
    limit_cols: dict[str, np.ndarray] = {"n": grid.astype(np.int64)}
    n_units = units["n"].to_numpy().astype(float)
    v_all = units["value"].to_numpy().astype(float)  # null -> NaN: no z-score, never outside
    phi, tau2 = float("nan"), float("nan")
    if overdispersion != "none":
        var_null = target * (1 - target) if metric == "responder_rate" else sd**2
        if not (np.isfinite(var_null) and var_null > 0) or np.isfinite(v_all).sum() < 2:
            raise ValueError("over-dispersion needs at least two units and a spread under the null")
        se_units = np.sqrt(var_null / n_units)
        phi = overdispersion_of((v_all - target) / se_units, trim=trim).phi
        if overdispersion == "additive":
            tau2 = dersimonian_laird_tau2(v_all, se_units**2, target=target, trim=trim)

    def limits_at(sizes: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        adjust = {"phi": max(phi, 1.0)} if overdispersion == "multiplicative" else {"tau2": tau2}
        if overdispersion == "none":
            if metric == "responder_rate":
                return binomial_limits(sizes, target, level)
            return normal_limits(sizes, target, sd, level)
        if metric == "responder_rate":
            lo, hi = overdispersed_proportion_limits(sizes, target, level, **adjust)
            return np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        return overdispersed_normal_limits(sizes, target, sd, level, **adjust)

    flags = {}
    for level in levels:
        name = level_suffix(level)
        lo, hi = limits_at(grid, level)
        u_lo, u_hi = limits_at(n_units, level)
        limit_cols[f"lower_{name}"], limit_cols[f"upper_{name}"] = lo, hi
        flags[f"outside_{name}"] = (v_all < u_lo) | (v_all > u_hi)
    units = units.with_columns(*[pl.Series(k, f) for k, f in flags.items()]).with_columns(suppress(["value", *flags]))
    units = units.select("unit", "n", "value", "suppressed", *flags)
    return FunnelResult(
        units=units,
        limits=pl.DataFrame(limit_cols),
        target=target,
        sd=sd,
        metric=metric,
        measure=measure,
        unit_column=unit_column,
        levels=tuple(levels),
        min_cell=min_cell,
        responder_rule=responder_rule,
        phi=phi,
        tau2=tau2,
        overdispersion=overdispersion,
        trim=trim,
    )
