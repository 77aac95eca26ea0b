"""The validation rules: what each rule of ``data_schemas/*.schema.json`` flags and the reason it gives.

Every rule is a polars expression built from a :class:`~outcomes.contract.ColumnSpec`;
no column name is written here. A rule is ``(name, condition, reason)``: the
condition flags a row, the reason is text that names the offending value. How
the rules are applied, and the shortcuts that make that fast, are in
:mod:`outcomes.ingest.validate.engine`.

During validation a column ``c`` has a typed copy ``typed_name(c)``; joined
episode columns carry the prefix :data:`EPISODE` and joined catalog columns
the prefix :data:`CATALOG`.
"""

from __future__ import annotations

import functools
import itertools

import polars as pl

from outcomes.contract import ROW, ColumnSpec, TableSchema, boolean_value, reading_rules, vocabulary_label

__all__ = [
    "CATALOG",
    "EPISODE",
    "ISSUE_SCHEMA",
    "WARNING_SCHEMA",
    "Rule",
    "ascii_columns",
    "catalog_rules",
    "clean",
    "clean_ids",
    "clean_other",
    "column_rules",
    "duplicate_row_issues",
    "empty_row_issues",
    "episode_rules",
    "fmt_number",
    "native",
    "shown",
    "typed_name",
    "typed_value",
    "unique_ids",
    "unique_rule",
    "vocabulary_warnings",
]

ISSUE_SCHEMA = {ROW: pl.Int64, "column": pl.String, "rule": pl.String, "reason": pl.String}
"""Columns of the issues table of one checked table."""

WARNING_SCHEMA = {
    "column": pl.String,
    "value": pl.String,
    "n_rows": pl.Int64,
    "first_row": pl.Int64,
    "message": pl.String,
}
"""Columns of the warnings table of one checked table."""

EPISODE = "__episode_"
"""Prefix of the episode columns joined to a table that references episodes."""

CATALOG = "__catalog_"
"""Prefix of the measure-catalog columns joined to a table that names measures."""


def typed_name(name: str) -> str:
    """Name of the typed copy of a column during validation."""
    return f"__typed_{name}"


Rule = tuple[str, pl.Expr, pl.Expr]
"""(rule name, condition that flags a row, reason text)."""


def fmt_number(x: float) -> str:
    """A number as a reason quotes it: ``10``, ``0.5``, ``-2.5``."""
    return f"{x:g}"


def shown(value: pl.Expr) -> pl.Expr:
    """A value as a reason quotes it: cut to ``shown_value_length`` characters (data_schemas/reading.json)."""
    n = reading_rules().shown_value_length
    value = value.cast(pl.String)
    length = value.str.len_chars()
    return (
        pl.when(length > n)
        .then(pl.concat_str(value.str.slice(0, n - 1), pl.lit("… ("), length.cast(pl.String), pl.lit(" characters)")))
        .otherwise(value)
    )


def _quoted(col: str) -> pl.Expr:
    return pl.concat_str(pl.lit("'"), shown(pl.col(col)), pl.lit("'"))


_NON_ASCII = r"[^\x00-\x7F]"


@functools.cache
def _missing_forms() -> list[str]:
    """Empty text and every upper/lower-case spelling of each missing-value token (data_schemas/reading.json).

    Matching the spellings directly is a hash lookup per value; lower-casing every value first
    would copy the whole column.
    """
    forms = {""}
    for token in reading_rules().missing_values:
        letters = [(c.lower(), c.upper()) if c.lower() != c.upper() else (c,) for c in token]
        forms.update("".join(p) for p in itertools.product(*letters))
    return sorted(forms)


def _clean_text(e: pl.Expr, *, ascii_only: bool = False) -> pl.Expr:
    """Trimmed, NFC-normalised text; empty and the missing-value tokens of data_schemas/reading.json as null.

    ``ascii_only`` says the column is known to hold only ASCII, which NFC leaves as it is.
    """
    e = e.str.strip_chars()
    if not ascii_only:
        e = pl.when(e.str.contains(_NON_ASCII)).then(e.str.normalize("NFC")).otherwise(e)
    return pl.when(e.is_in(_missing_forms())).then(None).otherwise(e)


def ascii_columns(df: pl.DataFrame, names: list[str]) -> set[str]:
    """The text columns among ``names`` that hold only ASCII (as many bytes as characters), in one pass."""
    if not names:
        return set()
    found = df.select((pl.col(n).str.len_bytes().sum() == pl.col(n).str.len_chars().sum()).alias(n) for n in names)
    return {n for n, yes in zip(names, found.row(0), strict=True) if yes}


