"""Stage 2: per-episode change, one row per episode x measure x side.

Dataframe expressions only (filters, joins, group aggregates): no Python loop
over episodes, so the stage stays lazy until the caller collects it.

Rules (``docs/data-contract.md``, "Output: per-episode changes"):

- ``baseline``: the first value on or after the episode's ``start_date`` and
  at most ``baseline_window_days`` after it.
- ``final``: the last value after ``baseline_date`` (and at least
  ``min_followup_days`` after it), on or before ``end_date`` where the episode
  has one.
- "First" and "last" are ordered by date, then by the row's position in its
  file, so ties on a date give the same answer on every run.
- ``improvement`` is ``change`` signed so that positive is better (a zero
  change is written 0, never -0); ``pct_improvement`` is ``improvement /
  |baseline| * 100``, so that its sign is the improvement's on scales that
  cross zero (an extension deficit recorded as -5 -> -2 with lower better is
  a worsening: -60 %), empty where the baseline is 0;
- ``responder`` follows ``responder_rule`` (:data:`RESPONDER_RULES`) over the
  thresholds the measure's catalog row gives: ``either`` (the default, the
  catalog's rule) ``improvement >= mcid`` or ``pct_improvement >= mcid_pct``;
  ``both`` every threshold given; ``absolute`` ``mcid`` only; ``percent``
  ``mcid_pct`` only (empty where the rule's thresholds are not given);
  ``responder_rule`` names the rule on every row, so that the summaries
  made from the table can say which rule their responder rates follow;
  ``exceeds_mdc`` is ``improvement >= mdc``. Threshold comparisons allow 1e-9 for floating-point
  rounding (5.3 - 3.3 is 1.9999999999999996 in binary floating point).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

import polars as pl

from outcomes.contract import ROW
from outcomes.episodes.techniques import primary_technique
from outcomes.ingest import Dataset, LazyDataset

__all__ = [
    "CHANGE_COLUMNS",
    "RESPONDER_RULES",
    "STATUSES",
    "as_changes_frame",
    "check_changes",
    "episode_changes",
    "responder_expr",
    "responder_rule_of",
    "responder_rules",
]

RESPONDER_RULES: tuple[str, ...] = ("either", "both", "absolute", "percent")
"""Values of ``responder_rule``: which of the catalog's thresholds (``mcid``, ``mcid_pct``) make a responder."""

STATUSES: tuple[str, ...] = ("complete", "no_baseline", "no_followup")
"""Values of ``status``: complete, no baseline in the window, or no value after the baseline."""

CHANGE_COLUMNS: tuple[str, ...] = (
    "measure",
    "side",
    "baseline",
    "baseline_date",
    "final",
    "final_date",
    "change",
    "improvement",
    "pct_improvement",
    "responder",
    "responder_rule",
    "exceeds_mdc",
    "n_visits",
    "duration_days",
    "status",
)
"""The per-episode columns that follow the episode attributes, in order."""

_TOL = 1e-9
_ROW_SPAN = 1 << 32  # rows per day in the (day, row) ordering key: row numbers stay below 2**32
_SERIES = ["episode_id", "measure", "side"]


def as_changes_frame(changes: object, /) -> pl.DataFrame | pl.LazyFrame:
    """``changes`` as a polars frame: polars frames as they are; any dataframe that speaks the Arrow
    PyCapsule stream interface (pandas 2.2 and later, pyarrow, DuckDB, ...) converted at the door.

    Anything else raises TypeError saying how to convert it. Missing values of pandas (NaN, None,
    NA) arrive as nulls.
    """
    if isinstance(changes, pl.DataFrame | pl.LazyFrame):
        return changes
    if hasattr(changes, "__arrow_c_stream__"):
        try:
            return pl.DataFrame(changes)
        except Exception as exc:
            raise TypeError(
                f"could not convert the {type(changes).__name__} to a polars DataFrame ({exc}); "
                "convert it yourself with polars.from_pandas(...) or polars.from_arrow(...)"
            ) from None
    raise TypeError(
        f"changes must be a dataframe (polars, or pandas / pyarrow / DuckDB through Arrow); got "
        f"{type(changes).__name__}. Pass the output of episode_changes(), or convert with polars.from_pandas(...)"
    )


