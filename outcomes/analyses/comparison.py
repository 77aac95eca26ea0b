"""Stage 4: comparisons between groups (``docs/data-contract.md``, "Output: comparisons between groups").

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

from outcomes.aggregate import check_complete_rows, group_columns, group_statistics
from outcomes.analyses.results import ComparisonResult
from outcomes.analyses.suppression import DEFAULT_MIN_CELL, check_min_cell, suppress
from outcomes.episodes import as_changes_frame, check_changes
from outcomes.stats import AncovaFit, ancova_fit, ancova_pairs, cliffs_delta, hedges_g_stats, holm, welch_stats

__all__ = ["COMPARISON_COLUMNS", "compare"]

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
    "adjusted_p_value",
    "adjusted_p_holm",
    "baseline_slope",
    "slope_interaction_p",
    "suppressed",
)
"""Columns after the stratum columns."""


def compare(
    changes: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    between: str = "technique",
    within: str | Sequence[str] = ("condition",),
    min_cell: int = DEFAULT_MIN_CELL,
    confidence_level: float = 0.95,
) -> ComparisonResult:
    """Compare groups pairwise within strata, per measure and side.

    Parameters
    ----------
    changes : polars.DataFrame or polars.LazyFrame
        Output of :func:`outcomes.episode_changes`; a pandas (or other Arrow)
        dataframe of the same columns is converted at the door.
    between : str, default "technique"
        The episode column whose values are compared.
    within : str or sequence of str, default ("condition",)
        Stratum columns; ``()`` compares across the whole dataset.
    min_cell : int, default 11
        Pairs where either group has fewer complete episodes are suppressed.
    confidence_level : float, default 0.95

    Returns
    -------
    ComparisonResult
        ``.table``: stratum columns, then :data:`COMPARISON_COLUMNS`, sorted;
        and the settings (``between``, ``within``, ``min_cell``,
        ``confidence_level``). Statistics:

        - ``diff``: mean improvement of a minus b; Welch interval and p-value;
        - ``hedges_g``: d_s (pooled SD of improvement) times J(n_a + n_b - 2),
          noncentral-t interval times J;
        - ``cliffs_delta``: P(a > b) - P(a < b) over all pairs of episodes;
        - ``p_adjusted``: Holm within each stratum x measure (x side);
        - ``adjusted_diff``: the a - b difference adjusted for baseline from
          one ANCOVA per family (improvement ~ group + baseline, common slope,
          fitted on every group of the family with a complete episode, the
          suppressed ones included), with its t-interval, ``adjusted_p_value``
          and ``adjusted_p_holm`` (Holm within the family); ``baseline_slope``
          is the family's common slope and ``slope_interaction_p`` the F test
          of separate slopes per group (a small value: the common slope, and so
          the adjustment, is doubtful). See :func:`outcomes.stats.ancova_fit`.

    Examples
    --------
    >>> from outcomes import read_dataset, episode_changes
    >>> from outcomes.synth import demo_dataset_path
    >>> c = compare(episode_changes(read_dataset(demo_dataset_path())))
    >>> c.table.filter(condition="low_back_pain", measure="nprs").select("group_a", "group_b").row(0)
    ('joint_mobilization', 'manipulation')
    """
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
    check_min_cell(min_cell)
    strata = group_columns(within)
    if between in strata:
        raise ValueError(f"{between!r} cannot be both compared (between) and a stratum (within)")
    family = [*strata, "measure", "side"]
    keys = [*family, between]
    changes = as_changes_frame(changes)
    check_changes(changes, [*keys, "status", "baseline", "improvement"])

    all_groups = group_statistics(changes, keys, keep_values=True).collect()
    check_complete_rows(all_groups)
    g = (
        all_groups.lazy()
        .filter(pl.col(between).is_not_null() & (pl.col("n") > 0))
        .with_columns(
            ((pl.col("n") - 1) * pl.col("baseline_sd") ** 2).fill_null(0.0).alias("sxx"),
            ((pl.col("n") - 1) * pl.col("sd_improvement") ** 2).fill_null(0.0).alias("syy"),
            pl.col("sxy").fill_null(0.0),
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
    adj, adj_lo, adj_hi, adj_p, slope, interaction_p = _ancova(g, pairs, family, between, confidence_level)
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
                "adjusted_p_value": adj_p,
                "baseline_slope": slope,
                "slope_interaction_p": interaction_p,
            }.items()
        ],
        pl.Series("suppressed", suppressed),
    )
    stat_cols = [c for c in COMPARISON_COLUMNS[6:] if c not in ("p_adjusted", "adjusted_p_holm", "suppressed")]
    out = out.with_columns(suppress(stat_cols))
    # Holm within each family (stratum x measure x side); suppressed pairs have no p-value and leave it.
    family_id = out.select(pl.struct(family).rank("dense")).to_series().to_numpy()
    adjusted = holm(out["p_value"].to_numpy().astype(float), families=family_id)
    adjusted_ancova = holm(out["adjusted_p_value"].to_numpy().astype(float), families=family_id)
    out = out.with_columns(
        pl.Series("p_adjusted", adjusted, dtype=pl.Float64, nan_to_null=True),
        pl.Series("adjusted_p_holm", adjusted_ancova, dtype=pl.Float64, nan_to_null=True),
    )
    table = out.select(*strata, *COMPARISON_COLUMNS).sort(
        [*strata, "measure", "side", "group_a", "group_b"], nulls_last=False
    )
    return ComparisonResult(
        table, between=between, within=tuple(strata), min_cell=min_cell, confidence_level=confidence_level
    )


def _ancova(
    groups: pl.DataFrame, pairs: pl.DataFrame, family: list[str], between: str, confidence_level: float
) -> tuple[np.ndarray, ...]:
    """One common-slope ANCOVA per family, its pairwise differences in the order of ``pairs``.

    Returns adjusted_diff, ci_low, ci_high, p_value, the family's slope and interaction p, per pair.
    """
    out = np.full((6, pairs.height), np.nan)
    fits: dict[tuple[object, ...], tuple[AncovaFit, dict[object, int]]] = {}
    for key, members in groups.partition_by(family, as_dict=True, maintain_order=True).items():
        fit = ancova_fit(*(members[c].to_numpy().astype(float) for c in _SUFFICIENT))
        fits[key] = (fit, {name: i for i, name in enumerate(members[between].to_list())})
    keys = pairs.select(family).rows()
    names_a, names_b = pairs[f"{between}_a"].to_list(), pairs[f"{between}_b"].to_list()
    by_family: dict[tuple[object, ...], list[int]] = {}
    for row, key in enumerate(keys):
        by_family.setdefault(key, []).append(row)
    for key, rows in by_family.items():
        fit, index = fits[key]
        a = [index[names_a[r]] for r in rows]
        b = [index[names_b[r]] for r in rows]
        adj, lo, hi, p = ancova_pairs(fit, a, b, confidence_level=confidence_level)
        out[0, rows], out[1, rows], out[2, rows], out[3, rows] = adj, lo, hi, p
        out[4, rows] = fit.slope if fit.valid else np.nan
        out[5, rows] = fit.interaction_p
    return tuple(out)


_SUFFICIENT = ("n", "baseline_mean", "mean_improvement", "sxx", "syy", "sxy")
