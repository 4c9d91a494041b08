"""A pharmacy's sync timing (prep and pre-fill lead, closed days, pickup and RTS windows)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from medsync.models import Pharmacy, User
from medsync.services import audit_record
from scheduling import selectors
from scheduling.exceptions import SchedulingError
from scheduling.models import (
    CycleItem,
    CycleStatus,
    ItemState,
    SyncCycle,
)


@transaction.atomic
def sync_settings_update(
    *,
    pharmacy: Pharmacy,
    actor: User | None,
    prep_days: int,
    prefill_days: int,
    closed_weekdays: Sequence[int],
    missed_after_days: int,
    rts_warning_days: int,
    daily_anchor_capacity: int | None = None,
):
    """Change a pharmacy's sync timing; scheduled cycles move their prep and pre-fill days."""
    errors = {}
    if not 1 <= prep_days <= 14:
        errors["prep_days"] = ["Between 1 and 14 days."]
    if not 0 <= prefill_days <= 10 or prefill_days > prep_days:
        errors["prefill_days"] = ["Between 0 and 10 days, and not before the prep call."]
    closed = sorted({int(d) for d in closed_weekdays})
    if any(d < 0 or d > 6 for d in closed) or len(closed) >= 7:
        errors["closed_weekdays"] = ["Weekdays 0-6; the pharmacy is open at least one day."]
    if not 1 <= missed_after_days <= 14:
        errors["missed_after_days"] = ["Between 1 and 14 days."]
    if not 0 <= rts_warning_days <= 14:
        errors["rts_warning_days"] = ["Between 0 and 14 days."]
    if errors:
        raise SchedulingError("Some settings are out of range.", fields=errors)
    row = selectors.sync_settings_for(pharmacy)
    row.prep_days, row.prefill_days, row.closed_weekdays = prep_days, prefill_days, closed
    row.missed_after_days, row.rts_warning_days = missed_after_days, rts_warning_days
    row.daily_anchor_capacity = daily_anchor_capacity
    row.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    row.save()
    timing = selectors.timing_of(row)
    moved = []
    for cycle in SyncCycle.objects.filter(pharmacy=pharmacy, status=CycleStatus.SCHEDULED):
        cycle.prep_due_on = timing.prep_due_on(cycle.anchor_date)
        cycle.prefill_due_on = timing.prefill_due_on(cycle.anchor_date)
        moved.append(cycle)
    SyncCycle.objects.bulk_update(moved, ["prep_due_on", "prefill_due_on"], batch_size=1000)
    items = list(
        CycleItem.objects.filter(cycle__in=moved, state=ItemState.PLANNED).only("pk", "fill_date")
    )
    for item in items:
        item.queue_from = timing.prefill_due_on(item.fill_date)
    CycleItem.objects.bulk_update(items, ["queue_from"], batch_size=1000)
    audit_record(
        action="scheduling.settings.changed",
        actor=actor,
        target=pharmacy,
        metadata={"prep_days": prep_days, "prefill_days": prefill_days, "closed": closed},
    )
    return row
