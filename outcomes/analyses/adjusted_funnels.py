"""Stage 4: the risk-adjusted funnel, a benchmark's residual means against their number of episodes.

Each unit scored by :func:`outcomes.benchmark` is a point at ``(n,
residual_mean)``, its mean of observed - expected improvement; the target is
0 (as expected for its case mix) and the limits are ``0 -+ z sd / sqrt(n)``
with ``sd = sqrt(sigma2)``, the benchmark's within-unit SD of the residuals
(:func:`outcomes.stats.normal_limits`, Spiegelhalter 2005). The
over-dispersion options are those of :func:`outcomes.funnel` for means, made
by the same code (:func:`outcomes.analyses.funnels.funnel_from_units`), on the
z-scores ``residual_mean / sqrt(sigma2 / n)`` of the scored units.

It lives apart from ``funnels`` because ``benchmarks`` imports ``funnels``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from outcomes.analyses.benchmarks import BenchmarkResult
from outcomes.analyses.funnels import Adjustment, FunnelResult, funnel_from_units

__all__ = ["benchmark_funnel"]


def benchmark_funnel(
    result: BenchmarkResult,
    /,
    *,
    levels: Sequence[float] = (0.95, 0.998),
    overdispersion: Adjustment = "none",
    trim: float = 0.1,
) -> FunnelResult:
    """Funnel-plot data of a benchmark: each unit's residual mean (observed - expected) against its n.

    Parameters
    ----------
    result : BenchmarkResult
        What :func:`outcomes.benchmark` returns; read by column name
        (the unit column, ``n``, ``residual_mean``, ``suppressed``) and its
        ``sigma2``, ``measure``, ``unit`` and ``min_n``.
    levels : sequence of float, default (0.95, 0.998)
    overdispersion : {"none", "multiplicative", "additive"}, default "none"
        As in :func:`outcomes.funnel` for means: ``phi`` (and ``tau2``) from
        the winsorised z-scores ``residual_mean / sqrt(sigma2 / n)`` of the
        scored units (those the benchmark suppressed have no residual mean).
    trim : float, default 0.1
        Share of those z-scores winsorised at each end.

    Returns
    -------
    FunnelResult
        ``metric="residual_mean"``, ``target=0``, ``sd=sqrt(sigma2)``. Every
        unit of the benchmark is in ``units``; those it did not score (too
        few episodes, too low a reliability) are ``suppressed``, with their
        ``n`` and no value or flag. ``min_cell`` is the benchmark's ``min_n``
        (its size threshold, never below its ``min_cell``).

    Raises
    ------
    TypeError
        Unless ``result`` is a :class:`BenchmarkResult`.
    ValueError
        When ``sigma2`` is not positive, or over-dispersion is asked for with
        fewer than two scored units.

    Examples
    --------
    >>> import numpy as np
    >>> from outcomes import benchmark
    >>> rng = np.random.default_rng(7)
    >>> sizes = [40, 60, 80, 5]
    >>> changes = pl.DataFrame({
    ...     "therapist_id": np.repeat(["T1", "T2", "T3", "T4"], sizes),
    ...     "baseline": rng.normal(6, 1.5, sum(sizes)),
    ...     "improvement": rng.normal(2, 1.5, sum(sizes)),
    ...     "measure": "nprs", "side": None, "status": "complete",
    ... })
    >>> f = benchmark_funnel(benchmark(changes, adjust_for=("baseline",), min_reliability=0))
    >>> f.units.select("unit", "n", "suppressed").rows()
    [('T1', 40, False), ('T2', 60, False), ('T3', 80, False), ('T4', 5, True)]
    >>> row = f.limits.filter(n=25).row(0, named=True)
    >>> print(f"{row['upper_95'] / (f.sd / 5):.2f}")  # 0 + 1.96 sd / sqrt(25)
    1.96
    """
    if not isinstance(result, BenchmarkResult):
        raise TypeError(
            f"benchmark_funnel takes the BenchmarkResult that benchmark() returns; got {type(result).__name__}"
        )
    sigma2 = float(result.sigma2)
    if not (math.isfinite(sigma2) and sigma2 > 0):
        raise ValueError("the benchmark's within-unit variance sigma2 is not positive: no funnel limits")
    units = result.table.select(
        pl.col(result.unit).alias("unit"),
        "n",
        pl.col("residual_mean").alias("value"),
        pl.col("suppressed") | pl.col("residual_mean").is_null(),
    )
    return funnel_from_units(
        units,
        target=0.0,
        sd=math.sqrt(sigma2),
        metric="residual_mean",
        measure=result.measure,
        unit_column=result.unit,
        levels=levels,
        min_cell=result.min_n,
        overdispersion=overdispersion,
        trim=trim,
    )
