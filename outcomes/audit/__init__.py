"""Audit: the 97140 documentation and billing checks, from the rules in ``data_schemas/billing.json``."""

from outcomes.audit.documentation import DOCUMENTATION_COLUMNS, documentation_check

__all__ = ["DOCUMENTATION_COLUMNS", "documentation_check"]
