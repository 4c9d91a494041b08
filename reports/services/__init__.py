"""Writes of the reports app: its own rows only (one topic file each): the cached adherence
outcomes, and the pharmacy's report settings and on-hand counts."""

from reports.services.adherence import (
    outcomes_refresh,
    outcomes_refresh_request,
)
from reports.services.operations import (
    MAX_IMPORT_ROWS,
    MAX_QUANTITY,
    MINUTE_FIELDS,
    on_hand_import,
    on_hand_set,
    report_settings_update,
)

__all__ = [
    "MAX_IMPORT_ROWS",
    "MAX_QUANTITY",
    "MINUTE_FIELDS",
    "on_hand_import",
    "on_hand_set",
    "outcomes_refresh",
    "outcomes_refresh_request",
    "report_settings_update",
]
