"""What the analysis notebooks share: open the dataset once, label measures, write a sentence.

Each notebook of ``notebooks/`` starts with the same two steps: a
papermill parameters cell (``dataset``, ``min_cell``, ``responder_rule``) and a setup cell that
calls :func:`open_analysis`. This module is that setup, typed and tested,
instead of a copy in every notebook.

Examples
--------
>>> from outcomes.present.notebook import open_analysis
>>> analysis = open_analysis(None)  # the bundled demo data
>>> analysis.pain, analysis.label("nprs")
('nprs', 'Numeric Pain Rating Scale')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from outcomes.analyses import primary_measure
from outcomes.episodes import episode_changes
from outcomes.ingest import Dataset, read_dataset
from outcomes.synth import demo_dataset_path

__all__ = ["Analysis", "open_analysis", "say"]


@dataclass(frozen=True)
class Analysis:
    """A dataset opened for the notebooks.

    Attributes
    ----------
    folder : pathlib.Path
        The dataset folder.
    dataset : Dataset
        The validated dataset.
    changes : polars.DataFrame
        Its per-episode changes (:func:`outcomes.episode_changes`, default
        settings but the responder rule).
    pain : str or None
        The pain measure the notebooks lead with
        (:func:`outcomes.analyses.primary_measure`).
    """

    folder: Path
    dataset: Dataset
    changes: pl.DataFrame
    pain: str | None

    @property
    def catalog(self) -> pl.DataFrame:
        """The measure catalog in force for the dataset."""
        return self.dataset.catalog

    def label(self, code: str, /) -> str:
        """The human name of a measure, from the catalog (e.g. ``Numeric Pain Rating Scale``)."""
        rows = self.catalog.filter(pl.col("code") == code)
        if rows.height == 0:
            raise KeyError(f"measure {code!r} is not in the dataset's measure catalog")
        return str(rows["label"].item())


def open_analysis(dataset: str | Path | None, /, *, responder_rule: str = "either") -> Analysis:
    """Read and validate ``dataset`` (None: the bundled demo data) and compute its per-episode changes."""
    folder = Path(dataset) if dataset else demo_dataset_path()
    ds = read_dataset(folder)
    changes = episode_changes(ds, responder_rule=responder_rule)
    return Analysis(folder=folder, dataset=ds, changes=changes, pain=primary_measure(changes, ds.catalog))


def say(text: str, /) -> None:
    """Show ``text`` (Markdown) as a notebook output."""
    from IPython.display import Markdown, display

    display(Markdown(text))
