"""The data contract: table schemas, vocabularies and billing rules, read from ``data_schemas/``.

Nothing in the package repeats what these files say; ``docs/data-contract.md``
is their human summary and ``docs/clinical-reference.md`` gives the sources of
the thresholds, codes and billing rules. The measure catalog
(``data_schemas/measures.csv``) is read and checked by :mod:`outcomes.ingest`
(:func:`outcomes.ingest.builtin_catalog`), since it is validated like a table.
"""

from outcomes.contract.billing import billing_rules, eight_minute_units, expected_timed_units, timed_codes
from outcomes.contract.reading import ReadingRules, boolean_value, reading_rules
from outcomes.contract.schema import ROW, TABLES, ColumnSpec, TableSchema, load_table_schema, schemas_dir
from outcomes.contract.vocabularies import vocabulary, vocabulary_label

__all__ = [
    "ROW",
    "TABLES",
    "ColumnSpec",
    "ReadingRules",
    "TableSchema",
    "billing_rules",
    "boolean_value",
    "eight_minute_units",
    "expected_timed_units",
    "load_table_schema",
    "reading_rules",
    "schemas_dir",
    "timed_codes",
    "vocabulary",
    "vocabulary_label",
]
