"""Synthetic datasets in the data contract (``docs/data-contract.md``), with known true effects.

:func:`make_demo` draws a realistic, entirely synthetic clinic network:
several clinics and therapists (with known clinic and therapist effects), case
mix that changes improvement and differs between them (age, chronicity,
comorbidities, prior episodes, post-surgical episodes), the conditions and
techniques of the vocabularies with different true effects per
condition x technique, integer NPRS with floor effects (one clinic records VAS
instead), range of motion per joint and side around plausible impaired values
with goniometer noise, a function questionnaire per body region, 4-16 visits
over 2-12 weeks, episodes without a discharge measurement, treatments with
minutes and billed units (mostly following the CMS 8-minute rule) and a few
documentation gaps.

The true parameters come with the data: ``truth`` gives, per condition x
technique x measure, the expected improvement (positive = better) of an
episode with a baseline and a discharge value, computed by Monte Carlo from the
very sampling model that drew the data (so rounding, floors and ceilings are
included), over the network's case mix, therapists and clinics; ``unit_truth``
gives the true effect of each clinic and therapist per measure. By default
(``dropout="random"``) missing discharge values are missing completely at
random (a dropout probability per clinic), so the complete episodes estimate these truths without bias. With
``dropout="informative"`` who drops out depends on the pain scale's intake
value and on its early response (recorded in the second week of care), so the
data are missing at random given what was recorded, the complete episodes
are a biased sample, and ``truth`` (like ``potential_outcomes``, the
discharge value every episode would have had) is the estimand of a dropout
sensitivity analysis such as :func:`outcomes.analyses.dropout.dropout_sensitivity`.

Everything is deterministic for a given ``seed``. Only synthetic identifiers
are produced (``E000001``, ``P000001``, ``C01``, ``T01``).

Examples
--------
>>> from outcomes.synth import make_demo
>>> demo = make_demo(200, seed=1)
>>> demo.episodes.height
200
>>> sorted(demo.truth.columns)
['condition', 'measure', 'technique', 'true_mean_improvement', 'true_sd_improvement']
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from outcomes.contract import billing_rules, expected_timed_units, vocabulary

__all__ = ["DROPOUT_MODES", "DemoData", "demo_dataset_path", "make_demo", "write_demo"]

DROPOUT_MODES: tuple[str, ...] = ("random", "informative")
"""Values of ``make_demo(dropout=...)``: dropout at random per clinic (the default), or depending on the episode's
pain at intake and its early response."""

# --------------------------------------------------------------------------- model
# Simulation parameters (not clinical thresholds: those live in data_schemas/).
# Each measure: baseline mean / sd, valid range, recording step, the largest
# expected improvement (efficacy 1.0), the between-episode sd of improvement,
# and the direction of improvement.
_MEASURES: dict[str, dict[str, float | str]] = {
    "nprs": {
        "mu": 6.3,
        "sd": 1.7,
        "lo": 0,
        "hi": 10,
        "step": 1,
        "gain": 4.0,
        "imp_sd": 1.9,
        "better": "lower",
    },
    "vas": {"mu": 62, "sd": 17, "lo": 0, "hi": 100, "step": 1, "gain": 38, "imp_sd": 19, "better": "lower"},
    "odi": {"mu": 38, "sd": 14, "lo": 0, "hi": 100, "step": 2, "gain": 20, "imp_sd": 12, "better": "lower"},
    "ndi": {"mu": 36, "sd": 13, "lo": 0, "hi": 100, "step": 2, "gain": 19, "imp_sd": 12, "better": "lower"},
    "quickdash": {
        "mu": 42,
        "sd": 16,
        "lo": 0,
        "hi": 100,
        "step": 0.1,
        "gain": 22,
        "imp_sd": 14,
        "better": "lower",
    },
    "lefs": {"mu": 42, "sd": 12, "lo": 0, "hi": 80, "step": 1, "gain": 17, "imp_sd": 10, "better": "higher"},
    "psfs": {
        "mu": 3.8,
        "sd": 1.4,
        "lo": 0,
        "hi": 10,
        "step": 0.1,
        "gain": 3.4,
        "imp_sd": 1.8,
        "better": "higher",
    },
}
# Range of motion: valid range, recording step, goniometer error sd (about MDC / 2.77),
# normal value the improvement heads towards, between-episode sd of improvement.
_ROM: dict[str, dict[str, float | str]] = {
    "rom_shoulder_flexion": {"lo": 0, "hi": 200, "step": 1, "err": 3, "normal": 180, "imp_sd": 14},
    "rom_shoulder_abduction": {"lo": 0, "hi": 200, "step": 1, "err": 6, "normal": 180, "imp_sd": 16},
    "rom_shoulder_external_rotation": {"lo": 0, "hi": 130, "step": 1, "err": 2, "normal": 90, "imp_sd": 9},
    "rom_shoulder_internal_rotation": {"lo": 0, "hi": 100, "step": 1, "err": 2, "normal": 70, "imp_sd": 8},
    "rom_cervical_rotation": {"lo": 0, "hi": 100, "step": 1, "err": 3, "normal": 80, "imp_sd": 8},
    "rom_cervical_flexion": {"lo": 0, "hi": 80, "step": 1, "err": 3, "normal": 50, "imp_sd": 6},
    "rom_knee_flexion": {"lo": 0, "hi": 160, "step": 1, "err": 3.5, "normal": 135, "imp_sd": 11},
    "rom_knee_extension_deficit": {"lo": -20, "hi": 60, "step": 1, "err": 3, "normal": 0, "imp_sd": 4},
    "rom_hip_flexion": {"lo": 0, "hi": 150, "step": 1, "err": 4, "normal": 120, "imp_sd": 10},
    "rom_lumbar_flexion": {"lo": 0, "hi": 15, "step": 0.5, "err": 0.6, "normal": 6.5, "imp_sd": 1.0},
}

# Conditions: share of episodes, body region, ICD-10-CM codes drawn, function
# questionnaire, ROM measures with their mean baseline, sidedness ("one" = the
# affected side, "both" = left and right, "none"), base efficacy, and the manual
# techniques used (the primary technique of an episode is one of these, or
# therapeutic exercise alone).
_CONDITIONS: dict[str, dict[str, object]] = {
    "low_back_pain": {
        "share": 0.24, "region": "lumbar", "icd": ["M54.50", "M54.51", "M54.59"], "prom": "odi",
        "rom": {"rom_lumbar_flexion": 3.8}, "sides": "none", "eff": 0.55,
        "techniques": ["joint_mobilization", "manipulation", "soft_tissue_mobilization", "myofascial_release",
                       "manual_traction"],
    },
    "neck_pain": {
        "share": 0.16, "region": "cervical", "icd": ["M54.2"], "prom": "ndi",
        "rom": {"rom_cervical_rotation": 58, "rom_cervical_flexion": 36}, "sides": "both", "eff": 0.6,
        "techniques": ["joint_mobilization", "manipulation", "soft_tissue_mobilization", "muscle_energy"],
    },
    "shoulder_impingement": {
        "share": 0.09, "region": "shoulder", "icd": ["M75.41", "M75.42"], "prom": "quickdash",
        "rom": {"rom_shoulder_flexion": 148, "rom_shoulder_abduction": 132, "rom_shoulder_external_rotation": 68},
        "sides": "one", "eff": 0.6,
        "techniques": ["joint_mobilization", "soft_tissue_mobilization", "iastm"],
    },
    "rotator_cuff": {
        "share": 0.07, "region": "shoulder", "icd": ["M75.101", "M75.102", "M75.111", "M75.112"],
        "prom": "quickdash",
        "rom": {"rom_shoulder_flexion": 138, "rom_shoulder_abduction": 118, "rom_shoulder_external_rotation": 60},
        "sides": "one", "eff": 0.5,
        "techniques": ["joint_mobilization", "soft_tissue_mobilization", "myofascial_release"],
    },
    "adhesive_capsulitis": {
        "share": 0.06, "region": "shoulder", "icd": ["M75.01", "M75.02"], "prom": "quickdash",
        "rom": {"rom_shoulder_flexion": 108, "rom_shoulder_abduction": 86, "rom_shoulder_external_rotation": 26,
                "rom_shoulder_internal_rotation": 38},
        "sides": "one", "eff": 0.45,
        "techniques": ["joint_mobilization", "soft_tissue_mobilization"],
    },
    "lateral_epicondylitis": {
        "share": 0.05, "region": "elbow", "icd": ["M77.11", "M77.12"], "prom": "quickdash",
        "rom": {}, "sides": "one", "eff": 0.55,
        "techniques": ["soft_tissue_mobilization", "iastm", "joint_mobilization"],
    },
    "knee_osteoarthritis": {
        "share": 0.1, "region": "knee", "icd": ["M17.11", "M17.12", "M17.0"], "prom": "lefs",
        "rom": {"rom_knee_flexion": 108, "rom_knee_extension_deficit": 8}, "sides": "one", "eff": 0.4,
        "techniques": ["joint_mobilization", "soft_tissue_mobilization"],
    },
    "post_surgical": {
        "share": 0.08, "region": "knee", "icd": ["Z47.1", "Z47.89"], "prom": "lefs",
        "rom": {"rom_knee_flexion": 88, "rom_knee_extension_deficit": 12}, "sides": "one", "eff": 0.65,
        "techniques": ["joint_mobilization", "soft_tissue_mobilization", "manual_lymphatic_drainage"],
    },
    "myofascial_pain": {
        "share": 0.06, "region": "thoracic", "icd": ["M79.18", "M79.12"], "prom": "psfs",
        "rom": {}, "sides": "none", "eff": 0.5,
        "techniques": ["soft_tissue_mobilization", "myofascial_release", "iastm"],
    },
    "fibromyalgia": {
        "share": 0.03, "region": "multiple", "icd": ["M79.7"], "prom": "psfs",
        "rom": {}, "sides": "none", "eff": 0.25,
        "techniques": ["soft_tissue_mobilization", "myofascial_release"],
    },
    "bursitis": {
        "share": 0.03, "region": "hip", "icd": ["M70.61", "M70.62"], "prom": "lefs",
        "rom": {"rom_hip_flexion": 98}, "sides": "one", "eff": 0.5,
        "techniques": ["soft_tissue_mobilization", "joint_mobilization"],
    },
    "tendinitis": {
        "share": 0.03, "region": "ankle_foot", "icd": ["M76.61", "M76.62"], "prom": "lefs",
        "rom": {}, "sides": "one", "eff": 0.45,
        "techniques": ["iastm", "soft_tissue_mobilization"],
    },
}  # fmt: skip
_TECH_MOD = {
    "joint_mobilization": 0.06, "manipulation": 0.08, "soft_tissue_mobilization": 0.0,
    "myofascial_release": -0.02, "manual_traction": -0.04, "muscle_energy": 0.02, "iastm": 0.03,
    "manual_lymphatic_drainage": 0.04, "therapeutic_exercise": -0.12,
}  # fmt: skip
_EXERCISE_ONLY_SHARE = 0.12
_CLINICS = {"C01": 0.2, "C02": 0.16, "C03": 0.28, "C04": 0.24}  # dropout probability per clinic
_VAS_CLINIC = "C04"  # records pain on the VAS instead of the NPRS
_EVERY_VISIT_PAIN = (
    "C01",
    "C03",
)  # record pain at every visit; the others at intake, re-evaluation, discharge
_THERAPISTS_PER_CLINIC = 3
# True unit effects, as a share of the measure's full-efficacy gain: a clinic effect (below, centred on the network)
# plus each therapist's deviation from the clinic (drawn with this SD, centred within the clinic).
_THERAPIST_SD = 0.13
_CLINIC_EFFECT = {"C01": 0.05, "C02": -0.04, "C03": 0.01, "C04": -0.02}
# Case mix (issue 12). Effects on efficacy (share of the full gain), each centred near the network's average so
# that the overall improvement stays where it was: per decade of age over 52, subacute and chronic against the
# network's mix, per comorbidity over 1, per prior episode over 0.6; post-surgical episodes gain more range of motion.
_CASE_MIX_EFFECT = {
    "age_decade": -0.03, "subacute": -0.08, "chronic": -0.22, "comorbidity": -0.04, "prior_episode": -0.03,
    "surgical_rom": 0.15,
}  # fmt: skip
_CHRONICITY = {"acute": 0.3, "subacute": 0.3, "chronic": 0.4}
# Case mix that differs between units: T02 sees mostly chronic patients (and has a true total effect of 0), T08
# mostly acute ones; C02's patients are older, C03's younger (shift of the mean age).
_THERAPIST_CHRONICITY = {
    "T02": {"acute": 0.02, "subacute": 0.06, "chronic": 0.92},
    "T08": {"acute": 0.7, "subacute": 0.2, "chronic": 0.1},
}
_NEUTRAL_THERAPIST = "T02"
_CLINIC_AGE_SHIFT = {"C01": 0.0, "C02": 6.0, "C03": -5.0, "C04": 0.0}
_SURGICAL_SHARE = {"post_surgical": 1.0, "rotator_cuff": 0.35, "adhesive_capsulitis": 0.1}
_PAYERS = {"medicare": 0.32, "commercial": 0.4, "medicaid": 0.12, "workers_comp": 0.08, "self_pay": 0.08}
_DESIGN_SEED = 20261128  # fixed: the true effects do not change with the sampling seed
_TRUTH_DRAWS = 40_000
_START = dt.date(2025, 1, 6)
# dropout="informative": the early visit is the last visit 7-13 days after the start (the second week of care); a
# dropout attends every visit up to day 13 and none after. P(dropout) = expit(a + b z_base + c z_early), z_base the
# pain intake value in SDs from the scale's mean, z_early the early improvement in units of the scale's
# between-episode SD of improvement; without an early value the c-term is absent (and the d-term is added).
_EARLY_DAYS = (7, 13)
_INFORMATIVE_DROPOUT = {"a": -0.75, "b": -0.45, "c": -1.1, "d": 0.0}
_START_SPAN_DAYS = 330


def _efficacy() -> dict[tuple[str, str], float]:
    """True efficacy (0-1) per condition x technique: the design, fixed for every seed."""
    rng = np.random.default_rng(_DESIGN_SEED)
    out = {}
    for cond, spec in _CONDITIONS.items():
        for tech in [*spec["techniques"], "therapeutic_exercise"]:  # type: ignore[misc]
            e = float(spec["eff"]) + _TECH_MOD[tech] + rng.normal(0, 0.05)  # type: ignore[arg-type]
            out[(cond, tech)] = float(np.clip(e, 0.05, 0.95))
    return out


def _frame(columns: dict[str, Any], schema: dict[str, Any]) -> pl.DataFrame:
    """A DataFrame from numpy columns; object arrays (text with missing values) go through lists."""
    return pl.DataFrame(
        {k: (v.tolist() if isinstance(v, np.ndarray) and v.dtype == np.object_ else v) for k, v in columns.items()},
        schema=schema,
    )


def _round_to(x: np.ndarray, step: float) -> np.ndarray:
    r: np.ndarray = np.round(x / step) * step
    return np.round(r, 6)


@dataclass(frozen=True)
class _Draw:
    baseline: np.ndarray
    final: np.ndarray
    improvement_latent: np.ndarray  # in the improvement direction


def _draw_scale(rng: np.random.Generator, measure: str, efficacy: np.ndarray, therapist: np.ndarray) -> _Draw:
    """Baseline and discharge values of a patient-reported scale (pain or function)."""
    p = _MEASURES[measure]
    n = efficacy.shape[0]
    lo, hi, step = float(p["lo"]), float(p["hi"]), float(p["step"])
    sign = -1.0 if p["better"] == "lower" else 1.0
    base = _round_to(np.clip(rng.normal(float(p["mu"]), float(p["sd"]), n), lo, hi), step)
    gain = float(p["gain"])
    imp = (efficacy + therapist) * gain + rng.normal(0, float(p["imp_sd"]), n)
    final = _round_to(np.clip(base + sign * imp, lo, hi), step)
    return _Draw(base, final, imp)


def _draw_rom(
    rng: np.random.Generator, measure: str, mean_base: float, efficacy: np.ndarray, therapist: np.ndarray
) -> _Draw:
    """Baseline and discharge goniometer readings: true angles plus measurement error."""
    p = _ROM[measure]
    n = efficacy.shape[0]
    lo, hi, step, err = float(p["lo"]), float(p["hi"]), float(p["step"]), float(p["err"])
    normal = float(p["normal"])
    sign = -1.0 if measure == "rom_knee_extension_deficit" else 1.0
    deficit = abs(normal - mean_base)
    true_base = mean_base + rng.normal(0, 0.35 * deficit, n) * 1.0
    room = np.maximum(sign * (normal - true_base), 0.0)
    imp = (efficacy + therapist) * 0.7 * room + rng.normal(0, float(p["imp_sd"]), n)
    base = _round_to(np.clip(true_base + rng.normal(0, err, n), lo, hi), step)
    final = _round_to(np.clip(true_base + sign * imp + rng.normal(0, err, n), lo, hi), step)
    return _Draw(base, final, imp)


def _measure_plan(condition: str, clinic: str) -> list[tuple[str, str]]:
    """(measure, side rule) pairs recorded for an episode."""
    spec = _CONDITIONS[condition]
    pain = "vas" if clinic == _VAS_CLINIC else "nprs"
    plan = [(pain, "none"), (str(spec["prom"]), "none")]
    for rom in spec["rom"]:  # type: ignore[attr-defined]
        sides = "none" if rom in ("rom_cervical_flexion", "rom_lumbar_flexion") else str(spec["sides"])
        plan.append((rom, sides))
    return plan


def _draw(
    rng: np.random.Generator,
    condition: str,
    measure: str,
    efficacy: np.ndarray,
    therapist: np.ndarray,
) -> _Draw:
    if measure in _MEASURES:
        return _draw_scale(rng, measure, efficacy, therapist)
    mean_base = float(_CONDITIONS[condition]["rom"][measure])  # type: ignore[index]
    return _draw_rom(rng, measure, mean_base, efficacy, therapist)


def _unit_effects() -> tuple[np.ndarray, np.ndarray]:
    """True effect per clinic and per therapist (the clinic's plus the therapist's own deviation), in efficacy units.

    Both average 0 over the network (therapists weighted equally). The neutral therapist's total is exactly 0; his
    clinic-mates share the difference, so the clinic's mean is unchanged.
    """
    c = np.array([_CLINIC_EFFECT[k] for k in _CLINICS])
    c -= c.mean()
    dev = np.random.default_rng(_DESIGN_SEED + 2).normal(0, _THERAPIST_SD, (len(_CLINICS), _THERAPISTS_PER_CLINIC))
    dev -= dev.mean(axis=1, keepdims=True)
    clinic_of, own = divmod(int(_NEUTRAL_THERAPIST[1:]) - 1, _THERAPISTS_PER_CLINIC)
    delta = -c[clinic_of] - dev[clinic_of, own]
    dev[clinic_of] -= delta / (_THERAPISTS_PER_CLINIC - 1)
    dev[clinic_of, own] += delta + delta / (_THERAPISTS_PER_CLINIC - 1)
    return c, (c[:, None] + dev).ravel()


@dataclass(frozen=True)
class _CaseMix:
    age: np.ndarray
    chronicity: np.ndarray
    comorbidities: np.ndarray
    prior_episodes: np.ndarray
    surgical: np.ndarray
    shift: np.ndarray  # effect on efficacy of every measure
    rom_shift: np.ndarray  # added for range of motion


def _case_mix(
    rng: np.random.Generator, surgical_share: np.ndarray, clinic_idx: np.ndarray, therapist_idx: np.ndarray
) -> _CaseMix:
    """Age, chronicity, comorbidities, prior episodes and surgery per episode, and their effects on efficacy.

    ``surgical_share`` is the probability of a post-surgical episode, per episode (from its condition).
    """
    n = surgical_share.shape[0]
    age_shift = np.array([_CLINIC_AGE_SHIFT[c] for c in _CLINICS])[clinic_idx]
    age = np.clip(np.round(rng.normal(52 + age_shift, 15)), 18, 92).astype(int)
    levels = list(_CHRONICITY)
    level: np.ndarray = np.asarray(rng.choice(len(levels), size=n, p=np.array(list(_CHRONICITY.values()))))
    for code, mix in _THERAPIST_CHRONICITY.items():
        mask = therapist_idx == int(code[1:]) - 1
        level[mask] = rng.choice(len(levels), size=int(mask.sum()), p=np.array([mix[k] for k in levels]))
    chronicity = np.array(levels, dtype=object)[level]
    chronic = (level == levels.index("chronic")).astype(float)
    subacute = (level == levels.index("subacute")).astype(float)
    comorbidities = rng.poisson(np.clip(0.5 + 0.035 * (age - 52) + 0.4 * chronic, 0.05, None))
    prior = rng.poisson(0.25 + 0.8 * chronic)
    surgical = rng.random(n) < surgical_share
    e = _CASE_MIX_EFFECT
    shift = (
        e["age_decade"] * (age - 52) / 10
        + e["subacute"] * (subacute - _CHRONICITY["subacute"])
        + e["chronic"] * (chronic - _CHRONICITY["chronic"])
        + e["comorbidity"] * (comorbidities - 1.0)
        + e["prior_episode"] * (prior - 0.6)
    )
    return _CaseMix(age, chronicity, comorbidities, prior, surgical, shift, e["surgical_rom"] * surgical)


def _population(
    rng: np.random.Generator, n: int, cond: str, measure: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, _CaseMix]:
    """``n`` patients of ``cond`` as the network draws them, at the clinics that record ``measure``.

    Returns the clinic index, therapist index, primary technique and case mix per patient.
    """
    clinics = [i for i, c in enumerate(_CLINICS) if measure in {m for m, _ in _measure_plan(cond, c)}]
    clinic_idx = np.array(clinics)[rng.integers(0, len(clinics), n)]
    therapist_idx = clinic_idx * _THERAPISTS_PER_CLINIC + rng.integers(0, _THERAPISTS_PER_CLINIC, n)
    options: list[str] = _CONDITIONS[cond]["techniques"]  # type: ignore[assignment]
    tech = np.array(options, dtype=object)[rng.integers(0, len(options), n)]
    tech[rng.random(n) < _EXERCISE_ONLY_SHARE] = "therapeutic_exercise"
    mix = _case_mix(rng, np.full(n, _SURGICAL_SHARE.get(cond, 0.0)), clinic_idx, therapist_idx)
    return clinic_idx, therapist_idx, tech, mix


def _shift_of(measure: str, mix: _CaseMix) -> np.ndarray:
    return mix.shift + mix.rom_shift if measure in _ROM else mix.shift


def _improvement(measure: str, d: _Draw) -> np.ndarray:
    imp: np.ndarray = (d.baseline - d.final) if _better_lower(measure) else (d.final - d.baseline)
    return imp


@functools.cache
def _truth() -> pl.DataFrame:
    """Expected observed improvement per condition x technique x measure (Monte Carlo over the network's patients,
    therapists and clinics)."""
    rng = np.random.default_rng(_DESIGN_SEED + 1)
    _, unit_total = _unit_effects()
    rows = []
    shifts: dict[tuple[str, str], np.ndarray] = {}  # the patients of a condition and measure, for every technique
    for (cond, tech), eff in sorted(_efficacy().items()):
        measures = {m for clinic in _CLINICS for m, _ in _measure_plan(cond, clinic)}
        for measure in sorted(measures):
            if (cond, measure) not in shifts:
                _, therapist_idx, _, mix = _population(rng, _TRUTH_DRAWS, cond, measure)
                shifts[(cond, measure)] = unit_total[therapist_idx] + _shift_of(measure, mix)
            e = np.full(_TRUTH_DRAWS, eff)
            d = _draw(rng, cond, measure, e, shifts[(cond, measure)])
            imp = _improvement(measure, d)
            rows.append((cond, tech, measure, float(imp.mean()), float(imp.std(ddof=1))))
    return pl.DataFrame(
        rows,
        schema=["condition", "technique", "measure", "true_mean_improvement", "true_sd_improvement"],
        orient="row",
    )


@functools.cache
def _unit_truth() -> pl.DataFrame:
    """True effect of each clinic and therapist on each measure it records, in the measure's units (Monte Carlo).

    The effect on a unit is the mean improvement of the network's patients of the measure (every condition that
    records it, the network's case mix) treated with the unit's effect, minus their mean improvement with an
    effect of 0, on the same draws.
    """
    rng = np.random.default_rng(_DESIGN_SEED + 3)
    clinic_eff, therapist_eff = _unit_effects()
    units = [("clinic_id", c, i, float(clinic_eff[i])) for i, c in enumerate(_CLINICS)] + [
        ("therapist_id", f"T{j + 1:02d}", j // _THERAPISTS_PER_CLINIC, float(therapist_eff[j]))
        for j in range(therapist_eff.shape[0])
    ]
    eff_table = _efficacy()
    weight = {c: float(spec["share"]) for c, spec in _CONDITIONS.items()}  # type: ignore[arg-type]
    rows = []
    for measure in [*_MEASURES, *_ROM]:
        conds = [c for c in _CONDITIONS if any(measure in {m for m, _ in _measure_plan(c, k)} for k in _CLINICS)]
        if not conds:
            continue
        total = sum(weight[c] for c in conds)
        recorded = {
            k
            for k in range(len(_CLINICS))
            for c in conds
            if measure in {m for m, _ in _measure_plan(c, list(_CLINICS)[k])}
        }
        gains = {u: [] for u in units}  # type: dict[tuple[str, str, int, float], list[np.ndarray]]
        for cond in conds:
            n = max(round(_TRUTH_DRAWS * weight[cond] / total), 1000)
            _, _, tech, mix = _population(rng, n, cond, measure)
            eff = np.array([eff_table[(cond, str(t))] for t in tech])
            shift = _shift_of(measure, mix)
            seed = int(rng.integers(2**32))
            base = _improvement(measure, _draw(np.random.default_rng(seed), cond, measure, eff, shift))
            for u in units:
                if u[2] in recorded:
                    with_unit = _draw(np.random.default_rng(seed), cond, measure, eff, shift + u[3])
                    gains[u].append(_improvement(measure, with_unit) - base)
        for (column, code, _, _), parts in gains.items():
            if parts:
                rows.append((column, code, measure, float(np.concatenate(parts).mean())))
    return pl.DataFrame(rows, schema=["unit_column", "unit", "measure", "true_effect"], orient="row").sort(
        "unit_column", "unit", "measure"
    )


def _better_lower(measure: str) -> bool:
    if measure in _MEASURES:
        return _MEASURES[measure]["better"] == "lower"
    return measure == "rom_knee_extension_deficit"


@dataclass(frozen=True)
class DemoData:
    """A synthetic dataset and the parameters it was drawn from.

    Attributes
    ----------
    episodes, treatments, measurements : polars.DataFrame
        The three tables of the data contract.
    truth : polars.DataFrame
        ``condition``, ``technique``, ``measure``, ``true_mean_improvement``
        (positive = better) and ``true_sd_improvement`` of the improvement
        from intake to the discharge value every episode would have had (the
        expected value over all episodes, dropouts included); ``technique`` is
        the episode's primary technique. Every cell of the design is listed,
        including cells a small draw happens not to contain. With
        ``dropout="random"`` the complete episodes estimate it without bias;
        with ``dropout="informative"`` they do not.
    seed : int
        The seed the data were drawn with.
    potential_outcomes : polars.DataFrame
        One row per episode x measure x side drawn: ``episode_id``,
        ``measure``, ``side``, ``baseline`` (the intake value, as recorded),
        ``final`` (the discharge value the episode would have had, recorded
        only where it did not drop out), ``improvement`` (``final`` against
        ``baseline``, positive = better) and ``dropped_out`` (no discharge
        value recorded). The mean of ``improvement`` over all rows of a cell
        is the sample's own version of ``truth``; where ``dropped_out`` is
        false, ``final`` and ``improvement`` are those of
        :func:`outcomes.episode_changes`.
    dropout : str
        The dropout mechanism drawn (:data:`DROPOUT_MODES`).
    unit_truth : polars.DataFrame
        The true effect of every clinic and therapist: ``unit_column``
        (``clinic_id`` or ``therapist_id``), ``unit``, ``measure`` (each
        measure the unit's clinic records) and ``true_effect``, in the
        measure's units (positive = better): how much more the network's
        patients of the measure would improve with this unit than with an
        average one (Monte Carlo, the same for every seed). A therapist's
        effect includes his clinic's; therapists and clinics average 0.
        This is what a risk-adjusted benchmark
        (:func:`outcomes.analyses.benchmarks.benchmark`) estimates.
    """

    episodes: pl.DataFrame
    treatments: pl.DataFrame
    measurements: pl.DataFrame
    truth: pl.DataFrame
    seed: int
    potential_outcomes: pl.DataFrame
    dropout: str = "random"
    unit_truth: pl.DataFrame = dataclasses.field(default_factory=lambda: _unit_truth())


def _choice(rng: np.random.Generator, options: dict[str, float], n: int) -> np.ndarray:
    keys = list(options)
    probs = np.array([options[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=probs / probs.sum())]


def _units_8_minute_rule(minutes: np.ndarray) -> np.ndarray:
    """Units per service of each visit under the CMS 8-minute rule.

    ``minutes`` is (visits, services) of timed minutes (0 = no service). Total
    units follow the total timed minutes (8-22 -> 1, 23-37 -> 2, ...); each
    service first gets its whole 15-minute units, and the units left over go to
    the services with the most remaining minutes.
    """
    unit = int(billing_rules()["eight_minute_rule"]["unit_minutes"])
    total_units = expected_timed_units(minutes.sum(axis=1))
    full = minutes // unit
    left = total_units - full.sum(axis=1)
    remainder = np.where(minutes > 0, minutes % unit, -1)
    order = np.argsort(-remainder, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(minutes.shape[1])[None, :].repeat(len(minutes), 0), axis=1)
    extra = (rank < left[:, None]) & (minutes > 0)
    units: np.ndarray = full + extra.astype(full.dtype)
    return units


def make_demo(n_episodes: int = 2000, /, *, seed: int = 2026, dropout: str = "random") -> DemoData:
    """Draw a synthetic dataset in the data contract.

    Parameters
    ----------
    n_episodes : int
        Number of episodes of care.
    seed : int
        Seed of the sampling; the same seed gives the same tables.
    dropout : {"random", "informative"}, default "random"
        Who leaves without a discharge value. ``"random"``: a probability per
        clinic (16-28 %), unrelated to the outcome; dropouts stop part-way
        through their visits and keep only their intake values. This is the
        draw of the bundled demo, unchanged. ``"informative"``: every episode
        is first drawn on its full schedule, and each measure's re-evaluation
        is the last visit 7-13 days after the start (the second week of care)
        where the episode has one; then the episode drops out with
        probability ``expit(-0.75 - 0.45 z_base - 1.1 z_early)``, where
        ``z_base`` is its pain scale's (NPRS or VAS) intake value in SDs from
        the scale's mean and ``z_early`` its pain improvement at that visit in
        units of the scale's between-episode SD of improvement (the term is
        left out where no visit falls 7-13 days after the start). Mild cases
        and episodes that improve little early leave more often (about a
        quarter in all). A dropout attends every visit up to day 13 and none
        after: it keeps its intake and early values, no discharge value; its
        end date is its last visit (none for some). Missing at random given
        the recorded values, not completely at random: complete episodes
        overstate the improvement.

    Returns
    -------
    DemoData

    Examples
    --------
    >>> demo = make_demo(300, seed=1, dropout="informative")
    >>> demo.potential_outcomes.filter(measure="nprs")["improvement"].null_count()
    0
    """
    if n_episodes < 1:
        raise ValueError("n_episodes must be at least 1")
    if dropout not in DROPOUT_MODES:
        raise ValueError(f"dropout must be one of {', '.join(DROPOUT_MODES)}; got {dropout!r}")
    informative = dropout == "informative"
    rng = np.random.default_rng(seed)
    n = n_episodes
    eff_table = _efficacy()

    # ---- episodes
    conds = list(_CONDITIONS)
    cond = _choice(rng, {c: float(_CONDITIONS[c]["share"]) for c in conds}, n)  # type: ignore[arg-type]
    clinic = _choice(rng, {c: 1.0 for c in _CLINICS}, n)
    clinic_idx = np.searchsorted(np.array(list(_CLINICS)), clinic.astype(str))
    therapist_idx = clinic_idx * _THERAPISTS_PER_CLINIC + rng.integers(0, _THERAPISTS_PER_CLINIC, n)
    therapist = np.array([f"T{i + 1:02d}" for i in therapist_idx], dtype=object)
    ther_eff = _unit_effects()[1][therapist_idx]  # the clinic's effect plus the therapist's own

    exercise_only = rng.random(n) < _EXERCISE_ONLY_SHARE
    tech = np.empty(n, dtype=object)
    for c in conds:
        mask = cond == c
        options: list[str] = _CONDITIONS[c]["techniques"]  # type: ignore[assignment]
        tech[mask] = np.array(options, dtype=object)[rng.integers(0, len(options), mask.sum())]
    tech[exercise_only] = "therapeutic_exercise"
    efficacy = np.zeros(n)
    for (c, t), e in eff_table.items():
        efficacy[(cond == c) & (tech == t)] = e

    duration = rng.integers(14, 85, n)  # days from first to last visit
    n_visits = np.minimum(rng.integers(4, 17, n), duration // 3 + 1)
    start = np.datetime64(_START, "D") + rng.integers(0, _START_SPAN_DAYS, n).astype("timedelta64[D]")
    dropped = rng.random(n) < np.array(list(_CLINICS.values()))[clinic_idx]
    # dropouts stop coming part-way: fewer visits, no discharge measurement
    drop_visits = np.maximum(2, (n_visits * rng.uniform(0.2, 0.7, n)).astype(int))
    if informative:  # drawn on the full schedule; who drops out is decided from the recorded values, below
        dropped = np.zeros(n, dtype=bool)
    n_visits = np.where(dropped, np.minimum(n_visits, drop_visits), n_visits)
    span = np.where(dropped, np.minimum(duration, (n_visits - 1) * 4), duration)  # days to the last visit
    open_draw = rng.random(n)
    open_episode = dropped & (open_draw < 0.3)
    end = start + span.astype("timedelta64[D]")

    sides_one = np.where(rng.random(n) < 0.55, "right", "left")
    patient_no = np.arange(1, n + 1)
    repeat = rng.random(n) < 0.08  # some patients return with a new episode
    patient_no[repeat] = rng.integers(1, n + 1, repeat.sum())
    surgical_share = np.zeros(n)
    for code, share in _SURGICAL_SHARE.items():
        surgical_share[cond == code] = share
    mix = _case_mix(rng, surgical_share, clinic_idx, therapist_idx)
    age, chronicity = mix.age, mix.chronicity
    sex = _choice(rng, {"female": 0.58, "male": 0.4, "other": 0.01, "unknown": 0.01}, n)
    payer = np.where(age >= 65, "medicare", _choice(rng, _PAYERS, n))
    completer_reason = _choice(rng, {"goals_met": 0.62, "plateau": 0.24, "referred_out": 0.05, "other": 0.09}, n)
    discharge = completer_reason.copy()
    discharge[dropped] = "self_discharged"
    discharge[open_episode] = None
    icd = np.empty(n, dtype=object)
    region = np.empty(n, dtype=object)
    for c in conds:
        mask = cond == c
        codes: list[str] = _CONDITIONS[c]["icd"]  # type: ignore[assignment]
        icd[mask] = np.array(codes, dtype=object)[rng.integers(0, len(codes), mask.sum())]
        region[mask] = _CONDITIONS[c]["region"]
    episode_id = np.array([f"E{i:06d}" for i in range(1, n + 1)], dtype=object)
    episodes = _frame(
        {
            "episode_id": episode_id,
            "patient_id": [f"P{i:06d}" for i in patient_no],
            "condition": cond,
            "start_date": start,
            "end_date": end,
            "clinic_id": clinic,
            "therapist_id": therapist,
            "icd10": icd,
            "body_region": region,
            "chronicity": chronicity,
            "discharge_reason": discharge,
            "age": age,
            "sex": sex,
            "payer": payer,
            "surgical": mix.surgical,
            "comorbidities": mix.comorbidities,
            "prior_episodes": mix.prior_episodes,
        },
        schema={
            "episode_id": pl.String,
            "patient_id": pl.String,
            "condition": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
            "clinic_id": pl.String,
            "therapist_id": pl.String,
            "icd10": pl.String,
            "body_region": pl.String,
            "chronicity": pl.String,
            "discharge_reason": pl.String,
            "age": pl.Int64,
            "sex": pl.String,
            "payer": pl.String,
            "surgical": pl.Boolean,
            "comorbidities": pl.Int64,
            "prior_episodes": pl.Int64,
        },
    ).with_columns(pl.when(pl.Series(open_episode)).then(None).otherwise(pl.col("end_date")).alias("end_date"))

    # ---- visits: offsets spread evenly from day 0 to the last visit, strictly increasing
    ep_of_visit = np.repeat(np.arange(n), n_visits)
    k = np.arange(len(ep_of_visit)) - np.repeat(np.cumsum(n_visits) - n_visits, n_visits)
    last = n_visits[ep_of_visit] - 1
    offset = np.floor(k * span[ep_of_visit] / np.maximum(last, 1)).astype(int)
    visit_date = start[ep_of_visit] + offset.astype("timedelta64[D]")
    reeval_visit: np.ndarray | None = None  # None: the middle visit
    if informative:  # the re-evaluation is the last visit of the second week of care, where there is one
        in_early = (offset >= _EARLY_DAYS[0]) & (offset <= _EARLY_DAYS[1])
        reeval_visit = n_visits // 2
        np.maximum.at(reeval_visit, ep_of_visit[in_early], k[in_early])

    # ---- treatments: the primary technique gets the most minutes; exercise beside it
    primary = tech[ep_of_visit]
    manual_min = rng.integers(18, 31, len(k))
    exercise_min = rng.integers(8, 17, len(k))
    is_ex_only = primary == "therapeutic_exercise"
    second_manual = (~is_ex_only) & (rng.random(len(k)) < 0.15)
    second_min = np.where(second_manual, rng.integers(5, 9, len(k)), 0)
    minutes = np.stack(
        [np.where(is_ex_only, 0, manual_min), np.where(is_ex_only, rng.integers(25, 41, len(k)), exercise_min),
         second_min],
        axis=1,
    )  # fmt: skip
    # manual techniques are billed together under 97140: units per CPT code, not per technique
    units_by_code = _units_8_minute_rule(np.stack([minutes[:, 0] + minutes[:, 2], minutes[:, 1]], axis=1))
    techs = vocabulary("techniques")
    cpt_of = dict(zip(techs["code"].to_list(), techs["cpt_code"].to_list(), strict=True))
    second_tech = np.where(
        np.isin(primary, ["soft_tissue_mobilization"]), "myofascial_release", "soft_tissue_mobilization"
    )
    treat_rows = {
        "episode_id": [],
        "visit_date": [],
        "technique": [],
        "minutes": [],
        "units": [],
        "body_region": [],
        "therapist_id": [],
    }  # type: dict[str, list[np.ndarray]]
    ep_reg = region[ep_of_visit]
    ep_ther = therapist[ep_of_visit]
    # 97140 units: the primary manual technique row carries the code's units; a second manual row bills 0
    for j, (tech_col, present) in enumerate(
        [(primary, ~is_ex_only), (np.full(len(k), "therapeutic_exercise", dtype=object), np.ones(len(k), bool)),
         (second_tech, second_manual)]
    ):  # fmt: skip
        units = units_by_code[:, 1] if j == 1 else (units_by_code[:, 0] if j == 0 else np.zeros(len(k), int))
        idx = np.flatnonzero(present)
        treat_rows["episode_id"].append(episode_id[ep_of_visit[idx]])
        treat_rows["visit_date"].append(visit_date[idx])
        treat_rows["technique"].append(tech_col[idx])
        treat_rows["minutes"].append(minutes[idx, j])
        treat_rows["units"].append(units[idx])
        treat_rows["body_region"].append(ep_reg[idx])
        treat_rows["therapist_id"].append(ep_ther[idx])
    treatments = _frame(
        {key: np.concatenate(parts) for key, parts in treat_rows.items()},
        schema={
            "episode_id": pl.String, "visit_date": pl.Date, "technique": pl.String,
            "minutes": pl.Int64, "units": pl.Int64, "body_region": pl.String, "therapist_id": pl.String,
        },
    ).with_columns(pl.col("technique").replace_strict(cpt_of, return_dtype=pl.String).alias("cpt_code"))  # fmt: skip
    treatments = treatments.select(
        "episode_id", "visit_date", "cpt_code", "technique", "minutes", "units", "body_region", "therapist_id"
    )
    m = treatments.height
    gap_minutes = rng.random(m) < 0.03
    gap_region = rng.random(m) < 0.05
    billing_slip = rng.random(m) < 0.03
    treatments = treatments.with_columns(
        pl.when(pl.Series(gap_minutes) & (pl.col("cpt_code") == "97140"))
        .then(None)
        .otherwise(pl.col("minutes"))
        .alias("minutes"),
        pl.when(pl.Series(gap_region)).then(None).otherwise(pl.col("body_region")).alias("body_region"),
        pl.when(pl.Series(billing_slip) & (pl.col("units") > 0))
        .then(pl.col("units") + pl.Series(rng.choice([-1, 1], m)))
        .otherwise(pl.col("units"))
        .alias("units"),
    ).sort("episode_id", "visit_date", "cpt_code", "technique")

    # ---- measurements
    meas_parts = []
    potential_parts = []
    for c in conds:
        for clin in _CLINICS:
            mask = (cond == c) & (clinic == clin)
            if not mask.any():
                continue
            idx = np.flatnonzero(mask)
            for measure, sides in _measure_plan(c, clin):
                side_sets: list[np.ndarray]
                if sides == "both":
                    side_sets = [
                        np.full(len(idx), "left", dtype=object),
                        np.full(len(idx), "right", dtype=object),
                    ]
                elif sides == "one":
                    side_sets = [sides_one[idx].astype(object)]
                else:
                    side_sets = [np.full(len(idx), None, dtype=object)]
                for side in side_sets:
                    d = _draw(rng, c, measure, efficacy[idx], ther_eff[idx] + _shift_of(measure, mix)[idx])
                    meas_parts.append(
                        _measurement_rows(
                            rng, measure, clin, idx, side, d, n_visits, visit_date, np.cumsum(n_visits) - n_visits,
                            dropped, reeval_visit,
                        )
                    )  # fmt: skip
                    potential_parts.append(_potential_rows(measure, idx, side, d))
    measurements = pl.concat(meas_parts)
    measurements = measurements.with_columns(pl.Series("episode_id", episode_id[measurements["episode"].to_numpy()]))
    measurements = measurements.select("episode_id", "measured_on", "measure", "value", "side").sort(
        "episode_id", "measured_on", "measure", "side", nulls_last=False
    )
    if informative:
        dropped = _informative_dropout(rng, episodes, measurements)
        episodes, treatments, measurements = _drop_out(episodes, treatments, measurements, dropped, open_draw < 0.3)

    potential = pl.concat(potential_parts)
    potential = (
        potential.with_columns(
            pl.Series("episode_id", episode_id[potential["episode"].to_numpy()]),
            pl.Series("dropped_out", dropped[potential["episode"].to_numpy()]),
        )
        .select("episode_id", "measure", "side", "baseline", "final", "improvement", "dropped_out")
        .sort("episode_id", "measure", "side", nulls_last=False)
    )

    truth = _truth().sort("condition", "technique", "measure")
    return DemoData(
        episodes=episodes.sort("episode_id"),
        treatments=treatments,
        measurements=measurements,
        truth=truth,
        seed=seed,
        potential_outcomes=potential,
        dropout=dropout,
    )


def _potential_rows(measure: str, idx: np.ndarray, side: np.ndarray, d: _Draw) -> pl.DataFrame:
    """Intake and would-be discharge value of one measure (and side) for the episodes ``idx``."""
    imp = _improvement(measure, d)
    imp = np.where(imp == 0, 0.0, imp)  # never -0.0, as episode_changes writes it
    return _frame(
        {
            "episode": idx,
            "measure": np.full(len(idx), measure, dtype=object),
            "side": side,
            "baseline": d.baseline.astype(float),
            "final": d.final.astype(float),
            "improvement": imp.astype(float),
        },
        schema={"episode": pl.Int64, "measure": pl.String, "side": pl.String, "baseline": pl.Float64,
                "final": pl.Float64, "improvement": pl.Float64},
    )  # fmt: skip


def _informative_dropout(rng: np.random.Generator, episodes: pl.DataFrame, measurements: pl.DataFrame) -> np.ndarray:
    """Who drops out under ``dropout="informative"``: logistic in the pain intake value and the early response.

    ``episodes`` in episode order and the full-schedule ``measurements``; the intake value is the value on the
    start date, the early value the last one 7-13 days after it (``_EARLY_DAYS``). Draws one uniform per episode
    from ``rng``.
    """
    pain = (
        measurements.filter(pl.col("measure").is_in(["nprs", "vas"]))
        .join(episodes.select("episode_id", "start_date"), on="episode_id")
        .with_columns((pl.col("measured_on") - pl.col("start_date")).dt.total_days().alias("day"))
        .group_by("episode_id", "measure")
        .agg(
            pl.col("value").filter(pl.col("day") == 0).first().alias("base"),
            pl.col("value").max_by(pl.when(pl.col("day").is_between(*_EARLY_DAYS)).then(pl.col("day"))).alias("early"),
        )
    )
    per_episode = episodes.select("episode_id").join(pain, on="episode_id", how="left", maintain_order="left")
    mu = per_episode["measure"].replace_strict({m: float(_MEASURES[m]["mu"]) for m in ("nprs", "vas")}, default=0.0)
    sd = per_episode["measure"].replace_strict({m: float(_MEASURES[m]["sd"]) for m in ("nprs", "vas")}, default=1.0)
    imp_sd = per_episode["measure"].replace_strict(
        {m: float(_MEASURES[m]["imp_sd"]) for m in ("nprs", "vas")}, default=1.0
    )
    base = per_episode["base"].to_numpy().astype(float)
    early = per_episode["early"].to_numpy().astype(float)
    z_base = np.nan_to_num((base - mu.to_numpy()) / sd.to_numpy())  # pain is "lower is better" on both scales
    z_early = (base - early) / imp_sd.to_numpy()
    c = _INFORMATIVE_DROPOUT
    has_early = np.isfinite(z_early)
    logit = c["a"] + c["b"] * z_base + np.where(has_early, c["c"] * np.nan_to_num(z_early), c["d"])
    out: np.ndarray = rng.random(episodes.height) < 1.0 / (1.0 + np.exp(-logit))
    return out


def _drop_out(
    episodes: pl.DataFrame,
    treatments: pl.DataFrame,
    measurements: pl.DataFrame,
    dropped: np.ndarray,
    open_if_dropped: np.ndarray,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Cut the dropouts' visits and values after day 13; their end date is their last visit (none if open)."""
    flags = episodes.select(
        "episode_id",
        pl.Series("__dropped", dropped),
        pl.Series("__open", dropped & open_if_dropped),
        (pl.col("start_date") + pl.duration(days=_EARLY_DAYS[1])).alias("__cutoff"),
    )
    treatments = (
        treatments.join(flags, on="episode_id", how="left", maintain_order="left")
        .filter(~pl.col("__dropped") | (pl.col("visit_date") <= pl.col("__cutoff")))
        .drop("__dropped", "__open", "__cutoff")
    )
    measurements = (
        measurements.join(flags, on="episode_id", how="left", maintain_order="left")
        .filter(~pl.col("__dropped") | (pl.col("measured_on") <= pl.col("__cutoff")))
        .drop("__dropped", "__open", "__cutoff")
    )
    last_visit = treatments.group_by("episode_id").agg(pl.col("visit_date").max().alias("__last"))
    episodes = (
        episodes.join(flags, on="episode_id", how="left", maintain_order="left")
        .join(last_visit, on="episode_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("__open"))
            .then(None)
            .when(pl.col("__dropped"))
            .then(pl.col("__last"))
            .otherwise(pl.col("end_date"))
            .alias("end_date"),
            pl.when(pl.col("__open"))
            .then(None)
            .when(pl.col("__dropped"))
            .then(pl.lit("self_discharged"))
            .otherwise(pl.col("discharge_reason"))
            .alias("discharge_reason"),
        )
        .drop("__dropped", "__open", "__cutoff", "__last")
    )
    return episodes, treatments, measurements


