"""Tests of outcomes.compare (comparisons between groups) against independent computations.

A ``changes``-like table is built by hand from seeded random numbers; the
complete episodes' values are kept aside in plain numpy arrays, and every
statistic of every pair is recomputed from those arrays here: Welch's test
with ``scipy.stats.ttest_ind(equal_var=False)``, Hedges' g from the pooled SD
with the gamma-function J and a ``brentq`` inversion of ``scipy.stats.nct``,
Cliff's delta by a double loop, Holm by ``statsmodels`` ``multipletests``,
and the baseline-adjusted differences by one ``statsmodels`` OLS fit per
family of improvement ~ group + baseline on every group of the family, each
pair a contrast of that fit (``t_test``), with the group x baseline
interaction from ``compare_f_test`` against the separate-slopes fit. The table also
holds incomplete episodes with extreme numbers, which must not matter.
"""

from __future__ import annotations

import gc
import math
from itertools import combinations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy import optimize
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from outcomes import compare
from outcomes.stats import ancova_fit, ancova_pairs

MEASURES = ("nprs", "odi")  # a 0-10 and a 0-100 scale
# Techniques listed out of alphabetical order, so that a pair built in data order would come out reversed.
DESIGN = {
    "neck_pain": {"soft_tissue": 23, "manipulation": 12, "mobilization": 37},
    "low_back_pain": {"mobilization": 40, "dry_needling": 17, "manipulation": 29},
}
ONLY_INCOMPLETE = ("neck_pain", "traction")  # a technique with episodes, none of them complete

# Contract ("Output: comparisons between groups") plus side and suppressed, in order.
CONTRACT_COLUMNS = [
    "measure",
    "side",
    "group_a",
    "group_b",
    "n_a",
    "n_b",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "hedges_g",
    "g_ci_low",
    "g_ci_high",
    "cliffs_delta",
    "p_value",
    "p_adjusted",
    "adjusted_diff",
    "adjusted_ci_low",
    "adjusted_ci_high",
    "adjusted_p_value",
    "adjusted_p_holm",
    "baseline_slope",
    "slope_interaction_p",
    "suppressed",
]
STAT_COLUMNS = CONTRACT_COLUMNS[6:-1]

SCHEMA = {
    "condition": pl.String,
    "technique": pl.String,
    "measure": pl.String,
    "side": pl.String,
    "status": pl.String,
    "baseline": pl.Float64,
    "final": pl.Float64,
    "change": pl.Float64,
    "improvement": pl.Float64,
    "responder": pl.Boolean,
}

Key = tuple[str, str, str]  # (condition, measure, technique)
Truth = dict[Key, tuple[np.ndarray, np.ndarray]]  # complete episodes: (baseline, improvement)


@pytest.fixture(autouse=True)
def _fast_multipletests(monkeypatch: pytest.MonkeyPatch) -> None:
    """statsmodels' multipletests(method="holm") runs gc.collect() on every call (~0.2 s under pytest);
    make that a no-op here, which changes nothing in its arithmetic."""
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


# ----------------------------------------------------------------- test data


