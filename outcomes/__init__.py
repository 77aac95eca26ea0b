"""outcomes: does manual therapy work in this clinic?

Turns a clinic's episodes, treatments and measurements into per-episode
change, grouped effect sizes and comparisons between techniques.

The data flows one way: :func:`read_dataset` (validate) -> per-episode
changes -> grouped statistics -> charts and reports.
"""

from outcomes.io import Dataset, DatasetError, read_dataset

__all__ = ["Dataset", "DatasetError", "read_dataset"]
__version__ = "0.1.0"
