"""Tables for people (stage 5): result tables formatted as HTML for notebooks and the report.

Numbers are rounded here and only here, for reading. Rows whose group has
too few complete episodes show ``< min_cell`` instead of the count and a dash
instead of every statistic, so small cells cannot be read or derived.
Identifiers of patients or episodes never appear in these tables.

Each function returns an :class:`HtmlTable`, which notebooks display as HTML
and which prints as plain text elsewhere. :func:`funnel_table` lists every
unit of a funnel (:func:`outcomes.funnel` or :func:`outcomes.benchmark_funnel`)
to sit beside its chart: the unit's id (a clinic or therapist, never a
patient), its episodes, its value and where it falls against each control
level.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from outcomes.analyses import (
    BenchmarkResult,
    ComparisonResult,
    DropoutResult,
    FunnelResult,
    SummaryResult,
    TrajectoryModel,
    level_suffix,
    level_text,
)
from outcomes.ingest import builtin_catalog

__all__ = [
    "HtmlTable",
    "comparison_table",
    "dropout_table",
    "expect_result",
    "funnel_table",
    "html_table",
    "key_figures_table",
    "measures_table",
    "responder_thresholds",
    "scorecard_table",
    "summary_table",
    "trajectory_model_table",
]

DASH = "–"


@dataclass(frozen=True)
class HtmlTable:
    """A formatted table: ``header`` and ``rows`` of text, an optional caption and notes."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    notes: tuple[str, ...] = ()

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in self.rows)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        notes = "".join(f'<p class="outcomes-note">{html.escape(n)}</p>' for n in self.notes)
        return (
            f'<table class="outcomes-table">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}'
        )

    def __str__(self) -> str:
        widths = [
            max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h) for i, h in enumerate(self.header)
        ]
        line = "  ".join(h.ljust(w) for h, w in zip(self.header, widths, strict=True))
        out = [self.caption] if self.caption else []
        out += [line, "-" * len(line)]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in self.rows]
        return "\n".join(out + list(self.notes))

    def __repr__(self) -> str:
        return f"<HtmlTable: {len(self.rows)} rows x {len(self.header)} columns>"


def _num(x: Any, digits: int = 1) -> str:
    if x is None:
        return DASH
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0"


def _pct(x: Any, digits: int = 0) -> str:
    return DASH if x is None else f"{100 * x:.{digits}f}%"


def _ci(est: Any, lo: Any, hi: Any, fmt: Callable[[Any], str]) -> str:
    if est is None:
        return DASH
    if lo is None or hi is None:
        return fmt(est)
    return f"{fmt(est)} ({fmt(lo)} to {fmt(hi)})"


def _column_header(column: str) -> str:
    """A group column as a header: ``clinic_id`` -> ``Clinic``, ``body_region`` -> ``Body region``."""
    return column.replace("_id", "").replace("_", " ").capitalize()


def _label(value: Any) -> str:
    return DASH if value is None else str(value).replace("_", " ")


def expect_result(result: object, kind: type, function: str, maker: str, /) -> None:
    """TypeError unless ``result`` is a ``kind``: the tables and charts read their settings from the result."""
    if not isinstance(result, kind):
        raise TypeError(
            f"{function} takes the {kind.__name__} that {maker}() returns (it reads min_cell, the confidence "
            f"level and the thresholds from it); got {type(result).__name__}. Pass the result itself, or "
            "result.filter(...) for a part of it"
        )


def responder_thresholds(info: dict[str, Any], rule: str | None, /) -> str:
    """The thresholds that make a responder under ``rule``, in words, from a catalog row.

    ``either`` (and an unrecorded rule, None) joins them with "or", ``both``
    with "and"; ``absolute`` and ``percent`` name one. Empty where the rule
    uses no threshold the row gives.

    Examples
    --------
    >>> row = {"mcid": 2.0, "mcid_pct": 30.0, "unit": "points"}
    >>> [responder_thresholds(row, r) for r in ("either", "both", "absolute", "percent")]
    ['2 points or 30% of baseline', '2 points and 30% of baseline', '2 points', '30% of baseline']
    """
    absolute = [f"{info['mcid']:g} {info.get('unit') or ''}".strip()] if info.get("mcid") is not None else []
    percent = [f"{info['mcid_pct']:g}% of baseline"] if info.get("mcid_pct") is not None else []
    if rule == "absolute":
        return " ".join(absolute)
    if rule == "percent":
        return " ".join(percent)
    return (" and " if rule == "both" else " or ").join(absolute + percent)