def build_changes(
    seed: int, design: dict[str, dict[str, int]], *, incomplete: bool = True
) -> tuple[pl.DataFrame, Truth]:
    """A changes-like table and, kept apart, the baseline and improvement of its complete episodes."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    truth: Truth = {}

    def add(condition: str, technique: str, measure: str, status: str, baseline, final, change, improvement, responder):
        rows.append(
            {
                "condition": condition,
                "technique": technique,
                "measure": measure,
                "side": None,
                "status": status,
                "baseline": baseline,
                "final": final,
                "change": change,
                "improvement": improvement,
                "responder": responder,
            }
        )

    for condition, techniques in design.items():
        for measure in MEASURES:
            scale = 1.0 if measure == "nprs" else 8.0
            for technique, n in techniques.items():
                effect = rng.normal(0, 1.0)
                baseline = np.round(rng.normal(6, 1.5, n) * scale, 1)
                # improvement depends on baseline (so the ANCOVA adjustment matters); 1 decimal gives ties
                improvement = np.round((0.4 * (baseline / scale - 6) + 1.5 + effect + rng.normal(0, 1.3, n)) * scale, 1)
                final = baseline - improvement
                for x, y, f in zip(baseline, improvement, final, strict=True):
                    add(
                        condition, technique, measure, "complete", float(x), float(f), float(-y), float(y), bool(y >= 2)
                    )
                truth[(condition, measure, technique)] = (baseline, improvement)
                if incomplete:
                    # no follow-up: extreme baseline, empty change columns
                    add(condition, technique, measure, "no_followup", 999.0, None, None, None, None)
                    add(condition, technique, measure, "no_followup", -999.0, None, None, None, None)
                    # a contract-violating incomplete row with numbers everywhere: must still be ignored
                    add(condition, technique, measure, "no_followup", 999.0, -999.0, -1998.0, 1998.0, True)
                    add(condition, technique, measure, "no_baseline", None, 999.0, None, None, None)
    if incomplete and ONLY_INCOMPLETE[0] in design:
        for measure in MEASURES:
            add(ONLY_INCOMPLETE[0], ONLY_INCOMPLETE[1], measure, "no_followup", 5.0, None, None, None, None)
            add(ONLY_INCOMPLETE[0], ONLY_INCOMPLETE[1], measure, "no_followup", 999.0, 0.0, -999.0, 999.0, True)
    order = rng.permutation(len(rows))  # row order must not matter
    return pl.DataFrame([rows[i] for i in order], schema=SCHEMA), truth


# ----------------------------------------------------------------- independent references


def ref_j(v: float) -> float:
    """Hedges (1981) exact factor J(v) = Gamma(v/2) / (sqrt(v/2) Gamma((v-1)/2)), with math.gamma."""
    return math.gamma(v / 2) / (math.sqrt(v / 2) * math.gamma((v - 1) / 2))


def ref_ncp(t: float, df: float, target: float) -> float:
    """Solve scipy.stats.nct.cdf(t, df, ncp) = target by brentq, bracket doubling outward from t."""

    def f(ncp: float) -> float:
        return float(sps.nct.cdf(t, df, ncp)) - target

    step = 1.0
    while not f(t - step) > 0:
        step *= 2
    a = t - step
    step = 1.0
    while not f(t + step) < 0:
        step *= 2
    return float(optimize.brentq(f, a, t + step, xtol=1e-13, rtol=4 * np.finfo(float).eps))


def brute_cliff(a: np.ndarray, b: np.ndarray) -> float:
    """P(a > b) - P(a < b) by a double loop over all pairs (Cliff 1993)."""
    score = 0
    for x in a.tolist():
        for y in b.tolist():
            score += (x > y) - (x < y)
    return score / (len(a) * len(b))


def reference(ba: np.ndarray, ia: np.ndarray, bb: np.ndarray, ib: np.ndarray, level: float) -> dict[str, float]:
    """Every statistic of one pair (a minus b) from the raw values, without the package."""
    alpha = 1 - level
    welch = sps.ttest_ind(ia, ib, equal_var=False)
    ci = welch.confidence_interval(confidence_level=level)

    na, nb = len(ia), len(ib)
    df = na + nb - 2
    pooled = math.sqrt(((na - 1) * np.var(ia, ddof=1) + (nb - 1) * np.var(ib, ddof=1)) / df)
    d = (np.mean(ia) - np.mean(ib)) / pooled
    root = math.sqrt(1 / na + 1 / nb)
    j = ref_j(df)
    g_lo = ref_ncp(d / root, df, 1 - alpha / 2) * root  # the exact interval for delta: no J on the limits
    g_hi = ref_ncp(d / root, df, alpha / 2) * root

    return {
        "diff": float(np.mean(ia) - np.mean(ib)),
        "diff_ci_low": float(ci.low),
        "diff_ci_high": float(ci.high),
        "p_value": float(welch.pvalue),
        "hedges_g": d * j,
        "g_ci_low": g_lo,
        "g_ci_high": g_hi,
        "cliffs_delta": brute_cliff(ia, ib),
    }


def family_ancova(
    groups: dict[str, tuple[np.ndarray, np.ndarray]], level: float
) -> tuple[dict[tuple[str, str], dict[str, float]], float, float]:
    """statsmodels OLS of improvement ~ group + baseline on all groups of one family (names sorted).

    Returns per pair (a, b) the contrast a - b with its interval and p-value, the common slope, and
    the p-value of the F test of separate slopes per group against it.
    """
    names = sorted(groups)
    y = np.concatenate([groups[g][1] for g in names])
    x = np.concatenate([groups[g][0] for g in names])
    member = np.concatenate([np.full(len(groups[g][1]), i) for i, g in enumerate(names)])
    # one intercept per group (no common one), then the common slope; a - b is the contrast e_a - e_b
    indicators = np.column_stack([(member == i).astype(float) for i in range(len(names))])
    reduced = sm.OLS(y, np.column_stack([indicators, x])).fit()
    # separate slopes: one per group whose baseline varies (a constant baseline has no slope of its own)
    varies = [i for i, g in enumerate(names) if np.ptp(groups[g][0]) > 0]
    full = sm.OLS(y, np.column_stack([indicators, *(indicators[:, i] * x for i in varies)])).fit()
    interaction_p = full.compare_f_test(reduced)[1] if len(varies) >= 2 and full.df_resid >= 1 else np.nan
    pairs = {}
    for (i, a), (j, b) in combinations(enumerate(names), 2):
        contrast = np.zeros(reduced.params.size)
        contrast[i], contrast[j] = 1.0, -1.0
        t = reduced.t_test(contrast)
        lo, hi = np.asarray(t.conf_int(alpha=1 - level)).ravel()
        pairs[(a, b)] = {
            "adjusted_diff": float(np.asarray(t.effect).ravel()[0]),
            "adjusted_ci_low": float(lo),
            "adjusted_ci_high": float(hi),
            "adjusted_p_value": float(np.asarray(t.pvalue).ravel()[0]),
        }
    return pairs, float(reduced.params[-1]), float(interaction_p)


TOLERANCE = {  # relative; absolute 1e-10 as well (a CI limit may sit near zero)
    "diff": 1e-10,
    "diff_ci_low": 1e-9,
    "diff_ci_high": 1e-9,
    "p_value": 1e-8,
    "hedges_g": 1e-10,
    "g_ci_low": 1e-8,  # bisection (package) vs brentq (here), both to ~1e-12
    "g_ci_high": 1e-8,
    "cliffs_delta": 1e-12,
    "adjusted_diff": 1e-8,  # sufficient statistics (package) vs QR least squares (statsmodels)
    "adjusted_ci_low": 1e-8,
    "adjusted_ci_high": 1e-8,
    "adjusted_p_value": 1e-7,
    "adjusted_p_holm": 1e-7,
    "baseline_slope": 1e-8,
    "slope_interaction_p": 1e-7,
    "p_adjusted": 1e-8,
}


def expected_table(truth: Truth, level: float, strata: bool = True) -> dict[tuple[str, ...], dict[str, float]]:
    """Reference rows keyed by (condition, measure, group_a, group_b), or (measure, a, b) when pooled,
    with Holm over each family's reference p-values."""
    pooled: dict[tuple[str, ...], list[tuple[np.ndarray, np.ndarray]]] = {}
    for (condition, measure, technique), values in truth.items():
        family = (condition, measure) if strata else (measure,)
        pooled.setdefault((*family, technique), []).append(values)
    groups = {k: (np.concatenate([v[0] for v in vs]), np.concatenate([v[1] for v in vs])) for k, vs in pooled.items()}
    out: dict[tuple[str, ...], dict[str, float]] = {}
    families = sorted({k[:-1] for k in groups})
    for family in families:
        names = sorted(k[-1] for k in groups if k[:-1] == family)
        ancova, slope, interaction_p = family_ancova({g: groups[(*family, g)] for g in names}, level)
        keys = []
        for a, b in combinations(names, 2):  # combinations of a sorted list: a sorts before b
            (ba, ia), (bb, ib) = groups[(*family, a)], groups[(*family, b)]
            row = reference(ba, ia, bb, ib, level)
            row.update(n_a=len(ia), n_b=len(ib), baseline_slope=slope, slope_interaction_p=interaction_p)
            row.update(ancova[(a, b)])
            out[(*family, a, b)] = row
            keys.append((*family, a, b))
        adjusted = multipletests([out[k]["p_value"] for k in keys], method="holm")[1]
        adjusted_ancova = multipletests([out[k]["adjusted_p_value"] for k in keys], method="holm")[1]
        for k, p_adj, p_anc in zip(keys, adjusted, adjusted_ancova, strict=True):
            out[k]["p_adjusted"] = float(p_adj)
            out[k]["adjusted_p_holm"] = float(p_anc)
    return out


