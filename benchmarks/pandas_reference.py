"""The outcome pipeline written with pandas + scipy, as a competent researcher would.

A benchmark baseline for the package's polars pipeline: the same computation
(``docs/data-contract.md``, "Output: per-episode changes" and "Output: grouped
summary"), vectorized with groupby / merge / transform and no Python loop over
rows or episodes. The only loop over groups is the exact Wilcoxon p-value of
small groups, where scipy needs each group's values (the package does the same).

Usage::

    python benchmarks/pandas_reference.py DATASET_FOLDER   # run() and print the summary's shape
    python benchmarks/pandas_reference.py --check [FOLDER] # compare with the package (default: demo data)

No validation: the input is assumed valid (the benchmark feeds synthetic data).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats
from scipy.optimize import elementwise

BUILTIN_CATALOG = Path(__file__).resolve().parents[1] / "data_schemas" / "measures.csv"
DATE_COLUMNS = {
    "episodes": ["start_date", "end_date"],
    "treatments": ["visit_date"],
    "measurements": ["measured_on"],
}
TOL = 1e-9  # floating-point tolerance of the threshold comparisons (responder, exceeds_mdc)
EXACT_WILCOXON_MAX_N = 50
PERMUTATION_WILCOXON_MAX_N = 13


# --------------------------------------------------------------------------- reading


def _read_table(folder: Path, name: str) -> pd.DataFrame:
    dates = DATE_COLUMNS[name]
    parquet = folder / f"{name}.parquet"
    if parquet.is_file():
        frame = pd.read_parquet(parquet)
        for col in dates:
            frame[col] = pd.to_datetime(frame[col])
    else:
        frame = pd.read_csv(folder / f"{name}.csv", parse_dates=dates, dtype={"side": "str"})
    return frame


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Episodes, treatments, measurements and the measure catalog of a dataset folder, as pandas frames.

    ``measurements`` gets ``row`` (position in the file + 2, as a spreadsheet
    numbers it) for tie-breaking; the catalog is the built-in one with the
    dataset's ``measures.csv`` rows replacing those with the same ``code``.
    """
    folder = Path(folder)
    tables = {name: _read_table(folder, name) for name in DATE_COLUMNS}
    measurements = tables["measurements"]
    measurements.insert(0, "row", np.arange(len(measurements), dtype=np.int64) + 2)
    catalog = pd.read_csv(BUILTIN_CATALOG)
    custom = folder / "measures.csv"
    if custom.is_file():
        extra = pd.read_csv(custom)
        catalog = pd.concat([catalog[~catalog["code"].isin(extra["code"])], extra], ignore_index=True)
    tables["catalog"] = catalog
    return tables


# --------------------------------------------------------------------------- per-episode change

SERIES = ["episode_id", "measure", "side"]
CHANGE_COLUMNS = [
    "measure",
    "side",
    "baseline",
    "baseline_date",
    "final",
    "final_date",
    "change",
    "improvement",
    "pct_improvement",
    "responder",
    "exceeds_mdc",
    "n_visits",
    "duration_days",
    "status",
]


def primary_technique(treatments: pd.DataFrame) -> pd.DataFrame:
    """``episode_id``, ``technique``: most total minutes (missing = 0), ties by earliest first use, then name."""
    per = (
        treatments.assign(minutes=treatments["minutes"].fillna(0))
        .groupby(["episode_id", "technique"], as_index=False)
        .agg(total=("minutes", "sum"), first_use=("visit_date", "min"))
    )
    per = per.sort_values(["episode_id", "total", "first_use", "technique"], ascending=[True, False, True, True])
    return per.drop_duplicates("episode_id")[["episode_id", "technique"]]


def _at_least(value: pd.Series, threshold: pd.Series) -> pd.Series:
    """``value >= threshold`` allowing 1e-9 for rounding; False where either is missing."""
    return value >= threshold - TOL * (1.0 + threshold.abs())


