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

from outcomes.contract import TABLES
from outcomes.episodes import RESPONDER_RULES
from outcomes.ingest import Dataset, DatasetError, read_dataset

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
    out.extend(f"note: {note}" for note in ds.notes)
    out.append(f"{'table':<14}{'read':>10}{'accepted':>10}{'rejected':>10}")
    for table, read, accepted, rejected in counts.iter_rows():
        out.append(f"{table:<14}{read:>10}{accepted:>10}{rejected:>10}")
    if ds.rejected.height:
        by_reason = (
            ds.rejected.group_by("table", "column", "rule")
            .agg(pl.len().alias("n"), pl.col("row").min().alias("first"))
            .sort(pl.col("table").cast(pl.Enum(list(TABLES))), "column", "rule")
        )
        out.append("")
        out.append("Problems by table, column and rule:")
        for table, column, rule, n, first in by_reason.iter_rows():
            out.append(f"  {table}.{column or '(whole row)'} [{rule}]: {n} (first at row {first})")
        out.append("")
        shown = min(_SHOWN_REJECTIONS, ds.rejected.height)
        out.append(f"Rejected rows ({shown} of {ds.rejected.height} problems shown):")
        for table, row, column, reason in (
            ds.rejected.head(shown).select("table", "row", "column", "reason").iter_rows()
        ):
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


def _read_for_analysis(folder: Path) -> Dataset:
    ds = read_dataset(folder)
    if not ds.is_clean:
        n = ds.counts()["rejected"].sum()
        print(
            f"note: {n} input rows were rejected and are left out; run 'outcomes validate {folder}' for the reasons",
            file=sys.stderr,
        )
    return ds


def _columns(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def _check_group_columns(ds: Dataset, columns: list[str], option: str) -> None:
    available = [c for c in ds.episodes.columns if c != "row"] + ["technique"]
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise UsageError(f"{option}: no episode column {', '.join(unknown)}; available: {', '.join(sorted(available))}")


def _changes(ds: Dataset, args: argparse.Namespace, *, lazy: bool = False) -> pl.DataFrame | pl.LazyFrame:
    """Per-episode changes; lazily when only a summary of them is wanted (polars then builds only
    the columns the summary reads and skips the sort of the long table)."""
    from outcomes.episodes import episode_changes

    return episode_changes(
        ds,
        baseline_window_days=args.baseline_window,
        per_technique=getattr(args, "per_technique", False),
        responder_rule=args.responder_rule,
        lazy=lazy,
    )


def _cmd_changes(args: argparse.Namespace) -> int:
    _check_suffix(args.out)
    ds = _read_for_analysis(args.dataset)
    changes = _changes(ds, args)
    assert isinstance(changes, pl.DataFrame)
    path = write_table(changes, args.out)
    counts = changes["status"].value_counts().sort("status")
    detail = ", ".join(f"{n} {status}" for status, n in counts.iter_rows())
    print(f"Wrote {changes.height} episode x measure rows to {path} ({detail})")
    return 0


def _cmd_summarize(args: argparse.Namespace) -> int:
    from outcomes.analyses import summarize

    _check_suffix(args.out)
    by = _columns(args.by)
    if not by:
        raise UsageError("--by needs at least one column, e.g. --by condition,technique")
    ds = _read_for_analysis(args.dataset)
    _check_group_columns(ds, by, "--by")
    summary = summarize(
        _changes(ds, args, lazy=True),
        by=by,
        min_cell=args.min_cell,
        confidence_level=args.confidence_level,
        bootstrap=args.bootstrap,
        n_resamples=args.n_resamples,
        rng=args.seed,
    ).table
    path = write_table(summary, args.out)
    shown = summary.filter(~pl.col("suppressed")).height
    print(
        f"Wrote {summary.height} group x measure rows to {path} "
        f"({summary.height - shown} suppressed with fewer than {args.min_cell} complete episodes)"
    )
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from outcomes.analyses import compare

    _check_suffix(args.out)
    within = _columns(args.within)
    ds = _read_for_analysis(args.dataset)
    _check_group_columns(ds, [args.between, *within], "--between/--within")
    if args.between in within:
        raise UsageError("--between and --within must name different columns")
    result = compare(
        _changes(ds, args),
        between=args.between,
        within=within,
        min_cell=args.min_cell,
        confidence_level=args.confidence_level,
    ).table
    path = write_table(result, args.out)
    print(f"Wrote {result.height} pairwise comparisons to {path}")
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from outcomes.analyses import DEFAULT_ADJUST, benchmark

    _check_suffix(args.out)
    ds = _read_for_analysis(args.dataset)
    _check_group_columns(ds, [args.unit], "--unit")
    adjust = _columns(args.adjust) if args.adjust is not None else list(DEFAULT_ADJUST)
    result = benchmark(
        _changes(ds, args),
        unit=args.unit,
        measure=args.measure,
        side=args.side,
        adjust_for=adjust,
        min_n=args.min_n,
        min_reliability=args.min_reliability,
        confidence_level=args.confidence_level,
        min_cell=args.min_cell,
    )
    path = write_table(result.table, args.out)
    scored = result.table.filter(~pl.col("suppressed")).height
    print(
        f"Wrote {result.table.height} {args.unit} rows to {path} ({scored} scored; risk model: "
        f"{', '.join(result.terms) or 'no case-mix term'}; R^2 {result.r_squared:.2f})"
    )
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise UsageError(f"{path}: the output file must end in .csv or .parquet")


def _cmd_report(args: argparse.Namespace) -> int:
    from outcomes.present.report import ReportError, build_report

    try:
        build_report(
            args.dataset,
            args.out,
            min_cell=args.min_cell,
            responder_rule=args.responder_rule,
            progress=lambda line: print(line, flush=True),
        )
    except ReportError as exc:
        print(f"outcomes report: error: {exc}", file=sys.stderr)
        return 1
    return 0


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


def _responder_rule_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--responder-rule",
        choices=RESPONDER_RULES,
        default="either",
        help="responder: either threshold the catalog gives (default), both, the absolute MCID or the percent",
    )


