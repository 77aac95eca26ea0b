"""Benchmarks: the polars pipeline against the bare read and against pandas + scipy.

Run with ``make bench`` (or ``python benchmarks/bench.py --sizes 100000``). For each
dataset size and file format it generates a synthetic dataset once (cached in
``benchmarks/.data/``), then measures, each task in a fresh process so that
peak memory is the task's own:

- ``read``: polars reading the three tables, nothing else (the floor);
- ``validate``: ``outcomes.read_dataset`` (read + every contract rule);
- ``analysis``: ``read_dataset``, then ``summarize(episode_changes(ds, lazy=True))``
  by condition x technique, as ``outcomes summarize`` runs it; the analysis part
  is also timed on its own, and once more with the per-episode table
  materialized first (``episode_changes(ds)``);
- ``pandas``: the same computation written with pandas + scipy
  (``benchmarks/pandas_reference.py``), read and analysis timed apart;
- ``stream``: ``scan_dataset`` + ``episode_changes(lazy=True)`` + the summary,
  on polars' streaming engine (the larger-than-memory path);
- ``bootstrap``: BCa intervals with 2,000 resamples for 100 groups of 500.

It prints seconds, peak resident memory and the ratios the project's targets
are stated in. Timings are wall-clock on whatever machine runs it; no test
asserts on them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"


def _peak_mb() -> float:
    """Peak resident memory of this process's own address space (VmHWM).

    Not ru_maxrss: Linux carries that over from the parent across fork and exec, so a task
    started by a parent that generated a large dataset would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    """Resident memory of this process now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    return float("nan")


def _task(name: str, folder: Path) -> dict[str, float]:
    """Run one task in this process and return its figures."""
    # import everything a task uses before its clock starts: timings are of the work, not of imports
    import numpy as np
    import polars as pl
    import scipy.stats  # noqa: F401

    import outcomes  # noqa: F401

    if name == "pandas":
        sys.path.insert(0, str(HERE))
        import pandas_reference  # noqa: F401

    out: dict[str, float] = {}
    start = time.perf_counter()
    if name == "read":
        tables = {}
        for t in ("episodes", "treatments", "measurements"):
            p = folder / f"{t}.parquet"
            tables[t] = pl.read_parquet(p) if p.exists() else pl.read_csv(folder / f"{t}.csv", try_parse_dates=True)
        out["seconds"] = time.perf_counter() - start
        out["table_mb"] = sum(f.estimated_size("mb") for f in tables.values())
        out["resident_mb"] = _rss_mb()  # what holding the tables costs in fact (string buffers, allocator)
        out["rows"] = sum(f.height for f in tables.values())
    elif name == "validate":
        from outcomes import read_dataset

        ds = read_dataset(folder)
        out["seconds"] = time.perf_counter() - start
        out["rejected"] = ds.rejected.height
    elif name == "analysis":
        from outcomes import episode_changes, read_dataset, summarize

        ds = read_dataset(folder)
        mid = time.perf_counter()
        # as `outcomes summarize` does it: the per-episode stage stays lazy, so polars builds only the
        # columns the summary reads
        s = summarize(episode_changes(ds, lazy=True), by=("condition", "technique"))
        end = time.perf_counter()
        out["seconds"] = end - start
        out["validate_seconds"] = mid - start
        out["analysis_seconds"] = end - mid
        # and with the whole per-episode table materialized first (what a notebook that also looks
        # at the episodes does); not part of the peak above, which was read before this
        out["peak_mb_summary"] = _peak_mb()
        again = time.perf_counter()
        summarize(episode_changes(ds), by=("condition", "technique"))
        out["analysis_materialized_seconds"] = time.perf_counter() - again
        out["groups"] = s.table.height
        out["table_mb"] = sum(f.estimated_size("mb") for f in (ds.episodes, ds.treatments, ds.measurements))
    elif name == "stream":
        from outcomes import episode_changes, scan_dataset, summarize

        with pl.Config(engine_affinity="streaming"):
            s = summarize(episode_changes(scan_dataset(folder), lazy=True), by=("condition", "technique"))
        out["seconds"] = time.perf_counter() - start
        out["groups"] = s.table.height
    elif name == "pandas":
        import pandas_reference as ref

        tables = ref.read_tables(folder)
        mid = time.perf_counter()
        s = ref.summarize(ref.episode_changes(tables), by=("condition", "technique"))
        end = time.perf_counter()
        out["seconds"] = end - start
        out["read_seconds"] = mid - start
        out["analysis_seconds"] = end - mid
        out["groups"] = len(s)
    elif name == "bootstrap":
        import numpy as np

        from outcomes import summarize

        rng = np.random.default_rng(1)
        n_groups, size = 100, 500
        imp = rng.normal(2.0, 2.0, n_groups * size)
        base = rng.normal(6.0, 1.5, n_groups * size)
        changes = pl.DataFrame(
            {
                "group": np.repeat([f"g{i:03d}" for i in range(n_groups)], size),
                "measure": "nprs",
                "side": None,
                "status": "complete",
                "baseline": base,
                "final": base - imp,
                "change": -imp,
                "improvement": imp,
                "responder": imp >= 2,
                "exceeds_mdc": imp >= 2,
            },
            schema_overrides={"side": pl.String},
        )
        start = time.perf_counter()
        s = summarize(changes, by="group", bootstrap=True, n_resamples=2000, rng=7)
        out["seconds"] = time.perf_counter() - start
        out["groups"] = s.table.height
    else:
        raise SystemExit(f"unknown task {name}")
    out["peak_mb"] = _peak_mb()
    return out


def _run_task(name: str, folder: Path) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__)), "--task", name, "--folder", str(folder)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"task {name} on {folder} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _dataset(n: int, fmt: str) -> Path:
    folder = DATA / f"{n}_{fmt}"
    if not (folder / "truth.csv").exists():
        started = time.perf_counter()
        print(f"  generating {n:,} episodes as {fmt} ...", flush=True)
        # in a child process, so that this parent stays small (see _peak_mb)
        cmd = [sys.executable, "-m", "outcomes.cli", "demo", "--out", str(folder), "--episodes", str(n)]
        subprocess.run([*cmd, "--seed", "2026", "--format", fmt], check=True, capture_output=True)
        print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def _machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import polars as pl

    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {python}, polars {pl.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="episodes per dataset, comma-separated")
    parser.add_argument("--formats", default="parquet,csv", help="parquet and/or csv")
    parser.add_argument("--skip-pandas-above", type=int, default=10_000_000, help="skip pandas for larger sizes")
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        print(json.dumps(_task(args.task, args.folder)))
        return

    print(f"machine: {_machine()}")
    boot = _run_task("bootstrap", HERE)
    print(
        f"bootstrap: BCa, 2,000 resamples, 100 groups x 500 episodes: {boot['seconds']:.2f} s "
        f"(target < 5 s), peak {boot['peak_mb']:.0f} MB"
    )
    for n in (int(x) for x in args.sizes.split(",")):
        for fmt in args.formats.split(","):
            print(f"\n== {n:,} episodes, {fmt}")
            folder = _dataset(n, fmt)
            read = _run_task("read", folder)
            val = _run_task("validate", folder)
            ana = _run_task("analysis", folder)
            stream = _run_task("stream", folder)
            pan = _run_task("pandas", folder) if n <= args.skip_pandas_above else None
            rows = int(read["rows"])
            print(
                f"  rows in the three tables: {rows:,}; in memory {read['table_mb']:.0f} MB"
                f" (polars' estimated_size; the process holding them after the bare read: {read['resident_mb']:.0f} MB)"
            )
            print(f"  bare polars read             {read['seconds']:8.2f} s   peak {read['peak_mb']:7.0f} MB")
            print(
                f"  validate (read_dataset)      {val['seconds']:8.2f} s   peak {val['peak_mb']:7.0f} MB"
                f"   = {val['seconds'] / read['seconds']:.2f} x bare read (target <= 3)"
            )
            print(
                f"  validate + changes + summary {ana['seconds']:8.2f} s   peak {ana['peak_mb_summary']:7.0f} MB"
                f"   = {ana['peak_mb_summary'] / read['table_mb']:.2f} x the tables in memory (target < 3);"
                f" {ana['peak_mb_summary'] / read['resident_mb']:.2f} x the bare read's resident memory"
            )
            print(
                f"    changes + summary alone    {ana['analysis_seconds']:8.2f} s"
                f"              = {ana['analysis_seconds'] / read['seconds']:.2f} x bare read (target <= 2)"
            )
            print(
                f"    the same, per-episode table materialized first {ana['analysis_materialized_seconds']:.2f} s,"
                f" peak {ana['peak_mb']:.0f} MB"
            )
            print(f"  streaming (scan_dataset)     {stream['seconds']:8.2f} s   peak {stream['peak_mb']:7.0f} MB")
            if pan is not None:
                print(
                    f"  pandas + scipy               {pan['seconds']:8.2f} s   peak {pan['peak_mb']:7.0f} MB"
                    f"   (read {pan['read_seconds']:.2f} s, changes + summary {pan['analysis_seconds']:.2f} s)"
                )
                speedup = pan["analysis_seconds"] / ana["analysis_seconds"]
                print(
                    f"  speed-up over pandas: changes + summary {speedup:.1f} x"
                    f" (target >= 4); end to end, with validation, {pan['seconds'] / ana['seconds']:.1f} x"
                )


if __name__ == "__main__":
    main()