def episode_changes(tables: dict[str, pd.DataFrame], baseline_window_days: int = 14) -> pd.DataFrame:
    """One row per episode x measure x side: baseline, final, change, responder, status (package rules)."""
    episodes, treatments, catalog = tables["episodes"], tables["treatments"], tables["catalog"]
    m = tables["measurements"][["row", *SERIES, "measured_on", "value"]].merge(
        episodes[["episode_id", "start_date", "end_date"]], on="episode_id", how="inner"
    )
    # one sort puts every series in date order (then file order); first/last = drop_duplicates keep first/last
    m = m.sort_values(["measured_on", "row"], kind="stable")
    series = m[SERIES].drop_duplicates()

    window = pd.Timedelta(days=baseline_window_days)
    in_window = (m["measured_on"] >= m["start_date"]) & (m["measured_on"] <= m["start_date"] + window)
    base = (
        m.loc[in_window, [*SERIES, "value", "measured_on"]]
        .drop_duplicates(SERIES, keep="first")
        .rename(columns={"value": "baseline", "measured_on": "baseline_date"})
    )
    after = m.merge(base[[*SERIES, "baseline_date"]], on=SERIES, how="inner")
    keep = (after["measured_on"] >= after["baseline_date"] + pd.Timedelta(days=1)) & (
        after["end_date"].isna() | (after["measured_on"] <= after["end_date"])
    )
    final = (
        after.loc[keep, [*SERIES, "value", "measured_on"]]
        .drop_duplicates(SERIES, keep="last")
        .rename(columns={"value": "final", "measured_on": "final_date"})
    )

    out = (
        series.merge(base, on=SERIES, how="left")
        .merge(final, on=SERIES, how="left")
        .merge(
            catalog[["code", "better", "mcid", "mcid_pct", "mdc"]].rename(columns={"code": "measure"}),
            on="measure",
            how="left",
        )
    )
    out["status"] = np.where(
        out["baseline"].isna(), "no_baseline", np.where(out["final"].isna(), "no_followup", "complete")
    )
    complete = out["status"] == "complete"
    out["change"] = out["final"] - out["baseline"]
    out["improvement"] = np.where(out["better"] == "lower", -1.0, 1.0) * out["change"] + 0.0  # no -0.0
    out["pct_improvement"] = (out["improvement"] / out["baseline"].abs() * 100.0).where(out["baseline"] != 0)
    out["duration_days"] = (out["final_date"] - out["baseline_date"]).dt.days.astype("Int64")
    has_threshold = out["mcid"].notna() | out["mcid_pct"].notna()
    responder = _at_least(out["improvement"], out["mcid"]) | _at_least(out["pct_improvement"], out["mcid_pct"])
    out["responder"] = responder.astype("boolean").where(complete & has_threshold)
    exceeds = _at_least(out["improvement"], out["mdc"])
    out["exceeds_mdc"] = exceeds.astype("boolean").where(complete & out["mdc"].notna())

    visits = treatments.groupby("episode_id")["visit_date"].nunique().rename("n_visits")
    out = out.merge(visits, left_on="episode_id", right_index=True, how="left")
    out["n_visits"] = out["n_visits"].fillna(0).astype(np.int64)

    out = out.merge(episodes, on="episode_id", how="inner").merge(
        primary_technique(treatments), on="episode_id", how="left"
    )
    columns = [*episodes.columns, "technique", *CHANGE_COLUMNS]
    return out[columns].sort_values(
        ["episode_id", "technique", "measure", "side"], na_position="first", ignore_index=True
    )


# --------------------------------------------------------------------------- grouped summary


