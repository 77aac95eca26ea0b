"""The table schemas of the data contract, read from ``data_schemas/*.schema.json`` at run time.

The table schemas (``episodes.schema.json``, ``treatments.schema.json``,
``measurements.schema.json``, ``measures.schema.json``) are the single source
of truth for column names, types and rules; nothing here repeats them. The
human summary is ``docs/data-contract.md``.

Examples
--------
>>> from outcomes.contract import load_table_schema
>>> load_table_schema("episodes").column("age").max
120.0
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import polars as pl

__all__ = [
    "ROW",
    "TABLES",
    "ColumnSpec",
    "TableSchema",
    "load_table_schema",
    "schemas_dir",
]

TABLES: tuple[str, ...] = ("episodes", "treatments", "measurements")
"""The input tables of a dataset, in the order they are validated."""

ROW = "row"
"""The column that carries a row's number in its source file, as a spreadsheet shows it (header = row 1)."""

ColumnType = Literal["string", "date", "integer", "float", "boolean"]

POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "date": pl.Date(),
    "integer": pl.Int64(),
    "float": pl.Float64(),
    "boolean": pl.Boolean(),
}


def schemas_dir() -> Path:
    """Return the folder that holds the schema files.

    An installed wheel carries them as ``outcomes/data_schemas``; a source
    checkout (including an editable install) keeps them at the repository root.
    """
    package = Path(__file__).resolve().parents[1]  # outcomes/
    for candidate in (package / "data_schemas", package.parent / "data_schemas"):
        if (candidate / "episodes.schema.json").is_file():
            return candidate
    raise FileNotFoundError("data_schemas/ was not found next to the outcomes package; the installation is incomplete")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table schema (see ``data_schemas/*.schema.json``)."""

    name: str
    type: ColumnType
    required: bool = False
    description: str = ""
    unique: bool = False
    normalize: Literal["lower", "upper"] | None = None
    enum: tuple[str, ...] | None = None
    vocabulary: str | None = None
    on_unknown: Literal["warn", "reject"] = "reject"
    pattern: str | None = None
    pattern_description: str | None = None
    min: float | None = None
    max: float | None = None
    not_before: str | None = None
    not_below: str | None = None
    references: str | None = None
    within_episode: bool = False
    catalog_code: bool = False
    catalog_range: str | None = None
    only_for_kinds: tuple[str, ...] | None = None

    @property
    def dtype(self) -> pl.DataType:
        """The polars type of the column once validated."""
        return POLARS_TYPES[self.type]


@dataclass(frozen=True)
class TableSchema:
    """A table's schema: its columns and table-level rules."""

    table: str
    description: str
    columns: tuple[ColumnSpec, ...]
    duplicate_key: tuple[str, ...] | None = None

    @property
    def names(self) -> list[str]:
        """Column names in schema order."""
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        """Names of the required columns."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        """Return the spec of column ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.table} has no column {name!r}")

    def polars_schema(self) -> dict[str, pl.DataType]:
        """Column name to polars type, in schema order."""
        return {c.name: c.dtype for c in self.columns}


def _column_from_json(raw: dict[str, Any]) -> ColumnSpec:
    kwargs = dict(raw)
    for key in ("enum", "only_for_kinds"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    for key in ("min", "max"):
        if key in kwargs:
            kwargs[key] = float(kwargs[key])
    return ColumnSpec(**kwargs)


@cache
def load_table_schema(table: str) -> TableSchema:
    """Read ``data_schemas/<table>.schema.json``.

    Parameters
    ----------
    table : str
        ``episodes``, ``treatments``, ``measurements`` or ``measures``.
    """
    path = schemas_dir() / f"{table}.schema.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    dup = raw.get("duplicates")
    return TableSchema(
        table=raw["table"],
        description=raw.get("description", ""),
        columns=tuple(_column_from_json(c) for c in raw["columns"]),
        duplicate_key=tuple(dup["key"]) if dup else None,
    )
