"""Stage 1: read a dataset folder and validate it against the data contract (``docs/data-contract.md``).

A dataset is a folder with ``episodes``, ``treatments`` and ``measurements``,
each as ``.csv`` or ``.parquet``, and optionally a ``measures.csv`` that adds
to or overrides the built-in measure catalog. :func:`read_dataset` returns a
:class:`Dataset`: the accepted rows, typed, and every rejected row with its
spreadsheet row number and a reason. No row is lost: per table, rows read =
rows accepted + rows rejected.

Examples
--------
>>> from outcomes import read_dataset
>>> from outcomes.synth import demo_dataset_path
>>> ds = read_dataset(demo_dataset_path())
>>> ds.counts().filter(table="episodes")["rejected"].item()
0
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from outcomes.contract import ROW, TABLES, load_table_schema
from outcomes.ingest._files import read_header, read_table
from outcomes.ingest.catalog import dataset_catalog
from outcomes.ingest.errors import DatasetError
from outcomes.ingest.validate import WARNING_SCHEMA, Context, check_table, clean_ids

__all__ = ["Dataset", "read_dataset"]


@dataclass(frozen=True)
class Dataset:
    """A validated dataset.

    Attributes
    ----------
    episodes, treatments, measurements : polars.DataFrame
        Accepted rows, typed as in ``data_schemas/``, with ``row``, the row
        number in the source file (header = row 1). Columns the contract does
        not name are kept as text.
    rejected : polars.DataFrame
        ``table``, ``row``, ``column`` (empty when the reason concerns the
        whole row), ``rule`` (which kind of rule: required, type, range,
        allowed values, vocabulary, pattern, order, duplicate id, episode
        rejected, episode missing, outside episode, unknown measure, side,
        duplicate row, empty row, malformed row, encoding) and ``reason``. A row with
        several problems appears once per problem. ``rule`` carries no value
        from the data, so it can be shown where identifiers must not be.
    warnings : polars.DataFrame
        Values accepted with a warning (unknown condition, technique, ...):
        ``table``, ``column``, ``value``, ``n_rows``, ``first_row``, ``message``.
    catalog : polars.DataFrame
        The measure catalog in force (built-in plus the dataset's measures.csv).
    n_read : dict
        Rows read per table.
    path : pathlib.Path
        The dataset folder.
    notes : tuple of str
        How files were read where they differ from the plain form (a
        semicolon separator, decimal commas).
    """

    episodes: pl.DataFrame
    treatments: pl.DataFrame
    measurements: pl.DataFrame
    rejected: pl.DataFrame
    warnings: pl.DataFrame
    catalog: pl.DataFrame
    n_read: dict[str, int]
    path: Path
    notes: tuple[str, ...] = ()

    def table(self, name: str) -> pl.DataFrame:
        """Accepted rows of ``episodes``, ``treatments`` or ``measurements``."""
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; expected one of {', '.join(TABLES)}")
        frame: pl.DataFrame = getattr(self, name)
        return frame

    def counts(self) -> pl.DataFrame:
        """Rows read, accepted and rejected per table; ``read == accepted + rejected``."""
        rejected_rows = self.rejected.group_by("table").agg(pl.col(ROW).n_unique().alias("n"))
        per_table = dict(rejected_rows.iter_rows())
        return pl.DataFrame(
            {
                "table": list(TABLES),
                "read": [self.n_read[t] for t in TABLES],
                "accepted": [self.table(t).height for t in TABLES],
                "rejected": [int(per_table.get(t, 0)) for t in TABLES],
            },
            schema={
                "table": pl.String,
                "read": pl.Int64,
                "accepted": pl.Int64,
                "rejected": pl.Int64,
            },
        )

    @property
    def is_clean(self) -> bool:
        """True when no row was rejected."""
        return self.rejected.height == 0


def _find_table_file(folder: Path, name: str) -> Path:
    candidates = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.is_file()]
    if not candidates:
        raise DatasetError(f"{folder}: no {name}.csv or {name}.parquet found")
    if len(candidates) > 1:
        raise DatasetError(f"{folder}: both {name}.csv and {name}.parquet exist; keep one so it is clear which to read")
    return candidates[0]


def _require_columns(file: Path, name: str, columns: list[str]) -> None:
    missing = [c for c in load_table_schema(name).required if c not in columns]
    if missing:
        raise DatasetError(
            f"{file}: required column(s) {', '.join(missing)} missing "
            f"(columns found: {', '.join(c for c in columns if c != ROW) or 'none'})"
        )


def read_dataset(path: str | Path, /) -> Dataset:
    """Read and validate a dataset folder.

    Parameters
    ----------
    path : str or pathlib.Path
        Folder with ``episodes``, ``treatments`` and ``measurements`` (each
        ``.csv`` or ``.parquet``) and optionally ``measures.csv``.

    Returns
    -------
    Dataset
        Accepted rows, rejected rows with reasons, warnings and counts.

    Raises
    ------
    DatasetError
        When a file is missing, unreadable, not UTF-8, lacks a required
        column, or the dataset's measures.csv breaks its schema. The message
        names the file and the problem.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder; a dataset is a folder with episodes, treatments and measurements")

    catalog = dataset_catalog(folder)

    files = {name: _find_table_file(folder, name) for name in TABLES}
    for name, file in files.items():  # a missing column is found from the headers, before any large read
        header = read_header(file)
        if header is not None:
            _require_columns(file, name, header)

    # One table at a time: read, check, keep the accepted rows, free the rest before the next read.
    issues: list[pl.DataFrame] = []
    warnings: list[pl.DataFrame] = []
    accepted: dict[str, pl.DataFrame] = {}
    n_read: dict[str, int] = {}
    notes: list[str] = []
    context = Context(catalog=catalog)
    for name in TABLES:
        read = read_table(files[name])
        raw, problems, problem_rows = read.frame, read.problems, read.problem_rows
        _require_columns(files[name], name, raw.columns)
        n_read[name] = raw.height + problems.height
        notes += read.notes
        checked = check_table(
            raw, load_table_schema(name), context, decimal_comma=read.decimal_comma, unreadable=problem_rows
        )
        accepted[name] = checked.accepted
        table_issues = pl.concat([checked.issues, problems])
        issues.append(table_issues.with_columns(pl.lit(name).alias("table")))
        warnings.append(checked.warnings.with_columns(pl.lit(name).alias("table")))
        if name == "episodes":
            rejected_ids = raw.join(table_issues.select(ROW).unique(), on=ROW, how="semi")["episode_id"]
            rejected_ids = rejected_ids.cast(pl.String)
            if "episode_id" in problem_rows.columns:  # unreadable rows still name their episode where they can
                rejected_ids = pl.concat([rejected_ids, problem_rows["episode_id"].cast(pl.String)])
            context = Context(
                episodes=checked.accepted,
                rejected_episode_ids=clean_ids(rejected_ids),
                catalog=catalog,
            )
        del raw, problems, problem_rows, read, checked  # free each table's text copy as soon as it is checked

    rejected = (
        pl.concat(issues)
        .select("table", ROW, "column", "rule", "reason")
        .with_columns(pl.col("table").cast(pl.Enum(list(TABLES))))
        .sort("table", ROW, "column", "reason")
        .with_columns(pl.col("table").cast(pl.String))
    )
    warn = pl.concat(warnings).select("table", *WARNING_SCHEMA)

    return Dataset(
        episodes=accepted["episodes"],
        treatments=accepted["treatments"],
        measurements=accepted["measurements"],
        rejected=rejected,
        warnings=warn,
        catalog=catalog,
        n_read=n_read,
        path=folder,
        notes=tuple(notes),
    )