def check_changes(changes: pl.DataFrame | pl.LazyFrame, needed: Sequence[str], /) -> None:
    """Raise ValueError naming the columns of ``needed`` that ``changes`` lacks.

    The analyses call it first, so that a frame that is not the output of
    :func:`episode_changes` (or a group column that is not an episode column)
    gets a message instead of a polars error.
    """
    names = changes.collect_schema().names()
    missing = [c for c in needed if c not in names]
    if missing:
        raise ValueError(
            f"changes lacks column(s) {', '.join(missing)}; pass the output of episode_changes() "
            "and group by its columns"
        )


def responder_rules(changes: pl.DataFrame | pl.LazyFrame, /) -> pl.LazyFrame | None:
    """The query for the distinct responder rules of a changes table; None where it has no ``responder_rule``.

    Lazy, so that a caller that also aggregates the table can collect both in one pass
    (``polars.collect_all``); :func:`responder_rule_of` reads its result.
    """
    if "responder_rule" not in changes.collect_schema().names():
        return None
    return changes.lazy().select(pl.col("responder_rule").drop_nulls().unique().sort())


def responder_rule_of(changes: pl.DataFrame | pl.LazyFrame, /, *, rules: pl.DataFrame | None = None) -> str | None:
    """The responder rule of a changes table (its ``responder_rule`` column); None where it has none.

    ``rules`` is the collected :func:`responder_rules` of ``changes`` where the caller has it already.
    Raises ValueError where the table mixes rules: its responder rates would mean nothing.
    """
    if rules is None:
        query = responder_rules(changes)
        if query is None:
            return None
        rules = query.collect()
    found = rules.to_series()
    if found.len() > 1:
        raise ValueError(
            f"the changes mix responder rules ({', '.join(found.to_list())}); "
            "compute them with one responder_rule before summarizing"
        )
    return None if found.len() == 0 else str(found[0])


def _at_least(value: pl.Expr, threshold: pl.Expr) -> pl.Expr:
    """``value >= threshold`` with a floating-point tolerance; null where either is null."""
    return value >= threshold - _TOL * (1.0 + threshold.abs())


def responder_expr(rule: str = "either", /) -> pl.Expr:
    """Whether an episode is a responder under ``rule``, from ``improvement``, ``pct_improvement``,
    ``mcid`` and ``mcid_pct``; null where the rule's thresholds are not given. An episode with a
    baseline of 0 has no percent change and does not respond by the percent threshold.

    Examples
    --------
    >>> frame = pl.DataFrame({"improvement": [1.0, 2.0], "pct_improvement": [33.3, 25.0],
    ...                       "mcid": [2.0, 2.0], "mcid_pct": [30.0, 30.0]})
    >>> [frame.select(responder_expr(r)).to_series().to_list() for r in RESPONDER_RULES]
    [[True, True], [False, False], [False, True], [True, False]]
    """
    absolute = pl.when(pl.col("mcid").is_not_null()).then(_at_least(pl.col("improvement"), pl.col("mcid")))
    percent = pl.when(pl.col("mcid_pct").is_not_null()).then(
        _at_least(pl.col("pct_improvement"), pl.col("mcid_pct")).fill_null(False)  # baseline 0: no percent
    )
    if rule == "absolute":
        return absolute
    if rule == "percent":
        return percent
    given = pl.col("mcid").is_not_null() | pl.col("mcid_pct").is_not_null()
    if rule == "both":
        return pl.when(given).then(absolute.fill_null(True) & percent.fill_null(True))
    return pl.when(given).then(absolute.fill_null(False) | percent.fill_null(False))


@overload
def episode_changes(
    dataset: Dataset | LazyDataset,
    /,
    *,
    baseline_window_days: int = ...,
    min_followup_days: int = ...,
    respect_end_date: bool = ...,
    per_technique: bool = ...,
    responder_rule: str = ...,
    lazy: Literal[False] = ...,
) -> pl.DataFrame: ...