def html_table(
    frame: pl.DataFrame,
    /,
    columns: dict[str, tuple[str, Callable[[Any], str]]],
    *,
    caption: str = "",
    notes: Sequence[str] = (),
) -> HtmlTable:
    """Format ``frame``: ``columns`` maps a column to (header, formatter of one value)."""
    rows = tuple(tuple(fmt(row[col]) for col, (_, fmt) in columns.items()) for row in frame.iter_rows(named=True))
    return HtmlTable(tuple(h for h, _ in columns.values()), rows, caption, tuple(notes))


def summary_table(
    summary: SummaryResult,
    /,
    *,
    measure: str,
    catalog: pl.DataFrame,
    side: str | None = None,
    detail: bool = False,
    caption: str | None = None,
) -> HtmlTable:
    """One measure of a grouped summary, as directors (``detail=False``) or researchers read it.

    ``summary`` is the :class:`~outcomes.analyses.SummaryResult` of
    :func:`outcomes.summarize`; its ``min_cell``, ``confidence_level`` and
    ``responder_rule`` label the table. ``detail=True`` adds SD, SRM, g_av
    and p-values.
    """
    expect_result(summary, SummaryResult, "summary_table", "summarize")
    min_cell, level = summary.min_cell, level_text(summary.confidence_level)
    info = catalog.filter(pl.col("code") == measure).row(0, named=True)
    unit = info["unit"]
    rows = summary.table.filter(pl.col("measure") == measure)
    if side is not None:
        rows = rows.filter(pl.col("side") == side)
    group_cols = list(summary.by)
    with_side = rows["side"].drop_nulls().n_unique() > 0
    header: list[str] = [_column_header(c) for c in group_cols]
    if with_side:
        header.append("Side")
    header += ["Episodes", "Follow-up", f"Baseline → final ({unit})", f"Mean improvement ({unit}, {level} CI)"]
    thresholds = responder_thresholds(info, summary.responder_rule)
    has_mcid = bool(thresholds)
    if has_mcid:
        header.append(f"Reached MCID ({level} CI)")
    if info["mdc"] is not None:
        header.append("Beyond MDC")
    if detail:
        header += ["SD", f"SRM ({level} CI)", f"g_av ({level} CI)", "p (paired t)", "Median (IQR)"]
    out_rows = []
    for r in rows.iter_rows(named=True):
        cells = [_label(r[c]) for c in group_cols]
        if with_side:
            cells.append(_label(r["side"]))
        if r["suppressed"]:
            cells += [f"< {min_cell}", DASH, DASH, DASH]
            cells += [DASH] * (int(has_mcid) + int(info["mdc"] is not None))
            cells += [DASH] * (5 if detail else 0)
        else:
            cells += [
                str(r["n"]),
                _pct(r["followup_rate"]),
                f"{_num(r['baseline_mean'])} → {_num(r['final_mean'])}",
                _ci(r["mean_improvement"], r["ci_low"], r["ci_high"], _num),
            ]
            if has_mcid:
                cells.append(_ci(r["responder_rate"], r["responder_ci_low"], r["responder_ci_high"], _pct))
            if info["mdc"] is not None:
                cells.append(_pct(r["exceeds_mdc_rate"]))
            if detail:
                cells += [
                    _num(r["sd_improvement"], 2),
                    _ci(r["srm"], r["srm_ci_low"], r["srm_ci_high"], lambda x: _num(x, 2)),
                    _ci(r["g_av"], r["g_av_ci_low"], r["g_av_ci_high"], lambda x: _num(x, 2)),
                    _p(r["p_value"]),
                    f"{_num(r['median_improvement'])} ({_num(r['q1_improvement'])} to {_num(r['q3_improvement'])})",
                ]
        out_rows.append(tuple(cells))
    notes = [
        f"Improvement is signed so that positive is better ({info['better']} {info['label']} is better).",
        f"Groups with fewer than {min_cell} complete episodes are not shown (< {min_cell}).",
    ]
    if has_mcid:
        notes.append(f"Reached MCID: an improvement of at least {thresholds}. Source: {info['source']}.")
    return HtmlTable(tuple(header), tuple(out_rows), caption or info["label"], tuple(notes))


