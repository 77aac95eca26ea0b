"""Stage 4: missing-discharge sensitivity analysis, complete-case and inverse-probability-weighted mean improvement.

Complete-case results (:func:`outcomes.analyses.summary.summarize`) describe
the episodes that have a discharge value. When who leaves without one
depends on how the episode was going (a mild case, or one not improving,
stops coming), they are a biased picture of all episodes. This analysis
puts next to each complete-case mean improvement a weighted one: each
complete episode weighs ``1 / p̂``, ``p̂`` its modelled probability of having a
follow-up given what was recorded for every episode (its baseline, its early
response, its case mix), so that complete episodes stand in for the
incomplete ones that resemble them (:func:`outcomes.stats.weighting.ipw_means`).
It is a sensitivity analysis: it is unbiased if the data are missing at random
given those covariates and the logistic model is right, which no data can
confirm; where the two estimates differ, the complete-case one is fragile.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from outcomes.aggregate import group_columns
from outcomes.analyses.results import DropoutResult
from outcomes.analyses.suppression import DEFAULT_MIN_CELL, check_min_cell, suppress
from outcomes.contract import ROW
from outcomes.episodes import episode_changes
from outcomes.ingest import Dataset
from outcomes.stats import mean_interval_stats
from outcomes.stats.weighting import ipw_means

__all__ = ["DEFAULT_COVARIATES", "DROPOUT_COLUMNS", "EARLY_DAYS", "MIN_LEVEL_COUNT", "dropout_sensitivity"]

DROPOUT_COLUMNS: tuple[str, ...] = (
    "n",
    "n_incomplete",
    "n_no_followup",
    "n_no_baseline",
    "mean_improvement",
    "ci_low",
    "ci_high",
    "ipw_mean_improvement",
    "ipw_se",
    "ipw_ci_low",
    "ipw_ci_high",
    "effective_n",
    "max_weight",
    "suppressed",
    "notes",
)
"""Columns after the group columns, ``measure`` and ``side``."""

DEFAULT_COVARIATES: tuple[str, ...] = ("age", "sex", "chronicity", "payer", "condition")
"""Case-mix columns of the propensity model by default, those of them the episodes table has."""

EARLY_DAYS: tuple[int, int] = (7, 13)
"""The early response is the last value this many days after the baseline date (both included): the second week."""

MIN_LEVEL_COUNT = 10
"""A category seen in fewer episodes of a propensity model is counted with the model's most frequent category."""

_STAT_COLUMNS = [c for c in DROPOUT_COLUMNS[4:] if c not in ("suppressed", "notes")]
_SERIES = ["episode_id", "measure", "side"]
_MISSING_LEVEL = "(missing)"


def _in_episode_words(note: str | None, /) -> str | None:
    """A note of :func:`~outcomes.stats.weighting.ipw_means` in this table's words: episodes, discharge values."""
    if note is None:
        return None
    for array_word, table_word in (
        ("observations", "episodes"),
        ("observation", "episode"),
        ("has an outcome", "has a discharge value"),
        ("have an outcome", "have a discharge value"),
        ("an outcome", "a discharge value"),
    ):
        note = note.replace(array_word, table_word)
    return note


def _early_values(
    dataset: Dataset, changes: pl.DataFrame, early_days: tuple[int, int], respect_end_date: bool
) -> pl.DataFrame:
    """Per series: the last value (by date, then row) ``early_days`` after the baseline date, as ``early``."""
    lo, hi = early_days
    series = changes.filter(pl.col("baseline_date").is_not_null()).select(*_SERIES, "baseline_date", "end_date")
    days = (pl.col("measured_on") - pl.col("baseline_date")).dt.total_days()
    keep = days.is_between(lo, hi)
    if respect_end_date:
        keep = keep & (pl.col("end_date").is_null() | (pl.col("measured_on") <= pl.col("end_date")))
    return (
        dataset.measurements.select(ROW, *_SERIES, "measured_on", "value")
        .join(series, on=_SERIES, how="inner", nulls_equal=True)
        .filter(keep)
        .sort("measured_on", ROW)
        .group_by(_SERIES, maintain_order=True)
        .agg(pl.col("value").last().alias("early"))
    )


