"""Charts (stage 5): each draws a result table it is given and returns the Axes.

No function here computes a statistic: intervals, rates, limits and counts
come from :func:`outcomes.summarize`, :func:`outcomes.trajectories`,
:func:`outcomes.funnel` and :func:`outcomes.episode_changes`.
Reference lines (MCID, MDC, normal values) come from the measure catalog.

Every chart has a title, axis labels with units, and shows n. Colours are the
Okabe-Ito palette, which stays distinguishable with the common forms of
colour blindness. No global matplotlib setting is changed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from outcomes.analyses import (
    DEFAULT_MIN_CELL,
    BenchmarkResult,
    FunnelResult,
    SummaryResult,
    TrajectoryModel,
    TrajectoryResult,
    level_suffix,
    level_text,
)
from outcomes.ingest import builtin_catalog
from outcomes.present.tables import expect_result, responder_thresholds

__all__ = [
    "PALETTE",
    "plot_change_distribution",
    "plot_forest",
    "plot_funnel",
    "plot_paired_slopes",
    "plot_rankings",
    "plot_responder_rates",
    "plot_rom_vs_normal",
    "plot_trajectories",
]

PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
"""Okabe & Ito (2008) colour-blind-safe palette."""

_GREY = "#6b6b6b"
_EFFECT_LABELS = {
    "mean_improvement": ("Mean improvement", "ci_low", "ci_high"),
    "srm": ("Standardized response mean (SRM)", "srm_ci_low", "srm_ci_high"),
    "g_av": ("Hedges' g_av", "g_av_ci_low", "g_av_ci_high"),
}


def _measure_info(measure: str, catalog: pl.DataFrame | None) -> dict[str, Any]:
    cat = catalog if catalog is not None else builtin_catalog()
    rows = cat.filter(pl.col("code") == measure)
    if rows.height == 0:
        return {"code": measure, "label": measure, "unit": "", "better": "higher", "mcid": None, "mdc": None,
                "normal": None}  # fmt: skip
    info: dict[str, Any] = rows.row(0, named=True)
    return info


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _, new_ax = plt.subplots(figsize=size, layout="constrained")
    return new_ax


def _title(ax: Axes, text: str) -> None:
    """Set a title wrapped to the figure's width, so a long measure name is never cut off."""
    figure = ax.get_figure(root=True)
    width_in = figure.get_size_inches()[0] if figure is not None else 8.0
    # right-aligned: long group labels leave the axes narrow, and the title may then extend over them
    ax.set_title(textwrap.fill(text, width=max(40, int(width_in * 8.5))), fontsize=11, loc="right")


def _group_label(row: dict[str, Any], columns: Sequence[str]) -> str:
    parts = [str(row[c]).replace("_", " ") for c in columns if row.get(c) is not None]
    return " · ".join(parts) if parts else "all episodes"


def _select(table: pl.DataFrame, measure: str, side: str | None) -> pl.DataFrame:
    out = table.filter(pl.col("measure") == measure)
    if side is not None:
        out = out.filter(pl.col("side") == side)
    return out