def assert_row_matches(row: dict[str, object], expected: dict[str, float], where: object) -> None:
    assert (row["n_a"], row["n_b"]) == (expected["n_a"], expected["n_b"]), where
    for col, rel in TOLERANCE.items():
        got = row[col]
        assert got is not None, (where, col)
        assert got == pytest.approx(expected[col], rel=rel, abs=1e-10), (where, col)


# ----------------------------------------------------------------- the main comparison


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, Truth]:
    return build_changes(2024, DESIGN)


@pytest.fixture(scope="module", params=[(0.95, False), (0.9, True)], ids=["level95-frame", "level90-lazy"])
def compared(request: pytest.FixtureRequest, data: tuple[pl.DataFrame, Truth]) -> tuple:
    level, lazy = request.param
    changes, truth = data
    result = compare(
        changes.lazy() if lazy else changes,
        between="technique",
        within="condition",
        min_cell=1,
        confidence_level=level,
    ).table
    return result, expected_table(truth, level)


def test_test_data_has_the_traps(data: tuple[pl.DataFrame, Truth]) -> None:
    # The premise of the tests below: incomplete episodes with extreme non-null numbers, unsorted technique order.
    changes, truth = data
    bad = changes.filter(pl.col("status") != "complete")
    assert bad.filter(pl.col("baseline") == 999.0).height > 0
    assert bad.filter(pl.col("improvement").is_not_null()).height > 0
    assert list(DESIGN["neck_pain"]) != sorted(DESIGN["neck_pain"])
    assert changes.filter(pl.col("status") == "complete").height == sum(len(v[1]) for v in truth.values())
    assert all(12 <= n <= 40 for techniques in DESIGN.values() for n in techniques.values())


