"""Fuzzing the readers: mutated bytes, cells, headers, line endings and Parquet column types of a small valid dataset.

On every case: no exception but the documented :class:`~outcomes.DatasetError`;
per table, rows read = accepted + rejected, no row both; every reported row
number is a row of the file (2 up to its number of lines); and every accepted
value equals an independent parse of the same cell, by Python's :mod:`csv`
module for CSV and by pyarrow for Parquet, under the rules of
``docs/data-contract.md`` ("Bad input") written out again here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outcomes import Dataset, DatasetError, read_dataset
from outcomes.contract import load_table_schema, reading_rules

SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

BASE = {
    "episodes": [
        "episode_id,patient_id,condition,start_date,end_date,age,sex,payer",
        "E1,P1,neck_pain,2024-01-02,2024-03-01,44,female,medicare",
        "E2,P2,low_back_pain,2024-01-05,,61,male,",
        "E3,P3,knee_osteoarthritis,2024-02-01,2024-04-01,,,commercial",
    ],
    "treatments": [
        "episode_id,visit_date,cpt_code,technique,minutes,units",
        "E1,2024-01-02,97140,joint_mobilization,15,1",
        "E1,2024-01-09,97140,joint_mobilization,23,2",
        "E2,2024-01-05,97110,therapeutic_exercise,30,2",
        "E3,2024-02-01,97140,soft_tissue_mobilization,,",
    ],
    "measurements": [
        "episode_id,measured_on,measure,value,side",
        "E1,2024-01-02,nprs,7,",
        "E1,2024-02-20,nprs,3,",
        "E2,2024-01-05,odi,40,",
        "E2,2024-02-05,odi,22,",
        "E3,2024-02-01,rom_knee_flexion,95,left",
        "E3,2024-03-30,rom_knee_flexion,118,left",
    ],
}
TABLES = tuple(BASE)
DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ]00:00(?::00(?:[.,]0+)?)?(?:Z|[+-]00:?00)?)?$")
INTEGER = re.compile(r"^[+-]?\d+(\.0*)?$")

PIECES = [*'aZ09 ,;"\t\r\n-./:é', "e\u0301", "NA", "n/a", "NaN", "2024-01-0", "T10:00", "T00:00", "7,5"]
CELLS = ['"a "b" c"', '"x""y"', '"two\nlines"', '"E1"', '"a"b', 'knee 5" swelling', '"', '""', "E1 ", "e1"]
TEXT = st.one_of(st.lists(st.sampled_from(PIECES), max_size=6).map("".join), st.sampled_from(CELLS))
BYTES = st.sampled_from(
    [b",", b";", b'"', b"\r", b"\n", b"\r\n", b" ", b"\t", b"\xe9", b"\x00", b"a", b"1", b"\xc3\xa9"]
)


# ----------------------------------------------------------------- mutations


@st.composite
def csv_case(draw: st.DrawFn) -> tuple[str, bytes]:
    table = draw(st.sampled_from(TABLES))
    lines = list(BASE[table])
    kind = draw(st.sampled_from(["cell", "cell", "unicode", "header", "lines", "bytes"]))
    if kind == "unicode":  # text as other systems write it: decomposed accents, other case, missing-value tokens
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(1, len(lines) - 1))
            cells = lines[i].split(",")
            j = draw(st.integers(0, len(cells) - 1))
            cells[j] = draw(st.sampled_from(["Re\u0301my", "R\u00e9my", "R\u00c9MY", " NA ", "n/a", "E1", "e1"]))
            lines[i] = ",".join(cells)
    elif kind == "cell":
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(1, len(lines) - 1))
            cells = lines[i].split(",")
            j = draw(st.integers(0, len(cells) - 1))
            cells[j] = draw(TEXT)
            lines[i] = ",".join(cells)
    elif kind == "header":
        cells = lines[0].split(",")
        j = draw(st.integers(0, len(cells) - 1))
        cells[j] = draw(st.sampled_from(["", " Age ", "__typed_value", 'no"te', "episode_id", "extra", "AGE"]))
        if draw(st.booleans()):
            cells.append(draw(st.sampled_from(["", "note", "__flag0"])))
        lines[0] = ",".join(cells)
    elif kind == "lines":
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(lines)))
            lines.insert(i, draw(st.sampled_from(["", "", ",,,", "   ", "E9,x"])))
        if draw(st.booleans()):
            lines = [line + "," for line in lines[:1]] + [line + "," for line in lines[1:]]
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines) + draw(
        st.sampled_from(["\n", "", "\n\n", "\r\n\r\n"])
    )
    data = bytearray(text.encode())
    if kind == "bytes":
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(data)))
            action = draw(st.sampled_from(["insert", "replace", "delete"]))
            byte = draw(BYTES)
            if action == "insert" or pos >= len(data):
                data[pos:pos] = byte
            elif action == "replace":
                data[pos : pos + 1] = byte
            else:
                del data[pos]
    return table, bytes(data)


@st.composite
def parquet_case(draw: st.DrawFn) -> tuple[str, pl.DataFrame]:
    table = draw(st.sampled_from(TABLES))
    frame = pl.read_csv(io.StringIO("\n".join(BASE[table]) + "\n"), infer_schema=False)
    dates = [s.name for s in load_table_schema(table).columns if s.type == "date"]
    for _ in range(draw(st.integers(1, 3))):
        text_columns = [c for c, t in frame.schema.items() if t == pl.String]
        if not text_columns:
            break
        how = draw(st.sampled_from(["binary", "bad-binary", "number", "nan", "datetime", "categorical", "list"]))
        targets = [c for c in text_columns if c in dates] if how == "datetime" else text_columns
        if not targets:
            continue
        column = draw(st.sampled_from(targets))
        col = frame[column]
        if how in ("binary", "bad-binary"):
            values = [None if v is None else v.encode() for v in col.to_list()]
            if how == "bad-binary" and values:
                k = draw(st.integers(0, len(values) - 1))
                values[k] = (values[k] or b"") + b"\xe9"
            new = pl.Series(column, values, dtype=pl.Binary)
        elif how in ("number", "nan"):
            new = col.cast(pl.Float64, strict=False)
            if how == "nan":
                new = new.fill_null(float("nan"))
        elif how == "datetime":
            new = col.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime)
            if draw(st.booleans()):
                new = new + pl.duration(hours=draw(st.integers(0, 23)))
        elif how == "categorical":
            new = col.cast(pl.Categorical)
        else:
            new = col.map_elements(lambda v: [v], return_dtype=pl.List(pl.String), skip_nulls=False)
        frame = frame.with_columns(new.alias(column))
    return table, frame


# ----------------------------------------------------------------- the independent parse


def _clean_text(value: str | None, spec: Any) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value.strip()) if spec is not None else value.strip()
    if text == "" or (spec is not None and text.lower() in reading_rules().missing_values):
        return None
    if spec is not None and spec.normalize == "lower":
        text = text.lower()
    if spec is not None and spec.normalize == "upper":
        text = text.upper()
    return text


def _typed(value: Any, spec: Any, decimal_comma: bool) -> Any:
    """A cell as validation must have read it, if it accepted the row."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, (int, float)) and spec.type == "string":
        value = str(value)  # a number in a text column is read as its text
    elif isinstance(value, (dt.date, int, float)) or value is None:
        return int(value) if spec.type == "integer" and isinstance(value, float) else value
    text = _clean_text(str(value), spec)
    if text is None:
        return None
    if spec.type == "date":
        return dt.date.fromisoformat(DATE.match(text).group(1))  # type: ignore[union-attr]
    if spec.type in ("integer", "float"):
        if decimal_comma and re.fullmatch(r"[+-]?\d+,\d+", text):
            text = text.replace(",", ".")
        if spec.type == "integer":
            assert INTEGER.match(text), text
            return int(float(text))
        return float(text)
    return text


