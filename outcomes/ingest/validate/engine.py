"""The validation engine: applies the rules of :mod:`~outcomes.ingest.validate.rules` to one table.

:func:`check_table` turns a frame as read (text, or typed from Parquet) into
the accepted typed rows and a table of issues (``row``, ``column``, ``rule``,
``reason``), in five phases, each a function below:

1. :func:`_clean_and_type`: trim and normalise text, parse the typed copy of
   every column;
2. :func:`_join_episodes`: the accepted and rejected episodes, for tables that
   reference them (rules: episode rejected, episode missing, outside episode);
3. :func:`_join_catalog`: the measure catalog, for tables that name measures
   (rules: unknown measure, range, side);
4. :func:`_evaluate_rules`: every rule's flag over the rows, the empty-row and
   duplicate-id rules, and the accepted rows;
5. :func:`_drop_duplicate_rows`: exact duplicates among the accepted rows.

There is no Python loop over rows: each rule is one expression over the whole
table. The shortcuts that make the phases fast live in
:mod:`~outcomes.ingest.validate._shortcuts` and change only the speed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from outcomes.contract import ROW, ColumnSpec, TableSchema, vocabulary
from outcomes.ingest.validate import _shortcuts as shortcuts
from outcomes.ingest.validate.rules import (
    CATALOG,
    EPISODE,
    Rule,
    ascii_columns,
    catalog_rules,
    clean,
    clean_other,
    column_rules,
    duplicate_row_issues,
    empty_row_issues,
    episode_rules,
    fmt_number,
    native,
    typed_name,
    typed_value,
    unique_ids,
    unique_rule,
    vocabulary_warnings,
)

__all__ = ["Checked", "Context", "check_table"]


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


NamedRule = tuple[str, str, pl.Expr, pl.Expr]
"""(column, rule name, condition that flags a row, reason text)."""


@dataclass
class _Table:
    """The table being checked, as the phases pass it on."""

    df: pl.DataFrame
    schema: TableSchema
    specs: dict[str, ColumnSpec]
    extra: list[str]
    vocab_codes: dict[str, list[str]]
    values: dict[str, pl.DataFrame] = field(default_factory=dict)
    """Cleaned distinct values (with their typed form) of the columns checked through them."""
    deferred: str | None = None
    """The episode-reference column whose cleaning waits for the join to the episodes."""
    decimal_comma: bool = False
    rules: list[NamedRule] = field(default_factory=list)
    ascii: set[str] = field(default_factory=set)
    """Text columns known to hold only ASCII (their cleaning skips Unicode normalisation)."""

    def clean(self, name: str) -> pl.Expr:
        return clean(self.specs[name], ascii_only=name in self.ascii) if name in self.specs else clean_other(name)

    def add_rules(self, rules_of: Callable[[ColumnSpec], list[Rule]]) -> None:
        """Add the rules ``rules_of`` gives for each column of the schema."""
        for spec in self.schema.columns:
            self.rules += [(spec.name, *rule) for rule in rules_of(spec)]


def _clean_and_type(raw: pl.DataFrame, schema: TableSchema, context: Context, decimal_comma: bool) -> _Table:
    """Phase 1: every column as cleaned text (or native type) plus its typed copy ``typed_name(c)``.

    Parquet columns that already hold the schema's type skip the text round trip; every other
    column is validated from its text, so that a reason can quote the value as written. Text
    columns with few distinct values are cleaned and parsed once per value and looked up.
    """
    raw_types = raw.schema
    specs = {spec.name: spec for spec in schema.columns}
    extra = [c for c in raw.columns if c != ROW and c not in specs]  # already renamed by check_table
    missing = [c for c in schema.names if c not in raw_types]
    vocab_codes = {
        spec.vocabulary: vocabulary(spec.vocabulary)["code"].to_list()
        for spec in schema.columns
        if spec.vocabulary is not None
    }
    is_native = {spec.name: spec.name in raw_types and native(spec, raw_types[spec.name]) for spec in schema.columns}
    to_text = [
        c for c in [*schema.names, *extra] if c in raw_types and not is_native.get(c) and raw_types[c] != pl.String
    ]
    not_a_number = [c for c in schema.names if c in raw_types and is_native[c] and raw_types[c].is_float()]
    df = raw.with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in missing]
        + [pl.col(c).cast(pl.String) for c in to_text]
        + [pl.col(c).fill_nan(None) for c in not_a_number]  # NaN in a Parquet number column: missing
    )
    t = _Table(df=df, schema=schema, specs=specs, extra=extra, vocab_codes=vocab_codes, decimal_comma=decimal_comma)

    # Clean text: columns with few distinct values only where some value needs it.
    text = [s.name for s in schema.columns if not is_native[s.name]] + extra
    distinct = shortcuts.distinct(df, shortcuts.few_distinct(df, text))
    to_clean = [c for c in text if c not in distinct]
    for name, raw_values in distinct.items():
        cleaned = raw_values.to_frame().select(t.clean(name))
        if not cleaned.to_series().equals(raw_values):
            to_clean.append(name)
        cleaned = cleaned.unique()
        t.values[name] = (
            cleaned.with_columns(typed_value(specs[name], False, decimal_comma)) if name in specs else cleaned
        )
    ref = _reference(schema)
    if ref is not None and context.episodes is not None and ref.name in to_clean:
        to_clean.remove(ref.name)  # cleaned with the join to the episodes, only where needed
        t.deferred = ref.name
    t.ascii = ascii_columns(df, [c for c in to_clean if c in specs])
    df = df.with_columns(t.clean(c) for c in to_clean)

    # Typed values: text with few distinct values is parsed once per value and looked up.
    looked_up = [n for n in t.values if n in specs and specs[n].type != "string"]
    for name in looked_up:
        df = shortcuts.lookup_join(df, name, t.values[name].select(name, typed_name(name)))
    # Native columns of the schema's own type whose every value is acceptable are used as they are.
    as_is = shortcuts.usable_as_is(df, [s for s in schema.columns if is_native[s.name]])
    t.df = df.with_columns(
        [pl.col(name).alias(typed_name(name)) for name in as_is]
        + [
            typed_value(spec, is_native[spec.name], decimal_comma)
            for spec in schema.columns
            if spec.name not in [*looked_up, *as_is]
        ]
    )
    t.add_rules(lambda spec: column_rules(spec, vocab_codes))
    return t


def _reference(schema: TableSchema) -> ColumnSpec | None:
    """The column that references an episode, if the table has one."""
    return next((s for s in schema.columns if s.references is not None), None)


def _join_episodes(t: _Table, context: Context) -> None:
    """Phase 2: the episode columns (``EPISODE`` prefix) joined by the reference column, and their rules.

    Skipped when per-episode extremes show that no row can break an episode rule.
    """
    ref = _reference(t.schema)
    if ref is None or context.episodes is None:
        return
    eps = context.episodes.select(
        pl.col("episode_id").alias(ref.name),
        pl.col("start_date").alias(f"{EPISODE}start_date"),
        pl.col("end_date").alias(f"{EPISODE}end_date"),
    )
    rejected_ids = (
        context.rejected_episode_ids
        if context.rejected_episode_ids is not None
        else pl.Series(ref.name, [], dtype=pl.String)
    )
    rej = (
        pl.DataFrame({ref.name: rejected_ids.cast(pl.String)})
        .unique()
        .with_columns(pl.lit(True).alias(f"{EPISODE}rejected"))
    )
    lookup = eps.join(rej.filter(pl.col(ref.name) != ""), on=ref.name, how="full", coalesce=True)
    if shortcuts.episode_precheck(t.df, t.schema, ref, lookup):
        return
    joined = shortcuts.lookup_join(t.df, ref.name, lookup)
    if t.deferred is not None:
        # A value that matched is an accepted or rejected id, already clean; clean the others.
        unmatched = joined.filter(
            pl.col(f"{EPISODE}start_date").is_null() & pl.col(f"{EPISODE}rejected").is_null()
        ).get_column(ref.name)
        if not unmatched.to_frame().select(t.clean(ref.name)).to_series().equals(unmatched):
            t.df = t.df.with_columns(t.clean(ref.name)).with_columns(typed_value(ref, False, t.decimal_comma))
            joined = shortcuts.lookup_join(t.df, ref.name, lookup)
    t.df = _with_case_hint(joined, ref.name, eps)
    t.add_rules(episode_rules)


def _with_case_hint(df: pl.DataFrame, ref: str, eps: pl.DataFrame) -> pl.DataFrame:
    """``EPISODE + "case"``: for a reference to no episode, the episode id that differs from it only in case."""
    hint = f"{EPISODE}case"
    missing = (
        df.filter(
            pl.col(ref).is_not_null()
            & pl.col(f"{EPISODE}start_date").is_null()
            & pl.col(f"{EPISODE}rejected").is_null()
        )
        .get_column(ref)
        .unique()
    )
    if missing.len() == 0:
        return df.with_columns(pl.lit(None, dtype=pl.String).alias(hint))
    folded = pl.DataFrame({"__fold": missing.str.to_lowercase().unique()})
    same = (
        eps.select(pl.col(ref).alias(hint), pl.col(ref).str.to_lowercase().alias("__fold"))
        .join(folded, on="__fold", how="semi")
        .group_by("__fold")
        .agg(pl.col(hint).min())
    )
    looked = df.select(pl.col(ref).str.to_lowercase().alias("__fold")).join(
        same, on="__fold", how="left", maintain_order="left"
    )
    found = pl.when(pl.col(f"{EPISODE}start_date").is_null()).then(looked.get_column(hint))
    return df.with_columns(found.alias(hint))


def _join_catalog(t: _Table, context: Context) -> None:
    """Phase 3: the catalog columns (``CATALOG`` prefix) joined by the measure code, and their rules.

    Skipped when per-measure extremes show that no row can break a catalog rule.
    """
    code = next((s for s in t.schema.columns if s.catalog_code), None)
    if code is None or context.catalog is None:
        return
    cat = context.catalog.select(
        pl.col("code").alias(code.name),
        pl.col("min").alias(f"{CATALOG}min"),
        pl.col("max").alias(f"{CATALOG}max"),
        pl.col("kind").alias(f"{CATALOG}kind"),
        pl.col("min").map_elements(fmt_number, return_dtype=pl.String).alias(f"{CATALOG}min_text"),
        pl.col("max").map_elements(fmt_number, return_dtype=pl.String).alias(f"{CATALOG}max_text"),
    )
    if shortcuts.catalog_precheck(t.df, t.schema, code, cat):
        return
    t.df = shortcuts.lookup_join(t.df, code.name, cat)
    t.add_rules(lambda spec: catalog_rules(spec, code.name))


def _evaluate_rules(t: _Table, unreadable: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Phase 4: every rule's flag over the rows, in parallel; the issues and the accepted rows.

    A rule that reads only one column with few distinct values is first evaluated on those
    values: when none breaks it, it is skipped; otherwise the rows are flagged by membership,
    which is exact and cheaper than the condition. Empty rows are rejected as such, with no other
    issue; every row sharing a duplicated id is rejected.
    """
    names = [*t.schema.names, *t.extra]
    df = t.df.with_columns(pl.all_horizontal(pl.col(c).is_null() for c in names).alias("__empty"))
    empty = df.get_column("__empty")
    flag_exprs: list[pl.Expr] = []
    flagged_rules: list[int] = []
    for i, (col, _, cond, _) in enumerate(t.rules):
        if col in t.values and set(cond.meta.root_names()) <= {col, typed_name(col)}:
            bad = t.values[col].filter(cond.fill_null(False)).get_column(col)
            if bad.len() == 0:
                continue
            member = pl.col(col).is_in(bad.drop_nulls().implode())
            cond = member | pl.col(col).is_null() if bad.null_count() else member
        flag_exprs.append((cond.fill_null(False) & ~pl.col("__empty")).alias(f"__flag{i}"))
        flagged_rules.append(i)
    flags = df.select(flag_exprs) if flag_exprs else pl.DataFrame()

    parts = [empty_row_issues(df, empty)]
    for i in flagged_rules:
        col, rule, _, reason = t.rules[i]
        flag = flags.get_column(f"__flag{i}")
        if flag.any():
            parts.append(
                df.filter(flag).select(
                    ROW, pl.lit(col).alias("column"), pl.lit(rule).alias("rule"), reason.alias("reason")
                )
            )
    for spec in t.schema.columns:
        if spec.unique:
            every = unique_ids(df, spec, unreadable)
            ids = every.get_column(spec.name).drop_nulls()
            if ids.n_unique() < ids.len():
                parts.append(unique_rule(df.lazy(), spec, every).collect())
    issues = pl.concat(parts)

    bad_rows = empty
    if flags.width:
        bad_rows = bad_rows | flags.select(pl.any_horizontal(pl.all())).to_series()
    if issues.height > bad_rows.sum():  # rules outside the flags (duplicated ids) reject rows too
        bad_rows = bad_rows | df.get_column(ROW).is_in(issues.get_column(ROW).unique().implode())
    # only the typed columns go on: the text copies, joined columns and flags are dropped here
    accepted = df.select(ROW, *[typed_name(s.name) for s in t.schema.columns], *t.extra)
    if bad_rows.any():
        accepted = accepted.filter(~bad_rows)
    return accepted, issues


