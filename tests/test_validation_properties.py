"""Property tests of validation: no row is lost, and row order does not matter.

Datasets are mixes of good and bad rows: random text, empty strings,
out-of-range numbers, impossible dates, duplicated episode ids, missing
episodes and exact duplicate measurements. Files are written with polars into
a temporary folder per example.
"""

from __future__ import annotations

import random
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outcomes import Dataset, read_dataset

TABLES = ("episodes", "treatments", "measurements")
SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

# Random text: printable characters plus the ones that make CSV hard (quotes, commas, line breaks).
garbage = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(",\"\n\r\t ;.-_:/'")),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    ),
    max_size=6,
)


# Per table and column: values that pass, and values that break a rule (besides "" and random text).
# Good dates alone are valid, but a good visit may fall outside a good episode (a cross-table error).
GOOD: dict[str, dict[str, tuple[str, ...]]] = {
    "episodes": {
        "episode_id": ("E1",),  # replaced when drawn: see table_rows
        "patient_id": ("P1", "P2"),
        "condition": ("neck_pain", "Low_Back_Pain", "whiplash"),
        "start_date": ("2024-01-01", "2024-01-15", "2024-02-01"),
        "end_date": ("", "2024-03-31", "2024-02-15"),
        "age": ("", "0", "44", "120"),
        "sex": ("", "female", "Male"),
        "body_region": ("", "cervical", "Lumbar"),
        "icd10": ("", "M54.5", "m5450"),
    },
    "treatments": {
        "episode_id": ("E1",),  # replaced when drawn: see table_rows
        "visit_date": ("2024-01-15", "2024-02-29"),
        "cpt_code": ("97140", "1234A", "0001f"),
        "technique": ("joint_mobilization", "Manipulation", "cupping"),
        "minutes": ("", "1", "30", "120"),
        "units": ("", "0", "2", "8"),
        "body_region": ("", "knee", "foot"),
    },
    "measurements": {
        "episode_id": ("E1",),  # replaced when drawn: see table_rows
        "measured_on": ("2024-01-15", "2024-02-29"),
        # measure, value and side are drawn together (see MEASURE_VALUE_SIDE)
    },
}
MEASURE_VALUE_SIDE = (
    ("nprs", "5", ""),
    ("NPRS", "5.0", ""),
    ("nprs", "0", ""),
    ("nprs", "10", ""),
    ("rom_knee_flexion", "90", "left"),
    ("rom_knee_flexion", "90", "Right"),
    ("rom_knee_extension_deficit", "-5", ""),
)
BAD: dict[str, dict[str, tuple[str, ...]]] = {
    "episodes": {
        "episode_id": ("e1",),
        "patient_id": (" ",),
        "condition": (" ",),
        "start_date": ("2024-13-01", "2023-02-29", "01/02/2024"),
        "end_date": ("2023-06-01", "2024-02-30"),
        "age": ("121", "-1", "44.5", "nan", "7,5"),
        "sex": ("f", "none"),
        "body_region": ("foot",),
        "icd10": ("54.5", "M54."),
    },
    "treatments": {
        "episode_id": ("E99", "e2"),
        "visit_date": ("2023-12-31", "2024-04-30", "2024-02-30"),
        "cpt_code": ("9714", "971400"),
        "technique": (" ",),
        "minutes": ("0", "121", "12.5", "inf"),
        "units": ("9", "-1", "two"),
        "body_region": (),
    },
    "measurements": {
        "episode_id": ("E99", "e2"),
        "measured_on": ("2024-13-01", "yesterday"),
        "measure": ("grip_strength", "Grip"),
        "value": ("11", "-1", "-21", "161", "nan", "7,5", "1e400"),
        "side": ("both", "left"),
    },
}
COLUMNS = {
    table: (*GOOD[table], *(c for c in BAD[table] if c not in GOOD[table]))
    for table in ("episodes", "treatments", "measurements")
}


def bad_cell(table: str, column: str) -> st.SearchStrategy[str]:
    """A value that is wrong on purpose, empty, or random text."""
    values = BAD[table][column]
    return st.one_of(st.sampled_from(values), st.just(""), garbage) if values else st.one_of(st.just(""), garbage)


@st.composite
def good_row(draw: st.DrawFn, table: str, ids: tuple[str, ...]) -> dict[str, str]:
    row = {column: draw(st.sampled_from(values)) for column, values in GOOD[table].items()}
    row["episode_id"] = draw(st.sampled_from(ids))
    if table == "measurements":
        row["measure"], row["value"], row["side"] = draw(st.sampled_from(MEASURE_VALUE_SIDE))
    return row


