"""The measure catalog: the built-in ``data_schemas/measures.csv`` and a dataset's own ``measures.csv``.

The catalog is validated like a table, against ``data_schemas/measures.schema.json``;
a catalog row that breaks its schema makes the dataset unreadable.

Examples
--------
>>> from outcomes.ingest import builtin_catalog
>>> catalog = builtin_catalog()
>>> catalog.filter(catalog["code"] == "nprs")["mcid"].item()
2.0
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from outcomes.contract import ROW, load_table_schema, schemas_dir
from outcomes.ingest._files import read_table
from outcomes.ingest.errors import DatasetError
from outcomes.ingest.validate import check_table

__all__ = ["builtin_catalog", "dataset_catalog", "read_catalog"]


def read_catalog(path: Path, base: pl.DataFrame | None = None) -> pl.DataFrame:
    """Read and check a measure catalog file; optionally merge it over ``base``.

    Rows of the file replace rows of ``base`` with the same ``code``. A catalog
    row that breaks the schema makes the dataset unreadable: a
    :class:`DatasetError` lists every problem with its row number.
    """
    schema = load_table_schema("measures")
    read = read_table(path)
    if read.problems.height:
        raise DatasetError(f"{path}: row {read.problems[ROW][0]}: {read.problems['reason'][0]}")
    raw = read.frame
    missing = [c for c in schema.required if c not in raw.columns]
    if missing:
        raise DatasetError(
            f"{path}: required column(s) {', '.join(missing)} missing "
            f"(found: {', '.join(c for c in raw.columns if c != ROW)})"
        )
    checked = check_table(raw, schema, decimal_comma=read.decimal_comma)
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


def builtin_catalog() -> pl.DataFrame:
    """The built-in measure catalog, ``data_schemas/measures.csv``, typed.

    Columns follow ``data_schemas/measures.schema.json``.
    """
    return read_catalog(schemas_dir() / "measures.csv")


def dataset_catalog(folder: Path) -> pl.DataFrame:
    """The built-in measure catalog, with the dataset's own measures.csv over it where there is one."""
    custom = folder / "measures.csv"
    return read_catalog(custom, base=builtin_catalog()) if custom.is_file() else builtin_catalog()
