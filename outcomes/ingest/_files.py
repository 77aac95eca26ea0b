"""Reading one table file into a frame with spreadsheet row numbers, accounting for every record.

Every CSV value is read as text so that validation, not the reader, decides
what is wrong with it and can name the offending value; Parquet dates and
numbers keep their type. ``row`` is the row number a spreadsheet shows: the
header is row 1 (or later, after blank lines above it), the first data row
the next one; blank lines are skipped but keep their number, and a record
whose quoted field spans several lines is one row.

CSV files are read by polars when their form is plain (LF or CRLF line
endings, no blank line above or between the records, every record on one
line and no more fields than the header; in a file with quotes, every quote
where RFC 4180 puts it, which one pass of Python's :mod:`csv` module over the
records confirms); any other form, and any file polars refuses, is read by
:mod:`csv` (strict quoting, as RFC 4180 writes it) record by record, so that a
record that cannot be split into fields is rejected on its own with its row
and lines, and the rest of the file is read. The two readers give the same
result wherever polars' is kept (``tests/test_reading.py``).

Records that cannot be read as a row of the table (too many non-empty
fields, a misplaced quote, bytes that are not UTF-8 in a Parquet text
column) are returned as ``problems``, with their row and reason, never
dropped. Every failure of the reading libraries, panics included, becomes a
:class:`~outcomes.ingest.DatasetError` that names the file.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import mmap
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from outcomes.contract import ROW, reading_rules
from outcomes.ingest.errors import DatasetError

__all__ = ["PROBLEM_SCHEMA", "TableRead", "clean_names", "read_header", "read_table"]

PROBLEM_SCHEMA = {ROW: pl.Int64, "column": pl.String, "rule": pl.String, "reason": pl.String}
"""Columns of the problems of a table file: records that could not be read as rows."""

_CHUNK = 1 << 24
_TAIL = 1 << 16
_SHOWN = 60  # characters of a record quoted in a reason


@dataclass(frozen=True)
class TableRead:
    """One table file as read.

    Attributes
    ----------
    frame : polars.DataFrame
        ``row`` and one column per file column (names cleaned): text for CSV;
        for Parquet, dates and numbers keep their type and the rest is text.
    problems : polars.DataFrame
        Records that could not be read as a row: ``row``, ``column``,
        ``rule``, ``reason``.
    problem_rows : polars.DataFrame
        The same records' ``row`` and the file's columns as text, as far as
        they could be read, so that a rejected episode's id is still known.
    decimal_comma : bool
        Numbers may be written with a decimal comma (a ``;``-separated file).
    notes : tuple of str
        How the file was read, where it differs from the plain form.
    """

    frame: pl.DataFrame
    problems: pl.DataFrame
    problem_rows: pl.DataFrame
    decimal_comma: bool = False
    notes: tuple[str, ...] = ()


def _library_failure(path: Path, what: str, exc: BaseException) -> DatasetError:
    """A reading library's failure (exception or panic) as the documented error, naming the file."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)):
        raise exc
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return DatasetError(f"{path}: not a readable {what} ({first})")


def clean_names(names: list[str], path: Path) -> list[str]:
    """Header names trimmed, lower-cased and NFC-normalised; an empty name becomes ``column_<position>``.

    Raises DatasetError when two columns end up with the same name or one is
    called ``row`` (reserved for the row number).
    """
    cleaned = []
    for i, name in enumerate(names, start=1):
        text = unicodedata.normalize("NFC", name.replace("\ufeff", "")).strip().lower()
        cleaned.append(text or f"column_{i}")
    seen: dict[str, int] = {}
    for i, name in enumerate(cleaned, start=1):
        if name in seen:
            raise DatasetError(f"{path}: the header names column {name!r} twice (columns {seen[name]} and {i})")
        if name == ROW:
            raise DatasetError(f"{path}: a column may not be called {ROW!r} (reserved for the row number)")
        seen[name] = i
    return cleaned