@st.composite
def any_row(draw: st.DrawFn, table: str, ids: tuple[str, ...]) -> dict[str, str]:
    """A good row, a row with one bad value, a row of random values, or an empty row."""
    mode = draw(st.sampled_from(["good", "good", "good", "one_bad", "one_bad", "random", "empty"]))
    row = draw(good_row(table, ids))
    if mode == "one_bad":
        column = draw(st.sampled_from(COLUMNS[table]))
        row[column] = draw(bad_cell(table, column))
    elif mode == "random":
        for column in COLUMNS[table]:
            if draw(st.booleans()):
                row[column] = draw(bad_cell(table, column))
    elif mode == "empty":
        row = dict.fromkeys(COLUMNS[table], "")
    return row


@st.composite
def table_rows(
    draw: st.DrawFn, table: str, max_rows: int, ids: tuple[str, ...] | None = None, max_copies: int = 3
) -> list[dict[str, str]]:
    """Rows of one table, with some exact copies mixed in.

    Good episode ids come from ``ids``; for episodes (``ids`` None) row i gets
    E<i>, now and then E1 or " E1 " instead, which duplicates another row's id.
    """
    n = draw(st.integers(0, max_rows))
    rows = [draw(any_row(table, ids or (f"E{i}",) * 4 + ("E1", " E1 "))) for i in range(1, n + 1)]
    if rows:
        copies = draw(st.lists(st.sampled_from(rows), max_size=max_copies))
        rows = rows + copies
        order = draw(st.permutations(range(len(rows))))
        rows = [rows[i] for i in order]
    return rows


@st.composite
def datasets(draw: st.DrawFn) -> dict[str, list[dict[str, str]]]:
    """Episodes, then treatments and measurements that mostly refer to them."""
    episodes = draw(table_rows("episodes", 7, max_copies=0))
    # mostly ids of the episodes just drawn (accepted or not), sometimes any id
    ids = tuple(row["episode_id"] for row in episodes if row["episode_id"].strip()) * 3 + ("E1", "E2")
    return {
        "episodes": episodes,
        "treatments": draw(table_rows("treatments", 7, ids)),
        "measurements": draw(table_rows("measurements", 9, ids, max_copies=5)),
    }