def clean(spec: ColumnSpec, *, ascii_only: bool = False) -> pl.Expr:
    """The cleaned text of a column of the contract: trimmed, NFC-normalised, missing-value tokens and
    empty text as null, case normalised as the schema says."""
    e = _clean_text(pl.col(spec.name), ascii_only=ascii_only)
    if spec.normalize == "lower":
        e = e.str.to_lowercase()
    elif spec.normalize == "upper":
        e = e.str.to_uppercase()
    return e.alias(spec.name)


def clean_ids(ids: pl.Series) -> pl.Series:
    """Identifiers cleaned as :func:`clean` cleans an identifier column, nulls dropped."""
    return ids.cast(pl.String).to_frame("id").select(_clean_text(pl.col("id"))).to_series().drop_nulls()


def clean_other(name: str) -> pl.Expr:
    """The cleaned text of a column the schema does not name: trimmed, empty as null."""
    return pl.col(name).str.strip_chars().replace("", None).alias(name)


def native(spec: ColumnSpec, dtype: pl.DataType) -> bool:
    """Whether a typed (Parquet) column already holds the schema's type, so no text parsing is needed."""
    if spec.type == "date":
        return dtype == pl.Date
    if spec.type in ("integer", "float"):
        return dtype.is_numeric()
    if spec.type == "boolean":
        return dtype == pl.Boolean
    return False


def typed_value(spec: ColumnSpec, is_native: bool = False, decimal_comma: bool = False) -> pl.Expr:
    """The typed copy of a column (``typed_name(name)``): null where the value is not of the schema's type.

    Dates are ``YYYY-MM-DD``, optionally followed by a time of exactly midnight (dropped); numbers
    are plain decimals, with a decimal comma where ``decimal_comma`` (a ``;``-separated file).
    """
    raw = pl.col(spec.name)
    e: pl.Expr
    if is_native:  # already a date, a number or true/false: only the checks text parsing would have made
        if spec.type in ("date", "boolean"):
            e = raw
        else:
            f = raw.cast(pl.Float64)
            ok = f.is_finite() & (f == f.floor()) & (f.abs() < 2**53) if spec.type == "integer" else f.is_finite()
            e = pl.when(ok).then(raw).cast(spec.dtype)
    elif spec.type == "date":
        day = raw.str.replace(_MIDNIGHT, "$1")
        e = pl.when(day.str.contains(_DATE)).then(day.str.to_date("%Y-%m-%d", strict=False))
    elif spec.type in ("float", "integer"):
        text = raw
        if decimal_comma:
            text = (
                pl.when(raw.str.contains(_DECIMAL_COMMA)).then(raw.str.replace(",", ".", literal=True)).otherwise(raw)
            )
        f = text.cast(pl.Float64, strict=False)
        if spec.type == "float":
            e = pl.when(f.is_finite()).then(f)
        else:
            plain = text.str.contains(r"^[+-]?\d+(\.0*)?$")  # 12, 12.0; not 1.2e1
            e = pl.when(plain & f.is_finite() & (f == f.floor()) & (f.abs() < 2**53)).then(f).cast(pl.Int64)
    elif spec.type == "boolean":
        e = boolean_value(raw.str.to_lowercase())
    else:
        e = raw
    return e.alias(typed_name(spec.name))


_DATE = r"^\d{4}-\d{2}-\d{2}$"
_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2})[T ]00:00(?::00(?:[.,]0+)?)?(?:Z|[+-]00:?00)?$"
_TIME_OF_DAY = r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}"
_DECIMAL_COMMA = r"^[+-]?\d+,\d+$"


def _type_reason(spec: ColumnSpec) -> pl.Expr:
    """Why a value is not of the column's type, naming the value."""
    name, raw = spec.name, pl.col(spec.name)

    def said(text: str) -> pl.Expr:
        return pl.concat_str(pl.lit(f"{name} "), _quoted(name), pl.lit(f" {text}"))

    if spec.type == "date":
        return (
            pl.when(raw.str.contains(_TIME_OF_DAY))
            .then(said("has a time of day; give the date only (YYYY-MM-DD)"))
            .when(raw.str.contains(_DATE))
            .then(said("is not a calendar date"))
            .otherwise(said("is not a date in ISO 8601 form (YYYY-MM-DD)"))
        )
    if spec.type == "float":
        return (
            pl.when(raw.str.contains(_DECIMAL_COMMA))
            .then(said("is not a number (write decimals with a point, 7.5, in a comma-separated file)"))
            .otherwise(said("is not a number"))
        )
    if spec.type == "integer":
        return said("is not a whole number")
    if spec.type == "boolean":
        rules = reading_rules()
        return said(f"is not true or false (write one of {', '.join(rules.true_words + rules.false_words)})")
    return said("is not text")


