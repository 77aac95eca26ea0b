"""Stage 4: the grouped summary (``docs/data-contract.md``, "Output: grouped summary").

One row per group x measure (x side). Only complete episodes enter the
statistics; ``n_incomplete`` counts the others. Groups with fewer than
``min_cell`` complete episodes keep their group, ``n`` and ``n_incomplete`` but
no statistics (``suppressed`` is true).

Columns beyond the contract: ``followup_rate`` (complete / all episodes of
the group), ``exceeds_mdc_rate`` with its Wilson interval (share of complete
episodes whose improvement reaches the MDC; empty where the measure has no
MDC), ``median_improvement``, ``q1_improvement``, ``q3_improvement``
(linear interpolation, as numpy's default), ``wilcoxon_p_value`` with
``wilcoxon_method`` (as scipy's ``method="auto"``: ``exact`` for groups of at
most 50 without ties or zeros, ``permutation`` over all sign flips for groups
of at most 13 with ties or zeros, ``asymptotic`` otherwise: normal
approximation with tie correction, zeros dropped, no continuity correction),
``boot_ci_low`` / ``boot_ci_high`` (BCa bootstrap interval of the mean
improvement; empty unless ``bootstrap=True`` and the group has at least
:data:`outcomes.stats.BOOTSTRAP_MIN_N` episodes), and ``notes`` (why a
statistic of the row is empty, in words).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from outcomes.aggregate import check_complete_rows, group_columns, group_statistics
from outcomes.analyses.results import SummaryResult
from outcomes.analyses.suppression import DEFAULT_MIN_CELL, check_min_cell, suppress
from outcomes.episodes import as_changes_frame, check_changes, responder_rule_of, responder_rules
from outcomes.ingest import Dataset
from outcomes.stats import (
    BOOTSTRAP_MIN_N,
    EXACT_WILCOXON_MAX_N,
    PERMUTATION_WILCOXON_MAX_N,
    bca_mean_intervals,
    g_av_stats,
    mean_interval_stats,
    srm_stats,
    wilcoxon_signed_rank_stats,
    wilson_interval,
)

__all__ = ["SUMMARY_COLUMNS", "overview", "primary_measure", "summarize"]

SUMMARY_COLUMNS: tuple[str, ...] = (
    "n",
    "n_incomplete",
    "followup_rate",
    "baseline_mean",
    "baseline_sd",
    "final_mean",
    "final_sd",
    "mean_change",
    "mean_improvement",
    "sd_improvement",
    "ci_low",
    "ci_high",
    "srm",
    "srm_ci_low",
    "srm_ci_high",
    "g_av",
    "g_av_ci_low",
    "g_av_ci_high",
    "responder_rate",
    "responder_ci_low",
    "responder_ci_high",
    "p_value",
    "exceeds_mdc_rate",
    "exceeds_mdc_ci_low",
    "exceeds_mdc_ci_high",
    "median_improvement",
    "q1_improvement",
    "q3_improvement",
    "wilcoxon_p_value",
    "wilcoxon_method",
    "boot_ci_low",
    "boot_ci_high",
    "suppressed",
    "notes",
)
"""Columns after the group columns, ``measure`` and ``side``."""

_STAT_COLUMNS = [c for c in SUMMARY_COLUMNS if c not in ("n", "n_incomplete", "suppressed", "notes")]


def _notes(g: pl.DataFrame, *, min_cell: int, bootstrap: bool, s_av: np.ndarray) -> list[str | None]:
    """Why statistics of a row are empty, in words; None where every statistic is there."""
    out: list[str | None] = []
    rows = zip(
        g["n"].to_list(),
        g["sd_improvement"].to_list(),
        g["n_nonzero"].to_list(),
        g["responder_m"].to_list(),
        g["mdc_m"].to_list(),
        s_av.tolist(),
        strict=True,
    )
    for n, sd, n_nonzero, responder_m, mdc_m, sav in rows:
        notes: list[str] = []
        if n == 0:
            notes.append("no complete episode")
        elif n < min_cell:
            notes.append(f"fewer than {min_cell} complete episodes: statistics suppressed")
        elif n == 1:
            notes.append("one complete episode: no spread, interval, effect size or test")
        else:
            if sd == 0:
                notes.append("every improvement is the same: no interval, SRM, t-test or bootstrap interval")
            if n == 2:
                notes.append("g_av needs 3 complete episodes (its correction J(n - 1) is undefined at n = 2)")
            elif not sav > 0:
                notes.append("baseline and final values do not vary: no g_av")
            if n_nonzero == 0:
                notes.append("every improvement is 0: no Wilcoxon test")
            if responder_m == 0:
                notes.append("the measure has no MCID: no responder rate")
            if mdc_m == 0:
                notes.append("the measure has no MDC: no MDC rate")
            if bootstrap and n < BOOTSTRAP_MIN_N and sd != 0:
                notes.append(f"fewer than {BOOTSTRAP_MIN_N} complete episodes: no bootstrap interval")
        out.append("; ".join(notes) or None)
    return out


def _wilcoxon(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Wilcoxon signed-rank p-values of the groups: exact or all sign flips for small groups (scipy's "auto")."""
    n = frame["n"].to_numpy()
    nz = frame["n_nonzero"].to_numpy().astype(float)
    no_ties = (frame["n_zero"].to_numpy() == 0) & ~frame["has_ties"].to_numpy()
    small = ((n <= EXACT_WILCOXON_MAX_N) & no_ties) | (n <= PERMUTATION_WILCOXON_MAX_N)
    samples: list[np.ndarray | None] = [None] * frame.height
    if "values" in frame.columns:
        for i in np.flatnonzero(small & (nz >= 1)):  # small groups only: at most EXACT_WILCOXON_MAX_N values each
            samples[int(i)] = frame["values"][int(i)].to_numpy()
    p, method = wilcoxon_signed_rank_stats(
        frame["w_plus"].to_numpy(), nz, frame["tie_term"].to_numpy(), exact_samples=samples
    )
    one = n < 2  # a test needs two complete episodes, as the t-test does
    p[one] = np.nan
    method[one] = None
    return p, method


