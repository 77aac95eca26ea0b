"""Audit: the 97140 documentation check, per group.

For clinics billing manual therapy (CPT 97140, a timed code) this checks what
an auditor reads in the treatment notes (Medicare Benefit Policy Manual ch. 15
sec. 220.3): minutes recorded for each timed service, the body region
treated, and billed units that follow the CMS 8-minute rule (Medicare Claims
Processing Manual ch. 5 sec. 20.2) for the visit's total timed minutes. The
rule's numbers are read from ``data_schemas/billing.json``; which codes are
timed comes from the technique vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from outcomes.aggregate import group_columns
from outcomes.analyses.suppression import DEFAULT_MIN_CELL, suppress
from outcomes.contract import billing_rules, eight_minute_units, timed_codes
from outcomes.ingest import Dataset

__all__ = ["DOCUMENTATION_COLUMNS", "documentation_check"]

DOCUMENTATION_COLUMNS: tuple[str, ...] = (
    "n_manual_rows",
    "minutes_recorded_rate",
    "body_region_recorded_rate",
    "n_visits",
    "n_visits_checked",
    "units_consistent_rate",
    "n_over_billed",
    "n_under_billed",
    "suppressed",
)
"""Columns after the group columns."""


def documentation_check(
    dataset: Dataset,
    /,
    *,
    by: str | Sequence[str] = ("clinic_id",),
    min_cell: int = DEFAULT_MIN_CELL,
) -> pl.DataFrame:
    """Documentation and billing consistency of manual therapy (97140) per group.

    Parameters
    ----------
    dataset : Dataset
    by : str or sequence of str, default ("clinic_id",)
        Episode columns to group by; ``()`` for the whole dataset.
    min_cell : int, default 11
        Groups with fewer visits are suppressed (rates empty).

    Returns
    -------
    polars.DataFrame
        Group columns, then :data:`DOCUMENTATION_COLUMNS`:

        - ``n_manual_rows``: 97140 treatment rows;
        - ``minutes_recorded_rate``, ``body_region_recorded_rate``: share of
          those rows with minutes / body region recorded;
        - ``n_visits``: visits with any timed service; ``n_visits_checked``:
          those whose timed rows all have minutes and units recorded;
        - ``units_consistent_rate``: share of checked visits whose billed
          timed units equal the 8-minute rule's units for the total timed
          minutes; ``n_over_billed`` / ``n_under_billed``: checked visits
          billing more / fewer units than that.

    Examples
    --------
    >>> from outcomes import read_dataset
    >>> from outcomes.synth import demo_dataset_path
    >>> doc = documentation_check(read_dataset(demo_dataset_path()), by=())
    >>> 0.9 < doc["units_consistent_rate"].item() < 1.0
    True
    """
    by_cols = group_columns(by)
    manual = billing_rules()["manual_therapy_cpt"]
    episodes = dataset.episodes.lazy().select("episode_id", *by_cols)
    treatments = dataset.treatments.lazy().join(episodes, on="episode_id", how="inner")
    timed = treatments.filter(pl.col("cpt_code").is_in(timed_codes()))
    visits = (
        timed.group_by([*by_cols, "episode_id", "visit_date"])
        .agg(
            pl.col("minutes").sum().alias("__minutes"),
            pl.col("units").sum().alias("__units"),
            (pl.col("minutes").is_null() | pl.col("units").is_null()).any().alias("__gap"),
        )
        .with_columns(eight_minute_units(pl.col("__minutes")).alias("__expected"))
    )
    checked = ~pl.col("__gap")
    per_visit = visits.group_by(by_cols or pl.lit(1).alias("__all")).agg(
        pl.len().cast(pl.Int64).alias("n_visits"),
        checked.sum().cast(pl.Int64).alias("n_visits_checked"),
        (checked & (pl.col("__units") == pl.col("__expected"))).sum().alias("__consistent"),
        (checked & (pl.col("__units") > pl.col("__expected"))).sum().cast(pl.Int64).alias("n_over_billed"),
        (checked & (pl.col("__units") < pl.col("__expected"))).sum().cast(pl.Int64).alias("n_under_billed"),
    )
    per_row = (
        treatments.filter(pl.col("cpt_code") == manual)
        .group_by(by_cols or pl.lit(1).alias("__all"))
        .agg(
            pl.len().cast(pl.Int64).alias("n_manual_rows"),
            pl.col("minutes").is_not_null().mean().alias("minutes_recorded_rate"),
            pl.col("body_region").is_not_null().mean().alias("body_region_recorded_rate"),
        )
    )
    keys = by_cols or ["__all"]
    out = (
        per_visit.join(per_row, on=keys, how="full", coalesce=True, nulls_equal=True)
        .with_columns(
            pl.col("n_manual_rows", "n_visits", "n_visits_checked", "n_over_billed", "n_under_billed").fill_null(0),
            (pl.col("__consistent") / pl.col("n_visits_checked")).alias("units_consistent_rate"),
        )
        .with_columns((pl.col("n_visits") < min_cell).alias("suppressed"))
        .with_columns(suppress(["minutes_recorded_rate", "body_region_recorded_rate", "units_consistent_rate"]))
        .select(*by_cols, *DOCUMENTATION_COLUMNS)
    )
    return out.sort(by_cols, nulls_last=False).collect() if by_cols else out.collect()