def test_columns_and_sort_order(compared: tuple) -> None:
    result, _ = compared
    assert result.columns == ["condition", *CONTRACT_COLUMNS]
    keys = result.select("condition", "measure", "group_a", "group_b").rows()
    assert keys == sorted(keys)
    assert result["side"].null_count() == result.height  # no sides in these measures
    assert not result["suppressed"].any()  # min_cell=1


def test_pairs_are_each_combination_once_and_ordered(compared: tuple) -> None:
    result, expected = compared
    keys = result.select("condition", "measure", "group_a", "group_b").rows()
    assert len(keys) == len(set(keys))  # no pair twice
    assert all(a < b for _, _, a, b in keys)
    assert set(keys) == set(expected)  # all pairs of techniques with complete episodes, and only those
    assert ONLY_INCOMPLETE[1] not in set(result["group_a"]) | set(result["group_b"])
    # 2 conditions x 2 measures x C(3, 2) pairs
    assert result.height == 12


def test_every_statistic_matches_independent_computation(compared: tuple) -> None:
    result, expected = compared
    for row in result.iter_rows(named=True):
        key = (row["condition"], row["measure"], row["group_a"], row["group_b"])
        assert_row_matches(row, expected[key], key)


def test_diff_sign_is_a_minus_b(compared: tuple, data: tuple[pl.DataFrame, Truth]) -> None:
    # diff is the mean improvement of the alphabetically first technique minus the other's (numpy means)
    result, _ = compared
    _, truth = data
    row = result.filter(condition="neck_pain", measure="nprs", group_a="manipulation", group_b="soft_tissue").row(
        0, named=True
    )
    expected = np.mean(truth[("neck_pain", "nprs", "manipulation")][1]) - np.mean(
        truth[("neck_pain", "nprs", "soft_tissue")][1]
    )
    assert abs(expected) > 0.1  # the seed gives a difference whose sign is visible
    assert row["diff"] == pytest.approx(expected, rel=1e-10)
    assert row["hedges_g"] * expected > 0
    assert row["diff_ci_low"] < row["diff"] < row["diff_ci_high"]


