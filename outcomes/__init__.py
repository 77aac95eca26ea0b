"""outcomes: does manual therapy work in this clinic?

Turns a clinic's episodes, treatments and measurements into per-episode
change, grouped effect sizes, comparisons between techniques, funnel plots of
clinics and therapists and a 97140 documentation check.

The data flows one way through the subpackages, each a stage
(``docs/architecture.md``):

- :mod:`outcomes.contract`: the data contract in ``data_schemas/``;
- :mod:`outcomes.ingest`: :func:`read_dataset` (validate), :func:`scan_dataset`;
- :mod:`outcomes.episodes`: :func:`episode_changes` (stage 2, per episode);
- :mod:`outcomes.aggregate`: per-group sufficient statistics (stage 3);
- :mod:`outcomes.stats`: effect sizes, intervals and tests on arrays (stage 4);
- :mod:`outcomes.analyses`: :func:`summarize`, :func:`compare`,
  :func:`trajectories`, :func:`funnel`, :func:`benchmark`,
  :func:`benchmark_funnel` (stage 4, result tables);
- :mod:`outcomes.audit`: :func:`documentation_check`;
- :mod:`outcomes.synth`: synthetic data with known truth;
- :mod:`outcomes.present`: charts, tables, the HTML report (stage 5).
"""

from outcomes.analyses import (
    BenchmarkResult,
    ComparisonResult,
    DropoutResult,
    FunnelResult,
    SummaryResult,
    TrajectoryModel,
    TrajectoryResult,
    benchmark,
    benchmark_funnel,
    compare,
    dropout_sensitivity,
    funnel,
    summarize,
    trajectories,
    trajectory_model,
)
from outcomes.audit import documentation_check
from outcomes.episodes import episode_changes
from outcomes.ingest import Dataset, DatasetError, LazyDataset, read_dataset, scan_dataset

__all__ = [
    "BenchmarkResult",
    "ComparisonResult",
    "Dataset",
    "DatasetError",
    "DropoutResult",
    "FunnelResult",
    "LazyDataset",
    "SummaryResult",
    "TrajectoryModel",
    "TrajectoryResult",
    "benchmark",
    "benchmark_funnel",
    "compare",
    "documentation_check",
    "dropout_sensitivity",
    "episode_changes",
    "funnel",
    "read_dataset",
    "scan_dataset",
    "summarize",
    "trajectories",
    "trajectory_model",
]
__version__ = "0.1.0"
