"""Stage 3: sufficient statistics per group, as dataframe expressions only.

Everything that the grouped summary and the comparisons need and that follows
from per-group counts, means, variances and cross-products is computed here
by polars in one pass per table; the result is one small row per group. The
individual improvement values are kept (as a list per group) only where a
statistic needs them: exact Wilcoxon tests of small groups, bootstrap
intervals and Cliff's delta.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["GROUP_STAT_COLUMNS", "check_complete_rows", "group_columns", "group_statistics"]

GROUP_STAT_COLUMNS = (
    "n",
    "n_incomplete",
    "baseline_mean",
    "baseline_sd",
    "final_mean",
    "final_sd",
    "mean_change",
    "mean_improvement",
    "sd_improvement",
    "sxy",
    "responder_k",
    "responder_m",
    "mdc_k",
    "mdc_m",
    "median_improvement",
    "q1_improvement",
    "q3_improvement",
    "w_plus",
    "n_nonzero",
    "n_zero",
    "tie_term",
    "has_ties",
    "n_invalid",
)


def group_columns(by: str | Sequence[str], /) -> list[str]:
    """The group columns named by ``by``: one column name or a sequence of them; ``()`` for none.

    Examples
    --------
    >>> group_columns("condition"), group_columns(("condition", "technique")), group_columns(())
    (['condition'], ['condition', 'technique'], [])
    """
    return [by] if isinstance(by, str) else list(by)


def group_statistics(
    changes: pl.DataFrame | pl.LazyFrame,
    keys: Sequence[str],
    /,
    *,
    keep_values: bool | int = False,
) -> pl.LazyFrame:
    """Per-group sufficient statistics of complete episodes.

    Parameters
    ----------
    changes : polars.DataFrame or polars.LazyFrame
        Output of :func:`outcomes.episode_changes`.
    keys : sequence of str
        Group columns (including ``measure`` and ``side``).
    keep_values : bool or int
        Keep the sorted improvement values as a list column ``values``: for
        every group (True), for none (False), or for groups of at most that
        many complete episodes (int).

    Returns
    -------
    polars.LazyFrame
        ``keys`` and :data:`GROUP_STAT_COLUMNS` (``sxy`` is the within-group
        sum of cross-products of baseline and improvement; ``w_plus`` the sum
        of the ranks of positive improvements among the non-zero ones;
        ``tie_term`` the sum of ``t^3 - t`` over tied absolute values;
        ``n_invalid`` the complete rows whose improvement is empty or not
        finite, which :func:`check_complete_rows` refuses).
    """
    keys = list(keys)
    lf = changes.lazy().cache()
    if "exceeds_mdc" not in lf.collect_schema().names():  # comparisons do not need it
        lf = lf.with_columns(pl.lit(None, dtype=pl.Boolean).alias("exceeds_mdc"))
    # One pass over the text keys gives each group an integer id; every grouping below is by that id.
    groups = lf.select(keys).unique().sort(keys, nulls_last=False).with_row_index("__gid")
    lf = lf.join(groups, on=keys, how="left", nulls_equal=True, maintain_order="left").drop(keys)
    gid = "__gid"
    complete = lf.filter(pl.col("status") == "complete")
    imp = pl.col("improvement")
    stats = complete.group_by(gid).agg(
        pl.len().cast(pl.Int64).alias("n"),
        pl.col("baseline").mean().alias("baseline_mean"),
        pl.col("baseline").std().alias("baseline_sd"),
        pl.col("final").mean().alias("final_mean"),
        pl.col("final").std().alias("final_sd"),
        pl.col("change").mean().alias("mean_change"),
        imp.mean().alias("mean_improvement"),
        imp.std().alias("sd_improvement"),
        (pl.cov("baseline", "improvement") * (pl.len() - 1)).alias("sxy"),
        pl.col("responder").sum().cast(pl.Int64).alias("responder_k"),
        pl.col("responder").count().cast(pl.Int64).alias("responder_m"),
        pl.col("exceeds_mdc").sum().cast(pl.Int64).alias("mdc_k"),
        pl.col("exceeds_mdc").count().cast(pl.Int64).alias("mdc_m"),
        imp.median().alias("median_improvement"),
        imp.quantile(0.25, interpolation="linear").alias("q1_improvement"),
        imp.quantile(0.75, interpolation="linear").alias("q3_improvement"),
        (imp == 0).sum().cast(pl.Int64).alias("n_zero"),
        (imp.is_null() | imp.is_nan() | imp.is_infinite()).sum().cast(pl.Int64).alias("n_invalid"),
        *([imp.sort().alias("values")] if keep_values is not False else []),
    )
    if isinstance(keep_values, int) and not isinstance(keep_values, bool):
        stats = stats.with_columns(pl.when(pl.col("n") <= keep_values).then(pl.col("values")).alias("values"))

    # Wilcoxon signed-rank pieces: zeros dropped (zero_method="wilcox"), average ranks of |d|. They come
    # from the table of distinct |d| per group: a value held by t differences, after c smaller ones,
    # has average rank c + (t + 1) / 2; W+ sums it over the positive differences. No per-row ranking.
    ties = (
        complete.filter(imp != 0)
        .group_by(gid, imp.abs().alias("__abs"))
        .agg(pl.len().cast(pl.Float64).alias("__t"), (imp > 0).sum().cast(pl.Float64).alias("__t_pos"))
        .sort(gid, "__abs")
        .with_columns((pl.col("__t").cum_sum().over(gid) - pl.col("__t")).alias("__before"))
        .group_by(gid)
        .agg(
            (pl.col("__t_pos") * (pl.col("__before") + (pl.col("__t") + 1.0) / 2.0)).sum().alias("w_plus"),
            pl.col("__t").sum().cast(pl.Int64).alias("n_nonzero"),
            (pl.col("__t") ** 3 - pl.col("__t")).sum().alias("tie_term"),
            (pl.col("__t").max() > 1).alias("has_ties"),
        )
    )
    incomplete = (
        lf.filter(pl.col("status") != "complete").group_by(gid).agg(pl.len().cast(pl.Int64).alias("n_incomplete"))
    )
    out = (
        groups.join(stats, on=gid, how="left")
        .join(incomplete, on=gid, how="left")
        .join(ties, on=gid, how="left")
        .with_columns(
            pl.col(
                "n", "n_incomplete", "n_nonzero", "n_zero", "responder_k", "responder_m", "mdc_k", "mdc_m", "n_invalid"
            ).fill_null(0),
            pl.col("w_plus", "tie_term").fill_null(0.0),
            pl.col("has_ties").fill_null(False),
        )
    )
    return out.sort(gid).drop(gid)


def check_complete_rows(stats: pl.DataFrame, /) -> None:
    """Raise ValueError if a row with status ``complete`` has an empty or non-finite improvement.

    The output of :func:`outcomes.episode_changes` never has one; a hand-made or edited table
    may, and counting such a row in ``n`` would misstate every statistic of its group.
    """
    bad = int(stats["n_invalid"].sum()) if stats.height else 0
    if bad:
        raise ValueError(
            f"{bad} row(s) with status 'complete' have an empty or non-finite improvement; "
            "give them a finite improvement or a status other than 'complete'"
        )