def _min_cell_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--min-cell",
        type=int,
        default=11,
        metavar="N",
        help="suppress groups with fewer complete episodes (default 11; 1 turns suppression off)",
    )


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

    def analysis(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("dataset", type=Path, metavar="DIR", help="dataset folder")
        p.add_argument("--out", required=True, type=Path, metavar="FILE", help="output table (.csv or .parquet)")
        p.add_argument(
            "--baseline-window",
            type=int,
            default=14,
            metavar="DAYS",
            help="baseline: first value within this many days of start_date (default 14)",
        )
        _responder_rule_option(p)
        return p

    ch = analysis("changes", "per-episode change: one row per episode x measure x side")
    ch.add_argument(
        "--per-technique",
        action="store_true",
        help="one row per technique the episode received instead of its primary technique",
    )
    ch.set_defaults(func=_cmd_changes)

    def stats_options(p: argparse.ArgumentParser) -> None:
        _min_cell_option(p)
        p.add_argument("--confidence-level", type=float, default=0.95, metavar="L", help="default 0.95")

    sm = analysis("summarize", "grouped summary: change, effect sizes, responder rates per group x measure")
    sm.add_argument("--by", required=True, metavar="COL[,COL...]", help="episode columns to group by")
    stats_options(sm)
    sm.add_argument("--bootstrap", action="store_true", help="add BCa bootstrap intervals of the mean improvement")
    sm.add_argument("--n-resamples", type=int, default=2000, metavar="B", help="bootstrap resamples (default 2000)")
    sm.add_argument("--seed", type=int, default=2026, metavar="S", help="bootstrap seed (default 2026)")
    sm.set_defaults(func=_cmd_summarize)

    cp = analysis("compare", "pairwise comparisons between groups within strata")
    cp.add_argument("--between", required=True, metavar="COL", help="episode column whose values are compared")
    cp.add_argument("--within", default="", metavar="COL[,COL...]", help="stratum columns (default: none)")
    stats_options(cp)
    cp.set_defaults(func=_cmd_compare)

    bm = analysis("benchmark", "risk-adjusted, shrunken scores of therapists or clinics on one measure")
    bm.add_argument("--unit", required=True, metavar="COL", help="episode column to score: therapist_id, clinic_id")
    bm.add_argument("--measure", default="nprs", metavar="M", help="measure code (default nprs)")
    bm.add_argument("--side", default=None, metavar="S", help="side, for measures recorded per side")
    bm.add_argument(
        "--adjust",
        default=None,
        metavar="COL[,COL...]",
        help="risk-model terms (default: the case-mix columns present)",
    )
    bm.add_argument("--min-n", type=int, default=10, metavar="N", help="fewest complete episodes to score (10)")
    bm.add_argument("--min-reliability", type=float, default=0.7, metavar="R", help="lowest reliability (0.7)")
    stats_options(bm)
    bm.set_defaults(func=_cmd_benchmark)

    rp = sub.add_parser(
        "report",
        help="run the analysis notebooks and write one self-contained HTML report",
        description="Run the analysis notebooks on a dataset (the bundled demo data when DIR is left out) "
        "and write one self-contained HTML report without code. Exit status 1 if a notebook fails.",
    )
    rp.add_argument("dataset", type=Path, nargs="?", default=None, metavar="DIR", help="dataset folder")
    rp.add_argument("--out", required=True, type=Path, metavar="FILE.html", help="the HTML file to write")
    _min_cell_option(rp)
    _responder_rule_option(rp)
    rp.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except (DatasetError, UsageError, ValueError) as exc:
        print(f"outcomes {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"outcomes {args.command}: error: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