def hedges_j(df: np.ndarray) -> np.ndarray:
    """Exact Hedges (1981) factor J(v) = Gamma(v/2) / (sqrt(v/2) Gamma((v-1)/2)); NaN where v <= 1."""
    v = np.asarray(df, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        j = np.exp(special.gammaln(v / 2) - special.gammaln((v - 1) / 2)) / np.sqrt(v / 2)
    return np.where(v > 1, j, np.nan)


def _nct_cdf(t: np.ndarray, df: np.ndarray, ncp: np.ndarray) -> np.ndarray:
    """``scipy.stats.nct.cdf``, guarded: Boost returns NaN far in a tail (e.g. t = 6.6, df = 1, ncp = -8.4).

    There the reflection ``P(T <= t | ncp) = P(T >= -t | -ncp)`` usually evaluates; where it does
    not either, the cdf is ~1 for ncp well left of t and ~0 right of it.
    """
    cdf = stats.nct.cdf(t, df, ncp)
    cdf = np.where(np.isnan(cdf), stats.nct.sf(-t, df, -ncp), cdf)
    return np.where(np.isnan(cdf), np.where(ncp < t, 1.0, 0.0), cdf)


def nct_limits(t: np.ndarray, df: np.ndarray, confidence_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Noncentrality limits of observed t statistics (Steiger & Fouladi 1997), vectorized over groups.

    Solves ``nct.cdf(t, df, ncp) = 1 - a/2`` (low) and ``= a/2`` (high) with
    scipy's elementwise bracketing root finder (Chandrupatla). NaN where t or
    df is not finite.
    """
    t, df = np.broadcast_arrays(np.asarray(t, dtype=float), np.asarray(df, dtype=float))
    ok = np.isfinite(t) & np.isfinite(df) & (df > 0)
    alpha = 1 - confidence_level
    limits = []
    for target in (1 - alpha / 2, alpha / 2):
        out = np.full(t.shape, np.nan)
        if ok.any():
            tt, dd = t[ok], df[ok]

            def f(ncp, tt, dd, target=target):
                return target - _nct_cdf(tt, dd, ncp)  # rises with ncp

            bracket = elementwise.bracket_root(f, tt - 1.0, tt + 1.0, args=(tt, dd))
            root = elementwise.find_root(f, bracket.bracket, args=(tt, dd))
            out[ok] = np.where(bracket.success & root.success, root.x, np.nan)
        limits.append(out)
    return limits[0], limits[1]


def wilson(k: np.ndarray, n: np.ndarray, confidence_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of k / n; NaN where n == 0."""
    z = stats.norm.ppf(0.5 + confidence_level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi


def _wilcoxon(complete: pd.DataFrame, keys: list[str], stats_frame: pd.DataFrame) -> pd.DataFrame:
    """Wilcoxon signed-rank p-values per group: normal approximation (tie-corrected, zeros dropped) for
    all groups, exact (scipy) for groups of at most 50 without ties or zeros, as scipy's default."""
    nz = complete.loc[complete["improvement"] != 0, [*keys, "improvement"]]
    nz = nz.assign(abs_imp=nz["improvement"].abs())
    nz["rank"] = nz.groupby(keys, dropna=False)["abs_imp"].rank(method="average")
    nz["pos_rank"] = nz["rank"].where(nz["improvement"] > 0, 0.0)
    tie_sizes = nz.groupby([*keys, "abs_imp"], dropna=False).size().rename("t").reset_index()
    tie_sizes["tt"] = tie_sizes["t"].astype(float) ** 3 - tie_sizes["t"]
    ties = tie_sizes.groupby(keys, dropna=False).agg(tie_term=("tt", "sum"), max_tie=("t", "max"))
    w = nz.groupby(keys, dropna=False).agg(w_plus=("pos_rank", "sum"), n_nonzero=("rank", "size")).join(ties)
    w = stats_frame[[]].join(w)  # align with the groups of the summary
    nn = w["n_nonzero"].fillna(0).to_numpy(float)
    mean = nn * (nn + 1) / 4
    var = nn * (nn + 1) * (2 * nn + 1) / 24 - w["tie_term"].fillna(0).to_numpy(float) / 48
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (w["w_plus"].fillna(0).to_numpy(float) - mean) / np.sqrt(var)
        p = np.where(var > 0, 2 * stats.norm.sf(np.abs(z)), np.nan)
    method = np.where(np.isfinite(p), "asymptotic", None).astype(object)
    n = stats_frame["n"].to_numpy()
    no_ties = (n == nn) & (w["max_tie"].fillna(1).to_numpy() <= 1)
    exact = (n <= EXACT_WILCOXON_MAX_N) & no_ties & (nn >= 1)
    flips = (n <= PERMUTATION_WILCOXON_MAX_N) & ~no_ties & (nn >= 1)
    if (exact | flips).any():
        small = complete.groupby(keys, dropna=False)["improvement"]
        for i in np.flatnonzero(exact | flips):  # small groups only, where scipy needs the values
            p[i] = stats.wilcoxon(small.get_group(stats_frame.index[i]).to_numpy(), method="auto").pvalue
            method[i] = "exact" if exact[i] else "permutation"
    one = n < 2
    p[one] = np.nan
    method[one] = None
    return pd.DataFrame({"wilcoxon_p_value": p, "wilcoxon_method": method}, index=stats_frame.index)


STAT_COLUMNS = [
    "baseline_mean",
    "baseline_sd",
    "final_mean",
    "final_sd",
    "mean_change",
    "mean_improvement",
    "sd_improvement",
    "ci_low",
    "ci_high",
    "srm",
    "srm_ci_low",
    "srm_ci_high",
    "g_av",
    "g_av_ci_low",
    "g_av_ci_high",
    "responder_rate",
    "responder_ci_low",
    "responder_ci_high",
    "p_value",
    "exceeds_mdc_rate",
    "exceeds_mdc_ci_low",
    "exceeds_mdc_ci_high",
    "median_improvement",
    "q1_improvement",
    "q3_improvement",
    "wilcoxon_p_value",
    "wilcoxon_method",
]


def summarize(
    changes: pd.DataFrame,
    by: Sequence[str] = ("condition", "technique"),
    min_cell: int = 11,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """One row per group x measure x side: counts, means, t-interval, SRM, g_av, responder rate, tests."""
    keys = [*by, "measure", "side"]
    complete = changes[changes["status"] == "complete"]
    grouped = complete.groupby(keys, dropna=False)
    g = grouped.agg(
        n=("improvement", "size"),
        baseline_mean=("baseline", "mean"),
        baseline_sd=("baseline", "std"),
        final_mean=("final", "mean"),
        final_sd=("final", "std"),
        mean_change=("change", "mean"),
        mean_improvement=("improvement", "mean"),
        sd_improvement=("improvement", "std"),
        responder_k=("responder", "sum"),
        responder_m=("responder", "count"),
        mdc_k=("exceeds_mdc", "sum"),
        mdc_m=("exceeds_mdc", "count"),
    )
    for name, q in (("q1_improvement", 0.25), ("median_improvement", 0.5), ("q3_improvement", 0.75)):
        g[name] = grouped["improvement"].quantile(q).to_numpy()  # same group order as g (index has NaN keys)
    incomplete = changes[changes["status"] != "complete"].groupby(keys, dropna=False).size().rename("n_incomplete")
    g = g.join(incomplete, how="outer")
    g[["n", "n_incomplete", "responder_k", "responder_m", "mdc_k", "mdc_m"]] = (
        g[["n", "n_incomplete", "responder_k", "responder_m", "mdc_k", "mdc_m"]].fillna(0).astype(np.int64)
    )

    n = g["n"].to_numpy(float)
    mean = g["mean_improvement"].to_numpy(float)
    sd = g["sd_improvement"].to_numpy(float)
    df = n - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        se = sd / np.sqrt(n)
        q = stats.t.ppf(0.5 + confidence_level / 2, df)
        g["ci_low"] = np.where((n >= 2) & (sd > 0), mean - q * se, np.nan)
        g["ci_high"] = np.where((n >= 2) & (sd > 0), mean + q * se, np.nan)
        t = np.where((n >= 2) & (sd > 0), mean / se, np.nan)  # the paired t statistic
        g["p_value"] = 2 * stats.t.sf(np.abs(t), df)
        ncp_lo, ncp_hi = nct_limits(t, df, confidence_level)  # one inversion serves SRM and g_av
        g["srm"] = t / np.sqrt(n)
        g["srm_ci_low"] = ncp_lo / np.sqrt(n)
        g["srm_ci_high"] = ncp_hi / np.sqrt(n)
        vb, va = g["baseline_sd"].to_numpy(float) ** 2, g["final_sd"].to_numpy(float) ** 2
        s_av2 = (vb + va) / 2
        d_av = np.where((n >= 3) & (s_av2 > 0), mean / np.sqrt(s_av2), np.nan)
        g["g_av"] = d_av * hedges_j(df)
        cov = (vb + va - sd**2) / 2  # Bonett (2015): an interval for d_av, centred on it
        se_d = np.sqrt(d_av**2 * (vb**2 + va**2 + 2 * cov**2) / (8 * df * s_av2**2) + sd**2 / (df * s_av2))
        z = stats.norm.ppf(0.5 + confidence_level / 2)
        g["g_av_ci_low"] = d_av - z * se_d
        g["g_av_ci_high"] = d_av + z * se_d
        for name, k_col, m_col in (("responder", "responder_k", "responder_m"), ("exceeds_mdc", "mdc_k", "mdc_m")):
            k, m = g[k_col].to_numpy(float), g[m_col].to_numpy(float)
            rate = np.where(m > 0, k / m, np.nan)
            g[f"{name}_rate"] = rate
            g[f"{name}_ci_low"], g[f"{name}_ci_high"] = wilson(k, m, confidence_level)
    g = g.join(_wilcoxon(complete, keys, g))

    g["followup_rate"] = g["n"] / (g["n"] + g["n_incomplete"])
    g["suppressed"] = g["n"] < min_cell
    g.loc[g["suppressed"], [*STAT_COLUMNS, "followup_rate"]] = np.nan
    columns = ["n", "n_incomplete", "followup_rate", *STAT_COLUMNS, "suppressed"]
    return g[columns].reset_index().sort_values(keys, na_position="first", ignore_index=True)


def run(folder: Path | str) -> pd.DataFrame:
    """Read a dataset, compute per-episode changes and summarize them by condition x technique."""
    return summarize(episode_changes(read_tables(Path(folder))), by=("condition", "technique"))


# --------------------------------------------------------------------------- check against the package

CHECK_COLUMNS = [
    "n",
    "n_incomplete",
    "baseline_mean",
    "baseline_sd",
    "final_mean",
    "final_sd",
    "mean_change",
    "mean_improvement",
    "sd_improvement",
    "ci_low",
    "ci_high",
    "srm",
    "srm_ci_low",
    "srm_ci_high",
    "g_av",
    "g_av_ci_low",
    "g_av_ci_high",
    "responder_rate",
    "responder_ci_low",
    "responder_ci_high",
    "p_value",
    "exceeds_mdc_rate",
    "exceeds_mdc_ci_low",
    "exceeds_mdc_ci_high",
    "median_improvement",
    "q1_improvement",
    "q3_improvement",
    "wilcoxon_p_value",
]


def check_against_package(folder: Path | str | None = None, rtol: float = 1e-8) -> None:
    """Compare :func:`run` with ``outcomes.summarize(outcomes.episode_changes(outcomes.read_dataset(folder)))``.

    Checks that both give the same groups (condition, technique, measure, side)
    and suppression, then every statistic of :data:`CHECK_COLUMNS` on the
    non-suppressed groups to ``rtol`` relative (|a - b| <= rtol |a|,
    NaN matching NaN). Also checks the per-episode tables agree. Raises
    AssertionError with the mismatches. ``folder`` defaults to the bundled demo data.
    """
    import outcomes
    from outcomes.synth import demo_dataset_path

    folder = Path(folder) if folder is not None else demo_dataset_path()
    keys = ["condition", "technique", "measure", "side"]
    pkg_changes = outcomes.episode_changes(outcomes.read_dataset(folder))
    pkg = outcomes.summarize(pkg_changes).table.sort(keys, nulls_last=True).to_pandas()
    pd_changes = episode_changes(read_tables(folder))
    ours = summarize(pd_changes).sort_values(keys, na_position="last", ignore_index=True)
    problems: list[str] = []

    # per-episode changes: same rows, same numbers
    ch_keys = ["episode_id", "measure", "side"]
    a = pkg_changes.sort(ch_keys, nulls_last=True).to_pandas()
    b = pd_changes.sort_values(ch_keys, na_position="last", ignore_index=True)
    if len(a) != len(b):
        problems.append(f"changes: {len(a)} rows in the package, {len(b)} here")
    else:
        for col in ["technique", "status", "responder", "exceeds_mdc", "n_visits", "duration_days"]:
            x = a[col].astype(object).where(a[col].notna(), None).tolist()
            y = b[col].astype(object).where(b[col].notna(), None).tolist()
            if x != y:
                bad = [i for i, (u, v) in enumerate(zip(x, y, strict=True)) if u != v]
                problems.append(f"changes.{col}: {len(bad)} rows differ, e.g. row {bad[0]}: {x[bad[0]]} vs {y[bad[0]]}")
        for col in ["baseline", "final", "change", "improvement", "pct_improvement"]:
            if not np.allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=rtol, atol=0, equal_nan=True):
                problems.append(f"changes.{col} differs")

    # summary: same groups and suppression
    if len(pkg) != len(ours):
        problems.append(f"summary: {len(pkg)} groups in the package, {len(ours)} here")
        raise AssertionError("\n".join(problems))
    for col in keys:
        if (
            pkg[col].astype(object).where(pkg[col].notna(), None).tolist()
            != ours[col].astype(object).where(ours[col].notna(), None).tolist()
        ):
            problems.append(f"summary: group column {col} differs")
    if not (pkg["suppressed"].to_numpy(bool) == ours["suppressed"].to_numpy(bool)).all():
        problems.append("summary: suppressed differs")
    live = ~pkg["suppressed"].to_numpy(bool)
    for col in CHECK_COLUMNS:
        x = pkg.loc[live, col].to_numpy(float)
        y = ours.loc[live, col].to_numpy(float)
        same_nan = np.isnan(x) == np.isnan(y)
        with np.errstate(invalid="ignore"):
            close = np.isnan(x) | (np.abs(x - y) <= rtol * np.abs(x))
        bad = np.flatnonzero(~(same_nan & close))
        if bad.size:
            i = np.flatnonzero(live)[bad[0]]
            where = ", ".join(f"{k}={pkg.at[i, k]}" for k in keys)
            problems.append(
                f"summary.{col}: {bad.size} of {live.sum()} groups differ; first at {where}: "
                f"package {pkg.at[i, col]!r}, pandas {ours.at[i, col]!r}"
            )
    method_pkg = pkg.loc[live, "wilcoxon_method"].tolist()
    method_ours = ours.loc[live, "wilcoxon_method"].tolist()
    if method_pkg != method_ours:
        problems.append("summary.wilcoxon_method differs")
    if problems:
        raise AssertionError("pandas reference disagrees with the package:\n  " + "\n  ".join(problems))
    print(f"check passed: {live.sum()} non-suppressed of {len(pkg)} groups, {len(CHECK_COLUMNS)} statistics")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        check_against_package(sys.argv[2] if len(sys.argv) > 2 else None)
        sys.exit(0)
    if len(sys.argv) < 2:
        sys.exit("usage: python benchmarks/pandas_reference.py DATASET_FOLDER  (or --check [FOLDER])")
    start = time.perf_counter()
    summary = run(sys.argv[1])
    print(f"summary shape {summary.shape} in {time.perf_counter() - start:.3f} s")
