"""Benchmarking on the synthetic network with known clinic and therapist effects (issue 12, "done when").

``make_demo`` draws case mix that changes improvement and differs between therapists (T02 sees mostly chronic
patients and has a true effect of exactly 0) and writes the true effect of every unit (``unit_truth``, Monte Carlo
from the sampling model). Over several seeds the risk-adjusted and shrunken scores must be closer to those truths
than raw means, their intervals must cover them near the nominal rate, and T02 must be flagged low on raw means
but not after adjustment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from outcomes import benchmark, episode_changes, read_dataset
from outcomes.synth import make_demo, write_demo

SEEDS = (31, 32, 33, 34)
N_EPISODES = 4000


@pytest.fixture(scope="module")
def networks(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """(complete NPRS changes, true unit effects) per seed, read through the package's own validation."""
    out = []
    for seed in SEEDS:
        folder = tmp_path_factory.mktemp(f"demo{seed}")
        demo = write_demo(folder, N_EPISODES, seed=seed, format="parquet")
        changes = episode_changes(read_dataset(folder))
        out.append((changes, demo.unit_truth))
    return out


def _compare(changes: pl.DataFrame, truth: pl.DataFrame, unit: str) -> pl.DataFrame:
    """Per unit: raw deviation from the overall mean, adjusted and shrunken scores, their intervals, the truth."""
    b = benchmark(changes, unit=unit, measure="nprs", min_reliability=0)
    complete = changes.filter(measure="nprs", status="complete")
    overall = complete["improvement"].mean()
    raw = complete.group_by(unit).agg(
        (pl.col("improvement").mean() - overall).alias("raw"),
        pl.col("improvement").len().alias("n_raw"),
    )
    sd = complete["improvement"].std()
    true = truth.filter(unit_column=unit, measure="nprs").select(pl.col("unit").alias(unit), "true_effect")
    return (
        b.table.join(raw, on=unit)
        .join(true, on=unit)
        .with_columns(raw_low=pl.col("raw") < -stats.norm.ppf(0.975) * sd / pl.col("n_raw").sqrt())
        .sort(unit)
    )


def test_the_truth_is_the_design() -> None:
    truth = make_demo(10, seed=1).unit_truth
    therapists = truth.filter(unit_column="therapist_id", measure="odi")  # odi: every clinic records it
    assert therapists.height == 12
    assert therapists.filter(unit="T02")["true_effect"].item() == 0.0  # the neutral therapist, same draws
    # effects average 0 over the network (as drawn, in efficacy units); on the ODI scale nearly so
    assert abs(therapists["true_effect"].mean()) < 0.05 * therapists["true_effect"].std()
    # NPRS is recorded at C01-C03 only, VAS at C04
    nprs = truth.filter(measure="nprs")
    assert set(nprs["unit"]) == {"C01", "C02", "C03", *[f"T{i:02d}" for i in range(1, 10)]}


def test_case_mix_differs_between_units_as_designed() -> None:
    ep = make_demo(6000, seed=7).episodes
    chronic = ep.group_by("therapist_id").agg(pl.col("chronicity").eq("chronic").mean().alias("share"))
    share = dict(chronic.iter_rows())
    assert share["T02"] > 0.8
    assert share["T08"] < 0.15
    others = [v for k, v in share.items() if k not in ("T02", "T08")]
    assert 0.35 < np.mean(others) < 0.45
    age = dict(ep.group_by("clinic_id").agg(pl.col("age").mean()).iter_rows())
    assert age["C02"] - age["C03"] > 8  # +6 and -5 years on the mean age, before clipping at 18-92
    assert ep.filter(condition="post_surgical")["surgical"].all()
    assert not ep.filter(condition="neck_pain")["surgical"].any()
    rc = ep.filter(condition="rotator_cuff")["surgical"].mean()
    assert 0.25 < rc < 0.45  # 35% of rotator-cuff episodes follow a repair


