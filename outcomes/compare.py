"""Stage 4: comparisons between groups (``data-contract.md``, "Output: comparisons between groups").

One row per pair of groups compared within a stratum (for example techniques
within a condition), per measure and side. In each pair ``group_a`` is the
name that sorts first; ``diff`` is a minus b in improvement (positive: a
improved more). A comparison family is all pairs of one stratum and one
measure (and side); ``p_adjusted`` is Holm-adjusted within it.

Columns beyond the contract: ``suppressed`` (either group has fewer than
``min_cell`` complete episodes; the statistics are then empty and the pair
leaves its family).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

from outcomes._aggregate import group_statistics
from outcomes.effect_sizes import cliffs_delta, hedges_g_stats, welch_stats
from outcomes.summaries import _check_changes

__all__ = ["COMPARISON_COLUMNS", "ancova_stats", "compare"]

COMPARISON_COLUMNS: tuple[str, ...] = (
    "measure",
    "side",
    "group_a",
    "group_b",
    "n_a",
    "n_b",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "hedges_g",
    "g_ci_low",
    "g_ci_high",
    "cliffs_delta",
    "p_value",
    "p_adjusted",
    "adjusted_diff",
    "adjusted_ci_low",
    "adjusted_ci_high",
    "suppressed",
)
"""Columns after the stratum columns."""


def ancova_stats(
    n_a: np.ndarray,
    xbar_a: np.ndarray,
    ybar_a: np.ndarray,
    sxx_a: np.ndarray,
    syy_a: np.ndarray,
    sxy_a: np.ndarray,
    n_b: np.ndarray,
    xbar_b: np.ndarray,
    ybar_b: np.ndarray,
    sxx_b: np.ndarray,
    syy_b: np.ndarray,
    sxy_b: np.ndarray,
    *,
    confidence_level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Baseline-adjusted difference a - b from per-group sufficient statistics (ANCOVA, common slope).

    The ordinary least squares fit of ``y ~ group + x`` on the two groups
    (``y`` improvement, ``x`` baseline) has the pooled within-group slope
    ``b = (Sxy_a + Sxy_b) / (Sxx_a + Sxx_b)`` and the group coefficient
    ``(ybar_a - ybar_b) - b (xbar_a - xbar_b)``, with variance
    ``s^2 (1/n_a + 1/n_b + (xbar_a - xbar_b)^2 / (Sxx_a + Sxx_b))`` where
    ``s^2 = (Syy_a + Syy_b - b (Sxy_a + Sxy_b)) / (n_a + n_b - 3)``
    (e.g. Snedecor & Cochran 1989, ch. 18). ``S..`` are within-group sums of
    squares and cross-products about the group means.

    Returns
    -------
    adjusted_diff, ci_low, ci_high
    """
    sxx, sxy, syy = sxx_a + sxx_b, sxy_a + sxy_b, syy_a + syy_b
    df = n_a + n_b - 3
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = sxy / sxx
        dx = xbar_a - xbar_b
        adj = (ybar_a - ybar_b) - slope * dx
        s2 = (syy - slope * sxy) / df
        se = np.sqrt(s2 * (1 / n_a + 1 / n_b + dx**2 / sxx))
        q = stats.t.ppf(0.5 + confidence_level / 2, df)
        valid = (df >= 1) & (sxx > 0) & np.isfinite(se)
        return (
            np.where(valid, adj, np.nan),
            np.where(valid, adj - q * se, np.nan),
            np.where(valid, adj + q * se, np.nan),
        )


