"""The vocabularies of the data contract: ``data_schemas/vocabularies.json`` and the files it lists.

Conditions (``conditions.csv``), techniques (``techniques.csv``, with each
technique's CPT codes and whether they are timed) and body regions
(``body_regions.csv``), read at run time.

Examples
--------
>>> from outcomes.contract import vocabulary
>>> "joint_mobilization" in vocabulary("techniques")["code"].to_list()
True
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import polars as pl

from outcomes.contract.schema import schemas_dir

__all__ = ["vocabulary", "vocabulary_label"]


@cache
def _vocabulary_index() -> dict[str, Any]:
    index: dict[str, Any] = json.loads((schemas_dir() / "vocabularies.json").read_text("utf-8"))
    return index["vocabularies"]  # type: ignore[no-any-return]


def vocabulary(name: str) -> pl.DataFrame:
    """Return a vocabulary (``conditions``, ``techniques``, ``body_regions``) as a table of text columns."""
    entry = _vocabulary_index()[name]
    return pl.read_csv(schemas_dir() / entry["file"], infer_schema=False)


def vocabulary_label(name: str) -> str:
    """Human name of a vocabulary for messages, e.g. ``body-region vocabulary (data_schemas/body_regions.csv)``."""
    singular = {"conditions": "condition", "techniques": "technique", "body_regions": "body-region"}
    return f"{singular.get(name, name)} vocabulary (data_schemas/{_vocabulary_index()[name]['file']})"
