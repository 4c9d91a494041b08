"""Alignment engine: short fills that bring every synced prescription onto one anchor date.

Pure: plain dataclasses in and out, no ORM (DOMAIN.md sections 2, 3 and 5).
`shapes.py` holds what goes in and comes out; `planner.py` holds the rules (its docstring
states them case by case). Callers import from here.
"""

from scheduling.alignment.planner import align, anchors_from, earliest_refill_date
from scheduling.alignment.shapes import (
    SCC_AFTER_SHORT_FILL,
    SCC_SHORT_FILL,
    AlignmentError,
    AlignmentPlan,
    FillKind,
    PlannedFill,
    PlanWarning,
    RxInput,
    RxPlan,
    WarningCode,
)

__all__ = [
    "SCC_AFTER_SHORT_FILL",
    "SCC_SHORT_FILL",
    "AlignmentError",
    "AlignmentPlan",
    "FillKind",
    "PlanWarning",
    "PlannedFill",
    "RxInput",
    "RxPlan",
    "WarningCode",
    "align",
    "anchors_from",
    "earliest_refill_date",
]
