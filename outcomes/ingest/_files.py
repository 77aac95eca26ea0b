"""Reading one table file into an all-text frame with spreadsheet row numbers.

Every value is read as text so that validation, not the reader, decides what
is wrong with it and can name the offending value. ``row`` is the row number a
spreadsheet shows: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import polars as pl

from outcomes.contract import ROW
from outcomes.ingest.errors import DatasetError


def _clean_names(names: list[str], path: Path) -> list[str]:
    cleaned = [n.replace("\ufeff", "").strip().lower() for n in names]
    seen: set[str] = set()
    for name in cleaned:
        if name in seen:
            raise DatasetError(f"{path}: the header names column {name!r} twice")
        if name == ROW:
            raise DatasetError(f"{path}: a column may not be called {ROW!r} (reserved)")
        seen.add(name)
    return cleaned


def _read_csv_python(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Slow path for CSV files with rows that have more fields than the header.

    Returns the frame of well-formed rows and a frame of rejected rows
    (``row``, ``reason``).
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        width = len(header)
        good_rows: list[int] = []
        records: list[list[str | None]] = []
        bad: list[tuple[int, str]] = []
        bad_records: list[list[str | None]] = []
        for i, rec in enumerate(reader):
            row = i + 2
            if len(rec) > width:
                bad.append((row, f"the row has {len(rec)} fields but the header has {width}"))
                bad_records.append([v.strip() or None for v in rec[:width]])
                continue
            values: list[str | None] = [v if v != "" else None for v in rec]
            values += [None] * (width - len(values))
            records.append(values)
            good_rows.append(row)
    names = _clean_names(header, path)
    frame = pl.DataFrame(
        {name: [r[j] for r in records] for j, name in enumerate(names)},
        schema={name: pl.String for name in names},
    ).insert_column(0, pl.Series(ROW, good_rows, dtype=pl.Int64))
    rejected = pl.DataFrame(
        {ROW: [b[0] for b in bad], "reason": [b[1] for b in bad]}
        | {name: [r[j] for r in bad_records] for j, name in enumerate(names)},
        schema={ROW: pl.Int64, "reason": pl.String} | {name: pl.String for name in names},
    )
    return frame, rejected


def _flatten(frame: pl.DataFrame) -> pl.DataFrame:
    """Parquet columns as read, except datetimes (to dates) and nested or binary values (to text).

    Dates and numbers stay typed so validation need not parse them from text.
    """
    out = []
    for name, dtype in frame.schema.items():
        col = frame[name]
        if dtype == pl.Datetime:
            out.append(col.dt.date())
        elif dtype.is_numeric() or dtype in (pl.Date, pl.String, pl.Boolean):
            out.append(col)
        else:
            try:
                out.append(col.cast(pl.String))
            except pl.exceptions.PolarsError:
                out.append(pl.Series(name, [None if v is None else str(v) for v in col.to_list()], dtype=pl.String))
    return pl.DataFrame(out)


def _check_utf8(path: Path) -> None:
    """Raise DatasetError, naming the first bad byte, unless the file is UTF-8.

    Run only when polars has refused a file. Decodes in 16 MiB chunks so that a large file is
    never held twice in memory.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise DatasetError(
                    f"{path}: not UTF-8 text (byte {offset + exc.start} cannot be decoded); save the file as CSV UTF-8"
                ) from None
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise DatasetError(
                f"{path}: not UTF-8 text (it ends inside a character); save the file as CSV UTF-8"
            ) from None


def _has_content(path: Path) -> bool:
    """Whether the file holds anything but white space (usually decided by its first bytes)."""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            if chunk.strip(b" \t\r\n\x0b\x0c").lstrip(codecs.BOM_UTF8):
                return True
    return False


def _last_line_too_long(path: Path) -> bool:
    """polars accepts one extra empty field on a last line without a newline; the csv module does not.

    Reads only the header and the file's last 64 KiB.
    """
    with path.open("rb") as handle:
        header_line = handle.readline().decode("utf-8-sig")
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - (1 << 16)))
        tail = handle.read().decode("utf-8", errors="replace")
    if tail.endswith(("\n", "\r")) or size <= len(header_line.encode()):
        return False
    last_line = tail.splitlines()[-1] if tail.splitlines() else ""
    if not last_line or last_line == header_line.rstrip("\r\n"):
        return False
    header = next(csv.reader([header_line]))
    try:
        last = next(csv.reader([last_line]))
    except (csv.Error, StopIteration):
        return False
    return len(last) > len(header)


def read_header(path: Path) -> list[str] | None:
    """The cleaned column names of a table file, read without reading its rows.

    None when the header cannot be read here (a missing, empty, non-UTF-8 or broken file):
    :func:`read_text_table` then reports the problem.
    """
    try:
        if path.suffix.lower() == ".parquet":
            return _clean_names(list(pl.read_parquet_schema(path)), path)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error, pl.exceptions.PolarsError):
        return None
    return None if not header else _clean_names(header, path)


def read_text_table(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read a CSV file as text columns, or a Parquet file with its types, plus ``row``.

    Returns
    -------
    frame : polars.DataFrame
        ``row`` (Int64) and one column per file column, names stripped and
        lower-cased: String for CSV; for Parquet, dates and numbers keep their
        type and everything else is text.
    malformed : polars.DataFrame
        Rows that could not be split into fields (``row``, ``reason``); empty
        for well-formed files.

    Raises
    ------
    DatasetError
        When the file is missing, not a table, or not UTF-8 text.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    empty_bad = pl.DataFrame(schema={ROW: pl.Int64, "reason": pl.String})  # no malformed rows
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            frame = pl.read_parquet(path)
        except Exception as exc:
            raise DatasetError(f"{path}: not a readable Parquet file ({exc})") from None
        frame = _flatten(frame)
        frame.columns = _clean_names(frame.columns, path)
        return frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64)), empty_bad
    if suffix != ".csv":
        raise DatasetError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")
    if not _has_content(path):
        raise DatasetError(f"{path}: the file is empty; a header row is needed")
    try:
        if _last_line_too_long(path):
            return _read_csv_python(path)
        frame = pl.read_csv(path, infer_schema=False, raise_if_empty=True)
    except (pl.exceptions.ComputeError, UnicodeDecodeError) as exc:
        # polars checks UTF-8 as it reads; the decoder below finds the first bad byte for the message
        _check_utf8(path)
        if "more fields" not in str(exc):
            raise DatasetError(f"{path}: not a readable CSV table ({exc})") from None
        return _read_csv_python(path)
    except pl.exceptions.NoDataError:
        raise DatasetError(f"{path}: the file is empty; a header row is needed") from None
    frame.columns = _clean_names(frame.columns, path)
    frame = frame.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    return frame, empty_bad