def _unnamed(names: list[str], raw: list[str]) -> list[str]:
    return [n for n, r in zip(names, raw, strict=True) if not r.replace("\ufeff", "").strip()]


def _drop_empty_unnamed(frame: pl.DataFrame, unnamed: list[str]) -> pl.DataFrame:
    """Columns without a header name that hold no value are dropped (nothing is lost)."""
    if not unnamed or frame.height == 0:
        return frame.drop(unnamed) if unnamed else frame
    empty = frame.select(
        (pl.col(c).is_null() | (pl.col(c).cast(pl.String).str.strip_chars() == "")).all().alias(c) for c in unnamed
    ).row(0)
    return frame.drop([c for c, e in zip(unnamed, empty, strict=True) if e])


# ----------------------------------------------------------------- CSV: the file's form


def _check_encoding(head: bytes, path: Path) -> None:
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise DatasetError(f"{path}: the file is UTF-32 text; save it as CSV UTF-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DatasetError(f"{path}: the file is UTF-16 text (Excel's 'Unicode text'); save it as CSV UTF-8")
    if b"\x00" in head:
        raise DatasetError(f"{path}: the file holds NUL bytes, so it is not CSV text (perhaps UTF-16 or a binary file)")


def _utf8_error(path: Path) -> DatasetError:
    """The error for a file that is not UTF-8, naming the first bad byte and its line.

    Decodes in 16 MiB chunks so that a large file is never held twice in memory.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = n_lf = n_cr = n_crlf = 0
    last = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                before = chunk[: exc.start]
                lf, cr = n_lf + before.count(b"\n"), n_cr + before.count(b"\r")
                crlf = n_crlf + before.count(b"\r\n") + (last == b"\r" and before.startswith(b"\n"))
                bad = chunk[exc.start : exc.start + 1].hex().upper()
                return DatasetError(
                    f"{path}: line {lf + cr - crlf + 1}: byte 0x{bad} (byte {offset + exc.start + 1} of the file) "
                    "is not UTF-8 text; the file may be saved as Windows-1252 or Latin-1: save it as CSV UTF-8"
                )
            n_lf += chunk.count(b"\n")
            n_cr += chunk.count(b"\r")
            n_crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk.startswith(b"\n"))
            offset += len(chunk)
            last = chunk[-1:]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return DatasetError(f"{path}: not UTF-8 text (it ends inside a character); save it as CSV UTF-8")
    return DatasetError(f"{path}: not UTF-8 text; save it as CSV UTF-8")


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


@dataclass(frozen=True)
class _Form:
    """What a first look at a CSV file found."""

    separator: str
    header: list[str]  # the header fields as written
    header_row: int  # the header's spreadsheet row (1 unless blank lines come first)
    plain: bool  # polars may read it (see the module docstring)
    quoted: bool  # the file holds a quote character: polars' reading must be confirmed record by record
    trailing_blank: int  # blank lines after the last record
    one_line_records: int  # data records if every record is one line


def _first_line(head: bytes) -> str:
    """The first line with any text: the header, unless a quoted header name spans lines."""
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return next((line for line in re.split(r"\r\n|\r|\n", text) if line.strip()), "")


def _separator(line: str) -> str:
    """The separator that splits the header into the most fields; the first listed on a tie."""
    best, most = ",", 0
    for sep in reading_rules().separators:
        n = len(next(csv.reader([line], delimiter=sep), []))
        if n > most:
            best, most = sep, n
    return best


def _line_breaks(data: np.ndarray, has_cr: bool) -> tuple[int, int, int]:
    """LF, CR and CRLF counts of a file's bytes; the CR passes run only when there is a CR."""
    n_lf = n_cr = n_crlf = 0
    for start in range(0, len(data), _CHUNK):
        n_lf += int(np.count_nonzero(data[start : start + _CHUNK] == 10))
    if has_cr:
        for start in range(0, len(data), _CHUNK):
            pair = data[start : start + _CHUNK + 1]  # one byte more: a CRLF across the seam
            is_cr = pair[:-1] == 13
            n_cr += int(np.count_nonzero(is_cr))
            n_crlf += int(np.count_nonzero(is_cr & (pair[1:] == 10)))
        if data[-1] == 13:
            n_cr += 1
    return n_lf, n_cr, n_crlf


def _form(path: Path) -> _Form:
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        head, tail = mapped[:_TAIL], mapped[-_TAIL:]
        quoted = mapped.find(b'"') >= 0
        data = np.frombuffer(mapped, dtype=np.uint8)
        n_lf, n_cr, n_crlf = _line_breaks(data, has_cr=mapped.find(b"\r") >= 0)
        del data  # the map cannot close while an array views it
    _check_encoding(head, path)
    separator = _separator(_first_line(head))
    header, header_row = _python_header(path, separator)
    body = tail.rstrip(b"\r\n")
    trailing_blank = max(tail[len(body) :].count(b"\n") - 1, 0)
    lines = n_lf + (0 if tail.endswith(b"\n") else 1)
    starts_blank = head.removeprefix(codecs.BOM_UTF8).startswith((b"\n", b"\r"))
    plain = (
        n_cr == n_crlf
        and not starts_blank
        and len(body) > 0  # a tail of only line breaks: the file is too odd to count this way
        and not _last_line_too_long(tail, separator, len(header))
    )
    return _Form(separator, header, header_row, plain, quoted, trailing_blank, lines - 1 - trailing_blank)


def _last_line_too_long(tail: bytes, separator: str, width: int) -> bool:
    """Whether a last line without a line break has more fields than the header.

    polars accepts one extra empty field there without a word; the record reader does not.
    """
    if tail.endswith((b"\n", b"\r")):
        return False
    last = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    try:
        fields = next(csv.reader([last], delimiter=separator), [])
    except csv.Error:
        return True
    return len(fields) > width


@contextlib.contextmanager
def _csv_reader(path: Path, separator: str) -> Iterator[Any]:
    old = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # a long value is validation's business, not the reader's
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            yield csv.reader(handle, delimiter=separator, strict=True)
    finally:
        csv.field_size_limit(old)


def _blank(record: list[str]) -> bool:
    """A blank line: the record reader gives no field at all."""
    return len(record) == 0


def _empty_as_null(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Empty text (a quoted ``""`` or an empty field) as null, as in an unquoted empty field."""
    return frame.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in names)


def _no_problem_rows(names: list[str]) -> pl.DataFrame:
    """An empty table of problem records: ``row`` and the file's columns as text."""
    return pl.DataFrame(schema={ROW: pl.Int64} | dict.fromkeys(names, pl.String))


def _no_text(record: list[str]) -> bool:
    return not any(field.strip() for field in record)


def _python_header(path: Path, separator: str) -> tuple[list[str], int]:
    """The header record (the first that is not a blank line) and its spreadsheet row."""
    try:
        with _csv_reader(path, separator) as reader:
            for row, record in enumerate(reader, start=1):
                if not _no_text(record):  # lines above the header without any text are not a header
                    return record, row
    except csv.Error as exc:
        raise DatasetError(f"{path}: the header row cannot be split into fields ({exc})") from None
    except UnicodeDecodeError:
        raise _utf8_error(path) from None
    raise DatasetError(f"{path}: the file is empty; a header row is needed")


def _shown(text: str) -> str:
    flat = text.replace("\r", " ").replace("\n", " ").strip()
    return flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"


# ----------------------------------------------------------------- CSV: the two readers


def _read_csv_polars(path: Path, form: _Form, names: list[str]) -> pl.DataFrame | None:
    """The plain form read by polars; None when polars refuses the file or its result is not the plain form's."""
    try:
        frame = pl.read_csv(
            path, separator=form.separator, infer_schema=False, raise_if_empty=True, truncate_ragged_lines=False
        )
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)):
            raise
        return None
    if frame.width != len(names):
        return None
    frame.columns = names
    if form.trailing_blank:
        last = frame.tail(form.trailing_blank)
        if (
            last.height < form.trailing_blank
            or not last.select(pl.all_horizontal(pl.all().is_null())).to_series().all()
        ):
            return None
        frame = frame.head(frame.height - form.trailing_blank)
    if frame.height != form.one_line_records:
        return None  # a record spans lines (a quoted line break): the row numbers need the record reader
    if frame.width and frame.select(pl.all_horizontal(pl.all().is_null()).any()).item():
        return None  # a blank line (skipped) or a line of bare separators (a row): the record reader tells them apart
    if form.quoted:
        if not _quotes_read_alike(path, form, frame.height):
            return None
        frame = _empty_as_null(frame, names)
    return frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))