def _drop_duplicate_rows(t: _Table, accepted: pl.DataFrame, issues: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Phase 5: of exact duplicates among the accepted rows (by the schema's duplicate key), keep the first."""
    if t.schema.duplicate_key is None:
        return accepted, issues
    key = [typed_name(k) for k in t.schema.duplicate_key]
    if shortcuts.no_duplicates(accepted.select(key), key):
        return accepted, issues
    dup_issues, copy = duplicate_row_issues(accepted, key, t.schema.duplicate_key)
    if not copy.any():
        return accepted, issues
    return accepted.filter(~copy), pl.concat([issues, dup_issues])


def check_table(
    raw: pl.DataFrame,
    schema: TableSchema,
    context: Context | None = None,
    *,
    decimal_comma: bool = False,
    unreadable: pl.DataFrame | None = None,
) -> Checked:
    """Validate a table as read against ``schema``.

    Parameters
    ----------
    raw : polars.DataFrame
        ``row`` plus the file's columns, as the readers of :mod:`outcomes.ingest`
        return them: text, or (from Parquet) typed. It must hold every
        required column of ``schema``; optional columns may be missing and
        columns the schema does not know are kept as text.
    schema : TableSchema
        The table's schema.
    context : Context, optional
        Accepted episodes and the measure catalog, for cross-table rules.
    decimal_comma : bool, default False
        Numbers may be written with a decimal comma (``7,5``).
    unreadable : polars.DataFrame, optional
        The file's records that could not be read as rows (``row`` and text
        columns): they are rejected already, and count for the uniqueness of ids.

    Returns
    -------
    Checked
        ``accepted``: typed rows without any issue (``row`` kept, file order);
        ``issues``: one row per problem (``row``, ``column``, ``rule``, ``reason``);
        ``warnings``: unknown vocabulary values, one row per value.

    Notes
    -----
    Columns the schema does not name are carried under internal names while
    the rules run (``__extra_0``, ...), so that no column of a file can
    collide with a helper column of the engine, whatever it is called.
    """
    context = context or Context()
    names = {c for c in schema.names}
    extras = [c for c in raw.columns if c != ROW and c not in names]
    carried = {c: f"__extra_{i}" for i, c in enumerate(extras)}
    t = _clean_and_type(raw.rename(carried), schema, context, decimal_comma)
    _join_episodes(t, context)
    _join_catalog(t, context)
    accepted, issues = _evaluate_rules(t, unreadable)
    t.df = pl.DataFrame()  # the text copies and joined columns are no longer needed
    accepted, issues = _drop_duplicate_rows(t, accepted, issues)
    keep = [ROW] + [pl.col(typed_name(s.name)).alias(s.name) for s in schema.columns]
    accepted_df = accepted.select(*keep, *[pl.col(inner).alias(outer) for outer, inner in carried.items()])
    issues = issues.sort(ROW, "column", "reason")
    warnings = vocabulary_warnings(accepted_df, schema, t.vocab_codes, t.values)
    return Checked(accepted=accepted_df, issues=issues, warnings=warnings)