def test_pooled_across_the_whole_dataset(data: tuple[pl.DataFrame, Truth]) -> None:
    # within=(): techniques are compared over both conditions together; families are measures.
    changes, truth = data
    result = compare(changes, between="technique", within=(), min_cell=1).table
    assert result.columns == CONTRACT_COLUMNS
    expected = expected_table(truth, 0.95, strata=False)
    keys = result.select("measure", "group_a", "group_b").rows()
    assert sorted(keys) == sorted(expected)
    for row in result.iter_rows(named=True):
        key = (row["measure"], row["group_a"], row["group_b"])
        assert_row_matches(row, expected[key], key)


# ----------------------------------------------------------------- suppression


SUPPRESSION_DESIGN = {
    "neck_pain": {"zz_small": 6, "manipulation": 25, "mobilization": 31, "soft_tissue": 22},
    "low_back_pain": {"manipulation": 20, "mobilization": 24, "dry_needling": 18},
}


@pytest.mark.parametrize(("min_cell", "small_suppressed"), [(7, True), (6, False), (18, True)])
def test_suppressed_pairs_are_empty_and_leave_their_family(min_cell: int, small_suppressed: bool) -> None:
    # Groups with fewer than min_cell complete episodes are suppressed: with min_cell=6 the group of 6 is kept,
    # with 7 it is not; with 18 it is suppressed and the group of 18 (dry_needling) is still kept.
    changes, truth = build_changes(7, SUPPRESSION_DESIGN)
    result = compare(changes, between="technique", within="condition", min_cell=min_cell).table
    expected = expected_table(truth, 0.95)
    keys = result.select("condition", "measure", "group_a", "group_b").rows()
    assert set(keys) == set(expected)  # suppressed pairs stay in the table

    for row in result.iter_rows(named=True):
        key = (row["condition"], row["measure"], row["group_a"], row["group_b"])
        involved = "zz_small" in (row["group_a"], row["group_b"])
        assert row["suppressed"] is (involved and small_suppressed), key
        assert (row["n_a"], row["n_b"]) == (expected[key]["n_a"], expected[key]["n_b"])
        if row["suppressed"]:
            assert all(row[c] is None for c in STAT_COLUMNS), key

    # Holm over the p-values (scipy) of the pairs that are left, per family
    for (condition, measure), frame in result.filter(~pl.col("suppressed")).group_by("condition", "measure"):
        rows = frame.rows(named=True)
        ref_p = [expected[(condition, measure, r["group_a"], r["group_b"])]["p_value"] for r in rows]
        holm = multipletests(ref_p, method="holm")[1]
        if condition == "neck_pain":
            assert len(rows) == (3 if small_suppressed else 6)
        for r, p_adj, p in zip(rows, holm, ref_p, strict=True):
            assert r["p_value"] == pytest.approx(p, rel=1e-8)
            assert r["p_adjusted"] == pytest.approx(float(p_adj), rel=1e-8, abs=1e-12)
            for col in ("diff", "hedges_g", "cliffs_delta", "adjusted_diff"):
                assert r[col] == pytest.approx(expected[(condition, measure, r["group_a"], r["group_b"])][col])


# ----------------------------------------------------------------- argument checks


def test_invalid_arguments_raise(data: tuple[pl.DataFrame, Truth]) -> None:
    changes, _ = data
    with pytest.raises(ValueError, match="min_cell"):
        compare(changes, min_cell=0)
    with pytest.raises(ValueError, match="confidence_level"):
        compare(changes, confidence_level=1.0)
    with pytest.raises(ValueError, match="both"):
        compare(changes, between="condition", within="condition")
    with pytest.raises(ValueError, match="lacks column"):
        compare(changes.drop("baseline"))


# ----------------------------------------------------------------- ancova_fit / ancova_pairs


def sufficient(x: np.ndarray, y: np.ndarray) -> tuple[float, ...]:
    """n, mean x, mean y, Sxx, Syy, Sxy about the group means (numpy sums)."""
    dx, dy = x - x.mean(), y - y.mean()
    return len(x), x.mean(), y.mean(), float(dx @ dx), float(dy @ dy), float(dx @ dy)


