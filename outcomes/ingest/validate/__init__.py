"""Validation of one table against its schema: the rules, and the engine that applies them fast.

- :mod:`~outcomes.ingest.validate.rules`: what each rule flags and the reason it gives;
- :mod:`~outcomes.ingest.validate.engine`: :func:`check_table`, in named phases;
- :mod:`~outcomes.ingest.validate._shortcuts`: the speed shortcuts, which change no result.
"""

from outcomes.ingest.validate.engine import Checked, Context, check_table
from outcomes.ingest.validate.rules import ISSUE_SCHEMA, WARNING_SCHEMA, clean_ids

__all__ = ["ISSUE_SCHEMA", "WARNING_SCHEMA", "Checked", "Context", "check_table", "clean_ids"]
