"""Stage 3, group aggregates: per-group sufficient statistics of per-episode change, as dataframe expressions."""

from outcomes.aggregate.groups import GROUP_STAT_COLUMNS, check_complete_rows, group_columns, group_statistics

__all__ = ["GROUP_STAT_COLUMNS", "check_complete_rows", "group_columns", "group_statistics"]
