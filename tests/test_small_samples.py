"""Small samples, signed scales, degenerate groups and bad values (issue 11, items 1, 2, 4, 6, 7).

Every expected value is computed here independently: by enumerating sign
flips, by hand, or by scipy on the same numbers.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from outcomes import read_dataset, summarize
from outcomes.episodes import RESPONDER_RULES, episode_changes
from outcomes.stats import BOOTSTRAP_MIN_N, bca_mean_intervals, holm, mean_interval_stats, srm

EPISODES_HEADER = "episode_id,patient_id,condition,start_date"
MEASUREMENTS_HEADER = "episode_id,measured_on,measure,value,side"
MEASURES_HEADER = "code,label,kind,unit,min,max,better,mcid,mcid_pct,mdc"


def _changes_table(groups: dict[str, list[float]]) -> pl.DataFrame:
    """A per-episode table with the given improvements per group (baseline 5, complete)."""
    rows = []
    for name, values in groups.items():
        for v in values:
            rows.append(
                {
                    "condition": name,
                    "measure": "nprs",
                    "side": None,
                    "status": "complete",
                    "baseline": 5.0,
                    "final": 5.0 - v,
                    "change": -v,
                    "improvement": float(v),
                    "responder": v >= 2,
                    "exceeds_mdc": v >= 2,
                }
            )
    return pl.DataFrame(rows, schema_overrides={"side": pl.String})


def _sign_flip_p(values: list[float]) -> float:
    """Two-sided Wilcoxon p over all 2**n sign flips, average ranks, zeros dropped: written out here."""
    d = np.array([v for v in values if v != 0], dtype=float)
    ranks = stats.rankdata(np.abs(d))
    observed = ranks[d > 0].sum()
    centre = ranks.sum() / 2
    flips = [
        sum(r for r, s in zip(ranks, signs, strict=True) if s) for signs in itertools.product([0, 1], repeat=d.size)
    ]
    extreme = sum(abs(w - centre) >= abs(observed - centre) - 1e-12 for w in flips)
    return extreme / len(flips)


# ----------------------------------------------------------------- 1. Wilcoxon at small n with ties


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([2, 2, 2, 2], 0.125),  # W+ = 10 is the largest of 16 equally likely sums: 2 / 16
        ([1, 1, 2, 2, 3], 0.0625),  # the issue's case: the normal approximation gave 0.041
    ],
)
def test_wilcoxon_with_ties_at_small_n_enumerates_the_sign_flips(values: list[float], expected: float) -> None:
    s = summarize(_changes_table({"a": values}), by="condition", min_cell=1).table
    assert s["wilcoxon_method"].to_list() == ["permutation"]
    assert s["wilcoxon_p_value"][0] == pytest.approx(expected, abs=1e-12)
    assert s["wilcoxon_p_value"][0] == pytest.approx(_sign_flip_p(values), abs=1e-12)


def test_wilcoxon_follows_scipy_auto_on_small_samples_with_ties_and_zeros() -> None:
    rng = np.random.default_rng(11)
    groups = {f"g{i:02d}": rng.integers(-2, 5, size=int(rng.integers(2, 16))).astype(float).tolist() for i in range(40)}
    s = summarize(_changes_table(groups), by="condition", min_cell=1).table.sort("condition")
    for name, row in zip(sorted(groups), s.iter_rows(named=True), strict=True):
        values = np.array(groups[name])
        if not (values != 0).any():
            assert row["wilcoxon_p_value"] is None
            continue
        ref = stats.wilcoxon(values, method="auto")  # scipy's own choice of exact / permutation / normal
        assert row["wilcoxon_p_value"] == pytest.approx(ref.pvalue, rel=1e-9), (name, values)
        if values.size <= 13:
            assert row["wilcoxon_method"] in ("exact", "permutation")


def test_no_test_on_a_single_episode() -> None:
    s = summarize(_changes_table({"a": [3.0]}), by="condition", min_cell=1).table
    assert s.select("wilcoxon_p_value", "wilcoxon_method", "p_value").row(0) == (None, None, None)
    assert "one complete episode" in s["notes"][0]


# ----------------------------------------------------------------- 2. percent change on signed scales


def _signed_dataset(folder: Path, values: list[tuple[str, float, float]], better: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    eps = [EPISODES_HEADER] + [f"{e},P{e},knee_oa,2025-01-01" for e, _, _ in values]
    meas = [MEASUREMENTS_HEADER]
    for e, before, after in values:
        meas += [f"{e},2025-01-01,ext,{before},", f"{e},2025-02-01,ext,{after},"]
    (folder / "episodes.csv").write_text("\n".join(eps) + "\n")
    (folder / "treatments.csv").write_text("episode_id,visit_date,cpt_code,technique\n")
    (folder / "measurements.csv").write_text("\n".join(meas) + "\n")
    (folder / "measures.csv").write_text(
        f"{MEASURES_HEADER}\next,Signed custom measure,rom,points,-20,20,{better},,30,\n"
    )
    return folder


def test_percent_change_divides_by_the_absolute_baseline(tmp_path: Path) -> None:
    # higher is better on a -20..20 scale: -4 -> -6 is a worsening of 2 (-50 %), -4 -> -1 an improvement of 3 (+75 %)
    ds = read_dataset(_signed_dataset(tmp_path / "d", [("E1", -4, -6), ("E2", -4, -1), ("E3", 0, 2)], "higher"))
    assert ds.is_clean
    ch = episode_changes(ds).sort("episode_id")
    assert ch["improvement"].to_list() == [-2.0, 3.0, 2.0]
    assert ch["pct_improvement"].to_list() == [pytest.approx(-50.0), pytest.approx(75.0), None]
    assert ch["responder"].to_list() == [False, True, False]  # mcid_pct 30; a baseline of 0 has no percent


def test_no_negative_zero_is_written(tmp_path: Path) -> None:
    ds = read_dataset(_signed_dataset(tmp_path / "d", [("E1", 5, 5)], "lower"))
    ch = episode_changes(ds)
    assert np.signbit(ch["improvement"].to_numpy()).tolist() == [False]
    assert np.signbit(ch["pct_improvement"].to_numpy()).tolist() == [False]


# ----------------------------------------------------------------- 4. bootstrap below the minimum


def test_bootstrap_interval_is_empty_below_the_minimum_with_the_reason() -> None:
    small = [1.0, 3.0, 2.0, 5.0, 4.0]
    big = np.random.default_rng(3).normal(2, 1, BOOTSTRAP_MIN_N).round(1).tolist()
    s = summarize(
        _changes_table({"big": big, "small": small}), by="condition", min_cell=1, bootstrap=True, rng=1
    ).table.sort("condition")
    assert s["boot_ci_low"][0] is not None
    assert s["boot_ci_low"][1] is None
    assert f"fewer than {BOOTSTRAP_MIN_N} complete episodes: no bootstrap interval" in s["notes"][1]
    lo, hi = bca_mean_intervals([np.array([1.0, 3.0])], rng=np.random.default_rng(0))
    assert np.isnan(lo[0])
    assert np.isnan(hi[0])


# ----------------------------------------------------------------- 6. degenerate groups, bad values


def test_all_equal_improvements_leave_interval_p_and_srm_empty_alike() -> None:
    s = summarize(_changes_table({"a": [2.0] * 12}), by="condition", min_cell=1, bootstrap=True, rng=1).table
    row = s.row(0, named=True)
    for c in ("ci_low", "ci_high", "p_value", "srm", "srm_ci_low", "boot_ci_low"):
        assert row[c] is None, c
    assert row["mean_improvement"] == 2.0
    assert "every improvement is the same" in row["notes"]
    lo, hi, p = mean_interval_stats(2.0, 0.0, 12)
    assert np.isnan(lo)
    assert np.isnan(hi)
    assert np.isnan(p)


def test_two_episodes_have_srm_but_g_av_is_empty_with_the_reason() -> None:
    s = summarize(_changes_table({"a": [1.0, 3.0]}), by="condition", min_cell=1).table
    row = s.row(0, named=True)
    assert row["srm"] == pytest.approx(2.0 / np.std([1.0, 3.0], ddof=1))
    assert row["g_av"] is None
    assert "g_av needs 3 complete episodes" in row["notes"]


def test_a_complete_row_without_improvement_is_refused() -> None:
    table = _changes_table({"a": [1.0, 2.0, 3.0]}).with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("improvement")).alias("improvement")
    )
    with pytest.raises(ValueError, match=r"1 row.*status 'complete' have an empty or non-finite improvement"):
        summarize(table, by="condition", min_cell=1)
    from outcomes import compare

    with pytest.raises(ValueError, match="non-finite improvement"):
        compare(table.with_columns(technique=pl.lit("x")), between="technique", within=(), min_cell=1)


def test_infinite_values_and_impossible_p_values_raise() -> None:
    with pytest.raises(ValueError, match=r"differences must be finite .* got inf at position 1"):
        srm([1, np.inf, 3, 2])
    assert srm([1, np.nan, 3, 2]).n == 3  # NaN is missing and dropped
    with pytest.raises(ValueError, match=r"between 0 and 1 .* got 1.5 at position 1"):
        holm([0.2, 1.5, -0.1])
    with pytest.raises(ValueError, match=r"got -0\.1 at position 0"):
        holm([-0.1, 0.2])
    assert np.isnan(holm([np.nan, 0.01])[0])


def test_the_demo_writes_no_negative_zero() -> None:
    from outcomes.synth import demo_dataset_path

    ch = episode_changes(read_dataset(demo_dataset_path()))
    for c in ("change", "improvement", "pct_improvement"):
        values = ch[c].drop_nulls().to_numpy()
        assert not (np.signbit(values) & (values == 0)).any(), c


# ----------------------------------------------------------------- 7. responder rule


def test_responder_rules_on_the_issue_case(tmp_path: Path) -> None:
    # NPRS (catalog: mcid 2, mcid_pct 30): 3 -> 2 is one point (33 %); 7 -> 5 two points (29 %); 6 -> 3 both
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "episodes.csv").write_text(
        EPISODES_HEADER + "\nE1,P1,neck_pain,2025-01-01\nE2,P2,neck_pain,2025-01-01\nE3,P3,neck_pain,2025-01-01\n"
    )
    (folder / "treatments.csv").write_text("episode_id,visit_date,cpt_code,technique\n")
    rows = [("E1", 3, 2), ("E2", 7, 5), ("E3", 6, 3)]
    (folder / "measurements.csv").write_text(
        MEASUREMENTS_HEADER
        + "\n"
        + "".join(f"{e},2025-01-01,nprs,{a},\n{e},2025-02-01,nprs,{b},\n" for e, a, b in rows)
    )
    ds = read_dataset(folder)
    expected = {
        "either": [True, True, True],
        "both": [False, False, True],
        "absolute": [False, True, True],
        "percent": [True, False, True],
    }
    assert set(expected) == set(RESPONDER_RULES)
    for rule, want in expected.items():
        got = episode_changes(ds, responder_rule=rule).sort("episode_id")["responder"].to_list()
        assert got == want, rule
    with pytest.raises(ValueError, match="responder_rule must be one of either, both, absolute, percent"):
        episode_changes(ds, responder_rule="any")


# ----------------------------------------------------------------- 9. dataframes from the Python ecosystem


def test_pandas_input_is_converted_and_other_inputs_get_advice() -> None:
    import pandas as pd

    from outcomes import compare

    table = _changes_table({"a": [1.0, 2.0, 3.0, 5.0], "b": [0.0, 1.0, 1.0, 2.0]})
    want = summarize(table, by="condition", min_cell=1).table
    got = summarize(table.to_pandas(), by="condition", min_cell=1).table
    assert got.equals(want)
    frame = table.with_columns(technique=pl.col("condition"))
    assert compare(frame.to_pandas(), between="technique", within=(), min_cell=1).table.equals(
        compare(frame, between="technique", within=(), min_cell=1).table
    )
    assert isinstance(frame.to_pandas(), pd.DataFrame)
    with pytest.raises(TypeError, match=r"changes must be a dataframe .* got dict"):
        summarize(table.to_dict(as_series=False), by="condition")  # type: ignore[arg-type]
