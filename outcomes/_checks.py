"""The validation engine: schema rules as vectorized polars expressions.

``check_table`` turns an all-text frame (from :mod:`outcomes._read`) into a
typed frame and a table of issues (``row``, ``column``, ``reason``). Every rule
comes from a :class:`~outcomes.schema.ColumnSpec`; no column name is written
here. There is no Python loop over rows: each rule is one filter over the whole
table, so a million rows take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from outcomes._read import ROW, DatasetError, read_text_table
from outcomes.schema import ColumnSpec, TableSchema, load_table_schema, vocabulary, vocabulary_label

ISSUE_SCHEMA = {ROW: pl.Int64, "column": pl.String, "rule": pl.String, "reason": pl.String}
WARNING_SCHEMA = {
    "column": pl.String,
    "value": pl.String,
    "n_rows": pl.Int64,
    "first_row": pl.Int64,
    "message": pl.String,
}

_EP = "__episode_"  # prefix of joined episode columns


def _t(name: str) -> str:
    """Name of the typed copy of a column during validation."""
    return f"__typed_{name}"


Rule = tuple[str, pl.Expr, pl.Expr]
"""(rule name, condition that flags a row, reason text)."""


@dataclass(frozen=True)
class Context:
    """What cross-table rules need: accepted episodes and the measure catalog."""

    episodes: pl.DataFrame | None = None
    rejected_episode_ids: pl.Series | None = None
    catalog: pl.DataFrame | None = None


@dataclass(frozen=True)
class Checked:
    """Result of checking one table."""

    accepted: pl.DataFrame
    issues: pl.DataFrame
    warnings: pl.DataFrame


def _fmt_number(x: float) -> str:
    return f"{x:g}"


def _quoted(col: str) -> pl.Expr:
    return pl.concat_str(pl.lit("'"), pl.col(col), pl.lit("'"))


def _clean(spec: ColumnSpec) -> pl.Expr:
    e = pl.col(spec.name).str.strip_chars()
    e = pl.when(e == "").then(None).otherwise(e)
    if spec.normalize == "lower":
        e = e.str.to_lowercase()
    elif spec.normalize == "upper":
        e = e.str.to_uppercase()
    return e.alias(spec.name)


def _native(spec: ColumnSpec, dtype: pl.DataType) -> bool:
    """Whether a typed (Parquet) column already holds the schema's type, so no text parsing is needed."""
    if spec.type == "date":
        return dtype == pl.Date
    if spec.type in ("integer", "float"):
        return dtype.is_numeric()
    return False


def _typed(spec: ColumnSpec, native: bool = False) -> pl.Expr:
    raw = pl.col(spec.name)
    e: pl.Expr
    if native:  # already a date or a number: only the checks text parsing would have made
        if spec.type == "date":
            e = raw
        else:
            f = raw.cast(pl.Float64)
            ok = f.is_finite() & (f == f.floor()) & (f.abs() < 2**53) if spec.type == "integer" else f.is_finite()
            e = pl.when(ok).then(raw).cast(spec.dtype)
    elif spec.type == "date":
        e = pl.when(raw.str.contains(r"^\d{4}-\d{2}-\d{2}$")).then(raw.str.to_date("%Y-%m-%d", strict=False))
    elif spec.type == "float":
        f = raw.cast(pl.Float64, strict=False)
        e = pl.when(f.is_finite()).then(f)
    elif spec.type == "integer":
        f = raw.cast(pl.Float64, strict=False)
        plain = raw.str.contains(r"^[+-]?\d+(\.0*)?$")  # 12, 12.0; not 1.2e1
        e = pl.when(plain & f.is_finite() & (f == f.floor()) & (f.abs() < 2**53)).then(f).cast(pl.Int64)
    else:
        e = raw
    return e.alias(_t(spec.name))


def _type_reason(spec: ColumnSpec) -> str:
    return {
        "date": "is not a date in ISO 8601 form (YYYY-MM-DD)",
        "float": "is not a number",
        "integer": "is not a whole number",
        "string": "is not text",
    }[spec.type]