def _design(frame: pl.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """The propensity model's covariate matrix (no intercept) and a name per column.

    ``baseline``; ``early_improvement`` with missing values as 0 and the indicator ``early_missing``; each numeric
    column, a missing value filled with the mean of the others and flagged by an indicator; each categorical column
    as indicators of its categories but the most frequent, a missing value being a category of its own and a
    category of fewer than :data:`MIN_LEVEL_COUNT` episodes counted with the most frequent one.
    """
    early = frame["early_improvement"].to_numpy().astype(float)
    has_early = np.isfinite(early)
    cols = [frame["baseline"].to_numpy().astype(float), np.where(has_early, early, 0.0), (~has_early).astype(float)]
    names = ["baseline", "early_improvement", "early_missing"]
    for name in numeric:
        num = frame[name].cast(pl.Float64).to_numpy()
        ok = np.isfinite(num)
        if not ok.any():
            continue
        cols.append(np.where(ok, num, float(num[ok].mean())))
        names.append(name)
        if not ok.all():
            cols.append((~ok).astype(float))
            names.append(f"{name} missing")
    for name in categorical:
        text = frame[name].cast(pl.String).fill_null(_MISSING_LEVEL)
        counts = text.value_counts(sort=True, name="count").sort(["count", name], descending=[True, False])
        top = counts[name][0]
        rare = counts.filter(pl.col("count") < MIN_LEVEL_COUNT)[name].to_list()
        arr = (text.replace(rare, top) if rare else text).to_numpy()
        for level in sorted(set(arr.tolist()) - {top}):
            cols.append((arr == level).astype(float))
            names.append(f"{name}={level}")
    return np.column_stack(cols), names


def dropout_sensitivity(
    dataset: Dataset,
    /,
    *,
    by: str | Sequence[str] = ("condition", "technique"),
    measure: str | Sequence[str] | None = None,
    covariates: Sequence[str] | None = None,
    early_days: tuple[int, int] = EARLY_DAYS,
    min_followup_days: int = 14,
    baseline_window_days: int = 14,
    respect_end_date: bool = True,
    min_cell: int = DEFAULT_MIN_CELL,
    confidence_level: float = 0.95,
) -> DropoutResult:
    """Complete-case and inverse-probability-weighted mean improvement per group (missing-discharge sensitivity).

    Parameters
    ----------
    dataset : Dataset
        A validated dataset (not the per-episode table: the early response
        needs the measurements). The per-episode changes are computed here
        with :func:`outcomes.episode_changes` and the options below.
    by : str or sequence of str, default ("condition", "technique")
        Episode columns to group by (``technique``: the primary technique);
        ``measure`` and ``side`` are always added; ``()`` for one group.
    measure : str or sequence of str, optional
        Measure code(s) to analyse; every measure of the data by default.
    covariates : sequence of str, optional
        Episode columns of the propensity model besides baseline and early
        response; by default those of :data:`DEFAULT_COVARIATES` (age, sex,
        chronicity, payer, condition) that the episodes table has. Integer
        and float columns enter as numbers, text and boolean ones as
        categories. The ``by`` columns always enter, as categories.
    early_days : (int, int), default (7, 13)
        The early response is the improvement from the baseline to the last
        value (by date, then row) dated this many days after the baseline
        date, both included; on or before the end date with
        ``respect_end_date``.
    min_followup_days : int, default 14
        A discharge value is a final value at least this many days after the
        baseline (``episode_changes(min_followup_days=...)``); it must come
        after ``early_days``, so that an early value is never the outcome.
    baseline_window_days : int, default 14
    respect_end_date : bool, default True
        As in :func:`outcomes.episode_changes`.
    min_cell : int, default 11
        Groups with fewer complete episodes are suppressed (statistics empty).
    confidence_level : float, default 0.95

    Returns
    -------
    DropoutResult
        The settings (``by``, ``covariates``, ``early_days``,
        ``min_followup_days``, ``min_cell``, ``confidence_level``) and
        ``.table``, one row per group x measure x side of the per-episode
        table: the group columns, ``measure``, ``side``, then
        :data:`DROPOUT_COLUMNS`, sorted by those keys:

        - ``n``: complete episodes (a baseline and a discharge value);
          ``n_no_followup``: a baseline but no discharge value (the episodes
          the weights stand in for); ``n_no_baseline``: no baseline, which
          cannot be weighted (no baseline to model, no improvement to
          stand in for) and are left out of the model and the estimates;
          ``n_incomplete`` = ``n_no_followup + n_no_baseline``, as in the
          summary;
        - ``mean_improvement``, ``ci_low``, ``ci_high``: complete-case mean
          improvement and its t-interval, as in the summary;
        - ``ipw_mean_improvement``, ``ipw_se``, ``ipw_ci_low``,
          ``ipw_ci_high``: the weighted mean over the group's complete
          episodes, the estimate of the mean improvement of all its episodes
          with a baseline if data are missing at random given the model's
          covariates; its sandwich standard error (the estimation of the
          weights included) and normal interval
          (:func:`outcomes.stats.weighting.ipw_means`, formula there);
        - ``effective_n``: Kish's effective number of complete episodes
          under the weights; ``max_weight``: the largest weight, ``1 / p̂``;
        - ``suppressed``: n below ``min_cell``; then every statistic is empty;
        - ``notes``: why a statistic is empty, or what to read with care.

    Notes
    -----
    The propensity model is one logistic regression per measure and side,
    fitted on all the episodes of that measure and side that have a baseline,
    of "has a discharge value" on: ``baseline``; ``early_improvement``, the
    early response in the improvement direction, 0 where the episode has no
    value in ``early_days`` together with the indicator ``early_missing``;
    the ``covariates`` (a numeric one's missing values filled with its mean,
    with an indicator; a category's missing values a category of their own);
    the ``by`` columns. Each categorical column enters as indicators of its
    categories but the most frequent; a category of fewer than
    :data:`MIN_LEVEL_COUNT` episodes of the model is counted with the most
    frequent one (so that a rare category cannot predict follow-up
    perfectly); constant and collinear columns are left out. Each group's
    weighted mean uses that one model, and its variance the model's
    estimation on all the measure's episodes.

    With the default ``min_followup_days`` of 14, an episode whose last value
    is an early one counts as without a discharge value here, while
    :func:`outcomes.episode_changes` with its default of 1 calls it complete;
    pass ``min_followup_days=1`` (and ``early_days`` ending before day 1 is
    then impossible) or compute the summary from
    ``episode_changes(dataset, min_followup_days=14)`` for matching
    complete-case columns.

    Examples
    --------
    >>> from outcomes import read_dataset
    >>> from outcomes.synth import demo_dataset_path
    >>> out = dropout_sensitivity(read_dataset(demo_dataset_path()), by=(), measure="nprs").table
    >>> out.select("n", "n_no_followup").row(0)
    (1209, 325)
    >>> bool(abs(out["ipw_mean_improvement"][0] - out["mean_improvement"][0]) < 0.2)
    True
    """
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
    check_min_cell(min_cell)
    lo, hi = early_days
    if not 1 <= lo <= hi < min_followup_days:
        raise ValueError(
            "early_days must be (first, last) with 1 <= first <= last < min_followup_days, so that an early "
            f"value comes after the baseline and before any discharge value; got {early_days} and {min_followup_days}"
        )
    by_cols = group_columns(by)
    if any(c in ("measure", "side") for c in by_cols):
        raise ValueError("measure and side are always grouped; leave them out of `by`")
    keys = [*by_cols, "measure", "side"]

    changes = episode_changes(
        dataset,
        baseline_window_days=baseline_window_days,
        min_followup_days=min_followup_days,
        respect_end_date=respect_end_date,
    )
    names = changes.columns
    missing = [c for c in by_cols if c not in names]
    if missing:
        raise ValueError(f"by names column(s) that are not episode columns: {', '.join(missing)}")
    if covariates is None:
        chosen = [c for c in DEFAULT_COVARIATES if c in names]
    else:
        chosen = list(covariates)
        absent = [c for c in chosen if c not in names]
        if absent:
            raise ValueError(f"covariates names column(s) that are not episode columns: {', '.join(absent)}")
    numeric = [c for c in chosen if c not in by_cols and changes.schema[c].is_numeric()]
    categorical = [c for c in chosen if c not in by_cols and c not in numeric]
    for c in categorical:
        if not (changes.schema[c] in (pl.String, pl.Boolean, pl.Categorical) or isinstance(changes.schema[c], pl.Enum)):
            raise ValueError(f"covariate {c} is of type {changes.schema[c]}; give numbers, text or booleans")
    categorical += by_cols
    if measure is not None:
        wanted = [measure] if isinstance(measure, str) else list(measure)
        changes = changes.filter(pl.col("measure").is_in(wanted))

    sign = pl.when(pl.col("better") == "lower").then(-1.0).otherwise(1.0)
    frame = (
        changes.join(
            _early_values(dataset, changes, (lo, hi), respect_end_date), on=_SERIES, how="left", nulls_equal=True
        )
        .join(dataset.catalog.select(pl.col("code").alias("measure"), "better"), on="measure", how="left")
        .with_columns((sign * (pl.col("early") - pl.col("baseline"))).alias("early_improvement"))
    )
    counts = (
        frame.group_by(keys)
        .agg(
            (pl.col("status") == "complete").sum().alias("n"),
            (pl.col("status") == "no_followup").sum().alias("n_no_followup"),
            (pl.col("status") == "no_baseline").sum().alias("n_no_baseline"),
            pl.col("improvement").filter(pl.col("status") == "complete").mean().alias("mean_improvement"),
            pl.col("improvement").filter(pl.col("status") == "complete").std().alias("sd"),
        )
        .with_columns((pl.col("n_no_followup") + pl.col("n_no_baseline")).alias("n_incomplete"))
        .sort(keys, nulls_last=False)
    )
    n = counts["n"].to_numpy().astype(float)
    ci_low, ci_high, _ = mean_interval_stats(
        counts["mean_improvement"].to_numpy().astype(float),
        counts["sd"].to_numpy().astype(float),
        n,
        confidence_level=confidence_level,
    )
    counts = counts.with_row_index("__row")
    weighted = {name: np.full(counts.height, np.nan) for name in _STAT_COLUMNS[3:]}
    model_notes: list[str | None] = [None] * counts.height
    modelled = frame.filter(pl.col("status") != "no_baseline").join(
        counts.select(*keys, "__row"), on=keys, how="left", nulls_equal=True
    )
    for part in modelled.partition_by("measure", "side", maintain_order=True):
        rows = part["__row"].to_numpy()
        codes, group_rows = np.unique(rows, return_inverse=True)
        x, _names = _design(part, numeric, categorical)
        responded = (part["status"] == "complete").to_numpy()
        res = ipw_means(
            part["improvement"].to_numpy().astype(float),
            responded,
            x,
            groups=group_rows,
            n_groups=codes.size,
            confidence_level=confidence_level,
        )
        for name, values in (
            ("ipw_mean_improvement", res.estimate),
            ("ipw_se", res.se),
            ("ipw_ci_low", res.ci_low),
            ("ipw_ci_high", res.ci_high),
            ("effective_n", res.effective_n),
            ("max_weight", res.max_weight),
        ):
            weighted[name][codes] = values
        for code, note in zip(codes.tolist(), res.notes, strict=True):
            model_notes[code] = _in_episode_words(note)

    suppressed = n < min_cell
    notes: list[str | None] = []
    for i, (k, no_base, note) in enumerate(
        zip(n.tolist(), counts["n_no_baseline"].to_list(), model_notes, strict=True)
    ):
        parts: list[str] = []
        if k == 0:
            parts.append("no complete episode")
        elif suppressed[i]:
            parts.append(f"fewer than {min_cell} complete episodes: statistics suppressed")
        else:
            if no_base:
                parts.append(f"{no_base} episode(s) without a baseline cannot be weighted and are left out")
            if note:
                parts.append(note)
        notes.append("; ".join(parts) or None)

    out = counts.with_columns(
        pl.Series("ci_low", ci_low, dtype=pl.Float64, nan_to_null=True),
        pl.Series("ci_high", ci_high, dtype=pl.Float64, nan_to_null=True),
        *[pl.Series(name, values, dtype=pl.Float64, nan_to_null=True) for name, values in weighted.items()],
        pl.Series("suppressed", suppressed),
        pl.Series("notes", notes, dtype=pl.String),
    )
    out = out.with_columns(suppress(_STAT_COLUMNS))
    return DropoutResult(
        out.select(*keys, *DROPOUT_COLUMNS).sort(keys, nulls_last=False),
        by=tuple(by_cols),
        covariates=tuple(c for c in chosen if c not in by_cols),
        early_days=(lo, hi),
        min_followup_days=min_followup_days,
        min_cell=min_cell,
        confidence_level=confidence_level,
    )
