"""The speed shortcuts of validation. Each changes only how fast a result is reached, never the result.

- Text columns with few distinct values (codes, vocabularies, dates written as
  text) are cleaned, typed and checked once per distinct value
  (:func:`few_distinct`, :func:`distinct`).
- Joins to the episodes and the catalog carry only the key column
  (:func:`lookup_join`), so the wide table is not copied.
- Native Parquet columns that already hold the schema's type are used as they
  are (:func:`usable_as_is`).
- Episode and catalog rules are first decided from per-episode and per-measure
  extremes (:func:`episode_precheck`, :func:`catalog_precheck`); when those
  pass, the per-row join and rules are skipped.
- Duplicate rows are pre-checked with a 64-bit hash per row (:func:`no_duplicates`).

``tests/test_validation_properties.py`` switches each of them off, or forces
it on everywhere, and checks that validation gives the same accepted rows,
rejections and warnings.
"""

from __future__ import annotations

import polars as pl

from outcomes.contract import ColumnSpec, TableSchema
from outcomes.ingest.validate.rules import CATALOG, EPISODE, typed_name

_SAMPLE_ROWS = 50_000
"""Rows looked at to decide whether a text column has few distinct values."""
_FEW_DISTINCT = 0.05
"""A text column is checked through its distinct values when the sample has at most this share distinct."""


def few_distinct(df: pl.DataFrame, names: list[str]) -> list[str]:
    """Text columns with few distinct values (codes, vocabularies, dates as text).

    Their rules are evaluated once per distinct value instead of once per row;
    which columns qualify changes only the speed, never the result.
    """
    if not names or df.height == 0:
        return []
    sample = df.head(_SAMPLE_ROWS)
    counts = sample.select(pl.col(names).n_unique()).row(0)
    return [name for name, n in zip(names, counts, strict=True) if n <= max(1.0, _FEW_DISTINCT * sample.height)]


def distinct(df: pl.DataFrame, names: list[str]) -> dict[str, pl.Series]:
    """Distinct values of each named column, computed in parallel."""
    if not names:
        return {}
    lists = df.lazy().select(pl.col(n).unique().implode() for n in names).collect()
    return {n: lists.get_column(n)[0].rename(n) for n in names}


def lookup_join(df: pl.DataFrame, key: str, lookup: pl.DataFrame) -> pl.DataFrame:
    """``df`` with ``lookup``'s other columns added by ``key`` (unique in ``lookup``), row order kept.

    Only the key column takes part in the join, so the wide frame is not copied.
    """
    added = df.select(key).join(lookup, on=key, how="left", maintain_order="left").drop(key)
    if added.height != df.height:  # pragma: no cover - lookup keys are unique by construction
        raise AssertionError(f"lookup on {key} is not unique")
    return df.hstack(added)


def no_duplicates(frame: pl.DataFrame, key: list[str]) -> bool:
    """True when no two rows of ``frame`` share ``key`` (nulls equal).

    A 64-bit hash per row decides it quickly; equal hashes only send the caller to the exact check.
    """
    if frame.height < 2:
        return True
    hashed = frame.select(pl.struct(key).hash(seed=0x5EED)).to_series()
    return hashed.n_unique() == frame.height


def usable_as_is(df: pl.DataFrame, specs: list[ColumnSpec]) -> list[str]:
    """Native (Parquet) columns already of the schema's dtype with no value the type rule would refuse.

    Their typed copy is the column itself, not a new array.
    """
    candidates = [s for s in specs if df.schema[s.name] == s.dtype]
    if not candidates:
        return []
    bad = []
    for spec in candidates:
        col = pl.col(spec.name)
        if spec.type == "float":
            bad.append((col.is_not_null() & ~col.is_finite()).any().alias(spec.name))
        elif spec.type == "integer":
            bad.append((col.abs() >= 2**53).any().alias(spec.name))
        else:
            bad.append(pl.lit(False).alias(spec.name))
    found = df.select(bad).row(0)
    return [spec.name for spec, refused in zip(candidates, found, strict=True) if not refused]


def _extremes(specs: list[ColumnSpec]) -> list[pl.Expr]:
    """Smallest and largest typed value of each column, as ``__lo_NAME`` and ``__hi_NAME``."""
    return [pl.col(typed_name(s.name)).min().alias(f"__lo_{s.name}") for s in specs] + [
        pl.col(typed_name(s.name)).max().alias(f"__hi_{s.name}") for s in specs
    ]


def _any_group_breaks(
    df: pl.DataFrame, key: str, aggs: list[pl.Expr], lookup: pl.DataFrame, breaks: list[pl.Expr]
) -> bool:
    """Whether, per value of ``key`` as written (nulls left out), the aggregates joined to
    ``lookup`` meet any of ``breaks``. Lazy, so only the columns the aggregates read are touched."""
    per_key = df.lazy().filter(pl.col(key).is_not_null()).group_by(key).agg(aggs).collect()
    per_key = per_key.join(lookup, on=key, how="left")
    return bool(per_key.select(pl.any_horizontal([b.fill_null(False) for b in breaks]).any()).item())


def episode_precheck(df: pl.DataFrame, schema: TableSchema, ref: ColumnSpec, lookup: pl.DataFrame) -> bool:
    """True when no row can break an episode rule, decided from per-episode aggregates.

    Per episode id as written: the earliest and latest date of each within-episode column. When
    every id is an accepted episode's id exactly (so also needs no cleaning) and every date lies
    inside its episode, the per-row join and rules are skipped.
    """
    within = [s for s in schema.columns if s.within_episode]
    start, end = pl.col(f"{EPISODE}start_date"), pl.col(f"{EPISODE}end_date")
    breaks = [start.is_null() | pl.col(f"{EPISODE}rejected").fill_null(False)]  # missing, rejected or not clean
    for s in within:
        breaks += [pl.col(f"__lo_{s.name}") < start, pl.col(f"__hi_{s.name}") > end]
    return not _any_group_breaks(df, ref.name, _extremes(within), lookup, breaks)


def catalog_precheck(df: pl.DataFrame, schema: TableSchema, code: ColumnSpec, cat: pl.DataFrame) -> bool:
    """True when no row can break a catalog rule, decided from per-code aggregates.

    Per measure code: the smallest and largest typed value of each range-checked column and
    whether any row gives a kind-restricted column (side). When every code is in the catalog,
    every range lies inside its code's range and kind-restricted columns are empty wherever the
    kind does not allow them, the per-row join and rules are skipped.
    """
    ranged = [s for s in schema.columns if s.catalog_range is not None]
    kinds = [s for s in schema.columns if s.only_for_kinds is not None]
    aggs = _extremes(ranged) + [pl.col(s.name).is_not_null().any().alias(f"__has_{s.name}") for s in kinds]
    breaks = [pl.col(f"{CATALOG}min").is_null()]  # a code not in the catalog (as the rule decides it)
    for s in ranged:
        breaks.append(
            (pl.col(f"__lo_{s.name}") < pl.col(f"{CATALOG}min")) | (pl.col(f"__hi_{s.name}") > pl.col(f"{CATALOG}max"))
        )
    for s in kinds:
        breaks.append(pl.col(f"__has_{s.name}") & ~pl.col(f"{CATALOG}kind").is_in(list(s.only_for_kinds or ())))
    return not _any_group_breaks(df, code.name, aggs, cat, breaks)