def _column_rules(spec: ColumnSpec, vocab_codes: dict[str, list[str]]) -> list[Rule]:
    """(rule, condition, reason) for the single-column rules of ``spec``."""
    name, typed = spec.name, pl.col(_t(spec.name))
    raw = pl.col(name)
    rules: list[Rule] = []
    if spec.required:
        rules.append(("required", raw.is_null(), pl.lit(f"{name} is empty; it is required")))
    rules.append(
        (
            "type",
            raw.is_not_null() & typed.is_null(),
            pl.concat_str(pl.lit(f"{name} "), _quoted(name), pl.lit(f" {_type_reason(spec)}")),
        )
    )
    if spec.min is not None or spec.max is not None:
        lo = spec.min if spec.min is not None else float("-inf")
        hi = spec.max if spec.max is not None else float("inf")
        span = (
            f"{_fmt_number(lo)}-{_fmt_number(hi)}"
            if spec.min is not None and spec.max is not None
            else (f"at least {_fmt_number(lo)}" if spec.max is None else f"at most {_fmt_number(hi)}")
        )
        word = "outside" if spec.min is not None and spec.max is not None else "not"
        rules.append(
            (
                "range",
                typed.is_not_null() & ((typed < lo) | (typed > hi)),
                pl.concat_str(pl.lit(f"{name} "), raw, pl.lit(f" is {word} {span}")),
            )
        )
    if spec.enum is not None:
        rules.append(
            (
                "allowed values",
                raw.is_not_null() & ~raw.is_in(list(spec.enum)),
                pl.concat_str(
                    pl.lit(f"{name} "),
                    _quoted(name),
                    pl.lit(f" is not one of {', '.join(spec.enum)}"),
                ),
            )
        )
    if spec.vocabulary is not None and spec.on_unknown == "reject":
        rules.append(
            (
                "vocabulary",
                raw.is_not_null() & ~raw.is_in(vocab_codes[spec.vocabulary]),
                pl.concat_str(
                    pl.lit(f"{name} "),
                    _quoted(name),
                    pl.lit(f" is not in the {vocabulary_label(spec.vocabulary)}"),
                ),
            )
        )
    if spec.pattern is not None:
        rules.append(
            (
                "pattern",
                raw.is_not_null() & ~raw.str.contains(spec.pattern),
                pl.concat_str(pl.lit(f"{name} "), _quoted(name), pl.lit(f" is not {spec.pattern_description}")),
            )
        )
    for other, word in ((spec.not_before, "before"), (spec.not_below, "below")):
        if other is not None:
            o = pl.col(_t(other))
            rules.append(
                (
                    "order",
                    typed.is_not_null() & o.is_not_null() & (typed < o),
                    pl.concat_str(pl.lit(f"{name} "), raw, pl.lit(f" is {word} {other} "), pl.col(other)),
                )
            )
    return rules


def _unique_rule(lf: pl.LazyFrame, spec: ColumnSpec) -> pl.LazyFrame:
    name = spec.name
    dups = (
        lf.filter(pl.col(name).is_not_null())
        .group_by(name)
        .agg(pl.col(ROW).sort().alias("__rows"), pl.len().alias("__n"))
        .filter(pl.col("__n") > 1)
    )
    rows_text = pl.col("__rows").list.head(10).cast(pl.List(pl.String)).list.join(", ")
    more = pl.when(pl.col("__n") > 10).then(pl.lit(", ...")).otherwise(pl.lit(""))
    return (
        lf.select(ROW, name)
        .join(dups, on=name, how="inner")
        .select(
            ROW,
            pl.lit(name).alias("column"),
            pl.lit("duplicate id").alias("rule"),
            pl.concat_str(
                pl.lit(f"{name} "),
                _quoted(name),
                pl.lit(" appears in "),
                pl.col("__n").cast(pl.String),
                pl.lit(" rows (rows "),
                rows_text,
                more,
                pl.lit("); every row with a duplicated "),
                pl.lit(name),
                pl.lit(" is rejected"),
            ).alias("reason"),
        )
    )