def _p(p: Any) -> str:
    if p is None:
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def comparison_table(comparisons: ComparisonResult, /, *, measure: str, catalog: pl.DataFrame) -> HtmlTable:
    """Pairwise comparisons of one measure (researchers' view), from :func:`outcomes.compare`'s result."""
    expect_result(comparisons, ComparisonResult, "comparison_table", "compare")
    min_cell, level = comparisons.min_cell, level_text(comparisons.confidence_level)
    info = catalog.filter(pl.col("code") == measure).row(0, named=True)
    unit = info["unit"]
    rows = comparisons.table.filter(pl.col("measure") == measure)
    strata = list(comparisons.within)
    header = [_column_header(c) for c in strata] + [
        "A",
        "B",
        "n A / n B",
        f"Difference A − B ({unit}, {level} CI)",
        f"Adjusted for baseline ({level} CI)",
        f"Hedges' g ({level} CI)",
        "Cliff's delta",
        "p (Welch)",
        "p (Holm)",
        "p adjusted for baseline (Holm)",
    ]
    out_rows = []
    for r in rows.iter_rows(named=True):
        cells = [_label(r[c]) for c in strata] + [_label(r["group_a"]), _label(r["group_b"])]
        if r["suppressed"]:
            cells += [f"< {min_cell} in a group"] + [DASH] * 7
        else:
            cells += [
                f"{r['n_a']} / {r['n_b']}",
                _ci(r["diff"], r["diff_ci_low"], r["diff_ci_high"], lambda x: _num(x, 2)),
                _ci(r["adjusted_diff"], r["adjusted_ci_low"], r["adjusted_ci_high"], lambda x: _num(x, 2)),
                _ci(r["hedges_g"], r["g_ci_low"], r["g_ci_high"], lambda x: _num(x, 2)),
                _num(r["cliffs_delta"], 2),
                _p(r["p_value"]),
                _p(r["p_adjusted"]),
                _p(r["adjusted_p_holm"]),
            ]
        out_rows.append(tuple(cells))
    notes = [
        "Positive differences favour A. Holm adjusts the p-values within each stratum and measure.",
        "The baseline-adjusted differences come from one ANCOVA per stratum and measure (improvement on group"
        " and baseline, one common slope), so they add up across pairs.",
    ]
    shown = rows.filter(~pl.col("suppressed") & pl.col("slope_interaction_p").is_not_null())
    doubtful = shown.filter(pl.col("slope_interaction_p") < 0.05).unique(strata, maintain_order=True)
    for r in doubtful.iter_rows(named=True):
        where = ", ".join(_label(r[c]) for c in strata) or "All episodes"
        notes.append(
            f"{where}: the slope on baseline differs between groups (interaction p = {_p(r['slope_interaction_p'])});"
            " read its baseline-adjusted differences with caution."
        )
    return HtmlTable(tuple(header), tuple(out_rows), f"{info['label']}: comparisons", tuple(notes))