@pytest.mark.parametrize("level", [0.95, 0.9, 0.99])
@pytest.mark.parametrize("sizes", [(2, 2), (3, 5, 1), (12, 30, 7, 2), (40, 17, 60)])
def test_ancova_matches_statsmodels_on_several_groups(level: float, sizes: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(sizes))
    groups = {}
    for i, n in enumerate(sizes):
        x = rng.normal(5 + i, 2, n)
        groups[f"g{i}"] = (x, (0.7 + 0.2 * i) * x + i + rng.normal(0, 1, n))
    names = sorted(groups)
    fit = ancova_fit(*np.array([sufficient(*groups[g]) for g in names], dtype=float).T)
    if sum(sizes) - len(sizes) - 1 < 1:
        assert not fit.valid  # (2, 2): no residual degrees of freedom
        return
    want, slope, interaction_p = family_ancova(groups, level)
    assert fit.slope == pytest.approx(slope, rel=1e-9)
    if np.isfinite(interaction_p):
        assert fit.interaction_p == pytest.approx(interaction_p, rel=1e-7, abs=1e-12)
    pairs = list(combinations(range(len(names)), 2))
    adj, lo, hi, p = ancova_pairs(fit, [a for a, _ in pairs], [b for _, b in pairs], confidence_level=level)
    for k, (a, b) in enumerate(pairs):
        ref = want[(names[a], names[b])]
        assert adj[k] == pytest.approx(ref["adjusted_diff"], rel=1e-9, abs=1e-12)
        assert lo[k] == pytest.approx(ref["adjusted_ci_low"], rel=1e-8, abs=1e-12)
        assert hi[k] == pytest.approx(ref["adjusted_ci_high"], rel=1e-8, abs=1e-12)
        assert p[k] == pytest.approx(ref["adjusted_p_value"], rel=1e-7, abs=1e-14)


def test_adjusted_differences_add_up_within_a_family() -> None:
    rng = np.random.default_rng(5)
    stats_ = [sufficient(x, 0.5 * x + rng.normal(0, 1, 30)) for x in (rng.normal(m, 1, 30) for m in (4, 5, 7))]
    fit = ancova_fit(*np.array(stats_, dtype=float).T)
    adj, *_ = ancova_pairs(fit, [0, 1, 0], [1, 2, 2])
    assert adj[0] + adj[1] == pytest.approx(adj[2], rel=1e-12)


def test_ancova_undefined_cases() -> None:
    # baseline constant within every group: no slope, no adjusted difference
    a_const = sufficient(np.full(5, 4.0), np.array([1.0, 2.0, 0.0, 3.0, 1.0]))
    b_const = sufficient(np.full(6, 7.0), np.array([2.0, 2.5, 1.0, 0.0, 1.0, 4.0]))
    fit = ancova_fit(*np.array([a_const, b_const], dtype=float).T)
    assert not fit.valid
    adj, lo, hi, p = ancova_pairs(fit, [0], [1])
    assert np.isnan([adj[0], lo[0], hi[0], p[0]]).all()
    with pytest.raises(ValueError, match="at least one observation"):
        ancova_fit([0, 3], [1, 1], [1, 1], [0, 1], [0, 1], [0, 1])


def test_compare_adjusted_differences_add_up_on_the_demo() -> None:
    # the case: fitted pair by pair, adj(a-b) + adj(b-c) was 1.456 against adj(a-c) 1.476
    from outcomes import episode_changes, read_dataset
    from outcomes.synth import demo_dataset_path

    c = compare(episode_changes(read_dataset(demo_dataset_path())), min_cell=1).table
    fam = c.filter(condition="low_back_pain", measure="nprs")
    adj = {(r["group_a"], r["group_b"]): r["adjusted_diff"] for r in fam.iter_rows(named=True)}
    names = sorted({n for pair in adj for n in pair})
    assert len(names) >= 3
    for a, b, d in combinations(names, 3):
        assert adj[(a, b)] + adj[(b, d)] == pytest.approx(adj[(a, d)], rel=1e-9, abs=1e-12)
    assert fam["baseline_slope"].n_unique() == 1  # one model per family