def _measurement_rows(
    rng: np.random.Generator,
    measure: str,
    clinic: str,
    idx: np.ndarray,
    side: np.ndarray,
    d: _Draw,
    n_visits: np.ndarray,
    visit_date: np.ndarray,
    first_visit_row: np.ndarray,
    dropout: np.ndarray,
    reeval_visit: np.ndarray | None = None,
) -> pl.DataFrame:
    """Long rows of one measure (and side) for the episodes ``idx``.

    Intake value at the first visit; discharge value at the last visit unless
    the episode dropped out; in between, values along a saturating recovery
    curve at every visit (pain in some clinics) or at one re-evaluation: the
    middle visit, or the visit ``reeval_visit`` of each episode where given.
    """
    nv = n_visits[idx]
    every = measure in ("nprs", "vas") and clinic in _EVERY_VISIT_PAIN
    # visit numbers measured: intake 0, discharge nv-1, and the middle ones
    counts = np.where(every, nv, np.minimum(nv, 3))
    rep = np.repeat(np.arange(len(idx)), counts)
    pos = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts)
    nv_r = nv[rep]
    middle_visit = nv_r // 2 if reeval_visit is None else reeval_visit[idx][rep]
    visit_no = np.where(every, pos, np.where(pos == 0, 0, np.where(pos == counts[rep] - 1, nv_r - 1, middle_visit)))
    frac = visit_no / np.maximum(nv_r - 1, 1)
    curve = (1 - np.exp(-3 * frac)) / (1 - np.exp(-3))
    base, final = d.baseline[rep], d.final[rep]
    if measure in _MEASURES:
        p = _MEASURES[measure]
        lo, hi, step, err = float(p["lo"]), float(p["hi"]), float(p["step"]), 0.35 * float(p["imp_sd"])
    else:
        p = _ROM[measure]
        lo, hi, step, err = float(p["lo"]), float(p["hi"]), float(p["step"]), float(p["err"])
    middle = _round_to(np.clip(base + curve * (final - base) + rng.normal(0, err, len(rep)), lo, hi), step)
    value = np.where(pos == 0, base, np.where(visit_no == nv_r - 1, final, middle))
    keep = ~dropout[idx][rep] | (pos == 0)  # dropouts: only the intake value
    ep = idx[rep]
    when = visit_date[first_visit_row[ep] + visit_no]
    return _frame(
        {
            "episode": ep[keep],
            "measured_on": when[keep],
            "measure": np.full(keep.sum(), measure, dtype=object),
            "value": value[keep].astype(float),
            "side": side[rep][keep],
        },
        schema={"episode": pl.Int64, "measured_on": pl.Date, "measure": pl.String, "value": pl.Float64,
                "side": pl.String},
    )  # fmt: skip