def dropout_table(result: DropoutResult, /, *, measure: str, catalog: pl.DataFrame) -> HtmlTable:
    """Complete-case and dropout-weighted mean improvement of one measure, side by side (researchers' view).

    ``result`` is the :class:`~outcomes.analyses.DropoutResult` of
    :func:`outcomes.dropout_sensitivity`. The notes say what the weighted
    estimate assumes and repeat each of the propensity model's notes once.
    """
    expect_result(result, DropoutResult, "dropout_table", "dropout_sensitivity")
    min_cell, level = result.min_cell, level_text(result.confidence_level)
    info = catalog.filter(pl.col("code") == measure).row(0, named=True)
    unit = info["unit"]
    rows = result.table.filter(pl.col("measure") == measure)
    group_cols = list(result.by)
    with_side = rows["side"].drop_nulls().n_unique() > 0
    header = [_column_header(c) for c in group_cols]
    if with_side:
        header.append("Side")
    header += [
        "With / without a discharge value",
        f"Complete-case mean improvement ({unit}, {level} CI)",
        f"Weighted for dropout ({level} CI)",
        "Weighted − complete-case",
        "Effective n",
    ]
    out_rows = []
    model_notes: list[str] = []
    for r in rows.iter_rows(named=True):
        cells = [_label(r[c]) for c in group_cols]
        if with_side:
            cells.append(_label(r["side"]))
        if r["suppressed"]:
            cells += [f"< {min_cell}"] + [DASH] * 4
        else:
            weighted = r["ipw_mean_improvement"]
            cells += [
                f"{r['n']} / {r['n_no_followup']}",
                _ci(r["mean_improvement"], r["ci_low"], r["ci_high"], lambda x: _num(x, 2)),
                _ci(weighted, r["ipw_ci_low"], r["ipw_ci_high"], lambda x: _num(x, 2)),
                DASH if weighted is None else _num(weighted - r["mean_improvement"], 2),
                _num(r["effective_n"], 0),
            ]
            for note in (r["notes"] or "").split("; "):
                if note and note not in model_notes:
                    model_notes.append(note)
        out_rows.append(tuple(cells))
    covariates = ", ".join(result.covariates) or "none"
    notes = [
        "A sensitivity analysis, not a correction: each episode with a discharge value is weighted by 1 / its "
        "modelled probability of having one, so that it also stands for the episodes like it that left without "
        "one. The weighted mean is unbiased if who leaves depends only on what the model sees (missing at random): "
        f"the baseline, the improvement {result.early_days[0]}-{result.early_days[1]} days after it, the case mix "
        f"({covariates}) and the groups. Where the two means differ, the complete-case one depends on who stayed.",
        f"A discharge value is one at least {result.min_followup_days} days after the baseline. Groups with fewer "
        f"than {min_cell} complete episodes are not shown (< {min_cell}).",
        *model_notes,
    ]
    return HtmlTable(tuple(header), tuple(out_rows), f"{info['label']}: missing discharge values", tuple(notes))


def trajectory_model_table(model: TrajectoryModel, /, *, catalog: pl.DataFrame) -> HtmlTable:
    """The fixed effects of a mixed-model trajectory per group, with the variance components in the notes."""
    expect_result(model, TrajectoryModel, "trajectory_model_table", "trajectory_model")
    info = catalog.filter(pl.col("code") == model.measure).row(0, named=True)
    unit, level = info["unit"], level_text(model.confidence_level)
    scale = {"weeks": "per week", "days": "per day", "log_weeks": "per unit of log(1 + weeks)"}[model.time]
    on_log = model.transform == "log1p"
    what = "log(1 + value)" if on_log else unit
    header = (
        "Group" if model.by is None else _column_header(model.by),
        "Episodes",
        f"At the start ({what}, {level} CI)",
        f"Change {scale} ({what}, {level} CI)",
        "p (slope = 0)",
    )
    rows = []
    fixed = model.fixed
    for group in fixed["group"].unique(maintain_order=True).to_list():
        part = {r["term"]: r for r in fixed.filter(pl.col("group") == group).iter_rows(named=True)}
        a, b = part["intercept"], part["slope"]
        rows.append(
            (
                "all episodes" if model.by is None else _label(group),
                str(a["n_episodes"]),
                _ci(a["estimate"], a["ci_low"], a["ci_high"], lambda x: _num(x, 2)),
                _ci(b["estimate"], b["ci_low"], b["ci_high"], lambda x: _num(x, 2)),
                _p(b["p_value"]),
            )
        )
    v = dict(model.variance.iter_rows())

    def sd(name: str) -> str:
        value = v.get(name)
        return DASH if value is None else _num(float(value) ** 0.5, 2)

    corr = v.get("intercept_slope_correlation")
    notes = [
        f"Mixed model of {info['label']} over time since the start of the episode ({model.n_obs:,} measurements of "
        f"{model.n_episodes:,} episodes): one intercept and one slope per group, a random intercept and slope per "
        "episode (REML); Wald intervals.",
        f"Between episodes: SD of the start {sd('intercept_variance')}, SD of the slope {sd('slope_variance')}, "
        f"their correlation {DASH if corr is None else _num(corr, 2)}; within an episode: residual SD "
        f"{sd('residual_variance')}.",
        *model.notes,
    ]
    caption = f"{info['label']}: trajectory model"
    return HtmlTable(header, tuple(rows), caption, tuple(notes))