def _quotes_read_alike(path: Path, form: _Form, height: int) -> bool:
    """Whether polars' reading of a file with quotes is the record reader's, decided without building rows.

    polars reads a misplaced quote leniently (``"said "no" twice"`` as one field); the strict
    record reader refuses it. So polars' rows are kept only when the record reader splits every
    record and counts as many as polars' rows (that each record is one line and no wider than
    the header, :func:`_read_csv_polars` has checked). On such files the two agree value for
    value, doubled quotes and quotes inside unquoted text included (``tests/test_reading.py``
    and the fuzz test compare them).
    """
    try:
        with _csv_reader(path, form.separator) as reader:
            records = sum(1 for record in reader if record)  # blank lines give no fields
    except (csv.Error, UnicodeDecodeError):
        return False
    return records - 1 == height  # the header is one of the records


def _read_csv_python(path: Path, form: _Form, names: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Any form, record by record. Returns the rows, the problems and the problem records."""
    width = len(names)
    rows: list[int] = []
    records: list[list[str]] = []
    problems: list[tuple[int, str, list[str | None]]] = []
    broken: list[tuple[int, int, int]] = []  # (row, first line, last line) of records with a misplaced quote
    if not _is_utf8(path):
        raise _utf8_error(path)
    with _csv_reader(path, form.separator) as reader:
        row = 0
        while row < form.header_row:  # blank lines, then the header
            next(reader)
            row += 1
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row += 1
                end = reader.line_num
                where = f"line {start}" if end == start else f"lines {start}-{end}"
                if str(exc) == "unexpected end of data":
                    raise DatasetError(
                        f'{path}: line {start}: a quote (") opens a field here and is never closed, so {where} '
                        "cannot be split into rows; close the quote or remove it"
                    ) from None
                broken.append((row, start, end))
                continue
            row += 1
            n = len(record)
            if n == width:
                rows.append(row)
                records.append(record)
            elif n == 0:
                continue  # a blank line
            elif n < width:
                rows.append(row)
                records.append(record + [""] * (width - n))
            elif not any(field.strip() for field in record[width:]):
                rows.append(row)
                records.append(record[:width])  # empty extra fields (trailing separators) hold nothing
            else:
                extra = form.separator.join(record[width:])
                reason = f"the row has {n} fields but the header has {width} (extra: {_shown(extra)!r})"
                problems.append((row, reason, _fit(record, width)))
    problems += _broken_records(path, form.separator, width, broken)
    problems.sort(key=lambda p: p[0])
    frame = pl.DataFrame(records, schema=dict.fromkeys(names, pl.String), orient="row")
    frame = _empty_as_null(frame, names)
    frame = frame.insert_column(0, pl.Series(ROW, rows, dtype=pl.Int64))
    bad = pl.DataFrame(
        {
            ROW: [p[0] for p in problems],
            "column": [""] * len(problems),
            "rule": ["malformed row"] * len(problems),
            "reason": [p[1] for p in problems],
        },
        schema=PROBLEM_SCHEMA,
    )
    bad_rows = pl.DataFrame(
        {ROW: [p[0] for p in problems]} | {name: [p[2][j] for p in problems] for j, name in enumerate(names)},
        schema={ROW: pl.Int64} | dict.fromkeys(names, pl.String),
    )
    return frame, bad, bad_rows


def _broken_records(
    path: Path, separator: str, width: int, broken: list[tuple[int, int, int]]
) -> list[tuple[int, str, list[str | None]]]:
    """The problems of records with a misplaced quote, with their text read back from the file.

    Their fields, split leniently, keep the episode id where it can be read, so that the
    episode's other rows are rejected as belonging to a rejected episode.
    """
    if not broken:
        return []
    wanted = {line: i for i, (_, first, last) in enumerate(broken) for line in range(first, last + 1)}
    texts = [""] * len(broken)
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                texts[wanted[number]] += line
            elif number > max(wanted):
                break
    out = []
    for (row, first, last), text in zip(broken, texts, strict=True):
        where = f"line {first}" if last == first else f"lines {first}-{last}"
        fields = next(csv.reader(io.StringIO(text), delimiter=separator, strict=False), [])
        reason = (
            f'{where} cannot be split into fields: a quote (") is misplaced; inside a quoted field write a quote '
            f'twice (""), or leave the field unquoted: {_shown(text)!r}'
        )
        out.append((row, reason, _fit(fields, width)))
    return out


def _fit(record: list[str], width: int) -> list[str | None]:
    values: list[str | None] = [v if v != "" else None for v in record[:width]]
    return values + [None] * (width - len(values))


def _read_csv(path: Path) -> TableRead:
    if not _has_content(path):
        raise DatasetError(f"{path}: the file is empty; a header row is needed")
    form = _form(path)
    names = clean_names(form.header, path)
    notes = []
    if form.separator != ",":
        label = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}.get(form.separator, repr(form.separator))
        notes.append(f"{path.name}: read as separated by {label}")
    decimal_comma = form.separator in reading_rules().decimal_comma_with
    if decimal_comma:
        notes.append(f"{path.name}: numbers written with a decimal comma (7,5) are read as 7.5")
    frame = _read_csv_polars(path, form, names) if form.plain else None
    if frame is None:
        frame, problems, problem_rows = _read_csv_python(path, form, names)
    else:
        problems = pl.DataFrame(schema=PROBLEM_SCHEMA)
        problem_rows = _no_problem_rows(names)
    frame = _drop_empty_unnamed(frame, _unnamed(names, form.header))
    problem_rows = problem_rows.select(c for c in problem_rows.columns if c in frame.columns)
    return TableRead(frame, problems, problem_rows, decimal_comma, tuple(notes))


def _has_content(path: Path) -> bool:
    """Whether the file holds anything but white space (usually decided by its first bytes)."""
    with path.open("rb") as handle:
        while chunk := handle.read(_TAIL):
            if chunk.strip(b" \t\r\n\x0b\x0c").lstrip(codecs.BOM_UTF8):
                return True
    return False


# ----------------------------------------------------------------- Parquet


def _to_json(values: list[Any]) -> list[str | None]:
    return [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in values]


def _decode(values: list[bytes | None]) -> tuple[list[str | None], list[tuple[int, str]]]:
    out: list[str | None] = []
    bad: list[tuple[int, str]] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        try:
            out.append(v.decode("utf-8"))
        except UnicodeDecodeError as exc:
            out.append(None)
            bad.append((i, f"byte 0x{v[exc.start : exc.start + 1].hex().upper()} at position {exc.start + 1}"))
    return out, bad


def _flatten(frame: pl.DataFrame, path: Path) -> tuple[pl.DataFrame, dict[int, list[tuple[str, str]]]]:
    """Parquet columns as validation reads them, and the values that cannot be read, by row index.

    Dates, numbers, text and booleans stay as they are; a datetime column becomes dates when every
    time is midnight, else ISO text (so that validation rejects the values with a time of day);
    binary is decoded as UTF-8 (values that are not UTF-8 are problems); nested values become JSON
    text; categoricals and other types become text.
    """
    out = []
    bad: dict[int, list[tuple[str, str]]] = {}
    for name, dtype in frame.schema.items():
        col = frame[name]
        if dtype == pl.Datetime:
            midnight = (col.dt.hour() == 0) & (col.dt.minute() == 0) & (col.dt.second() == 0)
            midnight &= col.dt.nanosecond() == 0
            if (col.is_null() | midnight).all():
                out.append(col.dt.date())
            else:
                out.append(col.dt.to_string("%Y-%m-%dT%H:%M:%S"))
        elif dtype.is_numeric() or dtype in (pl.Date, pl.String, pl.Boolean):
            out.append(col)
        elif dtype == pl.Binary:
            text, failures = _decode(col.to_list())
            out.append(pl.Series(name, text, dtype=pl.String))
            for i, where in failures:
                bad.setdefault(i, []).append((name, where))
        elif dtype.is_nested():
            out.append(pl.Series(name, _to_json(col.to_list()), dtype=pl.String))
        else:
            try:
                out.append(col.cast(pl.String))
            except BaseException as exc:
                raise _library_failure(path, f"Parquet column {name!r} of type {dtype}", exc) from None
    return pl.DataFrame(out), bad


def _read_parquet(path: Path) -> TableRead:
    try:
        frame = pl.read_parquet(path)
    except BaseException as exc:
        raise _library_failure(path, "Parquet file", exc) from None
    names = clean_names(frame.columns, path)
    raw_names = frame.columns
    frame, bad = _flatten(frame, path)
    frame.columns = names
    frame = frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    problems = pl.DataFrame(schema=PROBLEM_SCHEMA)
    problem_rows = _no_problem_rows(names)
    if bad:
        index = sorted(bad)
        picked = frame[index]
        reasons = [
            "; ".join(f"{names[raw_names.index(c)]} holds bytes that are not UTF-8 text ({w})" for c, w in bad[i])
            for i in index
        ]
        columns = [names[raw_names.index(bad[i][0][0])] if len(bad[i]) == 1 else "" for i in index]
        problems = pl.DataFrame(
            {ROW: picked[ROW], "column": columns, "rule": ["encoding"] * len(index), "reason": reasons},
            schema=PROBLEM_SCHEMA,
        )
        problem_rows = picked.select(ROW, *[pl.col(n).cast(pl.String) for n in names])
        frame = frame.filter(~pl.col(ROW).is_in(picked[ROW].implode()))
    frame = _drop_empty_unnamed(frame, _unnamed(names, raw_names))
    problem_rows = problem_rows.select(c for c in problem_rows.columns if c in frame.columns)
    return TableRead(frame, problems, problem_rows)


# ----------------------------------------------------------------- entry points


def read_header(path: Path) -> list[str] | None:
    """The cleaned column names of a table file, read without reading its rows.

    None when the header cannot be read here (a missing, empty, non-UTF-8 or broken file):
    :func:`read_table` then reports the problem.
    """
    try:
        if path.suffix.lower() == ".parquet":
            return clean_names(list(pl.read_parquet_schema(path)), path)
        with path.open("rb") as handle:
            head = handle.read(_TAIL)
        _check_encoding(head, path)
        header, _ = _python_header(path, _separator(_first_line(head)))
    except DatasetError:
        return None
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)):
            raise
        return None
    return clean_names(header, path)


def read_table(path: Path) -> TableRead:
    """Read a CSV or Parquet table file, with ``row`` (see the module docstring).

    Raises
    ------
    DatasetError
        When the file is missing, not a table, not UTF-8 text, has a header
        that cannot be used, or a quote that never closes.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix != ".csv":
        raise DatasetError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")
    try:
        return _read_csv(path)
    except DatasetError:
        raise
    except UnicodeDecodeError:
        raise _utf8_error(path) from None
    except BaseException as exc:
        raise _library_failure(path, "CSV table", exc) from None
