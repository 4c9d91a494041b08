"""The sweeps' raw SQL, all of it in this module. Set-based: claim due cycles and write
their consequences in a fixed number of statements per batch, whatever its size.

The ORM builds one Python object per row; at 100,000 patients a morning that alone takes
minutes. These helpers filter every statement on the active tenant's organization_id
explicitly (raw SQL does not pass through django-scopes), so a sweep for one organization
can neither read nor write another's rows.

Each statement is driven by an array of primary keys walked row by row: `unnest(ids)` and a
LATERAL subquery fenced with OFFSET 0 that looks up by that key alone, so the planner can
neither turn it into a hash join over a whole table nor pick another index; the tenant and
state conditions are checked on the row found, outside the fence. Right after a morning's
batch the statistics of cycles and items are stale, and a lookup the planner misjudges (say,
scanning an organization's whole index for one id) turns a millisecond statement into seconds.

Values, status values included, travel as named query parameters built from the models'
TextChoices and the state table (scheduling/states.py), never as literals; the WHERE and
SET fragments of each claim live here beside the statements that use them. Every read comes
back as a named tuple. The cycle item's column list is written once (ITEM_COLUMNS).
"""

from scheduling.sql.base import STATES
from scheduling.sql.claims import (
    ClaimedCycle,
    claim_cycles,
    insert_events,
    insert_message_requests,
    insert_tasks,
)
from scheduling.sql.cycles import (
    ITEM_COLUMNS,
    ROUTINE_ITEM,
    CycleRow,
    EnrollmentRow,
    ItemRow,
    PlanItemSQLRow,
    current_plan_items,
    current_plans,
    enrollments_needing_cycles,
    insert_cycles,
    insert_items,
    insert_new_items,
    insert_recurring_items,
    reopen_cycles,
)
from scheduling.sql.queue import (
    AttentionRow,
    OffAnchorRow,
    flag_items,
    items_needing_attention,
    off_anchor_items_due,
)

__all__ = [
    "ITEM_COLUMNS",
    "ROUTINE_ITEM",
    "STATES",
    "AttentionRow",
    "ClaimedCycle",
    "CycleRow",
    "EnrollmentRow",
    "ItemRow",
    "OffAnchorRow",
    "PlanItemSQLRow",
    "claim_cycles",
    "current_plan_items",
    "current_plans",
    "enrollments_needing_cycles",
    "flag_items",
    "insert_cycles",
    "insert_events",
    "insert_items",
    "insert_message_requests",
    "insert_new_items",
    "insert_recurring_items",
    "insert_tasks",
    "items_needing_attention",
    "off_anchor_items_due",
    "reopen_cycles",
]