def measures_table(
    summary: SummaryResult,
    /,
    *,
    measures: Sequence[str],
    catalog: pl.DataFrame,
    caption: str = "",
) -> HtmlTable:
    """Several measures (for example every joint and motion) in one table: a row per group x measure x side."""
    expect_result(summary, SummaryResult, "measures_table", "summarize")
    min_cell, level = summary.min_cell, level_text(summary.confidence_level)
    info = {r["code"]: r for r in catalog.filter(pl.col("code").is_in(list(measures))).iter_rows(named=True)}
    rows = summary.table.filter(pl.col("measure").is_in(list(measures))).sort("measure", "side", nulls_last=False)
    group_cols = list(summary.by)
    header = [_column_header(c) for c in group_cols]
    header += ["Measure", "Side", "Normal", "MDC", "Episodes", "Baseline → final", f"Mean improvement ({level} CI)",
               "Beyond MDC"]  # fmt: skip
    out_rows = []
    for r in rows.sort([*group_cols, "measure", "side"], nulls_last=False).iter_rows(named=True):
        m = info[r["measure"]]
        unit = m["unit"]
        cells = [_label(r[c]) for c in group_cols]
        cells += [
            f"{m['label']} ({unit})",
            _label(r["side"]),
            _num(m["normal"], 0) if m["normal"] is not None else DASH,
            f"{m['mdc']:g}" if m["mdc"] is not None else DASH,
        ]
        if r["suppressed"]:
            cells += [f"< {min_cell}", DASH, DASH, DASH]
        else:
            cells += [
                str(r["n"]),
                f"{_num(r['baseline_mean'])} → {_num(r['final_mean'])}",
                _ci(r["mean_improvement"], r["ci_low"], r["ci_high"], _num),
                _pct(r["exceeds_mdc_rate"]),
            ]
        out_rows.append(tuple(cells))
    notes = (
        "Improvement is signed so that positive is better (for a deficit, a smaller value is better).",
        f"Beyond MDC: share of complete episodes whose improvement reaches the MDC. Fewer than {min_cell} "
        f"complete episodes: not shown (< {min_cell}).",
    )
    return HtmlTable(tuple(header), tuple(out_rows), caption, notes)