def _episode_rules(spec: ColumnSpec) -> list[Rule]:
    name = spec.name
    rules: list[Rule] = []
    if spec.references is not None:
        raw = pl.col(name)
        rules.append(
            (
                "episode rejected",
                raw.is_not_null() & pl.col(f"{_EP}rejected").fill_null(False),
                pl.concat_str(pl.lit("episode "), raw, pl.lit(" was rejected")),
            )
        )
        rules.append(
            (
                "episode missing",
                raw.is_not_null() & ~pl.col(f"{_EP}rejected").fill_null(False) & pl.col(f"{_EP}start_date").is_null(),
                pl.concat_str(pl.lit("episode "), raw, pl.lit(" does not exist in episodes")),
            )
        )
    if spec.within_episode:
        typed, start, end = pl.col(_t(name)), pl.col(f"{_EP}start_date"), pl.col(f"{_EP}end_date")
        rules.append(
            (
                "outside episode",
                typed.is_not_null() & start.is_not_null() & (typed < start),
                pl.concat_str(
                    pl.lit(f"{name} "),
                    pl.col(name),
                    pl.lit(" is before the episode's start_date "),
                    start.cast(pl.String),
                ),
            )
        )
        rules.append(
            (
                "outside episode",
                typed.is_not_null() & end.is_not_null() & (typed > end),
                pl.concat_str(
                    pl.lit(f"{name} "),
                    pl.col(name),
                    pl.lit(" is after the episode's end_date "),
                    end.cast(pl.String),
                ),
            )
        )
    return rules


_CAT = "__catalog_"


def _catalog_rules(spec: ColumnSpec, measure_col: str | None) -> list[Rule]:
    name = spec.name
    raw, typed = pl.col(name), pl.col(_t(name))
    rules: list[Rule] = []
    if spec.catalog_code:
        rules.append(
            (
                "unknown measure",
                raw.is_not_null() & pl.col(f"{_CAT}min").is_null(),
                pl.concat_str(
                    pl.lit(f"{name} "),
                    _quoted(name),
                    pl.lit(" is not in the measure catalog; add a row for it to the dataset's measures.csv"),
                ),
            )
        )
    if spec.catalog_range is not None:
        lo, hi = pl.col(f"{_CAT}min"), pl.col(f"{_CAT}max")
        rules.append(
            (
                "range",
                typed.is_not_null() & lo.is_not_null() & ((typed < lo) | (typed > hi)),
                pl.concat_str(
                    pl.col(spec.catalog_range),
                    pl.lit(" value "),
                    raw,
                    pl.lit(" is outside "),
                    pl.col(f"{_CAT}min_text"),
                    pl.lit("-"),
                    pl.col(f"{_CAT}max_text"),
                ),
            )
        )
    if spec.only_for_kinds is not None and measure_col is not None:
        kinds = list(spec.only_for_kinds)
        kind_text = " or ".join("range-of-motion" if k == "rom" else k for k in kinds)
        rules.append(
            (
                "side",
                raw.is_not_null() & pl.col(f"{_CAT}kind").is_not_null() & ~pl.col(f"{_CAT}kind").is_in(kinds),
                pl.concat_str(
                    pl.lit(f"{name} "),
                    _quoted(name),
                    pl.lit(" is given for "),
                    pl.col(measure_col),
                    pl.lit(f", which is not a {kind_text} measure; leave {name} empty"),
                ),
            )
        )
    return rules


_SAMPLE_ROWS = 50_000
"""Rows looked at to decide whether a text column has few distinct values."""
_FEW_DISTINCT = 0.05
"""A text column is checked through its distinct values when the sample has at most this share distinct."""


def _few_distinct(df: pl.DataFrame, names: list[str]) -> list[str]:
    """Text columns with few distinct values (codes, vocabularies, dates as text).

    Their rules are evaluated once per distinct value instead of once per row;
    which columns qualify changes only the speed, never the result.
    """
    if not names or df.height == 0:
        return []
    sample = df.head(_SAMPLE_ROWS)
    counts = sample.select(pl.col(names).n_unique()).row(0)
    return [name for name, n in zip(names, counts, strict=True) if n <= max(1.0, _FEW_DISTINCT * sample.height)]


def _distinct(df: pl.DataFrame, names: list[str]) -> dict[str, pl.Series]:
    """Distinct values of each named column, computed in parallel."""
    if not names:
        return {}
    lists = df.lazy().select(pl.col(n).unique().implode() for n in names).collect()
    return {n: lists.get_column(n)[0].rename(n) for n in names}


def _lookup_join(df: pl.DataFrame, key: str, lookup: pl.DataFrame) -> pl.DataFrame:
    """``df`` with ``lookup``'s other columns added by ``key`` (unique in ``lookup``), row order kept.

    Only the key column takes part in the join, so the wide frame is not copied.
    """
    added = df.select(key).join(lookup, on=key, how="left", maintain_order="left").drop(key)
    if added.height != df.height:  # pragma: no cover - lookup keys are unique by construction
        raise AssertionError(f"lookup on {key} is not unique")
    return df.hstack(added)


