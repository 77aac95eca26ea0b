"""The ``outcomes`` command.

Exit status: 0 on success, 1 when ``validate`` rejected rows, 2 when the input
cannot be read or the command line is wrong. Errors are one clear message on
standard error, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from outcomes._read import DatasetError
from outcomes.io import Dataset, read_dataset
from outcomes.schema import TABLES

__all__ = ["main", "write_table"]

_SHOWN_REJECTIONS = 25


class UsageError(Exception):
    """A command-line value that cannot be used (bad output suffix, ...)."""


def write_table(frame: pl.DataFrame, path: str | Path, /) -> Path:
    """Write ``frame`` as CSV or Parquet, chosen by the file's suffix."""
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"{out}: the output file must end in .csv or .parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.write_csv(out)
    else:
        frame.write_parquet(out)
    return out


def _print_validation(ds: Dataset, out: list[str]) -> None:
    counts = ds.counts()
    out.append(f"Dataset: {ds.path}")
    out.append(f"{'table':<14}{'read':>10}{'accepted':>10}{'rejected':>10}")
    for table, read, accepted, rejected in counts.iter_rows():
        out.append(f"{table:<14}{read:>10}{accepted:>10}{rejected:>10}")
    if ds.rejected.height:
        by_reason = (
            ds.rejected.group_by("table", "column")
            .agg(pl.len().alias("n"), pl.col("row").min().alias("first"))
            .sort(pl.col("table").cast(pl.Enum(list(TABLES))), "column")
        )
        out.append("")
        out.append("Problems by table and column:")
        for table, column, n, first in by_reason.iter_rows():
            out.append(f"  {table}.{column or '(whole row)'}: {n} (first at row {first})")
        out.append("")
        shown = min(_SHOWN_REJECTIONS, ds.rejected.height)
        out.append(f"Rejected rows ({shown} of {ds.rejected.height} problems shown):")
        for table, row, column, reason in ds.rejected.head(shown).iter_rows():
            where = f"{table} row {row}" + (f", {column}" if column else "")
            out.append(f"  {where}: {reason}")
        if ds.rejected.height > shown:
            out.append("  ... write them all with --rejected-out FILE.csv")
    if ds.warnings.height:
        out.append("")
        out.append("Warnings (rows accepted):")
        for table, message in ds.warnings.select("table", "message").iter_rows():
            out.append(f"  {table}: {message}")


def _cmd_validate(args: argparse.Namespace) -> int:
    ds = read_dataset(args.dataset)
    lines: list[str] = []
    _print_validation(ds, lines)
    if args.rejected_out:
        path = write_table(ds.rejected, args.rejected_out)
        lines.append("")
        lines.append(f"Wrote {ds.rejected.height} problems to {path}")
    print("\n".join(lines))
    return 0 if ds.is_clean else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from outcomes.synth import write_demo

    if args.episodes < 1:
        raise UsageError("--episodes must be at least 1")
    demo = write_demo(args.out, args.episodes, seed=args.seed, format=args.format)
    print(
        f"Wrote a synthetic dataset to {args.out}: {demo.episodes.height} episodes, "
        f"{demo.treatments.height} treatments, {demo.measurements.height} measurements "
        f"({args.format}, seed {args.seed}); true effects in truth.csv"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outcomes",
        description="Outcome statistics for manual-therapy clinics.",
        epilog="A dataset is a folder with episodes, treatments and measurements (.csv or .parquet); "
        "see data_schemas/ for the columns.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="write a synthetic dataset in the data contract")
    demo.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write to")
    demo.add_argument("--episodes", type=int, default=2000, metavar="N", help="number of episodes (default 2000)")
    demo.add_argument("--seed", type=int, default=2026, metavar="S", help="random seed (default 2026)")
    demo.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)")
    demo.set_defaults(func=_cmd_demo)

    val = sub.add_parser(
        "validate",
        help="check a dataset; exit 1 if any row was rejected",
        description="Check a dataset against the data contract. Prints rows read, accepted and rejected "
        "per table and the reasons. Exit status 0: all rows accepted; 1: rows rejected; 2: unreadable.",
    )
    val.add_argument("dataset", type=Path, metavar="DIR", help="dataset folder")
    val.add_argument("--rejected-out", type=Path, metavar="FILE", help="write every rejected row (.csv or .parquet)")
    val.set_defaults(func=_cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except (DatasetError, UsageError) as exc:
        print(f"outcomes {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"outcomes {args.command}: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
