"""Shared helpers for the tests: write a dataset folder, check that its counts reconcile.

A dataset is written from CSV text (dedented, so triple-quoted strings may be
indented), raw bytes (for encoding tests) or a polars DataFrame, as CSV or
Parquet. Tables left out get a header-only file with the table's required
columns, so a test only spells out the tables it is about.

Plain functions (``write_dataset``, ``assert_reconciles``) are exposed through
session-scoped fixtures of the same name, so hypothesis tests can use them too.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import matplotlib
import polars as pl
import pytest

from outcomes import Dataset

matplotlib.use("Agg")  # charts are tested by what they drew, without a display

TABLES = ("episodes", "treatments", "measurements")

#: Header of a table file holding only the table's required columns.
REQUIRED_HEADERS = {
    "episodes": "episode_id,patient_id,condition,start_date",
    "treatments": "episode_id,visit_date,cpt_code,technique",
    "measurements": "episode_id,measured_on,measure,value",
}

TableInput = str | bytes | pl.DataFrame | None


def _as_text(data: str) -> str:
    return textwrap.dedent(data).lstrip("\n")


def _as_frame(data: str | pl.DataFrame) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    return pl.read_csv(io.StringIO(_as_text(data)), infer_schema=False)


def _write_table(folder: Path, name: str, data: TableInput, fmt: str) -> None:
    if data is None:
        data = REQUIRED_HEADERS[name] + "\n"
    if fmt == "parquet":
        if isinstance(data, bytes):
            raise ValueError("bytes can only be written as CSV")
        _as_frame(data).write_parquet(folder / f"{name}.parquet")
    elif fmt == "csv":
        path = folder / f"{name}.csv"
        if isinstance(data, bytes):
            path.write_bytes(data)
        elif isinstance(data, pl.DataFrame):
            data.write_csv(path)
        else:
            path.write_text(_as_text(data), encoding="utf-8")
    else:
        raise ValueError(f"unknown format {fmt!r}")


def write_dataset(
    folder: Path,
    *,
    episodes: TableInput = None,
    treatments: TableInput = None,
    measurements: TableInput = None,
    measures: str | bytes | None = None,
    fmt: str | Mapping[str, str] = "csv",
) -> Path:
    """Write a dataset folder and return its path.

    Parameters
    ----------
    folder : Path
        Created if missing.
    episodes, treatments, measurements : str, bytes, polars.DataFrame or None
        CSV text (dedented), raw bytes (CSV only), or a frame. None writes a
        header-only file with the table's required columns.
    measures : str, bytes or None
        Text of the dataset's ``measures.csv``; None writes no such file.
    fmt : "csv", "parquet" or a mapping table -> format
        File format per table (tables missing from a mapping are CSV).
    """
    folder.mkdir(parents=True, exist_ok=True)
    tables = {"episodes": episodes, "treatments": treatments, "measurements": measurements}
    for name, data in tables.items():
        table_fmt = fmt if isinstance(fmt, str) else fmt.get(name, "csv")
        _write_table(folder, name, data, table_fmt)
    if measures is not None:
        path = folder / "measures.csv"
        if isinstance(measures, bytes):
            path.write_bytes(measures)
        else:
            path.write_text(_as_text(measures), encoding="utf-8")
    return folder


def assert_reconciles(ds: Dataset) -> None:
    """Every row read is in exactly one of accepted / rejected; counts() agrees.

    Row numbers of each table are n distinct numbers from 2 (header = row 1); they are exactly
    2..n+1 unless the file has blank lines, which are skipped but keep their number.
    """
    counts = {r["table"]: r for r in ds.counts().iter_rows(named=True)}
    for name in TABLES:
        accepted = ds.table(name)["row"].to_list()
        rejected = set(ds.rejected.filter(pl.col("table") == name)["row"].to_list())
        n = ds.n_read[name]
        assert len(accepted) == len(set(accepted)), f"{name}: a row is accepted twice"
        assert not set(accepted) & rejected, f"{name}: rows both accepted and rejected"
        rows = set(accepted) | rejected
        assert len(rows) == n, f"{name}: rows lost or invented"
        assert not rows or min(rows) >= 2, f"{name}: a row number before the first data row"
        c = counts[name]
        assert (c["read"], c["accepted"], c["rejected"]) == (n, len(accepted), len(rejected))
        assert c["read"] == c["accepted"] + c["rejected"]


@pytest.fixture(name="write_dataset", scope="session")
def _write_dataset_fixture() -> Callable[..., Path]:
    """The :func:`write_dataset` function (session-scoped, usable with hypothesis)."""
    return write_dataset


@pytest.fixture(name="assert_reconciles", scope="session")
def _assert_reconciles_fixture() -> Callable[[Dataset], None]:
    """The :func:`assert_reconciles` function (session-scoped, usable with hypothesis)."""
    return assert_reconciles


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Write a dataset into a fresh sub-folder of ``tmp_path``; same arguments as write_dataset."""
    counter = iter(range(1_000_000))

    def make(**tables: object) -> Path:
        return write_dataset(tmp_path / f"dataset{next(counter)}", **tables)  # type: ignore[arg-type]

    return make


@pytest.fixture(autouse=True)
def _close_figures() -> object:
    """Close every matplotlib figure a test opened."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