def _no_duplicates(frame: pl.DataFrame, key: list[str]) -> bool:
    """True when no two rows of ``frame`` share ``key`` (nulls equal).

    A 64-bit hash per row decides it quickly; equal hashes only send the caller to the exact check.
    """
    if frame.height < 2:
        return True
    hashed = frame.select(pl.struct(key).hash(seed=0x5EED)).to_series()
    return hashed.n_unique() == frame.height


def _usable_as_is(df: pl.DataFrame, specs: list[ColumnSpec]) -> list[str]:
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
    return [pl.col(_t(s.name)).min().alias(f"__lo_{s.name}") for s in specs] + [
        pl.col(_t(s.name)).max().alias(f"__hi_{s.name}") for s in specs
    ]


def _any_group_breaks(
    df: pl.DataFrame, key: str, aggs: list[pl.Expr], lookup: pl.DataFrame, breaks: list[pl.Expr]
) -> bool:
    """Whether, per value of ``key`` as written (nulls left out), the aggregates joined to
    ``lookup`` meet any of ``breaks``. Lazy, so only the columns the aggregates read are touched."""
    per_key = df.lazy().filter(pl.col(key).is_not_null()).group_by(key).agg(aggs).collect()
    per_key = per_key.join(lookup, on=key, how="left")
    return bool(per_key.select(pl.any_horizontal([b.fill_null(False) for b in breaks]).any()).item())


def _episode_precheck(df: pl.DataFrame, schema: TableSchema, ref: ColumnSpec, lookup: pl.DataFrame) -> bool:
    """True when no row can break an episode rule, decided from per-episode aggregates.

    Per episode id as written: the earliest and latest date of each within-episode column. When
    every id is an accepted episode's id exactly (so also needs no cleaning) and every date lies
    inside its episode, the per-row join and rules are skipped.
    """
    within = [s for s in schema.columns if s.within_episode]
    start, end = pl.col(f"{_EP}start_date"), pl.col(f"{_EP}end_date")
    breaks = [start.is_null() | pl.col(f"{_EP}rejected").fill_null(False)]  # missing, rejected or not clean
    for s in within:
        breaks += [pl.col(f"__lo_{s.name}") < start, pl.col(f"__hi_{s.name}") > end]
    return not _any_group_breaks(df, ref.name, _extremes(within), lookup, breaks)


def _catalog_precheck(df: pl.DataFrame, schema: TableSchema, code: ColumnSpec, cat: pl.DataFrame) -> bool:
    """True when no row can break a catalog rule, decided from per-code aggregates.

    Per measure code: the smallest and largest typed value of each range-checked column and
    whether any row gives a kind-restricted column (side). When every code is in the catalog,
    every range lies inside its code's range and kind-restricted columns are empty wherever the
    kind does not allow them, the per-row join and rules are skipped.
    """
    ranged = [s for s in schema.columns if s.catalog_range is not None]
    kinds = [s for s in schema.columns if s.only_for_kinds is not None]
    aggs = _extremes(ranged) + [pl.col(s.name).is_not_null().any().alias(f"__has_{s.name}") for s in kinds]
    breaks = [pl.col(f"{_CAT}min").is_null()]  # a code not in the catalog (as the rule decides it)
    for s in ranged:
        breaks.append(
            (pl.col(f"__lo_{s.name}") < pl.col(f"{_CAT}min")) | (pl.col(f"__hi_{s.name}") > pl.col(f"{_CAT}max"))
        )
    for s in kinds:
        breaks.append(pl.col(f"__has_{s.name}") & ~pl.col(f"{_CAT}kind").is_in(list(s.only_for_kinds or ())))
    return not _any_group_breaks(df, code.name, aggs, cat, breaks)