def frame(table: str, rows: list[dict[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS[table], pl.String))


DUP_REASON_TAIL = "(same episode_id, measured_on, measure, side, value)"
GOOD_EPISODE = {"episode_id": "E1", "patient_id": "P1", "condition": "neck_pain", "start_date": "2024-01-01"}


def write(folder: Path, data: dict[str, list[dict[str, str]]], fmt: str) -> Path:
    folder.mkdir()
    for table in TABLES:
        rows = data.get(table, [])
        if fmt == "csv":
            frame(table, rows).write_csv(folder / f"{table}.csv")
        else:
            frame(table, rows).write_parquet(folder / f"{table}.parquet")
    return folder


def check_accepted_rows_obey_the_rules(ds: Dataset) -> None:
    """Cross-table facts every accepted row must satisfy."""
    episodes = ds.episodes
    assert episodes["episode_id"].is_unique().all()
    assert episodes.filter(pl.col("end_date") < pl.col("start_date")).is_empty()
    for name in ("treatments", "measurements"):
        assert set(ds.table(name)["episode_id"].to_list()) <= set(episodes["episode_id"].to_list())
    visits = ds.treatments.join(episodes, on="episode_id", suffix="_ep")
    outside = visits.filter(
        (pl.col("visit_date") < pl.col("start_date"))
        | (pl.col("end_date").is_not_null() & (pl.col("visit_date") > pl.col("end_date")))
    )
    assert outside.is_empty()
    m = ds.measurements.join(ds.catalog, left_on="measure", right_on="code", how="left")
    assert m["min"].null_count() == 0
    assert m.filter((pl.col("value") < pl.col("min")) | (pl.col("value") > pl.col("max"))).is_empty()
    assert m.filter(pl.col("side").is_not_null() & (pl.col("kind") != "rom")).is_empty()
    key = ["episode_id", "measured_on", "measure", "side", "value"]
    assert ds.measurements.select(key).is_duplicated().sum() == 0


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@settings(max_examples=50, **SETTINGS)
@given(data=datasets())
def test_every_row_is_accepted_or_rejected_exactly_once(
    fmt: str, data: dict[str, list[dict[str, str]]], assert_reconciles: Callable[[Dataset], None]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ds = read_dataset(write(Path(tmp) / "ds", data, fmt))
    for table in TABLES:
        assert ds.n_read[table] == len(data[table])
    assert_reconciles(ds)
    assert set(ds.rejected["table"].unique().to_list()) <= set(TABLES)
    assert ds.rejected.filter(pl.col("reason").is_null() | (pl.col("reason") == "")).is_empty()
    for table in TABLES:
        allowed = {"", *COLUMNS[table]}
        assert set(ds.rejected.filter(pl.col("table") == table)["column"].to_list()) <= allowed
        # an all-empty input row is rejected as empty, with that single reason
        empty_rows = {i + 2 for i, row in enumerate(data[table]) if not "".join(row.values()).strip()}
        reasons = ds.rejected.filter(pl.col("table") == table, pl.col("row").is_in(list(empty_rows)))
        assert reasons["reason"].to_list() == ["the row is empty"] * len(empty_rows)
    check_accepted_rows_obey_the_rules(ds)


_ROW_REFERENCES = [
    (re.compile(r"exact duplicate of row \d+"), "exact duplicate of row N"),
    (re.compile(r"\(rows \d+(, \d+)*(, \.\.\.)?\)"), "(rows ...)"),
]


def without_row_numbers(reason: str) -> str:
    for pattern, replacement in _ROW_REFERENCES:
        reason = pattern.sub(replacement, reason)
    return reason


def reasons_by_row(ds: Dataset, table: str) -> dict[int, Counter[tuple[str, str]]]:
    """Row -> multiset of (column, reason) with row references masked, duplicate rejections left out."""
    out: dict[int, Counter[tuple[str, str]]] = {}
    for row, column, reason in (
        ds.rejected.filter(pl.col("table") == table).select("row", "column", "reason").iter_rows()
    ):
        if not reason.startswith("exact duplicate of row "):
            out.setdefault(row, Counter())[(column, without_row_numbers(reason))] += 1
    return out


def sorted_rows(df: pl.DataFrame) -> list[tuple[object, ...]]:
    return sorted(df.drop("row").rows(), key=repr)


@settings(max_examples=60, **SETTINGS)
@given(data=datasets(), seed=st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_outcome(data: dict[str, list[dict[str, str]]], seed: random.Random) -> None:
    orders = {table: list(range(len(rows))) for table, rows in data.items()}
    for order in orders.values():
        seed.shuffle(order)
    shuffled = {table: [rows[i] for i in orders[table]] for table, rows in data.items()}
    with tempfile.TemporaryDirectory() as tmp:
        a = read_dataset(write(Path(tmp) / "a", data, "csv"))
        b = read_dataset(write(Path(tmp) / "b", shuffled, "csv"))

    assert set(a.episodes["episode_id"].to_list()) == set(b.episodes["episode_id"].to_list())
    assert a.counts().equals(b.counts())
    masked = [
        Counter(
            (t, c, without_row_numbers(r)) for t, c, r in ds.rejected.select("table", "column", "reason").iter_rows()
        )
        for ds in (a, b)
    ]
    assert masked[0] == masked[1]
    for table in TABLES:
        # the accepted content is the same (for exact duplicates, another copy may be the one kept)
        assert sorted_rows(a.table(table)) == sorted_rows(b.table(table))
        # each row keeps its own reasons: original row i + 2 is row new_position + 2 after the shuffle
        new_row = {old + 2: new + 2 for new, old in enumerate(orders[table])}
        before = {new_row[row]: reasons for row, reasons in reasons_by_row(a, table).items()}
        assert before == reasons_by_row(b, table)


@settings(max_examples=30, **SETTINGS)
@given(data=datasets(), ragged=st.lists(st.integers(0, 20), max_size=4), extra=st.integers(1, 3))
def test_rows_with_too_many_fields_are_rejected_without_losing_others(
    data: dict[str, list[dict[str, str]]],
    ragged: list[int],
    extra: int,
    assert_reconciles: Callable[[Dataset], None],
) -> None:
    """Some measurement rows get extra fields; only those rows are rejected for it."""
    rows = data["measurements"]
    bad = {i for i in ragged if i < len(rows)}
    lines = [frame("measurements", []).write_csv()]
    for i, row in enumerate(rows):
        text = frame("measurements", [row]).write_csv(include_header=False)
        lines.append(text[:-1] + ",x" * extra + "\n" if i in bad else text)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(Path(tmp) / "ds", {k: v for k, v in data.items() if k != "measurements"}, "csv")
        (folder / "measurements.csv").write_text("".join(lines), encoding="utf-8")
        ds = read_dataset(folder)
        clean = read_dataset(write(Path(tmp) / "clean", data, "csv"))
    assert_reconciles(ds)
    assert ds.n_read["measurements"] == len(rows)
    width = len(COLUMNS["measurements"])
    ragged_issues = ds.rejected.filter(
        pl.col("table") == "measurements", pl.col("reason").str.starts_with("the row has ")
    )
    assert ragged_issues.select("row", "column", "reason").rows() == [
        (
            i + 2,
            "",
            f"the row has {width + extra} fields but the header has {width} (extra: {','.join(['x'] * extra)!r})",
        )
        for i in sorted(bad)
    ]
    assert not set(ds.measurements["row"].to_list()) & {i + 2 for i in bad}
    # the other rows keep the reasons they have in the same file without the extra fields
    kept = {i + 2 for i in range(len(rows))} - {i + 2 for i in bad}
    before = {r: reasons for r, reasons in reasons_by_row(clean, "measurements").items() if r in kept}
    after = {r: reasons for r, reasons in reasons_by_row(ds, "measurements").items() if r in kept}
    assert before == after
    for table in ("episodes", "treatments"):
        assert ds.table(table).equals(clean.table(table))


@st.composite
def measurement_copies(draw: st.DrawFn) -> list[dict[str, str]]:
    """Good measurements of episode E1, with many exact copies (and copies differing only in spelling)."""
    rows = draw(st.lists(good_row("measurements", ("E1", " E1")), min_size=1, max_size=6))
    return draw(st.lists(st.sampled_from(rows), min_size=1, max_size=12))


def duplicate_key(row: dict[str, str]) -> tuple[object, ...]:
    """The duplicate key of a good measurement row, normalized as validation does."""
    side = row["side"].strip().lower() or None
    return (row["episode_id"].strip(), row["measured_on"], row["measure"].lower(), side, float(row["value"]))


@settings(max_examples=30, **SETTINGS)
@given(rows=measurement_copies(), seed=st.randoms(use_true_random=False))
def test_exact_duplicate_measurements_keep_the_first_copy_in_any_order(
    rows: list[dict[str, str]], seed: random.Random, assert_reconciles: Callable[[Dataset], None]
) -> None:
    episodes = [dict.fromkeys(COLUMNS["episodes"], "") | GOOD_EPISODE]
    shuffled = seed.sample(rows, len(rows))
    results = []
    for order in (rows, shuffled):
        with tempfile.TemporaryDirectory() as tmp:
            ds = read_dataset(write(Path(tmp) / "ds", {"episodes": episodes, "measurements": order}, "csv"))
        assert_reconciles(ds)
        first: dict[tuple[object, ...], int] = {}
        expected = []
        for i, row in enumerate(order):
            key = duplicate_key(row)
            if key in first:
                expected.append((i + 2, "", f"exact duplicate of row {first[key]} {DUP_REASON_TAIL}"))
            else:
                first[key] = i + 2
        assert ds.rejected.select("row", "column", "reason").rows() == expected
        assert ds.measurements["row"].to_list() == sorted(first.values())
        results.append(ds)
    assert sorted_rows(results[0].measurements) == sorted_rows(results[1].measurements)


def dataset_outcome(ds: Dataset) -> tuple[object, ...]:
    return (
        tuple(ds.table(t).rows() for t in TABLES),
        tuple(ds.table(t).schema for t in TABLES),
        ds.rejected.rows(),
        ds.warnings.rows(),
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@settings(max_examples=40, **SETTINGS)
@given(data=datasets())
def test_checking_distinct_values_gives_the_row_by_row_result(
    fmt: str, data: dict[str, list[dict[str, str]]], monkeypatch_module: pytest.MonkeyPatch
) -> None:
    """The shortcuts of validation are speed choices only: columns with few distinct values are
    checked once per value, catalog and episode rules are skipped when per-measure and per-episode
    extremes pass, native Parquet columns are used as they are. Forcing every text column through
    the distinct-value path, and forcing every row through every rule, must give the same accepted
    rows, rejections and warnings as the default."""
    from outcomes.ingest.validate import _shortcuts as checks

    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(Path(tmp) / "ds", data, fmt)
        monkeypatch_module.setattr(checks, "few_distinct", lambda df, names: list(names))
        outcomes.append(dataset_outcome(read_dataset(folder)))
        monkeypatch_module.setattr(checks, "few_distinct", lambda df, names: [])
        monkeypatch_module.setattr(checks, "catalog_precheck", lambda *args: False)
        monkeypatch_module.setattr(checks, "episode_precheck", lambda *args: False)
        monkeypatch_module.setattr(checks, "usable_as_is", lambda *args: [])
        outcomes.append(dataset_outcome(read_dataset(folder)))
        monkeypatch_module.undo()
        outcomes.append(dataset_outcome(read_dataset(folder)))  # the default choices
    assert outcomes[0] == outcomes[1] == outcomes[2]


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    """A monkeypatch usable inside a hypothesis test (the function-scoped fixture is not)."""
    with pytest.MonkeyPatch.context() as mp:
        yield mp
