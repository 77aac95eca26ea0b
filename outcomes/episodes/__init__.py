"""Stage 2, the per-episode stage: change per episode x measure x side, weekly values, primary technique.

Dataframe expressions only (filters, joins, group aggregates), no Python loop
over episodes, so the stage stays lazy until the caller collects it.
"""

from outcomes.episodes.changes import (
    CHANGE_COLUMNS,
    RESPONDER_RULES,
    STATUSES,
    as_changes_frame,
    check_changes,
    episode_changes,
    responder_expr,
    responder_rule_of,
    responder_rules,
)
from outcomes.episodes.techniques import primary_technique
from outcomes.episodes.weekly import weekly_values

__all__ = [
    "CHANGE_COLUMNS",
    "RESPONDER_RULES",
    "STATUSES",
    "as_changes_frame",
    "check_changes",
    "episode_changes",
    "primary_technique",
    "responder_expr",
    "responder_rule_of",
    "responder_rules",
    "weekly_values",
]