def check_table(
    raw: pl.DataFrame,
    schema: TableSchema,
    context: Context | None = None,
) -> Checked:
    """Validate an all-text table against ``schema``.

    Parameters
    ----------
    raw : polars.DataFrame
        ``row`` plus the file's columns, as returned by ``read_text_table``:
        text, or (from Parquet) typed. It must hold every required column of
        ``schema``; optional columns may be missing and columns the schema
        does not know are kept as text.
    schema : TableSchema
        The table's schema.
    context : Context, optional
        Accepted episodes and the measure catalog, for cross-table rules.

    Returns
    -------
    Checked
        ``accepted``: typed rows without any issue (``row`` kept);
        ``issues``: one row per problem (``row``, ``column``, ``reason``);
        ``warnings``: unknown vocabulary values, one row per value.

    Notes
    -----
    Text columns with few distinct values (codes, vocabularies, dates written
    as text) are cleaned and checked once per distinct value; a rule that
    depends on one such column is then applied to the rows only when some
    value breaks it. Joins to the episodes and the measure catalog carry only
    the key column, so the table is never copied whole.
    """
    context = context or Context()
    specs = {spec.name: spec for spec in schema.columns}
    extra = [c for c in raw.columns if c != ROW and c not in schema.names]
    missing = [c for c in schema.names if c not in raw.columns]
    vocab_codes = {
        spec.vocabulary: vocabulary(spec.vocabulary)["code"].to_list()
        for spec in schema.columns
        if spec.vocabulary is not None
    }

    # Parquet columns that already hold the schema's type skip the text round trip; every other
    # column is validated from its text, so that a reason can quote the value as written.
    native = {spec.name: spec.name in raw.columns and _native(spec, raw.schema[spec.name]) for spec in schema.columns}
    to_text = [
        c for c in [*schema.names, *extra] if c in raw.columns and not native.get(c) and raw.schema[c] != pl.String
    ]
    df = raw.with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in missing] + [pl.col(c).cast(pl.String) for c in to_text]
    )

    def clean(name: str) -> pl.Expr:
        return _clean(specs[name]) if name in specs else pl.col(name).str.strip_chars().replace("", None).alias(name)

    # Clean text: columns with few distinct values only where some value needs it.
    text = [s.name for s in schema.columns if not native[s.name]] + extra
    few = _few_distinct(df, text)
    distinct = _distinct(df, few)
    values: dict[str, pl.DataFrame] = {}  # cleaned distinct values, with their typed form
    to_clean = [c for c in text if c not in distinct]
    for name, raw_values in distinct.items():
        cleaned = raw_values.to_frame().select(clean(name))
        if not cleaned.to_series().equals(raw_values):
            to_clean.append(name)
        cleaned = cleaned.unique()
        values[name] = cleaned.with_columns(_typed(specs[name])) if name in specs else cleaned
    ref = next((s for s in schema.columns if s.references is not None), None)
    join_first = ref is not None and context.episodes is not None and ref.name in to_clean
    if join_first:  # cleaned with the join to the episodes below, only where needed
        to_clean.remove(ref.name)  # type: ignore[union-attr]
    df = df.with_columns(clean(c) for c in to_clean)
    # Typed values: text with few distinct values is parsed once per value and looked up.
    looked_up = [n for n in values if n in specs and specs[n].type != "string"]
    for name in looked_up:
        df = _lookup_join(df, name, values[name].select(name, _t(name)))
    # Native columns of the schema's own type whose every value is acceptable are used as they are.
    as_is = _usable_as_is(df, [s for s in schema.columns if native[s.name]])
    df = df.with_columns(
        [pl.col(name).alias(_t(name)) for name in as_is]
        + [_typed(spec, native[spec.name]) for spec in schema.columns if spec.name not in [*looked_up, *as_is]]
    )

    rules: list[tuple[str, str, pl.Expr, pl.Expr]] = []
    for spec in schema.columns:
        rules += [(spec.name, *rule) for rule in _column_rules(spec, vocab_codes)]

    if ref is not None and context.episodes is not None:
        eps = context.episodes.select(
            pl.col("episode_id").alias(ref.name),
            pl.col("start_date").alias(f"{_EP}start_date"),
            pl.col("end_date").alias(f"{_EP}end_date"),
        )
        rejected_ids = (
            context.rejected_episode_ids
            if context.rejected_episode_ids is not None
            else pl.Series(ref.name, [], dtype=pl.String)
        )
        rej = (
            pl.DataFrame({ref.name: rejected_ids.cast(pl.String)})
            .unique()
            .with_columns(pl.lit(True).alias(f"{_EP}rejected"))
        )
        lookup = eps.join(rej.filter(pl.col(ref.name) != ""), on=ref.name, how="full", coalesce=True)
        if not _episode_precheck(df, schema, ref, lookup):
            joined = _lookup_join(df, ref.name, lookup)
            if join_first:
                # A value that matched is an accepted or rejected id, already clean; clean the others.
                unmatched = joined.filter(
                    pl.col(f"{_EP}start_date").is_null() & pl.col(f"{_EP}rejected").is_null()
                ).get_column(ref.name)
                if not unmatched.to_frame().select(clean(ref.name)).to_series().equals(unmatched):
                    df = df.with_columns(clean(ref.name)).with_columns(_typed(ref))
                    joined = _lookup_join(df, ref.name, lookup)
            df = joined
            for spec in schema.columns:
                rules += [(spec.name, *rule) for rule in _episode_rules(spec)]

    df = df.with_columns(pl.all_horizontal(pl.col(c).is_null() for c in [*schema.names, *extra]).alias("__empty"))
    code = next((s for s in schema.columns if s.catalog_code), None)
    if code is not None and context.catalog is not None:
        cat = context.catalog.select(
            pl.col("code").alias(code.name),
            pl.col("min").alias(f"{_CAT}min"),
            pl.col("max").alias(f"{_CAT}max"),
            pl.col("kind").alias(f"{_CAT}kind"),
            pl.col("min").map_elements(_fmt_number, return_dtype=pl.String).alias(f"{_CAT}min_text"),
            pl.col("max").map_elements(_fmt_number, return_dtype=pl.String).alias(f"{_CAT}max_text"),
        )
        if not _catalog_precheck(df, schema, code, cat):
            df = _lookup_join(df, code.name, cat)
            for spec in schema.columns:
                rules += [(spec.name, *rule) for rule in _catalog_rules(spec, code.name)]

    # Each rule's flag over the rows, evaluated in parallel. A rule that reads only one column with
    # few distinct values is first evaluated on those values: when none breaks it, it is skipped;
    # otherwise the rows are flagged by membership, which is exact and cheaper than the condition.
    not_empty = ~pl.col("__empty")
    flag_exprs: list[pl.Expr] = []
    flagged_rules: list[int] = []
    for i, (col, _, cond, _) in enumerate(rules):
        if col in values and set(cond.meta.root_names()) <= {col, _t(col)}:
            bad = values[col].filter(cond.fill_null(False)).get_column(col)
            if bad.len() == 0:
                continue
            member = pl.col(col).is_in(bad.drop_nulls().implode())
            cond = member | pl.col(col).is_null() if bad.null_count() else member
        flag_exprs.append((cond.fill_null(False) & not_empty).alias(f"__flag{i}"))
        flagged_rules.append(i)
    flags = df.select(flag_exprs) if flag_exprs else pl.DataFrame()
    empty = df.get_column("__empty")

    parts = [
        df.filter(empty).select(
            ROW,
            pl.lit("").alias("column"),
            pl.lit("empty row").alias("rule"),
            pl.lit("the row is empty").alias("reason"),
        )
    ]
    for i in flagged_rules:
        col, rule, _, reason = rules[i]
        flag = flags.get_column(f"__flag{i}")
        if flag.any():
            parts.append(
                df.filter(flag).select(
                    ROW, pl.lit(col).alias("column"), pl.lit(rule).alias("rule"), reason.alias("reason")
                )
            )
    for spec in schema.columns:
        if spec.unique:
            ids = df.get_column(spec.name).drop_nulls()
            if ids.n_unique() < ids.len():
                parts.append(_unique_rule(df.lazy(), spec).collect())
    issues = pl.concat(parts)

    keep = [ROW] + [pl.col(_t(s.name)).alias(s.name) for s in schema.columns] + extra
    bad_rows = empty
    if flags.width:
        bad_rows = bad_rows | flags.select(pl.any_horizontal(pl.all())).to_series()
    if issues.height > bad_rows.sum():  # rules outside the flags (duplicated ids) reject rows too
        bad_rows = bad_rows | df.get_column(ROW).is_in(issues.get_column(ROW).unique().implode())
    # only the typed columns go on: the text copies, joined columns and flags are dropped here
    accepted_frame = df.select(ROW, *[_t(s.name) for s in schema.columns], *extra)
    if bad_rows.any():
        accepted_frame = accepted_frame.filter(~bad_rows)
    del df, flags

    if schema.duplicate_key is not None:
        key = [_t(k) for k in schema.duplicate_key]
        if not _no_duplicates(accepted_frame.select(key), key):
            copy = ~accepted_frame.select(pl.struct(key).is_first_distinct()).to_series()  # rows are in file order
            if copy.any():
                copies = accepted_frame.filter(copy)
                firsts = (
                    accepted_frame.join(copies.select(key).unique(), on=key, how="semi", nulls_equal=True)
                    .group_by(key)
                    .agg(pl.col(ROW).min().alias("__first"))
                )
                dup_issues = copies.join(firsts, on=key, how="left", nulls_equal=True).select(
                    ROW,
                    pl.lit("").alias("column"),
                    pl.lit("duplicate row").alias("rule"),
                    pl.concat_str(
                        pl.lit("exact duplicate of row "),
                        pl.col("__first").cast(pl.String),
                        pl.lit(f" (same {', '.join(schema.duplicate_key)})"),
                    ).alias("reason"),
                )
                issues = pl.concat([issues, dup_issues])
                accepted_frame = accepted_frame.filter(~copy)
    accepted_df = accepted_frame.select(keep)  # file order is kept throughout
    issues = issues.sort(ROW, "column", "reason")
    warnings = _vocabulary_warnings(accepted_df, schema, vocab_codes, values)
    return Checked(accepted=accepted_df, issues=issues, warnings=warnings)