def summarize(
    changes: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    by: str | Sequence[str] = ("condition", "technique"),
    min_cell: int = DEFAULT_MIN_CELL,
    confidence_level: float = 0.95,
    bootstrap: bool = False,
    n_resamples: int = 2000,
    rng: np.random.Generator | int | None = None,
) -> SummaryResult:
    """Grouped summary of per-episode change.

    Parameters
    ----------
    changes : polars.DataFrame or polars.LazyFrame
        Output of :func:`outcomes.episode_changes`; a pandas (or other Arrow)
        dataframe of the same columns is converted at the door.
    by : str or sequence of str, default ("condition", "technique")
        Episode columns to group by; ``measure`` and ``side`` are always added.
    min_cell : int, default 11
        Groups with fewer complete episodes are suppressed (statistics empty).
        1 turns suppression off.
    confidence_level : float, default 0.95
    bootstrap : bool, default False
        Add BCa bootstrap intervals of the mean improvement
        (``boot_ci_low``, ``boot_ci_high``; scipy.stats.bootstrap).
    n_resamples : int, default 2000
        Bootstrap resamples per group.
    rng : numpy.random.Generator or int, optional
        Seed or generator for the bootstrap; each group, in the sorted order
        of the groups, gets its own child stream.

    Returns
    -------
    SummaryResult
        ``.table``: group columns, ``measure``, ``side``, then
        :data:`SUMMARY_COLUMNS`, sorted by the group columns, measure and
        side; and the settings (``by``, ``min_cell``, ``confidence_level``,
        ``responder_rule`` read from the changes' ``responder_rule`` column,
        ``bootstrap``, ``n_resamples``). Statistics:

        - ``ci_low``/``ci_high``: t-interval of ``mean_improvement``;
        - ``srm`` = mean_improvement / sd_improvement (Cohen's d_z), interval
          by noncentral-t inversion (Steiger & Fouladi 1997);
        - ``g_av`` = mean_improvement / sqrt((baseline_sd^2 + final_sd^2)/2)
          times J(n - 1), Bonett (2015) interval for d_av;
        - ``responder_rate``: responders / episodes with a responder value,
          Wilson interval; empty where the measure has no MCID;
        - ``p_value``: paired t-test of final vs baseline, two-sided.

    Examples
    --------
    >>> from outcomes import read_dataset, episode_changes
    >>> from outcomes.synth import demo_dataset_path
    >>> s = summarize(episode_changes(read_dataset(demo_dataset_path())), by="condition")
    >>> row = s.table.filter(condition="low_back_pain", measure="nprs")
    >>> row.select("n", "suppressed").row(0)
    (297, False)
    >>> s.confidence_level, s.responder_rule
    (0.95, 'either')

    Raises
    ------
    ValueError
        For a confidence level outside (0, 1), ``min_cell`` below 1, a group
        column that the changes lack, ``measure`` or ``side`` in ``by``, or
        changes computed with more than one responder rule.
    """
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
    check_min_cell(min_cell)
    by_cols = group_columns(by)
    if any(c in ("measure", "side") for c in by_cols):
        raise ValueError("measure and side are always grouped; leave them out of `by`")
    keys = [*by_cols, "measure", "side"]
    changes = as_changes_frame(changes)
    check_changes(changes, [*keys, "status", "baseline", "final", "change", "improvement", "responder", "exceeds_mdc"])

    keep: bool | int = True if bootstrap else EXACT_WILCOXON_MAX_N
    # the rule and the group statistics in one pass over a lazy table (the rule is a column of it)
    lf = changes.lazy().cache()
    query = responder_rules(lf)
    if query is None:
        g, rule = group_statistics(lf, keys, keep_values=keep).collect(), None
    else:
        g, rules = pl.collect_all([group_statistics(lf, keys, keep_values=keep), query])
        rule = responder_rule_of(lf, rules=rules)
    check_complete_rows(g)
    n = g["n"].to_numpy().astype(float)
    mean = g["mean_improvement"].to_numpy().astype(float)
    sd = g["sd_improvement"].to_numpy().astype(float)
    ci_low, ci_high, p_value = mean_interval_stats(mean, sd, n, confidence_level=confidence_level)
    srm, srm_lo, srm_hi = srm_stats(mean, sd, n, confidence_level=confidence_level)
    sd_before = g["baseline_sd"].to_numpy().astype(float)
    sd_after = g["final_sd"].to_numpy().astype(float)
    s_av = np.sqrt((sd_before**2 + sd_after**2) / 2)
    g_av, g_lo, g_hi = g_av_stats(mean, sd, sd_before, sd_after, n, confidence_level=confidence_level)
    k = g["responder_k"].to_numpy().astype(float)
    m = g["responder_m"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(m > 0, k / m, np.nan)
    r_lo, r_hi = wilson_interval(k, m, confidence_level=confidence_level)
    mdc_k = g["mdc_k"].to_numpy().astype(float)
    mdc_m = g["mdc_m"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mdc_rate = np.where(mdc_m > 0, mdc_k / mdc_m, np.nan)
    mdc_lo, mdc_hi = wilson_interval(mdc_k, mdc_m, confidence_level=confidence_level)
    w_p, w_method = _wilcoxon(g)
    suppressed = n < min_cell
    if bootstrap:
        generator = np.random.default_rng(rng)
        ok = ~suppressed & (n >= BOOTSTRAP_MIN_N)
        samples = [g["values"][i].to_numpy() if ok[i] else None for i in range(g.height)]
        b_lo, b_hi = bca_mean_intervals(
            samples, confidence_level=confidence_level, n_resamples=n_resamples, rng=generator
        )
    else:
        b_lo = b_hi = np.full(g.height, np.nan)

    computed = {
        "ci_low": ci_low,
        "ci_high": ci_high,
        "srm": srm,
        "srm_ci_low": srm_lo,
        "srm_ci_high": srm_hi,
        "g_av": g_av,
        "g_av_ci_low": g_lo,
        "g_av_ci_high": g_hi,
        "responder_rate": rate,
        "responder_ci_low": r_lo,
        "responder_ci_high": r_hi,
        "p_value": p_value,
        "exceeds_mdc_rate": mdc_rate,
        "exceeds_mdc_ci_low": mdc_lo,
        "exceeds_mdc_ci_high": mdc_hi,
        "wilcoxon_p_value": w_p,
        "boot_ci_low": b_lo,
        "boot_ci_high": b_hi,
    }
    out = g.with_columns(
        *[pl.Series(name, values, dtype=pl.Float64, nan_to_null=True) for name, values in computed.items()],
        pl.Series("wilcoxon_method", w_method.tolist(), dtype=pl.String),
        pl.Series("suppressed", suppressed),
        pl.Series("notes", _notes(g, min_cell=min_cell, bootstrap=bootstrap, s_av=s_av), dtype=pl.String),
        (pl.col("n") / (pl.col("n") + pl.col("n_incomplete"))).alias("followup_rate"),
    )
    out = out.with_columns(suppress(_STAT_COLUMNS))
    return SummaryResult(
        out.select(*keys, *SUMMARY_COLUMNS).sort(keys, nulls_last=False),
        by=tuple(by_cols),
        min_cell=min_cell,
        confidence_level=confidence_level,
        responder_rule=rule,
        bootstrap=bootstrap,
        n_resamples=n_resamples if bootstrap else None,
    )


def primary_measure(changes: pl.DataFrame, catalog: pl.DataFrame, /, *, kind: str = "pain") -> str | None:
    """The measure of ``kind`` with the most complete episodes (ties: by code); else any measure; None if none.

    Reports lead with it: the pain scale a clinic actually records (NPRS, VAS
    or a scale of its own).
    """
    complete = changes.filter(pl.col("status") == "complete").group_by("measure").len()
    ranked = complete.join(catalog.select(pl.col("code").alias("measure"), "kind"), on="measure", how="left").sort(
        [pl.col("kind") == kind, "len", "measure"], descending=[True, True, False]
    )
    return None if ranked.height == 0 else str(ranked["measure"][0])


def overview(dataset: Dataset, changes: pl.DataFrame, /, *, measure: str | None) -> dict[str, Any]:
    """Key figures of a dataset for the clinic overview.

    Returns a dict: ``episodes``, ``patients``, ``clinics``, ``therapists``,
    ``first_start`` and ``last_start`` (dates), ``visits_median``,
    ``visits_q1``, ``visits_q3`` (visits per episode), and for ``measure``
    the one-row summary over all episodes (``summary``, the
    :class:`SummaryResult` of :func:`summarize` with ``by=()`` and no
    suppression).
    """
    eps = dataset.episodes
    visits = changes.select("episode_id", "n_visits").unique()
    all_eps = (
        eps.select("episode_id").join(visits, on="episode_id", how="left").with_columns(pl.col("n_visits").fill_null(0))
    )
    v = all_eps["n_visits"]
    out: dict[str, Any] = {
        "episodes": eps.height,
        "patients": eps["patient_id"].n_unique(),
        "clinics": eps["clinic_id"].drop_nulls().n_unique() if "clinic_id" in eps.columns else 0,
        "therapists": eps["therapist_id"].drop_nulls().n_unique() if "therapist_id" in eps.columns else 0,
        "first_start": eps["start_date"].min(),
        "last_start": eps["start_date"].max(),
        "visits_median": v.median() if v.len() else None,
        "visits_q1": v.quantile(0.25, interpolation="linear") if v.len() else None,
        "visits_q3": v.quantile(0.75, interpolation="linear") if v.len() else None,
        "summary": None,
    }
    if measure is not None:
        out["summary"] = summarize(changes.filter(pl.col("measure") == measure), by=(), min_cell=1)
    return out
