"""Billing rules of the data contract: ``data_schemas/billing.json`` and the timed codes of ``techniques.csv``.

The CMS 8-minute rule's numbers (Medicare Claims Processing Manual ch. 5
sec. 20.2) and the manual-therapy code are data, read at run time; the
functions here only apply them.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from outcomes.contract.schema import schemas_dir
from outcomes.contract.vocabularies import vocabulary

__all__ = ["billing_rules", "eight_minute_units", "expected_timed_units", "timed_codes"]


@cache
def billing_rules() -> dict[str, Any]:
    """The contents of ``data_schemas/billing.json``."""
    rules: dict[str, Any] = json.loads((schemas_dir() / "billing.json").read_text("utf-8"))
    return rules


def timed_codes() -> list[str]:
    """CPT codes billed in timed units, from the technique vocabulary (``data_schemas/techniques.csv``)."""
    tech = vocabulary("techniques").filter(pl.col("timed") == "true")
    return sorted({code for codes in tech["cpt_code"] for code in codes.split(";")})


def expected_timed_units(total_minutes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Timed units for a visit's total timed minutes under the CMS 8-minute rule.

    Examples
    --------
    >>> expected_timed_units([7, 8, 22, 23, 37, 38, 52, 53]).tolist()
    [0, 1, 1, 2, 2, 3, 3, 4]
    """
    rule = billing_rules()["eight_minute_rule"]
    low, unit = int(rule["minimum_minutes"]), int(rule["unit_minutes"])
    t = np.asarray(total_minutes, dtype=np.int64)
    out: npt.NDArray[np.int64] = np.where(t < low, 0, 1 + (t - low) // unit)
    return out


def eight_minute_units(total_minutes: pl.Expr) -> pl.Expr:
    """:func:`expected_timed_units` as a polars expression over a column of total timed minutes."""
    rule = billing_rules()["eight_minute_rule"]
    low, unit = int(rule["minimum_minutes"]), int(rule["unit_minutes"])
    return pl.when(total_minutes < low).then(0).otherwise(1 + (total_minutes - low) // unit)
