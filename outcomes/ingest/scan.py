"""Stage 1 for data larger than memory: scan a pre-validated dataset lazily, possibly split into many files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from outcomes.contract import ROW, TABLES, boolean_value, load_table_schema
from outcomes.ingest.catalog import dataset_catalog
from outcomes.ingest.errors import DatasetError

__all__ = ["LazyDataset", "scan_dataset"]


@dataclass(frozen=True)
class LazyDataset:
    """A dataset scanned lazily for larger-than-memory work: no validation.

    Attributes
    ----------
    episodes, treatments, measurements : polars.LazyFrame
        The tables as scanned, typed as the schemas say, with ``row`` (the
        position across the table's files, in sorted file order, from 2).
    catalog : polars.DataFrame
        The measure catalog in force.
    files : dict
        The files read per table.
    """

    episodes: pl.LazyFrame
    treatments: pl.LazyFrame
    measurements: pl.LazyFrame
    catalog: pl.DataFrame
    files: dict[str, list[Path]]


def _table_files(folder: Path, name: str) -> list[Path]:
    """``NAME.parquet`` / ``NAME.csv``, ``NAME/*.parquet`` / ``NAME/*.csv``, or ``*/NAME.parquet`` / ``*/NAME.csv``."""
    for suffix in ("parquet", "csv"):
        single = folder / f"{name}.{suffix}"
        if single.is_file():
            return [single]
    for suffix in ("parquet", "csv"):
        parts = sorted((folder / name).glob(f"*.{suffix}")) if (folder / name).is_dir() else []
        if parts:
            return parts
        parts = sorted(folder.glob(f"*/{name}.{suffix}"))
        if parts:
            return parts
    raise DatasetError(f"{folder}: no {name}.parquet, {name}.csv, {name}/*.parquet or */{name}.parquet found")


def scan_dataset(path: str | Path, /) -> LazyDataset:
    """Scan a large, already validated dataset lazily, possibly split into many files.

    For registries that outgrow memory: the tables are not read, only
    scanned, so :func:`outcomes.episode_changes` with ``lazy=True`` and the
    group statistics can run on polars' streaming engine. A table may be one
    file (``episodes.parquet``), a folder of files (``episodes/part-0.parquet``,
    ...), or one file per subfolder (``clinic_a/episodes.parquet``,
    ``clinic_b/episodes.parquet``, ...); its files are read as one table, in
    sorted order. Every file of a table must have the same format and columns.

    Nothing is validated: run :func:`read_dataset` (or ``outcomes validate``)
    on each part first. Use :func:`read_dataset` whenever the data fit in
    memory.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    catalog = dataset_catalog(folder)
    frames: dict[str, pl.LazyFrame] = {}
    files: dict[str, list[Path]] = {}
    for name in TABLES:
        paths = _table_files(folder, name)
        schema = load_table_schema(name)
        if paths[0].suffix == ".parquet":
            lf = pl.scan_parquet(paths, row_index_name=ROW, row_index_offset=2)
        else:
            lf = pl.scan_csv(paths, infer_schema=False, row_index_name=ROW, row_index_offset=2)
        names = lf.collect_schema().names()
        missing = [c for c in schema.required if c not in names]
        if missing:
            raise DatasetError(f"{paths[0]}: required column(s) {', '.join(missing)} missing")
        casts = []
        for spec in schema.columns:
            if spec.name not in names:
                casts.append(pl.lit(None, dtype=spec.dtype).alias(spec.name))
            elif spec.type == "date":
                col = pl.col(spec.name)
                casts.append(
                    (
                        col.str.to_date("%Y-%m-%d")
                        if lf.collect_schema()[spec.name] == pl.String
                        else col.cast(pl.Date)
                    ).alias(spec.name)
                )
            elif spec.type == "boolean" and lf.collect_schema()[spec.name] == pl.String:
                word = pl.col(spec.name).str.strip_chars().str.to_lowercase()
                casts.append(boolean_value(word).alias(spec.name))
            else:
                casts.append(pl.col(spec.name).cast(spec.dtype).alias(spec.name))
        frames[name] = lf.with_columns(pl.col(ROW).cast(pl.Int64), *casts)
        files[name] = paths
    return LazyDataset(
        episodes=frames["episodes"],
        treatments=frames["treatments"],
        measurements=frames["measurements"],
        catalog=catalog,
        files=files,
    )