def _csv_records(data: bytes) -> tuple[list[str], dict[int, list[str]], str, int]:
    """Header, records by spreadsheet row, separator and number of lines, by Python's csv module."""
    text = data.decode("utf-8-sig")
    first = next((line for line in text.splitlines() if line.strip()), "")
    separator, most = ",", 0
    for sep in reading_rules().separators:
        n = len(next(csv.reader([first], delimiter=sep), []))
        if n > most:
            separator, most = sep, n
    header: list[str] | None = None
    records: dict[int, list[str]] = {}
    for row, record in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=separator), start=1):
        if header is None:
            if any(field.strip() for field in record):
                header = record
            continue
        if record:
            records[row] = record
    lines = len(text.splitlines()) or 1
    return header or [], records, separator, lines


def _header_names(header: list[str]) -> list[str]:
    return [
        unicodedata.normalize("NFC", h.replace("\ufeff", "")).strip().lower() or f"column_{i}"
        for i, h in enumerate(header, 1)
    ]


def _check_dataset(
    ds: Dataset, table: str, expected_rows: Callable[[int], dict[str, Any] | None], max_row: int
) -> None:
    specs = {s.name: s for s in load_table_schema(table).columns}
    accepted = ds.table(table)
    rejected = ds.rejected.filter(pl.col("table") == table)["row"].to_list()
    rows = accepted["row"].to_list() + rejected
    assert all(2 <= r <= max_row for r in rows), (rows, max_row)
    decimal_comma = any(f"{table}.csv" in n and "decimal comma" in n for n in ds.notes)
    # after a record with a misplaced quote, where the next record starts is a matter of interpretation
    broken = ds.rejected.filter(pl.col("table") == table, pl.col("reason").str.contains("is misplaced"))["row"]
    last_checked = broken.min() if broken.len() else max_row
    for record in accepted.iter_rows(named=True):
        if record["row"] > last_checked:  # type: ignore[operator]
            continue
        cells = expected_rows(record["row"])
        assert cells is not None, f"{table} row {record['row']} is accepted but is no record of the file"
        for column, value in cells.items():
            if column not in accepted.columns:
                continue  # an unnamed, empty column was dropped
            got = record[column]
            if column in specs:
                want = _typed(value, specs[column], decimal_comma)
            elif isinstance(value, str) or value is None:
                want = _clean_text(value, None)
            else:
                continue  # a typed extra column: kept as text, its form is the reader's choice
            if isinstance(want, float) and isinstance(got, float):
                assert got == pytest.approx(want, rel=1e-12), (table, record["row"], column)
            else:
                assert got == want, (table, record["row"], column, got, want)