def compare(
    changes: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    between: str = "technique",
    within: str | Sequence[str] = ("condition",),
    min_cell: int = 11,
    confidence_level: float = 0.95,
) -> pl.DataFrame:
    """Compare groups pairwise within strata, per measure and side.

    Parameters
    ----------
    changes : polars.DataFrame or polars.LazyFrame
        Output of :func:`outcomes.episode_changes`.
    between : str, default "technique"
        The episode column whose values are compared.
    within : str or sequence of str, default ("condition",)
        Stratum columns; ``()`` compares across the whole dataset.
    min_cell : int, default 11
        Pairs where either group has fewer complete episodes are suppressed.
    confidence_level : float, default 0.95

    Returns
    -------
    polars.DataFrame
        Stratum columns, then :data:`COMPARISON_COLUMNS`, sorted. Statistics:

        - ``diff``: mean improvement of a minus b; Welch interval and p-value;
        - ``hedges_g``: d_s (pooled SD of improvement) times J(n_a + n_b - 2),
          noncentral-t interval times J;
        - ``cliffs_delta``: P(a > b) - P(a < b) over all pairs of episodes;
        - ``p_adjusted``: Holm within each stratum x measure (x side);
        - ``adjusted_diff``: ANCOVA difference adjusted for baseline, with its
          interval (see :func:`ancova_stats`).

    Examples
    --------
    >>> from outcomes import read_dataset, episode_changes
    >>> from outcomes.synth import demo_dataset_path
    >>> c = compare(episode_changes(read_dataset(demo_dataset_path())))
    >>> c.filter(condition="low_back_pain", measure="nprs").select("group_a", "group_b").row(0)
    ('joint_mobilization', 'manipulation')
    """
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
    if min_cell < 1:
        raise ValueError("min_cell must be at least 1")
    strata = [within] if isinstance(within, str) else list(within)
    if between in strata:
        raise ValueError(f"{between!r} cannot be both compared (between) and a stratum (within)")
    family = [*strata, "measure", "side"]
    keys = [*family, between]
    _check_changes(changes, [*keys, "status", "baseline", "improvement"])

    g = (
        group_statistics(changes, keys, keep_values=True)
        .filter(pl.col(between).is_not_null() & (pl.col("n") > 0))
        .with_columns(
            ((pl.col("n") - 1) * pl.col("baseline_sd") ** 2).alias("sxx"),
            ((pl.col("n") - 1) * pl.col("sd_improvement") ** 2).alias("syy"),
        )
        .select(*keys, "n", "baseline_mean", "mean_improvement", "sd_improvement", "sxx", "syy", "sxy", "values")
        .collect()
    )
    a = g.rename({c: f"{c}_a" for c in g.columns if c not in family})
    b = g.rename({c: f"{c}_b" for c in g.columns if c not in family})
    pairs = (
        a.join(b, on=family, how="inner", nulls_equal=True)
        .filter(pl.col(f"{between}_a") < pl.col(f"{between}_b"))
        .sort([*family, f"{between}_a", f"{between}_b"], nulls_last=False)
    )

    def arr(name: str) -> np.ndarray:
        return pairs[name].to_numpy().astype(float)

    n_a, n_b = arr("n_a"), arr("n_b")
    two_groups = (
        arr("mean_improvement_a"),
        arr("sd_improvement_a"),
        n_a,
        arr("mean_improvement_b"),
        arr("sd_improvement_b"),
        n_b,
    )
    diff, d_lo, d_hi, p = welch_stats(*two_groups, confidence_level=confidence_level)
    g_est, g_lo, g_hi = hedges_g_stats(*two_groups, confidence_level=confidence_level)
    adj, adj_lo, adj_hi = ancova_stats(
        n_a,
        arr("baseline_mean_a"),
        arr("mean_improvement_a"),
        arr("sxx_a"),
        arr("syy_a"),
        arr("sxy_a"),
        n_b,
        arr("baseline_mean_b"),
        arr("mean_improvement_b"),
        arr("sxx_b"),
        arr("syy_b"),
        arr("sxy_b"),
        confidence_level=confidence_level,
    )
    suppressed = (n_a < min_cell) | (n_b < min_cell)
    # Cliff's delta needs the values: one O(n log n) numpy call per pair (pairs are few).
    delta = np.array(
        [
            cliffs_delta(va.to_numpy(), vb.to_numpy()) if not s else np.nan
            for va, vb, s in zip(pairs["values_a"], pairs["values_b"], suppressed, strict=True)
        ],
        dtype=float,
    )
    out = pairs.select(
        *family,
        pl.col(f"{between}_a").alias("group_a"),
        pl.col(f"{between}_b").alias("group_b"),
        "n_a",
        "n_b",
    ).with_columns(
        *[
            pl.Series(name, values, dtype=pl.Float64, nan_to_null=True)
            for name, values in {
                "diff": diff,
                "diff_ci_low": d_lo,
                "diff_ci_high": d_hi,
                "hedges_g": g_est,
                "g_ci_low": g_lo,
                "g_ci_high": g_hi,
                "cliffs_delta": delta,
                "p_value": p,
                "adjusted_diff": adj,
                "adjusted_ci_low": adj_lo,
                "adjusted_ci_high": adj_hi,
            }.items()
        ],
        pl.Series("suppressed", suppressed),
    )
    stat_cols = [c for c in COMPARISON_COLUMNS[6:] if c not in ("p_adjusted", "suppressed")]
    out = out.with_columns([pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).alias(c) for c in stat_cols])
    # Holm (1979) within each family, as expressions: sort by p, scale by (m - rank + 1), running maximum.
    p_col = pl.col("p_value")
    m = p_col.count().over(family)
    rank = p_col.rank("ordinal").over(family)
    out = (
        out.sort([*family, "p_value"], nulls_last=True)
        .with_columns(pl.min_horizontal(pl.lit(1.0), (m - rank + 1) * p_col).alias("p_adjusted"))
        .with_columns(pl.col("p_adjusted").cum_max().over(family).alias("p_adjusted"))
        .with_columns(pl.when(p_col.is_null()).then(None).otherwise(pl.col("p_adjusted")).alias("p_adjusted"))
    )
    return out.select(*strata, *COMPARISON_COLUMNS).sort(
        [*strata, "measure", "side", "group_a", "group_b"], nulls_last=False
    )