def funnel_table(
    result: FunnelResult, /, *, catalog: pl.DataFrame | None = None, caption: str | None = None
) -> HtmlTable:
    """Every unit of a funnel, sorted by unit, for the table beside :func:`~outcomes.present.plots.plot_funnel`.

    ``result`` is the :class:`~outcomes.analyses.FunnelResult` of
    :func:`outcomes.funnel` or :func:`outcomes.benchmark_funnel`. Columns:
    the unit, its complete episodes, its value (responders in percent, a mean
    improvement or observed - expected in the measure's units) and, per
    control level, its position: ``inside``, ``above 95%``, ``below 99.8%``,
    ... (read from the result's ``outside_<level>`` flags, above or below
    the target). A suppressed unit shows ``< min_cell`` for fewer than
    ``min_cell`` episodes (its n otherwise: a benchmark unit whose
    reliability was too low to score) and no value or position. The catalog
    (default: the built-in one) gives the measure's name and unit.

    Examples
    --------
    >>> from outcomes import funnel
    >>> changes = pl.DataFrame({
    ...     "clinic_id": ["A"] * 40 + ["B"] * 60 + ["C"] * 5,
    ...     "responder": [True] * 36 + [False] * 4 + [True] * 30 + [False] * 30 + [True] * 5,
    ...     "improvement": 1.0, "measure": "nprs", "status": "complete",
    ... }).with_columns(side=pl.lit(None, dtype=pl.String))
    >>> t = funnel_table(funnel(changes, unit="clinic_id"))
    >>> t.header
    ('Clinic', 'Episodes', 'Responders', 'Against the 95% limits', 'Against the 99.8% limits')
    >>> for row in t.rows:
    ...     print(row)
    ('A', '40', '90.0%', 'above 95%', 'above 99.8%')
    ('B', '60', '50.0%', 'below 95%', 'inside')
    ('C', '< 11', '–', '–', '–')
    """
    expect_result(result, FunnelResult, "funnel_table", "funnel() or benchmark_funnel")
    cat = catalog if catalog is not None else builtin_catalog()
    found = cat.filter(pl.col("code") == result.measure)
    info: dict[str, Any] = found.row(0, named=True) if found.height else {"label": result.measure, "unit": ""}
    unit = info.get("unit") or ""
    adjusted = result.metric == "residual_mean"
    if result.metric == "responder_rate":
        what, value_header = "responders", "Responders"

        def value_text(x: Any) -> str:
            return _pct(x, 1)

    elif adjusted:
        what, value_header = "observed − expected", f"Observed − expected ({unit})"

        def value_text(x: Any) -> str:
            return _num(x, 2)

    else:
        what, value_header = "mean improvement", f"Mean improvement ({unit})"

        def value_text(x: Any) -> str:
            return _num(x, 1)

    levels = [(level_text(level), f"outside_{level_suffix(level)}") for level in result.levels]
    header = (
        _column_header(result.unit_column),
        "Episodes",
        value_header,
        *[f"Against the {name} limits" for name, _ in levels],
    )
    min_cell = result.min_cell
    out_rows = []
    for r in result.units.sort("unit").iter_rows(named=True):
        cells = [_label(r["unit"]) if r["unit"] is None else str(r["unit"])]
        if r["suppressed"]:
            cells.append(f"< {min_cell}" if r["n"] < min_cell else str(r["n"]))
            cells += [DASH] * (1 + len(levels))
        else:
            cells += [str(r["n"]), value_text(r["value"])]
            for name, flag in levels:
                if r[flag] is None:
                    cells.append(DASH)
                elif r[flag]:
                    cells.append(f"{'above' if r['value'] > result.target else 'below'} {name}")
                else:
                    cells.append("inside")
        out_rows.append(tuple(cells))
    pct = 100.0 if result.metric == "responder_rate" else 1.0
    if adjusted:
        centre = (
            "Observed − expected: the mean, over a unit's complete episodes, of each episode's improvement minus "
            "the improvement expected for its case mix (the benchmark's risk model); 0 is as expected, positive "
            "is better."
        )
    elif result.metric == "responder_rate":
        thresholds = responder_thresholds(info, result.responder_rule) if found.height else ""
        reached = f" (an improvement of at least {thresholds})" if thresholds else ""
        centre = f"Responders: share of complete episodes that reached the MCID{reached}."
        centre += f" Overall: {result.target * pct:.1f}%."
    else:
        centre = f"Mean improvement, signed so that positive is better. Overall: {_num(result.target, 1)} {unit}."
    names = [name for name, _ in levels]
    chance = {"95%": "about 1 unit in 20", "99.8%": "about 1 in 500"}
    by_chance = "; ".join(f"outside {n}: {chance[n]}" for n in names if n in chance)
    position = "Position: inside the control limits at the unit's own number of episodes, or above or below them."
    if result.overdispersion == "multiplicative":
        position += (
            " The limits are widened for the spread between units beyond chance (over-dispersion, multiplicative,"
            f" phi = {result.phi:.2f}): outside them is unusual even allowing for that spread."
        )
    elif result.overdispersion == "additive":
        position += (
            " The limits are widened for the spread between units beyond chance (over-dispersion, additive,"
            f" tau2 = {result.tau2:.3g}): outside them is unusual even allowing for that spread."
        )
    elif by_chance:
        position += f" Expected by chance alone: {by_chance}."
    notes = [centre, position]
    small = f"Units with fewer than {min_cell} complete episodes show < {min_cell} and no value."
    if adjusted:
        small += " Units the benchmark did not score (too few episodes or too low a reliability) show no value."
    notes.append(small + " They are not drawn on the chart.")
    label = info.get("label") or result.measure
    default = f"{label}: {what} by {_column_header(result.unit_column).lower()}"
    return HtmlTable(header, tuple(out_rows), caption or default, tuple(notes))


