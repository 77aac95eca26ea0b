"""outcomes: does manual therapy work in this clinic?

Turns a clinic's episodes, treatments and measurements into per-episode
change, grouped effect sizes and comparisons between techniques.

The data flows one way: :func:`read_dataset` (validate) ->
:func:`episode_changes` (per episode) -> :func:`summarize`,
:func:`compare` and :func:`trajectories` (grouped statistics) -> charts and
reports. Effect sizes on plain arrays are in :mod:`outcomes.effect_sizes`.
"""

from outcomes.compare import compare
from outcomes.episodes import episode_changes
from outcomes.io import Dataset, DatasetError, LazyDataset, read_dataset, scan_dataset
from outcomes.summaries import summarize
from outcomes.trajectories import trajectories

__all__ = [
    "Dataset",
    "DatasetError",
    "LazyDataset",
    "compare",
    "episode_changes",
    "read_dataset",
    "scan_dataset",
    "summarize",
    "trajectories",
]
__version__ = "0.1.0"
