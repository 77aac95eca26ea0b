"""Stage 1, ingest: reading a dataset and validating it against the data contract.

- :func:`read_dataset` reads and validates a dataset folder (``dataset``);
- :func:`scan_dataset` scans a pre-validated, possibly larger-than-memory one (``scan``);
- the measure catalog (``catalog``), the file readers (``_files``) and the
  validation rules and engine (``validate``).
"""

from outcomes.ingest.catalog import builtin_catalog, dataset_catalog, read_catalog
from outcomes.ingest.dataset import Dataset, read_dataset
from outcomes.ingest.errors import DatasetError
from outcomes.ingest.scan import LazyDataset, scan_dataset

__all__ = [
    "Dataset",
    "DatasetError",
    "LazyDataset",
    "builtin_catalog",
    "dataset_catalog",
    "read_catalog",
    "read_dataset",
    "scan_dataset",
]
