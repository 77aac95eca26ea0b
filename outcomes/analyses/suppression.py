"""Small-cell suppression of result tables: one rule for every analysis.

A group with fewer than ``min_cell`` complete episodes (or visits, or
episodes measured that week) keeps its key and its count but no statistic,
so that small cells cannot be read or derived; ``suppressed`` says so. The
threshold is 11 by default throughout the package.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["DEFAULT_MIN_CELL", "check_min_cell", "suppress"]

DEFAULT_MIN_CELL = 11
"""Groups with fewer complete episodes than this are suppressed unless the caller says otherwise."""


def check_min_cell(min_cell: int, /) -> None:
    """Raise ValueError unless ``min_cell`` is at least 1 (1 turns suppression off)."""
    if min_cell < 1:
        raise ValueError("min_cell must be at least 1")


def suppress(columns: Sequence[str], /, *, flag: str = "suppressed") -> list[pl.Expr]:
    """Expressions that empty ``columns`` wherever the boolean column ``flag`` is true.

    Examples
    --------
    >>> frame = pl.DataFrame({"n": [3, 40], "mean": [1.5, 2.0], "suppressed": [True, False]})
    >>> frame.with_columns(suppress(["mean"]))["mean"].to_list()
    [None, 2.0]
    """
    return [pl.when(pl.col(flag)).then(None).otherwise(pl.col(c)).alias(c) for c in columns]