def write_demo(
    out: str | Path,
    /,
    n_episodes: int = 2000,
    *,
    seed: int = 2026,
    format: Literal["csv", "parquet"] = "csv",
    dropout: str = "random",
) -> DemoData:
    """Draw a synthetic dataset and write it to the folder ``out``.

    Writes ``episodes``, ``treatments`` and ``measurements`` (``.csv`` or
    ``.parquet``), ``truth.csv``, the true parameters, and
    ``truth_units.csv``, the true effects of the clinics and therapists (see
    :class:`DemoData`). ``dropout`` is that of :func:`make_demo`. Returns the
    data written.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    demo = make_demo(n_episodes, seed=seed, dropout=dropout)
    for name in ("episodes", "treatments", "measurements"):
        frame: pl.DataFrame = getattr(demo, name)
        for stale in (folder / f"{name}.csv", folder / f"{name}.parquet"):
            stale.unlink(missing_ok=True)
        if format == "csv":
            frame.write_csv(folder / f"{name}.csv")
        else:
            frame.write_parquet(folder / f"{name}.parquet", statistics=False)
    demo.truth.write_csv(folder / "truth.csv", float_precision=6)
    demo.unit_truth.write_csv(folder / "truth_units.csv", float_precision=6)
    return demo


def demo_dataset_path() -> Path:
    """Folder of the bundled demo dataset (2,000 episodes, seed 2026), shipped in the package."""
    return Path(__file__).resolve().parent / "demo_data"