def test_case_mix_changes_improvement_in_the_designed_direction(
    networks: list[tuple[pl.DataFrame, pl.DataFrame]],
) -> None:
    # Least squares of NPRS improvement on the case mix (numpy, independent of the package's risk model):
    # design effects per unit of efficacy x the NPRS gain of 4 points, attenuated a little by the 0-10 floor.
    changes = pl.concat([c for c, _ in networks]).filter(measure="nprs", status="complete")
    x = np.column_stack(
        [
            np.ones(changes.height),
            changes["baseline"].to_numpy(),
            changes["age"].to_numpy() / 10,
            changes["chronicity"].eq("chronic").to_numpy(),
            changes["comorbidities"].to_numpy(),
            changes["prior_episodes"].to_numpy(),
        ]
    ).astype(float)
    beta = np.linalg.lstsq(x, changes["improvement"].to_numpy(), rcond=None)[0]
    designed = {"age": -0.03 * 4, "chronic": -0.22 * 4, "comorbidity": -0.04 * 4, "prior": -0.03 * 4}
    for (name, value), got in zip(designed.items(), beta[2:], strict=True):
        assert got < 0, name
        assert 0.4 * value > got > 1.6 * value, (name, got, value)


def test_adjusted_and_shrunken_scores_are_closer_to_the_truth(
    networks: list[tuple[pl.DataFrame, pl.DataFrame]],
) -> None:
    rmse: dict[str, list[float]] = {"raw": [], "adjusted": [], "shrunken": []}
    covered = shrunk_covered = total = 0
    for changes, truth in networks:
        t = _compare(changes, truth, "therapist_id")
        true = t["true_effect"].to_numpy()
        for name, column in (("raw", "raw"), ("adjusted", "residual_mean"), ("shrunken", "shrunken_residual")):
            rmse[name].append(float(np.sqrt(np.mean((t[column].to_numpy() - true) ** 2))))
        covered += int(((t["residual_ci_low"] <= t["true_effect"]) & (t["true_effect"] <= t["residual_ci_high"])).sum())
        z = stats.norm.ppf(0.975)
        est, sd = t["shrunken_residual"].to_numpy(), t["shrunken_sd"].to_numpy()
        shrunk_covered += int(((est - z * sd <= true) & (true <= est + z * sd)).sum())
        total += t.height
    mean = {k: float(np.mean(v)) for k, v in rmse.items()}
    print(mean, covered / total, shrunk_covered / total)
    # seen (4 seeds x 9 therapists): RMSE raw 0.22, adjusted 0.11, shrunken 0.10; coverage 0.94 and 0.94
    assert mean["adjusted"] < 0.7 * mean["raw"]
    assert mean["shrunken"] < mean["raw"]
    # 36 intervals at 95%: at least 30 cover (P(fewer) < 1% at the nominal rate, binomial)
    assert stats.binom.cdf(29, total, 0.95) < 0.01
    assert covered >= 30
    assert shrunk_covered >= 30


def test_the_chronic_therapist_is_flagged_on_raw_means_only(
    networks: list[tuple[pl.DataFrame, pl.DataFrame]],
) -> None:
    for changes, truth in networks:
        t02 = _compare(changes, truth, "therapist_id").filter(therapist_id="T02").row(0, named=True)
        assert t02["true_effect"] == 0.0
        assert t02["raw_low"], t02  # raw mean below the 95% funnel limit
        assert not t02["outside_95"], t02  # adjusted residual inside
        assert t02["residual_ci_low"] <= 0.0 <= t02["residual_ci_high"]


def test_clinic_scores_are_closer_to_the_truth_than_raw_means(
    networks: list[tuple[pl.DataFrame, pl.DataFrame]],
) -> None:
    raw = adjusted = 0.0
    for changes, truth in networks:
        t = _compare(changes, truth, "clinic_id")
        raw += float(np.mean((t["raw"] - t["true_effect"]).to_numpy() ** 2))
        adjusted += float(np.mean((t["residual_mean"] - t["true_effect"]).to_numpy() ** 2))
    # C02 (older patients) and C03 (younger) have raw means pushed by age and comorbidity
    assert adjusted < 0.5 * raw


def test_demo_folder_has_the_unit_truth(tmp_path: Path) -> None:
    demo = write_demo(tmp_path, 50, seed=2)
    written = pl.read_csv(tmp_path / "truth_units.csv")
    assert written.columns == ["unit_column", "unit", "measure", "true_effect"]
    np.testing.assert_allclose(written["true_effect"], demo.unit_truth["true_effect"], atol=1e-6)
