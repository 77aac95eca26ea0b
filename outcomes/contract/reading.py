"""How table files are read: ``data_schemas/reading.json``.

The accepted CSV separators, the decimal-comma rule, the text that counts as
a missing value, the words read as true or false, the range of dates accepted and how much of a bad value a
reason quotes. The readers and rules of :mod:`outcomes.ingest` apply them.

Examples
--------
>>> from outcomes.contract import reading_rules
>>> "n/a" in reading_rules().missing_values
True
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache

import polars as pl

from outcomes.contract.schema import schemas_dir

__all__ = ["ReadingRules", "boolean_value", "reading_rules"]


@dataclass(frozen=True)
class ReadingRules:
    """The contents of ``data_schemas/reading.json``, typed."""

    separators: tuple[str, ...]
    decimal_comma_with: tuple[str, ...]
    missing_values: tuple[str, ...]
    earliest_date: dt.date
    latest_date: dt.date
    shown_value_length: int
    true_words: tuple[str, ...]
    false_words: tuple[str, ...]


@cache
def reading_rules() -> ReadingRules:
    """Read ``data_schemas/reading.json``."""
    raw = json.loads((schemas_dir() / "reading.json").read_text("utf-8"))
    return ReadingRules(
        separators=tuple(raw["csv"]["separators"]),
        decimal_comma_with=tuple(raw["csv"]["decimal_comma_with"]),
        missing_values=tuple(v.lower() for v in raw["missing_values"]),
        earliest_date=dt.date.fromisoformat(raw["dates"]["earliest"]),
        latest_date=dt.date.fromisoformat(raw["dates"]["latest"]),
        shown_value_length=int(raw["shown_value_length"]),
        true_words=tuple(v.lower() for v in raw["booleans"]["true"]),
        false_words=tuple(v.lower() for v in raw["booleans"]["false"]),
    )


def boolean_value(word: pl.Expr, /) -> pl.Expr:
    """True or False where the lower-cased text ``word`` is one of the true or false words, else null."""
    rules = reading_rules()
    return pl.when(word.is_in(list(rules.true_words))).then(True).when(word.is_in(list(rules.false_words))).then(False)