def _vocabulary_warnings(
    accepted: pl.DataFrame,
    schema: TableSchema,
    vocab_codes: dict[str, list[str]],
    values: dict[str, pl.DataFrame],
) -> pl.DataFrame:
    parts = []
    for spec in schema.columns:
        if spec.vocabulary is None or spec.on_unknown != "warn":
            continue
        if (
            spec.name in values
            and values[spec.name].get_column(spec.name).drop_nulls().is_in(vocab_codes[spec.vocabulary]).all()
        ):
            continue  # every value of the column is in the vocabulary
        label = vocabulary_label(spec.vocabulary)
        parts.append(
            accepted.filter(pl.col(spec.name).is_not_null() & ~pl.col(spec.name).is_in(vocab_codes[spec.vocabulary]))
            .group_by(spec.name)
            .agg(pl.len().cast(pl.Int64).alias("n_rows"), pl.col(ROW).min().alias("first_row"))
            .select(
                pl.lit(spec.name).alias("column"),
                pl.col(spec.name).alias("value"),
                "n_rows",
                "first_row",
                pl.concat_str(
                    pl.lit(f"{spec.name} "),
                    _quoted(spec.name),
                    pl.lit(f" is not in the {label}; accepted as a custom value ("),
                    pl.col("n_rows").cast(pl.String),
                    pl.when(pl.col("n_rows") == 1).then(pl.lit(" row")).otherwise(pl.lit(" rows")),
                    pl.lit(", first at row "),
                    pl.col("first_row").cast(pl.String),
                    pl.lit(")"),
                ).alias("message"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=WARNING_SCHEMA)
    return pl.concat(parts).sort("column", "value")


def read_catalog(path: Path, base: pl.DataFrame | None = None) -> pl.DataFrame:
    """Read and check a measure catalog file; optionally merge it over ``base``.

    Rows of the file replace rows of ``base`` with the same ``code``. A catalog
    row that breaks the schema makes the dataset unreadable: a
    :class:`DatasetError` lists every problem with its row number.
    """
    schema = load_table_schema("measures")
    raw, malformed = read_text_table(path)
    if malformed.height:
        raise DatasetError(f"{path}: row {malformed[ROW][0]}: {malformed['reason'][0]}")
    missing = [c for c in schema.required if c not in raw.columns]
    if missing:
        raise DatasetError(
            f"{path}: required column(s) {', '.join(missing)} missing "
            f"(found: {', '.join(c for c in raw.columns if c != ROW)})"
        )
    checked = check_table(raw, schema)
    if checked.issues.height:
        lines = [f"row {r}: {reason}" for r, reason in checked.issues.select(ROW, "reason").iter_rows()]
        raise DatasetError(f"{path}: the measure catalog has errors:\n  " + "\n  ".join(lines))
    catalog = checked.accepted.drop(ROW)
    if base is not None:
        catalog = pl.concat(
            [base.filter(~pl.col("code").is_in(catalog["code"].to_list())), catalog],
            how="diagonal_relaxed",
        )
    return catalog.sort("code")