def plot_forest(
    summary: SummaryResult,
    /,
    *,
    measure: str,
    effect: str = "mean_improvement",
    side: str | None = None,
    catalog: pl.DataFrame | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Forest plot: one row per group with its estimate and confidence interval.

    Parameters
    ----------
    summary : SummaryResult
        Output of :func:`outcomes.summarize` (its confidence level labels the
        intervals). Suppressed rows are left out and counted in the footnote.
    measure : str
        Measure code.
    effect : {"mean_improvement", "srm", "g_av"}
        Which estimate to draw. For ``mean_improvement`` the MCID (and MDC)
        of the measure are drawn as reference lines.
    side : str, optional
        For measures with sides, restrict to one side (otherwise side is part
        of the row label).
    catalog : polars.DataFrame, optional
        The measure catalog (default: the built-in one).
    """
    expect_result(summary, SummaryResult, "plot_forest", "summarize")
    if effect not in _EFFECT_LABELS:
        raise ValueError(f"effect must be one of {', '.join(_EFFECT_LABELS)}")
    name, lo_col, hi_col = _EFFECT_LABELS[effect]
    level = level_text(summary.confidence_level)
    info = _measure_info(measure, catalog)
    rows = _select(summary.table, measure, side)
    group_cols = list(summary.by)
    label_cols = [*group_cols, "side"] if rows["side"].drop_nulls().n_unique() > 1 else group_cols
    shown = rows.filter(~pl.col("suppressed") & pl.col(effect).is_not_null())
    hidden = rows.height - shown.height
    height = max(2.8, 0.38 * shown.height + 1.6)
    ax = _axes(ax, (8.0, height))
    y = np.arange(shown.height)[::-1]
    est = shown[effect].to_numpy().astype(float)
    lo = shown[lo_col].to_numpy().astype(float)
    hi = shown[hi_col].to_numpy().astype(float)
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color=PALETTE[0], ecolor=PALETTE[0], capsize=3, ms=5)
    labels = [f"{_group_label(r, label_cols)}  (n={r['n']})" for r in shown.iter_rows(named=True)]
    ax.set_yticks(y, labels)
    ax.axvline(0, color=_GREY, lw=1)
    unit = info.get("unit") or ""
    if effect == "mean_improvement":
        if info.get("mcid") is not None:
            ax.axvline(info["mcid"], color=PALETTE[5], ls="--", lw=1.2, label=f"MCID {info['mcid']:g} {unit}")
        if info.get("mdc") is not None:
            ax.axvline(info["mdc"], color=PALETTE[2], ls=":", lw=1.2, label=f"MDC {info['mdc']:g} {unit}")
        ax.set_xlabel(f"{name} ({unit}; positive = better), {level} CI")
    else:
        ax.set_xlabel(f"{name} (no units; positive = better), {level} CI")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_ylim(-0.7, max(shown.height, 1) - 0.3)
    total = int(shown["n"].sum()) if shown.height else 0
    _title(ax, title or f"{info['label']}: {name.lower()} by group (n={total} episodes)")
    if hidden:
        ax.set_xlabel(f"{ax.get_xlabel()}\n{hidden} group(s) with too few complete episodes not shown", fontsize=9)
    ax.grid(axis="x", color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    return ax


def plot_responder_rates(
    summary: SummaryResult,
    /,
    *,
    measure: str,
    side: str | None = None,
    catalog: pl.DataFrame | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Share of episodes reaching the MCID per group, with Wilson intervals (in percent).

    ``summary`` is the :class:`~outcomes.analyses.SummaryResult` of
    :func:`outcomes.summarize`: its confidence level and responder rule label
    the axis.
    """
    expect_result(summary, SummaryResult, "plot_responder_rates", "summarize")
    info = _measure_info(measure, catalog)
    rows = _select(summary.table, measure, side)
    group_cols = list(summary.by)
    shown = rows.filter(~pl.col("suppressed") & pl.col("responder_rate").is_not_null())
    height = max(2.8, 0.38 * shown.height + 1.6)
    ax = _axes(ax, (8.0, height))
    y = np.arange(shown.height)[::-1]
    rate = shown["responder_rate"].to_numpy().astype(float) * 100
    lo = shown["responder_ci_low"].to_numpy().astype(float) * 100
    hi = shown["responder_ci_high"].to_numpy().astype(float) * 100
    ax.barh(y, rate, color=PALETTE[4], height=0.6)
    ax.errorbar(rate, y, xerr=[rate - lo, hi - rate], fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_yticks(y, [f"{_group_label(r, group_cols)}  (n={r['n']})" for r in shown.iter_rows(named=True)])
    ax.set_xlim(0, 100)
    thresholds = responder_thresholds(info, summary.responder_rule) or "no MCID"
    ax.set_xlabel(
        f"Episodes reaching the MCID ({thresholds}), % with {level_text(summary.confidence_level)} CI", wrap=True
    )
    total = int(shown["n"].sum()) if shown.height else 0
    _title(ax, title or f"{info['label']}: responders by group (n={total} episodes)")
    ax.grid(axis="x", color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    return ax


def plot_paired_slopes(
    changes: pl.DataFrame,
    /,
    *,
    measure: str,
    side: str | None = None,
    summary: SummaryResult | None = None,
    catalog: pl.DataFrame | None = None,
    max_episodes: int = 300,
    seed: int = 0,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Baseline and final value of each complete episode joined by a line.

    At most ``max_episodes`` lines are drawn (a seeded random subset, said in
    the title). Where ``summary`` (:func:`outcomes.summarize` with ``by=()``)
    is given, a thick line joins its baseline and final means.
    """
    if summary is not None:
        expect_result(summary, SummaryResult, "plot_paired_slopes", "summarize")
    info = _measure_info(measure, catalog)
    rows = _select(changes, measure, side).filter(pl.col("status") == "complete")
    n = rows.height
    ax = _axes(ax, (5.5, 4.5))
    drawn = rows if n <= max_episodes else rows.sample(n=max_episodes, seed=seed)
    b = drawn["baseline"].to_numpy().astype(float)
    f = drawn["final"].to_numpy().astype(float)
    jitter = np.random.default_rng(seed).uniform(-0.04, 0.04, size=(2, b.size))
    segments = np.stack([np.stack([jitter[0], b], axis=1), np.stack([1 + jitter[1], f], axis=1)], axis=1)
    ax.add_collection(LineCollection(list(segments), colors=PALETTE[4], alpha=0.25, linewidths=0.8))
    if summary is not None:
        means = _select(summary.table, measure, side).filter(~pl.col("suppressed"))
        if means.height == 1:
            mean_b, mean_f = means.select("baseline_mean", "final_mean").row(0)
            ax.plot([0, 1], [mean_b, mean_f], color=PALETTE[5], lw=3, marker="o", label=f"mean (n={means['n'][0]})")
            ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_xticks([0, 1], ["Baseline", "Final"])
    ax.set_xlim(-0.3, 1.3)
    if b.size:
        low, high = float(min(b.min(), f.min())), float(max(b.max(), f.max()))
        pad = 0.05 * (high - low or 1.0)
        ax.set_ylim(low - pad, high + pad)
    ax.set_ylabel(f"{info['label']} ({info.get('unit') or ''}; {info.get('better', 'higher')} is better)")
    sub = f", {b.size} drawn" if b.size < n else ""
    _title(ax, title or f"{info['label']}: baseline to final (n={n} episodes{sub})")
    return ax


def plot_change_distribution(
    changes: pl.DataFrame,
    /,
    *,
    measure: str,
    by: str = "technique",
    side: str | None = None,
    summary: SummaryResult | None = None,
    min_cell: int | None = None,
    catalog: pl.DataFrame | None = None,
    seed: int = 0,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Improvement of every complete episode per group (jittered dots), with the MCID and MDC lines.

    Where ``summary`` (:func:`outcomes.summarize` grouped by ``by`` alone)
    is given, each group's median and interquartile range are drawn from it.
    Groups with fewer than ``min_cell`` complete episodes are left out
    (default: the summary's ``min_cell``, else 11).
    """
    if summary is not None:
        expect_result(summary, SummaryResult, "plot_change_distribution", "summarize")
        if summary.by != (by,):
            raise ValueError(f"summary is grouped by {summary.by}; pass one grouped by ({by!r},) alone")
    if min_cell is None:
        min_cell = summary.min_cell if summary is not None else DEFAULT_MIN_CELL
    info = _measure_info(measure, catalog)
    rows = _select(changes, measure, side).filter((pl.col("status") == "complete") & pl.col(by).is_not_null())
    counts = rows.group_by(by).len().filter(pl.col("len") >= min_cell).sort(by)
    groups = counts[by].to_list()
    ax = _axes(ax, (8.0, max(2.8, 0.55 * len(groups) + 1.6)))
    rng = np.random.default_rng(seed)
    for i, group in enumerate(groups):
        values = rows.filter(pl.col(by) == group)["improvement"].to_numpy().astype(float)
        y = len(groups) - 1 - i
        ax.scatter(values, y + rng.uniform(-0.22, 0.22, values.size), s=6, color=PALETTE[i % 6], alpha=0.35, lw=0)
        if summary is not None:
            row = _select(summary.table, measure, side).filter(pl.col(by) == group)
            if row.height == 1 and not row["suppressed"].item():
                q1, med, q3 = row.select("q1_improvement", "median_improvement", "q3_improvement").row(0)
                ax.plot([q1, q3], [y, y], color="black", lw=2.5)
                ax.plot([med], [y], marker="D", color="white", mec="black", ms=6)
    ax.set_yticks(
        np.arange(len(groups))[::-1],
        [f"{str(g).replace('_', ' ')}  (n={k})" for g, k in counts.iter_rows()],
    )
    unit = info.get("unit") or ""
    ax.axvline(0, color=_GREY, lw=1)
    if info.get("mcid") is not None:
        ax.axvline(info["mcid"], color=PALETTE[5], ls="--", lw=1.2, label=f"MCID {info['mcid']:g} {unit}")
    if info.get("mdc") is not None:
        ax.axvline(info["mdc"], color=PALETTE[2], ls=":", lw=1.2, label=f"MDC {info['mdc']:g} {unit}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    legend_note = "; bar: IQR, diamond: median" if summary is not None else ""
    ax.set_xlabel(f"Improvement ({unit}; positive = better){legend_note}")
    total = int(counts["len"].sum())
    _title(ax, title or f"{info['label']}: change per episode by {by.replace('_', ' ')} (n={total})")
    ax.set_ylim(-0.6, max(len(groups), 1) - 0.4)
    return ax


def plot_trajectories(
    trajectories: TrajectoryResult,
    /,
    *,
    measure: str | None = None,
    side: str | None = None,
    catalog: pl.DataFrame | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    max_groups: int = 8,
    model: TrajectoryModel | None = None,
) -> Axes:
    """Weekly mean with its confidence band per group, and the number of episodes measured each week below.

    Suppressed weeks (too few episodes) are gaps. ``trajectories`` is the
    :class:`~outcomes.analyses.TrajectoryResult` of
    :func:`outcomes.trajectories` (its confidence level labels the band).

    ``model``, a :class:`~outcomes.analyses.TrajectoryModel` of
    :func:`outcomes.trajectory_model` on the same measure (with ``by`` the
    trajectories' one group column, or None with ``by=()``), adds each
    group's fitted mean curve as a dashed line with its band, in the group's
    colour. The weekly means are drawn at the middle of their week (week 0:
    days 0-6 at 0.5), where the model's curve is at that time.
    """
    expect_result(trajectories, TrajectoryResult, "plot_trajectories", "trajectories")
    if model is not None:
        if not isinstance(model, TrajectoryModel):
            raise TypeError(f"model must be the TrajectoryModel of trajectory_model(); got {type(model).__name__}")
        wanted = () if model.by is None else (model.by,)
        if trajectories.by != wanted:
            raise ValueError(
                f"the model is grouped by {model.by!r} and the trajectories by {trajectories.by}; group both alike"
            )
        if model.time == "days":
            raise ValueError("draw a model fitted with time='weeks' or 'log_weeks' (the chart's axis is weeks)")
    table = trajectories.table
    if measure is not None:
        table = table.filter(pl.col("measure") == measure)
    if side is not None:
        table = table.filter(pl.col("side") == side)
    measures = table["measure"].unique().to_list()
    if len(measures) != 1:
        raise ValueError("pass `measure`: the table holds several measures" if measures else "no rows to draw")
    info = _measure_info(measures[0], catalog)
    if model is not None and (model.measure != measures[0] or (side is not None and model.side != side)):
        raise ValueError(f"the model is of {model.measure!r} (side {model.side}); the chart of {measures[0]!r}")
    keys = [*trajectories.by, "side"]
    groups = table.select(keys).unique(maintain_order=True).rows()[:max_groups]
    ax = _axes(ax, (8.0, 5.0))
    counts_ax = ax.inset_axes((0.0, -0.42, 1.0, 0.22), sharex=ax)
    for i, key in enumerate(groups):
        cond = pl.lit(True)
        for col, value in zip(keys, key, strict=True):
            cond = cond & (pl.col(col).is_null() if value is None else pl.col(col) == value)
        g = table.filter(cond).sort("week")
        week = g["week"].to_numpy().astype(float) + (0.5 if model is not None else 0.0)
        mean = g["mean"].to_numpy().astype(float)  # suppressed weeks are null -> NaN -> gaps
        lo = g["ci_low"].to_numpy().astype(float)
        hi = g["ci_high"].to_numpy().astype(float)
        colour = PALETTE[i % len(PALETTE)]
        label = _group_label(dict(zip(keys, key, strict=True)), keys)
        ax.plot(week, mean, marker="o", ms=3.5, color=colour, label=label)
        ax.fill_between(week, lo, hi, color=colour, alpha=0.15, lw=0)
        counts_ax.step(week, g["n_episodes"].to_numpy(), where="mid", color=colour, lw=1.2)
        if model is not None:
            name = "all" if model.by is None else str(key[0])
            curve = model.curve.filter(pl.col("group") == name).sort("time")
            if curve.height:
                t = curve["time"].to_numpy()
                ax.plot(t, curve["fit"].to_numpy(), ls="--", lw=1.6, color=colour, label=f"{label}: mixed model")
                ax.fill_between(
                    t, curve["ci_low"].to_numpy(), curve["ci_high"].to_numpy(), color=colour, alpha=0.08, lw=0,
                    hatch="//",
                )  # fmt: skip
    unit = info.get("unit") or ""
    ax.set_ylabel(
        f"{info['label']} ({unit}; {info.get('better', 'higher')} is better)\n"
        f"weekly mean, band: {level_text(trajectories.confidence_level)} CI"
    )
    ax.tick_params(labelbottom=False)
    fitted = ""
    if model is not None:
        scale = "log(1 + weeks)" if model.time == "log_weeks" else "weeks"
        fitted = f"; dashed: mixed model, linear in {scale}, {level_text(model.confidence_level)} band"
    counts_ax.set_xlabel(f"Weeks since the start of the episode{fitted}")
    counts_ax.set_ylabel("episodes\nmeasured", fontsize=8)
    counts_ax.tick_params(labelsize=8)
    if len(groups) > 1 or model is not None:
        ax.legend(fontsize=8, frameon=False, loc="best")
    week0 = int(table.filter(pl.col("week") == 0)["n_episodes"].sum())
    default = f"{info['label']} by week since the start of care (n={week0} episodes at week 0)"
    _title(ax, title or default)
    ax.grid(color="#eeeeee", lw=0.6)
    return ax


_REGION_COLOURS: tuple[str, ...] = (PALETTE[0], PALETTE[1], PALETTE[5], PALETTE[3], PALETTE[7])
"""Funnel points: inside every limit, outside the first level only, outside the second, ..."""


def _funnel_regions(levels: Sequence[float]) -> list[str]:
    """Legend text of each region of a funnel, innermost first: inside, between two levels, outside the last."""
    names = [level_text(level) for level in levels]
    out = [f"inside the {names[0]} limits"]
    for i, name in enumerate(names):
        out.append(f"outside {name}, inside {names[i + 1]}" if i + 1 < len(names) else f"outside the {name} limits")
    return out


def _label_points(ax: Axes, labels: Sequence[str], x: np.ndarray, y: np.ndarray, others: np.ndarray) -> None:
    """Write each label next to its point where it covers no label already written and no other point.

    A simple greedy scheme in display space (after the figure's layout is run): offsets to the
    upper right, lower right, upper left and lower left of the point, then further up and down
    in steps of a text line; a label moved beyond the first ring gets a thin leader line. The
    first offset that stays inside the axes and overlaps nothing wins; failing that, the first.
    """
    if not labels:
        return
    figure = ax.get_figure(root=True)
    assert figure is not None
    figure.draw_without_rendering()  # runs the layout, so that data map to their final pixels
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())  # the view no longer moves: pixel positions computed here stay right
    px = figure.dpi / 72.0  # pixels per point
    frame = ax.get_window_extent()
    marker = 3.5 * px  # half the side of the square a point's marker takes (s=36 is 6 points across)
    points = ax.transData.transform(others) if len(others) else np.empty((0, 2))
    placed: list[tuple[float, float, float, float]] = []

    def free(box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        if any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed):
            return False
        near = (points[:, 0] + marker > x0) & (points[:, 0] - marker < x1)
        return not bool(np.any(near & (points[:, 1] + marker > y0) & (points[:, 1] - marker < y1)))

    def inside(box: tuple[float, float, float, float]) -> bool:
        return bool(frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1] and box[3] <= frame.y1)

    order = np.lexsort((y, x))
    for i in order:
        probe = ax.text(0, 0, labels[i], fontsize=8)
        extent = probe.get_window_extent()
        probe.remove()
        w, h = extent.width / px + 1.0, extent.height / px  # in points
        candidates = [
            (dx, dy, ring)
            for ring in range(8)
            for dy in (2.0 + ring * (h + 1.0), -2.0 - h - ring * (h + 1.0))
            for dx in (4.0, -4.0 - w)
        ]
        at = ax.transData.transform((x[i], y[i]))
        choice = None
        for want_inside in (True, False):
            for dx, dy, ring in candidates:
                box = (at[0] + dx * px, at[1] + dy * px, at[0] + (dx + w) * px, at[1] + (dy + h) * px)
                if free(box) and (inside(box) or not want_inside):
                    choice = (dx, dy, ring, box)
                    break
            if choice is not None:
                break
        if choice is None:
            dx, dy, ring = candidates[0]
            box = (at[0] + dx * px, at[1] + dy * px, at[0] + (dx + w) * px, at[1] + (dy + h) * px)
            choice = (dx, dy, ring, box)
        dx, dy, ring, box = choice
        placed.append(box)
        leader = {"arrowstyle": "-", "lw": 0.5, "color": _GREY, "shrinkA": 0, "shrinkB": 3} if ring else None
        text = ax.annotate(
            labels[i],
            (x[i], y[i]),
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=8,
            ha="left",
            va="bottom",
            arrowprops=leader,
        )
        text.set_in_layout(False)  # a label never moves the axes


def plot_funnel(
    result: FunnelResult,
    /,
    *,
    catalog: pl.DataFrame | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    label_outliers: bool = True,
) -> Axes:
    """Funnel plot: each unit's value against its number of episodes, with control limits.

    ``result`` is the :class:`~outcomes.analyses.FunnelResult` of
    :func:`outcomes.funnel` or :func:`outcomes.benchmark_funnel` (metric
    ``residual_mean``: observed - expected, target line at 0).

    Dashed lines: the first control level (95% by default); dotted: the
    second (99.8%). A point's colour says which limits it falls outside
    (the legend names them); every unit outside the first (innermost) level
    is labelled with its id, labels moved apart where points are close.
    Suppressed units are not drawn; the title says how many. For means the
    vertical axis shows the limits from the smallest unit drawn (below it
    they run off the chart).
    """
    expect_result(result, FunnelResult, "plot_funnel", "funnel() or benchmark_funnel")
    info = _measure_info(result.measure, catalog)
    ax = _axes(ax, (7.5, 5.0))
    lim = result.limits
    n = lim["n"].to_numpy()
    pct = 100.0 if result.metric == "responder_rate" else 1.0
    adjusted = result.metric == "residual_mean"
    styles = ["--", ":"]
    for i, level in enumerate(result.levels):
        name = level_suffix(level)
        ls = styles[i % 2]
        ax.plot(n, lim[f"lower_{name}"].to_numpy() * pct, color=_GREY, ls=ls, lw=1, label=f"{level_text(level)} limits")
        ax.plot(n, lim[f"upper_{name}"].to_numpy() * pct, color=_GREY, ls=ls, lw=1)
    target_label = "as expected (0)" if adjusted else f"overall {result.target * pct:.1f}"
    ax.axhline(result.target * pct, color="black", lw=1, label=target_label)
    shown = result.units.filter(~pl.col("suppressed"))
    flags = [f"outside_{level_suffix(level)}" for level in result.levels]
    outside = shown.select(flags).to_numpy().astype(bool) if flags else np.zeros((shown.height, 0), dtype=bool)
    # region: 0 inside every limit, k outside the k-th level (levels innermost first)
    region = np.max(np.where(outside, np.arange(1, len(flags) + 1), 0), axis=1, initial=0)
    palette = [_REGION_COLOURS[min(k, len(_REGION_COLOURS) - 1)] for k in range(len(flags) + 1)]
    x = shown["n"].to_numpy().astype(float)
    y = shown["value"].to_numpy().astype(float) * pct
    ax.scatter(x, y, c=[palette[k] for k in region], s=36, zorder=3)
    handles, texts = ax.get_legend_handles_labels()
    for colour, text in zip(palette, _funnel_regions(result.levels), strict=True):
        handles.append(Line2D([], [], ls="", marker="o", ms=6, color=colour))
        texts.append(text)
    unit_text = info.get("unit") or ""
    if result.metric == "responder_rate":
        what = "responders (%)"
    elif adjusted:
        what = f"observed - expected ({unit_text})"
    else:
        what = f"mean improvement ({unit_text})"
    ax.set_ylabel(f"{info['label']}: {what}")
    what_unit = result.unit_column.removesuffix("_id")
    ax.set_xlabel(f"Complete episodes per {what_unit}")
    # beside the axes: inside, it would hide points or labels
    ax.legend(handles, texts, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    hidden = result.units.height - shown.height
    if adjusted:
        note = f"; {hidden} the benchmark did not score are not shown" if hidden else ""
        default = f"{info['label']}, adjusted for case mix: {shown.height} {what_unit}s compared{note}"
    else:
        note = f"; {hidden} with too few episodes not shown" if hidden else ""
        default = f"{info['label']}: {shown.height} {what_unit}s compared{note}"
    _title(ax, title or default)
    ax.set_xlim(0, float(n.max()) * 1.05)
    if result.metric != "responder_rate" and shown.height and result.levels:
        # means: the limits grow without bound as n falls; show them from the smallest unit drawn
        at = lim.filter(pl.col("n") == int(x.min()))
        outer = level_suffix(result.levels[-1])
        low = min(float(np.nanmin(y)), float(at[f"lower_{outer}"].item()), result.target)
        high = max(float(np.nanmax(y)), float(at[f"upper_{outer}"].item()), result.target)
        pad = 0.08 * (high - low) if high > low else 1.0
        ax.set_ylim(low - pad, high + pad)
    if label_outliers and flags:
        first = outside[:, 0]
        names = [str(u) for u, keep in zip(shown["unit"].to_list(), first, strict=True) if keep]
        _label_points(ax, names, x[first], y[first], np.column_stack([x, y]))
    return ax


def plot_rom_vs_normal(
    summary: SummaryResult,
    /,
    *,
    catalog: pl.DataFrame | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Range of motion per joint, motion and side: mean at baseline and at discharge, against normal.

    ``summary`` is the :func:`outcomes.summarize` result; every non-suppressed
    row of a measure in degrees with kind ``rom`` is drawn (grouped rows keep
    their group in the label). The bar marks the catalog's normal value.
    """
    expect_result(summary, SummaryResult, "plot_rom_vs_normal", "summarize")
    cat = catalog if catalog is not None else builtin_catalog()
    rom = cat.filter((pl.col("kind") == "rom") & (pl.col("unit") == "degrees")).select(
        pl.col("code").alias("measure"), "label", "normal", "mdc"
    )
    rows = summary.table.join(rom, on="measure", how="inner").filter(~pl.col("suppressed")).sort("measure", "side")
    group_cols = list(summary.by)
    ax = _axes(ax, (8.0, max(2.8, 0.42 * rows.height + 1.6)))
    y = np.arange(rows.height)[::-1]
    b = rows["baseline_mean"].to_numpy().astype(float)
    f = rows["final_mean"].to_numpy().astype(float)
    ax.hlines(y, b, f, color=_GREY, lw=2)
    ax.scatter(b, y, color=PALETTE[1], s=40, zorder=3, label="baseline mean")
    ax.scatter(f, y, color=PALETTE[0], s=40, zorder=3, label="final mean")
    normal = rows["normal"].to_numpy().astype(float)
    ax.scatter(normal, y, marker="|", s=260, color="black", zorder=4, label="normal (catalog)")
    labels = []
    for r in rows.iter_rows(named=True):
        group = _group_label(r, group_cols) if group_cols else ""
        side = f" ({r['side']})" if r["side"] else ""
        labels.append(f"{r['label']}{side}{'  ' + group if group else ''}  (n={r['n']})")
    ax.set_yticks(y, labels)
    ax.set_xlabel("Degrees")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    total = int(rows["n"].sum()) if rows.height else 0
    _title(ax, title or f"Range of motion against normal values ({total} episode x joint x side measurements)")
    ax.grid(axis="x", color="#eeeeee", lw=0.6)
    ax.set_axisbelow(True)
    return ax


def plot_rankings(result: BenchmarkResult, /, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Raw against risk-adjusted ranking of the scored units of a benchmark, side by side.

    Left: units ranked by their patients' mean improvement (raw); right: by the
    shrunken observed - expected score (:func:`outcomes.benchmark`). A line
    joins each unit's two ranks: green where adjustment moved it up two places
    or more, vermillion down two or more, grey otherwise. Units the benchmark
    did not score are left out (the note counts them).
    """
    expect_result(result, BenchmarkResult, "plot_rankings", "benchmark")
    scored = result.table.filter(~pl.col("suppressed"))
    ax = _axes(ax, (6.5, max(2.5, 0.32 * scored.height + 1.4)))
    unit = result.unit
    raw = scored.sort(["observed_mean", unit], descending=[True, False]).with_row_index("raw_rank", offset=1)
    ranked = raw.sort(["shrunken_residual", unit], descending=[True, False]).with_row_index("adj_rank", offset=1)
    moved_up = moved_down = 0
    for name, r_raw, r_adj in ranked.select(unit, "raw_rank", "adj_rank").iter_rows():
        shift = int(r_raw) - int(r_adj)
        colour = PALETTE[2] if shift >= 2 else (PALETTE[5] if shift <= -2 else _GREY)
        moved_up += shift >= 2
        moved_down += shift <= -2
        ax.plot([0, 1], [r_raw, r_adj], color=colour, lw=2 if colour != _GREY else 1, marker="o", ms=4)
        ax.annotate(str(name), (0, r_raw), xytext=(-6, 0), textcoords="offset points", ha="right", va="center",
                    fontsize=8)  # fmt: skip
        ax.annotate(str(name), (1, r_adj), xytext=(6, 0), textcoords="offset points", ha="left", va="center",
                    fontsize=8)  # fmt: skip
    n = max(scored.height, 1)
    ax.set_ylim(n + 0.6, 0.4)
    ax.set_xlim(-0.45, 1.45)
    ax.set_xticks([0, 1], ["Raw mean improvement", "Risk-adjusted, shrunken"])
    ax.set_yticks(range(1, n + 1))
    ax.set_ylabel("Rank (1 = best)")
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    who = result.unit.removesuffix("_id")
    hidden = result.table.height - scored.height
    note = f"; {hidden} not scored" if hidden else ""
    info = _measure_info(result.measure, None)
    ax.set_title(
        title
        or f"{info['label']}: {who} ranks before and after adjustment\n"
        f"{scored.height} scored{note}; {moved_up} moved up and {moved_down} down two places or more",
        fontsize=10,
    )
    return ax
