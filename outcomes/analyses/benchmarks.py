"""Stage 4: risk-adjusted benchmarking of therapists or clinics (observed against expected improvement).

A unit (therapist, clinic) is credited with how much more its patients
improved than patients like them would be expected to, not with how much
they improved: case mix (baseline, age, chronicity, ...) is taken out by a
risk model fitted on every complete episode of the measure, and a unit's
score is the mean of its episodes' residuals (observed - expected, the
FOTO-style score). Small units are noisy, so each score is also shrunk
toward the network (empirical Bayes) by its reliability
``R = tau2 / (tau2 + sigma2 / n)`` (Adams 2009), tau2 being the
between-unit variance of the residual means (one-way random-effects ANOVA,
:func:`outcomes.stats.random_effects_anova`) and sigma2 the within-unit one.

Where the measure has a responder threshold (an MCID), a second risk
model, a logistic regression of ``responder`` on the same case-mix design,
gives each episode a probability of responding; a unit's observed responders
over the sum of its episodes' probabilities (O / E, indirect
standardisation), times the overall responder rate, is its risk-adjusted
responder rate.

What the risk models cannot see (severity not recorded, motivation, ...)
stays in the scores; the result says which terms it used.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from outcomes.analyses.funnels import unit_episodes
from outcomes.analyses.results import TableResult
from outcomes.analyses.suppression import DEFAULT_MIN_CELL, check_min_cell, suppress
from outcomes.episodes import as_changes_frame, check_changes, responder_rule_of
from outcomes.stats import (
    independent_columns,
    mean_interval_stats,
    normal_limits,
    poisson_interval,
    random_effects_anova,
    rank_intervals,
    wilson_interval,
)
from outcomes.stats.weighting import SEPARATION_ETA

__all__ = ["BENCHMARK_COLUMNS", "DEFAULT_ADJUST", "BenchmarkResult", "benchmark"]

BENCHMARK_COLUMNS: tuple[str, ...] = (
    "measure",
    "n",
    "observed_mean",
    "expected_mean",
    "residual_mean",
    "residual_ci_low",
    "residual_ci_high",
    "shrunken_residual",
    "shrunken_sd",
    "reliability",
    "met_rate",
    "met_ci_low",
    "met_ci_high",
    "responders",
    "expected_responders",
    "adjusted_responder_rate",
    "adjusted_responder_ci_low",
    "adjusted_responder_ci_high",
    "rank",
    "rank_ci_low",
    "rank_ci_high",
    "outside_95",
    "outside_99_8",
    "suppressed",
    "reason",
)
"""Columns after the unit column."""

DEFAULT_ADJUST: tuple[str, ...] = (
    "baseline",
    "age",
    "sex",
    "chronicity",
    "payer",
    "condition",
    "body_region",
    "surgical",
    "comorbidities",
    "prior_episodes",
)
"""Risk-model terms by default, those of them the changes table has (and that vary)."""

_MOSTLY_MISSING = 0.5
"""A term missing in more than this share of the episodes is left out of the risk model."""

_STATS = [c for c in BENCHMARK_COLUMNS[2:] if c not in ("suppressed", "reason")]

_RESPONDER_STATS = (
    "responders",
    "expected_responders",
    "adjusted_responder_rate",
    "adjusted_responder_ci_low",
    "adjusted_responder_ci_high",
)


@dataclass(frozen=True, repr=False, eq=False)
class BenchmarkResult(TableResult):
    """Risk-adjusted scores of units (:func:`outcomes.benchmark`).

    Attributes
    ----------
    table : polars.DataFrame
        The unit column, then :data:`BENCHMARK_COLUMNS`, sorted by rank
        (scored units first, best first), then by unit.
    unit, measure : str
    side : str or None
    terms : tuple of str
        The risk model's terms (columns) actually used.
    min_n : int
        Units with fewer complete episodes are not scored.
    min_reliability : float
        Units whose reliability is lower are not scored.
    confidence_level : float
    tau2, sigma2 : float
        Between-unit and within-unit variance of the residuals.
    r_squared : float
        Of the risk model.
    responder_rule : str or None
        The rule the changes' ``responder`` column was computed with (their
        ``responder_rule`` column); None where the changes lack it.
    overall_responder_rate : float
        Responders / episodes with a responder value, over every unit's
        complete episodes (scored or not): the rate the adjusted responder
        rates are scaled to. NaN where no episode has a responder value.
    notes : tuple of str
        Terms left out and why, the mixed-model cross-check of tau2, and why
        the adjusted responder rates are empty or which episodes they leave
        out.
    min_cell : int
        The small-cell threshold: tables show fewer episodes as ``< min_cell``.
    """

    unit: str
    measure: str
    side: str | None
    terms: tuple[str, ...]
    min_n: int
    min_reliability: float
    confidence_level: float
    tau2: float
    sigma2: float
    r_squared: float
    responder_rule: str | None
    overall_responder_rate: float
    notes: tuple[str, ...]
    min_cell: int = DEFAULT_MIN_CELL


def _design(rows: pl.DataFrame, terms: Sequence[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """The risk model's design matrix (intercept first), the terms used and notes on those left out.

    Columns that are linear combinations of the others (a body region implied by the condition, say)
    are dropped; a term that loses every column is named in the notes.
    """
    columns: list[np.ndarray] = []
    owner: list[str] = []
    notes: list[str] = []
    for term in terms:
        if term not in rows.columns:
            continue
        col = rows[term]
        missing = col.null_count() / max(rows.height, 1)
        if missing > _MOSTLY_MISSING:
            notes.append(f"{term} left out of the risk model: missing in {missing:.0%} of the episodes")
            continue
        if col.drop_nulls().n_unique() < 2:
            notes.append(f"{term} left out of the risk model: the same for every episode")
            continue
        if col.dtype.is_numeric() or col.dtype == pl.Boolean:
            x = col.cast(pl.Float64)
            columns.append(x.fill_null(x.mean()).to_numpy())
            owner.append(term)
            if col.null_count():
                columns.append(col.is_null().cast(pl.Float64).to_numpy())
                owner.append(term)
        else:
            text = col.cast(pl.String).fill_null("(missing)")
            levels = text.value_counts(sort=True)[text.name].to_list()  # most frequent first: the reference
            for level in sorted(levels[1:]):
                columns.append((text == level).cast(pl.Float64).to_numpy())
                owner.append(term)
    matrix = np.column_stack(columns) if columns else np.empty((rows.height, 0))
    kept = independent_columns(matrix)
    used = list(dict.fromkeys(owner[i] for i in kept))
    for term in dict.fromkeys(owner):
        if term not in used:
            notes.append(f"{term} left out of the risk model: the other terms determine it")
    return np.column_stack([np.ones(rows.height), matrix[:, kept]]), used, notes


def benchmark(
    changes: pl.DataFrame | pl.LazyFrame,
    /,
    *,
    unit: str = "therapist_id",
    measure: str = "nprs",
    side: str | None = None,
    adjust_for: Sequence[str] = DEFAULT_ADJUST,
    min_n: int = 10,
    min_reliability: float = 0.7,
    confidence_level: float = 0.95,
    min_cell: int = DEFAULT_MIN_CELL,
    rng: np.random.Generator | int = 2026,
) -> BenchmarkResult:
    """Risk-adjusted, shrunken scores of therapists or clinics on one measure.

    Parameters
    ----------
    changes : polars.DataFrame or polars.LazyFrame
        Output of :func:`outcomes.episode_changes`.
    unit : str, default "therapist_id"
        The episode column whose values are scored (``clinic_id``, ...).
    measure, side : str
        The measure (and side, for range of motion).
    adjust_for : sequence of str, default :data:`DEFAULT_ADJUST`
        Candidate risk-model terms; those the table has and that vary are
        used (numbers as given, with a missing-value indicator where some
        are missing; text as indicators against its most frequent value).
    min_n : int, default 10
        Units with fewer complete episodes are not scored; never below
        ``min_cell``.
    min_reliability : float, default 0.7
        Units whose reliability is lower are not scored.
    confidence_level : float, default 0.95
    min_cell : int, default 11
        The small-cell threshold; ``min_n`` is raised to it.
    rng : numpy.random.Generator or int, default 2026
        For the simulated rank intervals.

    Returns
    -------
    BenchmarkResult
        One row per unit: ``n`` complete episodes; ``observed_mean`` and
        ``expected_mean`` improvement; ``residual_mean`` (observed -
        expected) with its t-interval from the unit's residuals (the risk
        model's own uncertainty, small beside a unit's, is not added);
        ``shrunken_residual`` = mu + R (residual_mean - mu) and
        ``shrunken_sd`` = sqrt(R sigma2 / n) (empirical Bayes, plug-in);
        ``reliability`` R; ``met_rate``, the share of episodes at or above
        expectation (residual >= 0), with its Wilson interval; ``rank`` (1 =
        best shrunken score) with an interval from 4,000 seeded draws of
        every scored unit's shrunken score; ``outside_95`` /
        ``outside_99_8``: the residual mean is outside 0 -+ z sqrt(sigma2 / n);
        ``responders`` O (count) and ``expected_responders`` E (the sum of
        the unit's fitted probabilities from a logistic regression, statsmodels
        GLM binomial, of ``responder`` on the same design as the linear
        model), ``adjusted_responder_rate`` = O / E x
        ``overall_responder_rate`` (indirect standardisation) with
        ``adjusted_responder_ci_low`` / ``_high``: E is treated as fixed and O
        as Poisson, the exact (Garwood) interval of O scaled by
        ``overall_responder_rate / E``. A sum of Bernoulli outcomes varies
        less than a Poisson count, so the interval is conservative, the more
        so the higher the rates; the logistic model's own uncertainty is not
        added. The rate and its limits are not clipped at 1: an indirectly
        standardised rate is a ratio to the network scaled to a rate, not a
        share of the unit's episodes, and it can exceed 1 where a unit has
        many more responders than expected at a high overall rate;
        clipping would hide O / E (= rate / ``overall_responder_rate``) and
        leave the estimate outside or on the edge of its own interval. The
        five responder columns are empty for every unit where the measure has
        no responder threshold (``responder`` empty throughout), every
        episode or none responds, the changes mix responder rules, or the
        logistic fit fails, does not converge or separates (a case-mix
        pattern with only responders or only non-responders has no finite
        maximum-likelihood fit); ``notes`` says which. Episodes with an
        empty ``responder`` among others are left out of the logistic fit
        and of O and E (a note counts them); a unit with none left has
        empty responder columns;
        ``suppressed`` and ``reason`` for units not scored (too few episodes,
        too low a reliability): their statistics are empty.
        ``responder_rule`` and ``overall_responder_rate`` are attributes.

    Raises
    ------
    ValueError
        When no complete episode of the measure has a unit, the settings
        are out of range, or ``responder`` is neither true/false nor 1/0.

    Examples
    --------
    >>> from outcomes import read_dataset, episode_changes
    >>> from outcomes.synth import demo_dataset_path
    >>> b = benchmark(episode_changes(read_dataset(demo_dataset_path())), unit="clinic_id")
    >>> b.table.select("clinic_id", "n").sort("clinic_id").rows()
    [('C01', 396), ('C02', 448), ('C03', 365)]
    """
    check_min_cell(min_cell)
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1")
    if not 0 <= min_reliability < 1:
        raise ValueError("min_reliability must be at least 0 and below 1")
    if min_n < 2:
        raise ValueError("min_n must be at least 2")
    min_n = max(min_n, min_cell)
    changes = as_changes_frame(changes)
    check_changes(changes, [unit, "measure", "side", "status", "baseline", "improvement"])
    rows = unit_episodes(changes, unit=unit, measure=measure, side=side).filter(pl.col("improvement").is_not_null())
    if rows.height < 3:
        raise ValueError(f"fewer than 3 complete episodes of {measure!r} with a {unit}: nothing to benchmark")
    x, terms, notes = _design(rows, [t for t in adjust_for if t != unit])
    y = rows["improvement"].to_numpy().astype(float)

    from statsmodels.regression.linear_model import OLS  # type: ignore[import-untyped]

    fit = OLS(y, x, missing="raise").fit()
    expected = np.asarray(fit.fittedvalues, dtype=float)
    residual = y - expected
    per = (
        rows.select(pl.col(unit).alias("__unit"))
        .with_columns(
            pl.Series("y", y), pl.Series("e", expected), pl.Series("r", residual), pl.Series("met", residual >= 0)
        )
        .group_by("__unit")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("y").mean().alias("observed_mean"),
            pl.col("e").mean().alias("expected_mean"),
            pl.col("r").mean().alias("residual_mean"),
            ((pl.col("r") - pl.col("r").mean()) ** 2).sum().alias("ss"),
            pl.col("met").sum().alias("k_met"),
        )
        .sort("__unit")
    )
    n = per["n"].to_numpy().astype(float)
    mean_r = per["residual_mean"].to_numpy().astype(float)
    ss = per["ss"].to_numpy().astype(float)
    if per.height < 2:
        raise ValueError(f"one {unit} only: nothing to compare")
    anova = random_effects_anova(n, mean_r, ss)
    notes += _mixed_model_check(residual, rows[unit].to_numpy(), anova.tau2)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd_r = np.sqrt(ss / (n - 1))
    r_lo, r_hi, _ = mean_interval_stats(mean_r, sd_r, n, confidence_level=confidence_level)
    met_lo, met_hi = wilson_interval(per["k_met"].to_numpy(), n, confidence_level=confidence_level)
    rule, overall_rate, responder_stats, responder_notes = _responder_rates(
        rows, x, per["__unit"], unit=unit, measure=measure, confidence_level=confidence_level
    )
    notes += responder_notes
    flags = {}
    for level, name in ((0.95, "outside_95"), (0.998, "outside_99_8")):
        lo, hi = normal_limits(n, 0.0, float(np.sqrt(anova.sigma2)), level)
        flags[name] = (mean_r < lo) | (mean_r > hi)
    small = n < min_n
    unreliable = ~small & (anova.reliability < min_reliability)
    scored = ~small & ~unreliable
    rank = np.full(per.height, np.nan)
    rank_lo, rank_hi = rank.copy(), rank.copy()
    if scored.any():
        ranks = rank_intervals(anova.shrunken[scored], anova.shrunken_sd[scored], level=confidence_level, rng=rng)
        rank[scored], rank_lo[scored], rank_hi[scored] = ranks.rank, ranks.rank_ci_low, ranks.rank_ci_high
    reason = [
        f"fewer than {min_n} complete episodes"
        if s
        else (f"reliability {np.floor(r * 100) / 100:.2f} below {min_reliability:g}" if u else None)
        for s, u, r in zip(small, unreliable, anova.reliability, strict=True)
    ]
    table = per.select(
        pl.col("__unit").alias(unit), "n", "observed_mean", "expected_mean", "residual_mean"
    ).with_columns(
        pl.lit(measure).alias("measure"),
        *[
            pl.Series(name, values, dtype=pl.Float64, nan_to_null=True)
            for name, values in {
                "residual_ci_low": r_lo,
                "residual_ci_high": r_hi,
                "shrunken_residual": anova.shrunken,
                "shrunken_sd": anova.shrunken_sd,
                "reliability": anova.reliability,
                "met_rate": per["k_met"].to_numpy() / n,
                "met_ci_low": met_lo,
                "met_ci_high": met_hi,
                **{name: responder_stats[name] for name in _RESPONDER_STATS[1:]},
                "rank": rank,
                "rank_ci_low": rank_lo,
                "rank_ci_high": rank_hi,
            }.items()
        ],
        pl.Series("responders", responder_stats["responders"], dtype=pl.Float64, nan_to_null=True).cast(pl.Int64),
        *[pl.Series(name, values) for name, values in flags.items()],
        pl.Series("suppressed", ~scored),
        pl.Series("reason", reason, dtype=pl.String),
    )
    table = table.with_columns(suppress(_STATS))
    table = table.select(unit, *BENCHMARK_COLUMNS).sort(["rank", unit], nulls_last=True)
    return BenchmarkResult(
        table,
        unit=unit,
        measure=measure,
        side=side,
        terms=tuple(terms),
        min_n=min_n,
        min_reliability=min_reliability,
        confidence_level=confidence_level,
        tau2=anova.tau2,
        sigma2=anova.sigma2,
        r_squared=float(fit.rsquared),
        responder_rule=rule,
        overall_responder_rate=overall_rate,
        notes=tuple(notes),
        min_cell=min_cell,
    )


def _responder_rates(
    rows: pl.DataFrame,
    x: np.ndarray,
    units: pl.Series,
    *,
    unit: str,
    measure: str,
    confidence_level: float,
) -> tuple[str | None, float, dict[str, np.ndarray], list[str]]:
    """The responder rule, the overall responder rate, the per-unit responder columns and notes.

    ``x`` is the linear risk model's design (``_design`` of ``rows``); ``units`` the sorted distinct units,
    the order of the returned arrays (NaN where a unit has no value). The logistic model is statsmodels'
    GLM, binomial family, on the rows of ``x`` whose ``responder`` is not empty.
    """
    empty = {name: np.full(units.len(), np.nan) for name in _RESPONDER_STATS}
    if "responder_rule" in rows.columns:
        try:
            rule = responder_rule_of(rows)
        except ValueError as exc:
            return None, float("nan"), empty, [f"no adjusted responder rate: {exc}"]
    else:
        rule = None
    if "responder" not in rows.columns:
        return rule, float("nan"), empty, ["no adjusted responder rate: the changes have no responder column"]
    col = rows["responder"]
    if col.dtype not in (pl.Boolean, pl.Null) and not (
        col.dtype.is_numeric() and col.cast(pl.Float64).is_in([0.0, 1.0]).all()
    ):
        raise ValueError("the responder column must be true/false (or 1/0)")
    known = col.is_not_null().to_numpy()
    if not known.any():
        under = f" under the responder rule {rule!r}" if rule else ""
        why = f"{measure} has no responder threshold (mcid, mcid_pct){under}, responder is empty for every episode"
        return rule, float("nan"), empty, [f"no adjusted responder rate: {why}"]
    notes: list[str] = []
    if not known.all():
        notes.append(
            f"{int((~known).sum())} of {known.size} episodes without a responder value left out of the "
            "responder model and of the observed and expected responders"
        )
    y = col.filter(col.is_not_null()).cast(pl.Float64).to_numpy()
    overall = float(y.mean())
    if overall in (0.0, 1.0):
        which = "every episode is a responder" if overall == 1.0 else "no episode is a responder"
        return rule, overall, empty, [*notes, f"no adjusted responder rate: {which}, nothing to model"]
    design = x[known]
    design = design[:, [0, *(1 + i for i in independent_columns(design[:, 1:]))]]  # constant in the subset: out
    p, failure = _fit_logistic(y, design)
    if failure:
        return rule, overall, empty, [*notes, f"no adjusted responder rate: {failure}"]
    per = (
        rows.filter(pl.Series(known))
        .select(pl.col(unit).alias("__unit"), pl.Series("o", y), pl.Series("e", p))
        .group_by("__unit")
        .agg(pl.col("o").sum(), pl.col("e").sum())
    )
    per = pl.DataFrame({"__unit": units}).join(per, on="__unit", how="left").sort("__unit")
    o = per["o"].to_numpy().astype(float)  # NaN where the unit has no episode with a responder value
    e = per["e"].to_numpy().astype(float)
    lo, hi = poisson_interval(o, confidence_level=confidence_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = overall / e
    stats = {
        "responders": o,
        "expected_responders": e,
        "adjusted_responder_rate": o * scale,
        "adjusted_responder_ci_low": lo * scale,
        "adjusted_responder_ci_high": hi * scale,
    }
    return rule, overall, stats, notes


def _fit_logistic(y: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Fitted probabilities of a logistic regression of ``y`` (0/1) on ``design`` (statsmodels GLM, binomial).

    The second value says why the fit is not usable (None when it is): statsmodels raised, did not converge,
    or the fit separates (a linear predictor beyond -+ :data:`outcomes.stats.weighting.SEPARATION_ETA`,
    fitted probabilities within 3e-7 of 0 or 1: no finite maximum-likelihood fit, and expected counts that
    depend on where the iterations stopped).
    """
    from statsmodels.genmod.families import Binomial  # type: ignore[import-untyped]
    from statsmodels.genmod.generalized_linear_model import GLM  # type: ignore[import-untyped]
    from statsmodels.tools.sm_exceptions import (  # type: ignore[import-untyped]
        ConvergenceWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = GLM(y, design, family=Binomial()).fit(maxiter=100)
        except (np.linalg.LinAlgError, ValueError, PerfectSeparationError) as exc:
            return np.full(y.shape, np.nan), f"the logistic responder model failed ({exc})"
    eta = design @ np.asarray(fit.params, dtype=float)
    if not np.isfinite(eta).all():
        return np.full(y.shape, np.nan), "the logistic responder model failed (non-finite coefficients)"
    if (np.abs(eta) > SEPARATION_ETA).any() or any(issubclass(w.category, PerfectSeparationWarning) for w in caught):
        return np.full(y.shape, np.nan), (
            "the logistic responder model separates (some case-mix pattern has only responders or only "
            "non-responders: no finite maximum-likelihood fit); leave out the term that separates"
        )
    if not fit.converged or any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return np.full(y.shape, np.nan), "the logistic responder model did not converge"
    p: np.ndarray = 1.0 / (1.0 + np.exp(-eta))
    return p, None


def _mixed_model_check(residual: np.ndarray, units: np.ndarray, tau2: float) -> list[str]:
    """Cross-check the moment estimate of tau2 with a random-intercept model (statsmodels MixedLM, REML).

    MixedLM's default optimizer can stop at tau2 = 0 and say it converged: on the seeded network of
    ``tests/test_benchmark.py`` it returns tau2 = 0, ``converged=True`` and a log-likelihood of +inf, where
    Powell and Nelder-Mead agree on 0.046 (moment estimate 0.049). So it is fitted with Powell, Nelder-Mead
    and L-BFGS, the highest finite REML log-likelihood is kept, and a disagreement with the moment estimate
    is reported in words; it is a check, not the estimate. Differences below a tenth of sigma2 / (mean unit
    size), the sampling variance of a typical unit's mean, are not reported: they barely move a reliability.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM  # type: ignore[import-untyped]

    _, codes = np.unique(units.astype(str), return_inverse=True)
    best: tuple[float, float] | None = None
    for method in ("powell", "nm", "lbfgs"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # judged by the log-likelihood below, not by its warnings
            try:
                fit = MixedLM(residual, np.ones((residual.size, 1)), groups=codes).fit(reml=True, method=method)
            except (np.linalg.LinAlgError, ValueError):
                continue
        llf = float(fit.llf)
        if np.isfinite(llf) and (best is None or llf > best[0]):
            best = (llf, float(np.asarray(fit.cov_re).ravel()[0]))
    if best is None:
        return ["the mixed-model check of tau2 failed with every optimizer"]
    mm = best[1]
    # a difference below a tenth of the sampling variance of a typical unit's mean moves no reliability by much
    floor = 0.1 * float(np.var(residual)) / (residual.size / (codes.max(initial=0) + 1))
    if abs(mm - tau2) > max(0.25 * max(tau2, mm), floor):
        return [f"tau2: moment estimate {tau2:.4g}, mixed model {mm:.4g}; they differ by more than a quarter"]
    return []