def column_rules(spec: ColumnSpec, vocab_codes: dict[str, list[str]]) -> list[Rule]:
    """(rule, condition, reason) for the single-column rules of ``spec``."""
    name, value = spec.name, pl.col(typed_name(spec.name))
    raw = pl.col(name)
    rules: list[Rule] = []
    if spec.required:
        rules.append(("required", raw.is_null(), pl.lit(f"{name} is empty; it is required")))
    rules.append(("type", raw.is_not_null() & value.is_null(), _type_reason(spec)))
    if spec.type == "date":
        rules.append(_date_range_rule(spec))
    if spec.min is not None or spec.max is not None:
        lo = spec.min if spec.min is not None else float("-inf")
        hi = spec.max if spec.max is not None else float("inf")
        span = (
            f"{fmt_number(lo)}-{fmt_number(hi)}"
            if spec.min is not None and spec.max is not None
            else (f"at least {fmt_number(lo)}" if spec.max is None else f"at most {fmt_number(hi)}")
        )
        word = "outside" if spec.min is not None and spec.max is not None else "not"
        rules.append(
            (
                "range",
                value.is_not_null() & ((value < lo) | (value > hi)),
                pl.concat_str(pl.lit(f"{name} "), shown(raw), pl.lit(f" is {word} {span}")),
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
            o = pl.col(typed_name(other))
            rules.append(
                (
                    "order",
                    value.is_not_null() & o.is_not_null() & (value < o),
                    pl.concat_str(pl.lit(f"{name} "), raw, pl.lit(f" is {word} {other} "), pl.col(other)),
                )
            )
    return rules


def _date_range_rule(spec: ColumnSpec) -> Rule:
    """Dates outside the range of data_schemas/reading.json (a year 0 or 9999 is a typing error)."""
    name, value = spec.name, pl.col(typed_name(spec.name))
    earliest, latest = reading_rules().earliest_date, reading_rules().latest_date
    return (
        "range",
        value.is_not_null() & ((value < earliest) | (value > latest)),
        pl.concat_str(
            pl.lit(f"{name} "),
            value.cast(pl.String),
            pl.when(value < earliest).then(pl.lit(f" is before {earliest}")).otherwise(pl.lit(f" is after {latest}")),
        ),
    )


def unique_ids(df: pl.DataFrame, spec: ColumnSpec, unreadable: pl.DataFrame | None) -> pl.DataFrame:
    """``row`` and the cleaned id of every record: the table's rows and its unreadable records."""
    ids = df.select(ROW, spec.name)
    if unreadable is not None and unreadable.height and spec.name in unreadable.columns:
        other = unreadable.select(ROW, clean(spec)).cast({spec.name: ids.schema[spec.name]})
        ids = pl.concat([ids, other])
    return ids


def unique_rule(lf: pl.LazyFrame, spec: ColumnSpec, ids: pl.DataFrame) -> pl.LazyFrame:
    """Every row whose id is shared with another record (unreadable records included) is flagged."""
    name = spec.name
    dups = (
        ids.lazy()
        .filter(pl.col(name).is_not_null())
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


def episode_rules(spec: ColumnSpec) -> list[Rule]:
    name = spec.name
    rules: list[Rule] = []
    if spec.references is not None:
        raw = pl.col(name)
        rules.append(
            (
                "episode rejected",
                raw.is_not_null() & pl.col(f"{EPISODE}rejected").fill_null(False),
                pl.concat_str(pl.lit("episode "), shown(raw), pl.lit(" was rejected")),
            )
        )
        rules.append(
            (
                "episode missing",
                raw.is_not_null()
                & ~pl.col(f"{EPISODE}rejected").fill_null(False)
                & pl.col(f"{EPISODE}start_date").is_null(),
                pl.concat_str(
                    pl.lit("episode "),
                    shown(raw),
                    pl.lit(" does not exist in episodes"),
                    pl.when(pl.col(f"{EPISODE}case").is_not_null())
                    .then(
                        pl.concat_str(
                            pl.lit(" (episodes has "), pl.col(f"{EPISODE}case"), pl.lit("; ids are case-sensitive)")
                        )
                    )
                    .otherwise(pl.lit("")),
                ),
            )
        )
    if spec.within_episode:
        value, start, end = pl.col(typed_name(name)), pl.col(f"{EPISODE}start_date"), pl.col(f"{EPISODE}end_date")
        rules.append(
            (
                "outside episode",
                value.is_not_null() & start.is_not_null() & (value < start),
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
                value.is_not_null() & end.is_not_null() & (value > end),
                pl.concat_str(
                    pl.lit(f"{name} "),
                    pl.col(name),
                    pl.lit(" is after the episode's end_date "),
                    end.cast(pl.String),
                ),
            )
        )
    return rules


def catalog_rules(spec: ColumnSpec, measure_col: str | None) -> list[Rule]:
    name = spec.name
    raw, value = pl.col(name), pl.col(typed_name(name))
    rules: list[Rule] = []
    if spec.catalog_code:
        rules.append(
            (
                "unknown measure",
                raw.is_not_null() & pl.col(f"{CATALOG}min").is_null(),
                pl.concat_str(
                    pl.lit(f"{name} "),
                    _quoted(name),
                    pl.lit(" is not in the measure catalog; add a row for it to the dataset's measures.csv"),
                ),
            )
        )
    if spec.catalog_range is not None:
        lo, hi = pl.col(f"{CATALOG}min"), pl.col(f"{CATALOG}max")
        rules.append(
            (
                "range",
                value.is_not_null() & lo.is_not_null() & ((value < lo) | (value > hi)),
                pl.concat_str(
                    pl.col(spec.catalog_range),
                    pl.lit(" value "),
                    shown(raw),
                    pl.lit(" is outside "),
                    pl.col(f"{CATALOG}min_text"),
                    pl.lit("-"),
                    pl.col(f"{CATALOG}max_text"),
                ),
            )
        )
    if spec.only_for_kinds is not None and measure_col is not None:
        kinds = list(spec.only_for_kinds)
        kind_text = " or ".join("range-of-motion" if k == "rom" else k for k in kinds)
        rules.append(
            (
                "side",
                raw.is_not_null() & pl.col(f"{CATALOG}kind").is_not_null() & ~pl.col(f"{CATALOG}kind").is_in(kinds),
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


def vocabulary_warnings(
    accepted: pl.DataFrame,
    schema: TableSchema,
    vocab_codes: dict[str, list[str]],
    values: dict[str, pl.DataFrame],
) -> pl.DataFrame:
    """One warning per value of a ``warn`` vocabulary column that is not in its vocabulary.

    ``values`` holds the cleaned distinct values of the columns checked through them; a column
    whose every value is in the vocabulary is skipped without looking at the rows.
    """
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


def duplicate_row_issues(
    accepted: pl.DataFrame, key: list[str], names: tuple[str, ...]
) -> tuple[pl.DataFrame, pl.Series]:
    """Exact duplicates among the accepted rows: every copy after the first, by ``key`` (typed columns).

    Rows are in file order, so the first copy is the one kept. Returns the issues (one per later
    copy, naming the first copy's row) and the mask of the later copies.
    """
    copy = ~accepted.select(pl.struct(key).is_first_distinct()).to_series()
    if not copy.any():
        return pl.DataFrame(schema=ISSUE_SCHEMA), copy
    copies = accepted.filter(copy)
    firsts = (
        accepted.join(copies.select(key).unique(), on=key, how="semi", nulls_equal=True)
        .group_by(key)
        .agg(pl.col(ROW).min().alias("__first"))
    )
    issues = copies.join(firsts, on=key, how="left", nulls_equal=True).select(
        ROW,
        pl.lit("").alias("column"),
        pl.lit("duplicate row").alias("rule"),
        pl.concat_str(
            pl.lit("exact duplicate of row "),
            pl.col("__first").cast(pl.String),
            pl.lit(f" (same {', '.join(names)})"),
        ).alias("reason"),
    )
    return issues, copy


def empty_row_issues(df: pl.DataFrame, empty: pl.Series) -> pl.DataFrame:
    """One issue per row whose every column is empty."""
    return df.filter(empty).select(
        ROW,
        pl.lit("").alias("column"),
        pl.lit("empty row").alias("rule"),
        pl.lit("the row is empty").alias("reason"),
    )