@overload
def episode_changes(
    dataset: Dataset | LazyDataset,
    /,
    *,
    baseline_window_days: int = ...,
    min_followup_days: int = ...,
    respect_end_date: bool = ...,
    per_technique: bool = ...,
    responder_rule: str = ...,
    lazy: Literal[True],
) -> pl.LazyFrame: ...


@overload
def episode_changes(
    dataset: Dataset | LazyDataset,
    /,
    *,
    baseline_window_days: int = ...,
    min_followup_days: int = ...,
    respect_end_date: bool = ...,
    per_technique: bool = ...,
    responder_rule: str = ...,
    lazy: bool,
) -> pl.DataFrame | pl.LazyFrame: ...


def episode_changes(
    dataset: Dataset | LazyDataset,
    /,
    *,
    baseline_window_days: int = 14,
    min_followup_days: int = 1,
    respect_end_date: bool = True,
    per_technique: bool = False,
    responder_rule: str = "either",
    lazy: bool = False,
) -> pl.DataFrame | pl.LazyFrame:
    """Per-episode change for every measure (and side) an episode was measured on.

    Parameters
    ----------
    dataset : Dataset or LazyDataset
        A validated dataset from :func:`outcomes.read_dataset`, or a
        pre-validated one scanned lazily by :func:`outcomes.scan_dataset`
        (then pass ``lazy=True`` and collect with the engine of your choice).
    baseline_window_days : int, default 14
        The baseline is the first value from ``start_date`` to
        ``start_date + baseline_window_days`` (inclusive).
    min_followup_days : int, default 1
        The final value must be at least this many days after the baseline
        (1: any later date, as the contract says).
    respect_end_date : bool, default True
        Ignore values after the episode's ``end_date`` when choosing the final
        value.
    per_technique : bool, default False
        One row per technique the episode received (x measure x side) instead
        of one row with the episode's primary technique.
    responder_rule : {"either", "both", "absolute", "percent"}, default "either"
        Which of the catalog's thresholds make a responder: either one given
        (the catalog's rule: "2 points or 30 %"), every one given, the
        absolute MCID only, or the percent MCID only.
    lazy : bool, default False
        Return the un-collected ``LazyFrame``.

    Returns
    -------
    polars.DataFrame or polars.LazyFrame
        The episode's columns (without ``row``), ``technique``, then
        :data:`CHANGE_COLUMNS`; sorted by episode, technique, measure and side.
        Episodes without a baseline or follow-up keep their row, with
        ``status`` saying why and the change columns empty.

    Examples
    --------
    >>> from outcomes import read_dataset
    >>> from outcomes.synth import demo_dataset_path
    >>> ch = episode_changes(read_dataset(demo_dataset_path()))
    >>> ch.filter(pl.col("measure") == "nprs")["status"].value_counts().sort("status").rows()
    [('complete', 1209), ('no_followup', 325)]
    """
    if baseline_window_days < 0:
        raise ValueError("baseline_window_days must be 0 or more")
    if min_followup_days < 1:
        raise ValueError("min_followup_days must be at least 1 (the final value comes after the baseline)")
    if responder_rule not in RESPONDER_RULES:
        raise ValueError(f"responder_rule must be one of {', '.join(RESPONDER_RULES)}; got {responder_rule!r}")

    episodes = dataset.episodes.lazy().drop(ROW)
    dates = episodes.select("episode_id", "start_date", "end_date")
    catalog = dataset.catalog.lazy().select(pl.col("code").alias("measure"), "better", "mcid", "mcid_pct", "mdc")
    # Each measurement gets one sortable key, (day, row): the baseline is the value with the smallest
    # key inside the baseline window, the final value the one with the largest key on or before
    # end_date. That largest one is the last value after the baseline whenever any is (it has the
    # latest date), so it only has to be checked against the baseline date: one grouping with
    # min / max aggregations, no sort and no join back. Keys are unique, so there are no ties.
    day_key = pl.col("measured_on").cast(pl.Int64) * _ROW_SPAN + pl.col(ROW)
    in_window = (pl.col("measured_on") >= pl.col("start_date")) & (
        pl.col("measured_on") <= pl.col("start_date") + pl.duration(days=baseline_window_days)
    )
    end_ok = pl.col("end_date").is_null() | (pl.col("measured_on") <= pl.col("end_date"))
    base_key = pl.when(in_window).then(pl.col("__key"))
    last_key = pl.when(end_ok).then(pl.col("__key")) if respect_end_date else pl.col("__key")

    def key_date(key: str) -> pl.Expr:
        return (pl.col(key) // _ROW_SPAN).cast(pl.Int32).cast(pl.Date)

    per_series = (
        dataset.measurements.lazy()
        .select(ROW, *_SERIES, "measured_on", "value")
        .join(dates, on="episode_id", how="inner")
        .with_columns(day_key.alias("__key"))
        .group_by(_SERIES)
        .agg(
            base_key.min().alias("__base_key"),
            last_key.max().alias("__last_key"),
            pl.col("value").min_by(base_key).alias("baseline"),
            pl.col("value").max_by(last_key).alias("final"),
        )
        .with_columns(key_date("__base_key").alias("baseline_date"), key_date("__last_key").alias("final_date"))
        .with_columns(
            ok=pl.col("baseline_date").is_not_null()
            & (pl.col("final_date") >= pl.col("baseline_date") + pl.duration(days=min_followup_days))
        )
        .with_columns(
            pl.when(pl.col("ok")).then(pl.col("final")).alias("final"),
            pl.when(pl.col("ok")).then(pl.col("final_date")).alias("final_date"),
        )
        .drop("__base_key", "__last_key", "ok")
    )

    visits = dataset.treatments.lazy().group_by("episode_id").agg(pl.col("visit_date").n_unique().alias("n_visits"))
    if per_technique:
        techniques = dataset.treatments.lazy().select("episode_id", "technique").unique()
    else:
        techniques = primary_technique(dataset.treatments)

    sign = pl.when(pl.col("better") == "lower").then(-1.0).otherwise(1.0)
    complete = pl.col("status") == "complete"
    out = (
        per_series.join(catalog, on="measure", how="left")
        .with_columns(
            pl.when(pl.col("baseline").is_null())
            .then(pl.lit("no_baseline"))
            .when(pl.col("final").is_null())
            .then(pl.lit("no_followup"))
            .otherwise(pl.lit("complete"))
            .alias("status")
        )
        .with_columns((pl.col("final") - pl.col("baseline")).alias("change"))
        .with_columns((sign * pl.col("change")).alias("improvement"))
        .with_columns(  # -1 * 0.0 is -0.0, which a table would write as "-0.0" (polars drops a "+ 0.0")
            pl.when(pl.col("improvement") == 0).then(0.0).otherwise(pl.col("improvement")).alias("improvement")
        )
        .with_columns(
            pl.when(pl.col("baseline") != 0)
            .then(pl.col("improvement") / pl.col("baseline").abs() * 100.0)
            .alias("pct_improvement"),
            (pl.col("final_date") - pl.col("baseline_date")).dt.total_days().alias("duration_days"),
        )
        .with_columns(
            pl.when(complete).then(responder_expr(responder_rule)).alias("responder"),
            pl.lit(responder_rule, dtype=pl.String).alias("responder_rule"),
            pl.when(complete & pl.col("mdc").is_not_null())
            .then(_at_least(pl.col("improvement"), pl.col("mdc")))
            .alias("exceeds_mdc"),
        )
    )
    # Episode-level columns are put together per episode first, so the long table is joined once.
    episode_cols = [c for c in dataset.episodes.lazy().collect_schema().names() if c != ROW]
    attributes = (
        episodes.join(techniques, on="episode_id", how="left")
        .join(visits, on="episode_id", how="left")
        .with_columns(pl.col("n_visits").fill_null(0).cast(pl.Int64))
    )
    result = (
        out.join(attributes, on="episode_id", how="inner")
        .select(*episode_cols, "technique", *CHANGE_COLUMNS)
        .sort("episode_id", "technique", "measure", "side", nulls_last=False)
    )
    return result if lazy else result.collect()