def scorecard_table(
    result: BenchmarkResult, /, *, catalog: pl.DataFrame | None = None, caption: str | None = None
) -> HtmlTable:
    """A scorecard of the units of a benchmark (:func:`outcomes.benchmark`), best shrunken score first.

    One row per unit, named by its id (a clinic or therapist, never a
    patient): complete episodes, observed and expected mean improvement,
    observed - expected with its interval, the shrunken score (empirical
    Bayes) with its interval, the reliability, the rank with its interval
    and, where the measure has a responder threshold, the risk-adjusted
    responder rate. Units the benchmark did not score come last with a dash
    for every number and the reason; one with fewer than ``min_cell``
    episodes shows ``< min_cell``, not its count.

    Examples
    --------
    >>> import numpy as np
    >>> from outcomes import benchmark
    >>> rng = np.random.default_rng(1)
    >>> units = np.repeat(["A", "B", "C", "D"], [60, 60, 60, 6])
    >>> changes = pl.DataFrame({
    ...     "therapist_id": units, "baseline": rng.normal(6, 1, units.size),
    ...     "improvement": rng.normal(2, 1, units.size) + (units == "A"),
    ...     "measure": "nprs", "status": "complete",
    ... }).with_columns(side=pl.lit(None, dtype=pl.String))
    >>> card = scorecard_table(benchmark(changes, adjust_for=("baseline",), min_reliability=0))
    >>> [row[0] for row in card.rows], card.rows[-1][1], card.rows[-1][-1]
    (['A', 'C', 'B', 'D'], '< 11', 'not scored: fewer than 11 complete episodes')
    """
    expect_result(result, BenchmarkResult, "scorecard_table", "benchmark")
    cat = catalog if catalog is not None else builtin_catalog()
    found = cat.filter(pl.col("code") == result.measure)
    info: dict[str, Any] = found.row(0, named=True) if found.height else {"label": result.measure, "unit": ""}
    unit = info.get("unit") or ""
    level = level_text(result.confidence_level)
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + result.confidence_level / 2))
    t = result.table
    has_responders = "adjusted_responder_rate" in t.columns and t["adjusted_responder_rate"].null_count() < t.height
    header = [
        _column_header(result.unit),
        "Episodes",
        f"Observed ({unit})".replace(" ()", ""),
        "Expected",
        f"Observed − expected ({level} CI)",
        f"Shrunken score ({level} interval)",
        "Reliability",
        f"Rank ({level} interval)",
    ]
    if has_responders:
        header.append(f"Adjusted responder rate ({level} CI)")
    header.append("Status")
    rows = []
    for r in t.iter_rows(named=True):
        cells = [str(r[result.unit])]
        if r["suppressed"]:
            cells.append(f"< {result.min_cell}" if r["n"] < result.min_cell else str(r["n"]))
            cells += [DASH] * (len(header) - 3)
            cells.append(f"not scored: {r['reason']}")
        else:
            shrunk, sd = r["shrunken_residual"], r["shrunken_sd"]
            cells += [
                str(r["n"]),
                _num(r["observed_mean"], 2),
                _num(r["expected_mean"], 2),
                _ci(r["residual_mean"], r["residual_ci_low"], r["residual_ci_high"], lambda x: _num(x, 2)),
                _ci(shrunk, shrunk - z * sd, shrunk + z * sd, lambda x: _num(x, 2)),
                _num(r["reliability"], 2),
                f"{r['rank']:.0f} ({r['rank_ci_low']:.0f} to {r['rank_ci_high']:.0f})",
            ]
            if has_responders:
                cells.append(
                    _ci(r["adjusted_responder_rate"], r["adjusted_responder_ci_low"], r["adjusted_responder_ci_high"],
                        lambda x: _pct(x, 0))
                )  # fmt: skip
            cells.append("above expected" if r["outside_95"] and r["residual_mean"] > 0 else (
                "below expected" if r["outside_95"] else "as expected"))  # fmt: skip
        rows.append(tuple(cells))
    who = _column_header(result.unit).lower()
    notes = [
        f"Observed − expected: a {who}'s mean improvement minus the mean its patients were expected to reach given "
        f"their case mix ({', '.join(result.terms) or 'no terms'}); 0 is as expected, positive is better. "
        "The shrunken score pulls each toward 0 by its reliability, so that small caseloads do not top or tail the "
        "list by chance.",
        f"Status: above or below expected when observed − expected lies outside the 95% funnel limits; units with "
        f"fewer than {result.min_n} complete episodes or a reliability below {result.min_reliability:g} are not "
        "scored.",
    ]
    if has_responders:
        notes.append(
            "Adjusted responder rate: the unit's responders over those expected for its case mix (a logistic model), "
            "times the network's rate."
        )
    return HtmlTable(
        tuple(header),
        tuple(rows),
        caption if caption is not None else f"{info['label']}: {who}s against expectation",
        tuple(notes),
    )


def key_figures_table(figures: dict[str, str], /, *, caption: str = "") -> HtmlTable:
    """A two-column table of already formatted figures."""
    return HtmlTable(("", ""), tuple((k, v) for k, v in figures.items()), caption)