def _read(folder: Path) -> Dataset | None:
    try:
        return read_dataset(folder)
    except DatasetError:
        return None
    except BaseException as exc:  # any other exception, panics included, is a defect
        pytest.fail(f"{type(exc).__name__}: {exc}")


def _write_base(folder: Path, skip: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in BASE.items():
        if name != skip:
            (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


@settings(max_examples=300, **SETTINGS)
@given(case=csv_case())
def test_mutated_csv_files_are_read_or_refused_never_garbled(
    case: tuple[str, bytes], assert_reconciles: Callable[[Dataset], None]
) -> None:
    table, data = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ds"
        _write_base(folder, table)
        (folder / f"{table}.csv").write_bytes(data)
        ds = _read(folder)
    if ds is None:
        return
    assert_reconciles(ds)
    header, records, _, lines = _csv_records(data)
    names = _header_names(header)

    def cells(row: int) -> dict[str, Any] | None:
        record = records.get(row)
        if record is None:
            return None
        padded = record[: len(names)] + [""] * (len(names) - len(record))
        return dict(zip(names, padded, strict=True))

    _check_dataset(ds, table, cells, lines)


@settings(max_examples=150, **SETTINGS)
@given(case=parquet_case())
def test_parquet_columns_of_other_types_are_read_or_rejected_never_garbled(
    case: tuple[str, pl.DataFrame], assert_reconciles: Callable[[Dataset], None]
) -> None:
    table, frame = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ds"
        _write_base(folder, table)
        path = folder / f"{table}.parquet"
        frame.write_parquet(path)
        ds = _read(folder)
        independent = pq.read_table(path).to_pylist()
    if ds is None:
        return
    assert_reconciles(ds)

    def cells(row: int) -> dict[str, Any] | None:
        if not 0 <= row - 2 < len(independent):
            return None
        values = independent[row - 2]
        out = {}
        for name, value in values.items():
            if isinstance(value, list):
                continue  # nested values become JSON text: checked by test_validation
            out[name.strip().lower()] = value
        return out

    _check_dataset(ds, table, cells, len(independent) + 1)
    # a time of day is never dropped: a datetime with one is rejected, not read as its date
    for name, dtype in frame.schema.items():
        if dtype == pl.Datetime and name in ds.table(table).columns:
            with_time = frame.with_row_index("i").filter(pl.col(name).dt.time() != dt.time(0))["i"].to_list()
            assert not set(ds.table(table)["row"].to_list()) & {i + 2 for i in with_time}
