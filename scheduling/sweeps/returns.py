"""(f) Return to stock: a billed fill not picked up when its payer's window closes is reversed
(B2) and returned to stock (DOMAIN 5: 10 calendar days by default, a plan setting).

The sweep lives here, not in billing, because only scheduling knows whether a fill was picked
up (billing may not import scheduling); the reversal itself is billing's
(``billing.services.claim_reverse``). The window runs from the pharmacy's local day the claim
was paid: on the local day ``billed + return_to_stock_days`` (the day after the last pickup day
the patient was told, scheduling.sweeps.pickups) the claim is reversed. Safe to run twice:
the item leaves the shelf in a conditional UPDATE and the claim is no longer paid.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.selectors import paid_claims_for_items, plan_rules_for_many
from billing.services import claim_reverse
from medsync.services import AuditEntry, audit_record_many
from patients.models import Fill
from scheduling.dates import local_today
from scheduling.models import CycleEvent, CycleItem, EventKind, FollowUpTask, TaskKind, TaskStatus
from scheduling.services.fill_queue import _settle_cycle
from scheduling.states import ITEM_ON_SHELF, ITEM_TRANSITIONS
from scheduling.sweeps import runner
from scheduling.sweeps.runner import SweepResult

DEFAULT_WINDOW_DAYS = 10


def return_deadline(claim, rules_by_coverage: dict, time_zone: str) -> dt.date:
    """The pharmacy's local day a paid fill not picked up is reversed: the local day it was
    billed plus the plan's return-to-stock window (10 days when the claim lost its coverage)."""
    days = (
        rules_by_coverage[claim.coverage_id].return_to_stock_days
        if claim.coverage_id in rules_by_coverage
        else DEFAULT_WINDOW_DAYS
    )
    billed_on = local_today(time_zone, claim.adjudicated_at or claim.submitted_at)
    return billed_on + dt.timedelta(days=days)


def items_return_to_stock(*, now: dt.datetime | None = None) -> SweepResult:
    """Reverse and return to stock every fill on the shelf whose paid claim's window closed."""
    now = now or timezone.now()
    move = ITEM_TRANSITIONS["return_to_stock"]

    def step(pharmacy, settings_row, today, result):
        on_shelf = dict(
            CycleItem.objects.filter(cycle__pharmacy=pharmacy, state__in=ITEM_ON_SHELF).values_list(
                "pk", "cycle_id"
            )
        )
        claims = paid_claims_for_items(on_shelf)
        if not claims:
            return
        rules = plan_rules_for_many({c.coverage for c in claims.values() if c.coverage})
        due = []
        for item_id, claim in claims.items():
            deadline = return_deadline(claim, rules, pharmacy.time_zone)
            if today >= deadline:
                billed_on = local_today(
                    pharmacy.time_zone, claim.adjudicated_at or claim.submitted_at
                )
                due.append((item_id, claim, (deadline - billed_on).days))
        for item_id, claim, days in due:
            with transaction.atomic():
                moved = CycleItem.objects.filter(pk=item_id, state__in=move.sources).update(
                    state=move.target,
                    returned_at=now,
                    state_changed_by=None,
                    version=F("version") + 1,
                )
                if not moved:
                    continue  # picked up or returned meanwhile
                item = CycleItem.objects.select_related("cycle").get(pk=item_id)
                reason = f"Return to stock: not picked up within {days} days of billing"
                claim_reverse(claim, actor=None, reason=reason, now=now)
                if item.fill_id:
                    Fill.objects.filter(pk=item.fill_id, returned_to_stock_at__isnull=True).update(
                        returned_to_stock_at=now
                    )
                CycleEvent.objects.create(
                    organization_id=item.organization_id,
                    cycle_id=item.cycle_id,
                    patient_id=item.cycle.patient_id,
                    kind=EventKind.RETURNED,
                    occurred_at=now,
                    metadata={"items": 1, "sweep": True},
                )
                audit_record_many(
                    [
                        AuditEntry(
                            "scheduling.item.returned_to_stock",
                            item,
                            "",
                            "",
                            {"claim": str(claim.public_id), "window_days": days},
                        )
                    ]
                )
                if not CycleItem.objects.filter(
                    cycle_id=item.cycle_id, state__in=ITEM_ON_SHELF
                ).exists():
                    FollowUpTask.objects.filter(
                        cycle_id=item.cycle_id,
                        kind=TaskKind.RETURN_TO_STOCK,
                        status=TaskStatus.OPEN,
                    ).update(
                        status=TaskStatus.DONE,
                        resolved_at=now,
                        resolution_note="Reversed (B2) and returned to stock by the sweep.",
                    )
                _settle_cycle(item.cycle, now=now)
                result.items += 1

    return runner.for_each_pharmacy("returns_swept", now, step)
