"""The machine-readable data contract, read from ``data_schemas/`` at run time.

The table schemas (``episodes.schema.json``, ``treatments.schema.json``,
``measurements.schema.json``), the vocabularies (``conditions.csv``,
``techniques.csv``, ``body_regions.csv``) and the built-in measure catalog
(``measures.csv``) are the single source of truth for column names, types and
rules; nothing here repeats them.

Examples
--------
>>> from outcomes.schema import load_table_schema, builtin_catalog
>>> load_table_schema("episodes").column("age").max
120.0
>>> catalog = builtin_catalog()
>>> catalog.filter(catalog["code"] == "nprs")["mcid"].item()
2.0
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import polars as pl

__all__ = [
    "TABLES",
    "ColumnSpec",
    "TableSchema",
    "builtin_catalog",
    "load_table_schema",
    "schemas_dir",
    "vocabulary",
]

TABLES: tuple[str, ...] = ("episodes", "treatments", "measurements")
"""The input tables of a dataset, in the order they are validated."""

ColumnType = Literal["string", "date", "integer", "float"]

POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "date": pl.Date(),
    "integer": pl.Int64(),
    "float": pl.Float64(),
}


def schemas_dir() -> Path:
    """Return the folder that holds the schema files.

    An installed wheel carries them as ``outcomes/data_schemas``; a source
    checkout (including an editable install) keeps them at the repository root.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "data_schemas", here.parent / "data_schemas"):
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


@cache
def _vocabulary_index() -> dict[str, Any]:
    index: dict[str, Any] = json.loads((schemas_dir() / "vocabularies.json").read_text("utf-8"))
    return index["vocabularies"]  # type: ignore[no-any-return]


def vocabulary(name: str) -> pl.DataFrame:
    """Return a vocabulary (``conditions``, ``techniques``, ``body_regions``) as a table.

    Examples
    --------
    >>> "joint_mobilization" in vocabulary("techniques")["code"].to_list()
    True
    """
    entry = _vocabulary_index()[name]
    return pl.read_csv(schemas_dir() / entry["file"], infer_schema=False)


def vocabulary_label(name: str) -> str:
    """Human name of a vocabulary for messages, e.g. ``body-region vocabulary``."""
    singular = {"conditions": "condition", "techniques": "technique", "body_regions": "body-region"}
    return f"{singular.get(name, name)} vocabulary (data_schemas/{_vocabulary_index()[name]['file']})"


def builtin_catalog() -> pl.DataFrame:
    """The built-in measure catalog, ``data_schemas/measures.csv``, typed.

    Columns follow ``data_schemas/measures.schema.json``.
    """
    from outcomes._checks import read_catalog  # local import: _checks imports this module

    return read_catalog(schemas_dir() / "measures.csv")
