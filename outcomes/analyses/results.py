"""Stage 4 result objects: each holds its table and the settings that produced it.

:func:`outcomes.summarize`, :func:`outcomes.compare`,
:func:`outcomes.trajectories` and :func:`outcomes.dropout_sensitivity`
return one of these frozen objects rather than
a bare table, so that whoever draws or prints the result reads the settings
from it instead of being told them a second time: a forest plot of a
``confidence_level=0.80`` summary says "80% CI", a table of a
``min_cell=20`` summary writes "< 20", a responder chart names the rule the
changes were computed with.

Each result has

- ``.table``: the polars table (``.to_frame()`` returns it too);
- the settings as attributes (``min_cell``, ``confidence_level``, ...) and
  all of them as a dict in ``.settings``;
- ``.filter(...)``: the same result with the table's rows filtered (polars'
  ``DataFrame.filter`` arguments), settings kept;
- a readable ``repr`` and, in Jupyter, an HTML view: the settings in a line
  above the table.

Examples
--------
>>> from outcomes import read_dataset, episode_changes, summarize
>>> from outcomes.synth import demo_dataset_path
>>> s = summarize(episode_changes(read_dataset(demo_dataset_path())), by="condition", confidence_level=0.9)
>>> s.confidence_level, s.min_cell, s.responder_rule
(0.9, 11, 'either')
>>> s.filter(measure="nprs").table.height < s.table.height
True
"""

from __future__ import annotations

import html
from dataclasses import dataclass, fields, replace
from typing import Any, Self

import polars as pl

__all__ = ["ComparisonResult", "DropoutResult", "SummaryResult", "TableResult", "TrajectoryResult", "level_text"]


def level_text(confidence_level: float, /) -> str:
    """A confidence level as a label: 0.95 -> ``95%``, 0.998 -> ``99.8%``.

    Examples
    --------
    >>> level_text(0.95), level_text(0.8), level_text(0.998)
    ('95%', '80%', '99.8%')
    """
    return f"{round(confidence_level * 100, 6):g}%"


@dataclass(frozen=True, repr=False, eq=False)
class TableResult:
    """A table and the settings that produced it (the settings are the subclass's other fields)."""

    table: pl.DataFrame

    @property
    def settings(self) -> dict[str, Any]:
        """The settings that produced the table, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "table"}

    def to_frame(self) -> pl.DataFrame:
        """The result table."""
        return self.table

    def filter(self, *predicates: Any, **constraints: Any) -> Self:
        """The same result with only the rows of the table that match (``polars.DataFrame.filter``)."""
        return replace(self, table=self.table.filter(*predicates, **constraints))

    def _settings_text(self) -> str:
        def show(value: Any) -> str:
            if isinstance(value, tuple):
                return ", ".join(map(str, value)) if value else "()"
            return str(value)

        return "; ".join(f"{name} = {show(value)}" for name, value in self.settings.items())

    def __repr__(self) -> str:
        rows, cols = self.table.shape
        return f"<{type(self).__name__}: {rows} rows x {cols} columns; {self._settings_text()}>"

    def _repr_html_(self) -> str:
        rows, cols = self.table.shape
        head = (
            f'<p class="outcomes-result"><b>{type(self).__name__}</b>: {rows} rows x {cols} columns; '
            f"{html.escape(self._settings_text())}</p>"
        )
        return head + self.table._repr_html_()


@dataclass(frozen=True, repr=False, eq=False)
class SummaryResult(TableResult):
    """The grouped summary of :func:`outcomes.summarize`.

    Attributes
    ----------
    table : polars.DataFrame
        Group columns, ``measure``, ``side``, then
        :data:`outcomes.analyses.SUMMARY_COLUMNS`.
    by : tuple of str
        The group columns.
    min_cell : int
        Groups with fewer complete episodes are suppressed.
    confidence_level : float
        Of every interval in the table.
    responder_rule : str or None
        The rule the changes' ``responder`` column was computed with
        (:data:`outcomes.episodes.RESPONDER_RULES`); None where the changes
        did not record it.
    bootstrap : bool
        Whether BCa bootstrap intervals were computed.
    n_resamples : int or None
        Bootstrap resamples per group (None without the bootstrap).
    """

    by: tuple[str, ...]
    min_cell: int
    confidence_level: float
    responder_rule: str | None
    bootstrap: bool
    n_resamples: int | None


@dataclass(frozen=True, repr=False, eq=False)
class ComparisonResult(TableResult):
    """The pairwise comparisons of :func:`outcomes.compare`.

    Attributes
    ----------
    table : polars.DataFrame
        Stratum columns, then :data:`outcomes.analyses.COMPARISON_COLUMNS`.
    between : str
        The episode column whose values are compared.
    within : tuple of str
        The stratum columns.
    min_cell : int
        Pairs where either group has fewer complete episodes are suppressed.
    confidence_level : float
        Of every interval in the table.
    """

    between: str
    within: tuple[str, ...]
    min_cell: int
    confidence_level: float


@dataclass(frozen=True, repr=False, eq=False)
class TrajectoryResult(TableResult):
    """The weekly means of :func:`outcomes.trajectories`.

    Attributes
    ----------
    table : polars.DataFrame
        Group columns, then :data:`outcomes.analyses.TRAJECTORY_COLUMNS`.
    measures : tuple of str
        The measure codes.
    by : tuple of str
        The group columns.
    min_cell : int
        Weeks with fewer episodes measured are suppressed.
    confidence_level : float
        Of the weekly t-intervals.
    """

    measures: tuple[str, ...]
    by: tuple[str, ...]
    min_cell: int
    confidence_level: float


@dataclass(frozen=True, repr=False, eq=False)
class DropoutResult(TableResult):
    """The missing-discharge sensitivity analysis of :func:`outcomes.dropout_sensitivity`.

    Attributes
    ----------
    table : polars.DataFrame
        Group columns, ``measure``, ``side``, then
        :data:`outcomes.analyses.DROPOUT_COLUMNS`.
    by : tuple of str
        The group columns.
    covariates : tuple of str
        The case-mix columns of the propensity model (besides the baseline,
        the early response and the group columns).
    early_days : tuple of int
        The window, in days after the baseline, of the early response.
    min_followup_days : int
        A discharge value is at least this many days after the baseline.
    min_cell : int
        Groups with fewer complete episodes are suppressed.
    confidence_level : float
        Of every interval in the table.
    """

    by: tuple[str, ...]
    covariates: tuple[str, ...]
    early_days: tuple[int, int]
    min_followup_days: int
    min_cell: int
    confidence_level: float
