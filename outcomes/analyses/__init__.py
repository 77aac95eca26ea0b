"""Stage 4, analyses: result tables from per-episode change, with small cells suppressed.

- :func:`summarize` (``summary``): grouped summary with intervals and effect sizes;
- :func:`compare` (``comparison``): pairwise comparisons between groups within strata;
- :func:`trajectories` (``trajectory``): weekly means since the start of the episode;
- :func:`trajectory_model` (``trajectory_models``): a mixed model of the measure over time
  (random intercept and slope per episode, REML);
- :func:`funnel` (``funnels``): funnel-plot data for clinics or therapists;
- :func:`benchmark_funnel` (``adjusted_funnels``): the funnel of a benchmark's risk-adjusted
  residual means (observed - expected), target 0;
- :func:`benchmark` (``benchmarks``): risk-adjusted, shrunken scores of therapists or clinics;
- :func:`dropout_sensitivity` (``dropout``): complete-case and inverse-probability-weighted
  mean improvement side by side (missing discharge values);
- :func:`suppress` (``suppression``): the one small-cell rule they all apply;
- :class:`SummaryResult`, :class:`ComparisonResult`, :class:`TrajectoryResult`
  (``results``): what they return, a table with the settings that produced it.
"""

from outcomes.analyses.adjusted_funnels import benchmark_funnel
from outcomes.analyses.benchmarks import BENCHMARK_COLUMNS, DEFAULT_ADJUST, BenchmarkResult, benchmark
from outcomes.analyses.comparison import COMPARISON_COLUMNS, compare
from outcomes.analyses.dropout import DROPOUT_COLUMNS, dropout_sensitivity
from outcomes.analyses.funnels import FunnelResult, funnel, level_suffix
from outcomes.analyses.results import ComparisonResult, DropoutResult, SummaryResult, TrajectoryResult, level_text
from outcomes.analyses.summary import SUMMARY_COLUMNS, overview, primary_measure, summarize
from outcomes.analyses.suppression import DEFAULT_MIN_CELL, check_min_cell, suppress
from outcomes.analyses.trajectory import TRAJECTORY_COLUMNS, trajectories
from outcomes.analyses.trajectory_models import TrajectoryModel, trajectory_model

__all__ = [
    "BENCHMARK_COLUMNS",
    "COMPARISON_COLUMNS",
    "DEFAULT_ADJUST",
    "DEFAULT_MIN_CELL",
    "DROPOUT_COLUMNS",
    "SUMMARY_COLUMNS",
    "TRAJECTORY_COLUMNS",
    "BenchmarkResult",
    "ComparisonResult",
    "DropoutResult",
    "FunnelResult",
    "SummaryResult",
    "TrajectoryModel",
    "TrajectoryResult",
    "benchmark",
    "benchmark_funnel",
    "check_min_cell",
    "compare",
    "dropout_sensitivity",
    "funnel",
    "level_suffix",
    "level_text",
    "overview",
    "primary_measure",
    "summarize",
    "suppress",
    "trajectories",
    "trajectory_model",
]
