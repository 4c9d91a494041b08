"""(d) Pickups: missed pickups, ready-for-pickup reminders, return-to-stock warnings, and
closing cycles that were picked up or have lapsed."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from medsync.models import Pharmacy
from medsync.tenancy import current_organization
from scheduling import planning, sql
from scheduling.dates import local_today
from scheduling.models import (
    CloseReason,
    ContactChannel,
    CycleEvent,
    CycleItem,
    CycleStatus,
    EventKind,
    FollowUpTask,
    ItemState,
    MessageRequest,
    SyncCycle,
    TaskKind,
)
from scheduling.states import (
    CYCLE_OPEN,
    CYCLE_PAST_PICKUP,
    CYCLE_TRANSITIONS,
    ITEM_ON_SHELF,
    ITEM_TRANSITIONS,
)
from scheduling.sweeps import runner
from scheduling.sweeps.runner import SweepResult

# More than any pharmacy closes in a day: picked-up cycles are closed in one statement.
CLOSE_ALL = 1_000_000


def cycles_check_pickups(
    *, now: dt.datetime | None = None, limit: int | None = None
) -> SweepResult:
    """A cycle not picked up by the day after its anchor is missed: a follow-up task and a
    missed-pickup text. Unclaimed fills near the payer's return-to-stock window get a
    warning text and a task. Picked-up cycles close once their anchor has passed."""
    now = now or timezone.now()
    limit = limit or runner.batch_size()
    organization_id = current_organization().pk

    def step(pharmacy, settings_row, today, result):
        missed_by = today - dt.timedelta(days=settings_row.missed_after_days)

        def handle(rows):
            ids = [row.pk for row in rows]
            result.cycles += len(ids)
            result.tasks += sql.insert_tasks(
                organization_id=organization_id,
                cycle_ids=ids,
                kind=TaskKind.MISSED_PICKUP,
                due_on=today,
                detail="Not picked up on {anchor}: call the patient.",
                now=now,
            )
            result.messages += len(
                sql.insert_message_requests(
                    organization_id=organization_id,
                    cycle_ids=ids,
                    kind="missed_pickup",
                    now=now,
                    pharmacy_public_id=str(pharmacy.public_id),
                )
            )
            result.events += sql.insert_events(
                organization_id=organization_id, cycle_ids=ids, kind=EventKind.MISSED, now=now
            )

        runner.claim_batches(
            result,
            lambda: sql.claim_cycles(
                "miss",
                organization_id=organization_id,
                pharmacy_id=pharmacy.pk,
                limit=limit,
                missed_by=missed_by,
                now=now,
            ),
            handle,
        )
        with transaction.atomic():
            result.messages += _ready_reminders(pharmacy, now)
            messages, tasks = _return_to_stock_warnings(pharmacy, settings_row, today, now)
            result.messages += messages
            result.tasks += tasks
            result.cycles += _close_picked_up(pharmacy, today, now)
            result.cycles += _retire_lapsed(pharmacy, today, now)

    total = runner.for_each_pharmacy("pickups_checked", now, step)
    runner.hand_over_later(total)
    return total


def _ready_reminders(pharmacy: Pharmacy, now: dt.datetime) -> int:
    """Safety net: every ready cycle of a texting patient has its ready-for-pickup request."""
    already = MessageRequest.objects.filter(cycle_id=OuterRef("pk"), kind="ready_for_pickup")
    ids = list(
        SyncCycle.objects.filter(
            pharmacy=pharmacy,
            status=CycleStatus.READY,
            enrollment__contact_channel=ContactChannel.SMS,
        )
        .filter(~Exists(already))
        .values_list("pk", flat=True)
    )
    return len(
        sql.insert_message_requests(
            organization_id=current_organization().pk,
            cycle_ids=ids,
            kind="ready_for_pickup",
            now=now,
            pharmacy_public_id=str(pharmacy.public_id),
        )
    )


def _return_to_stock_warnings(pharmacy, settings_row, today, now) -> tuple[int, int]:
    """Fills billed but unclaimed: warn the patient `rts_warning_days` before the payer's
    return-to-stock deadline, and give staff a task the day before it.

    Looked at: every fill on the shelf of a missed or partly picked-up cycle, and (issue 10,
    defect 10) a fill dated before its cycle's anchor (an aligning short fill) that is on the
    shelf while the cycle is still open: its claim's clock runs from its own billing, weeks
    before the anchor pickup, so it reaches the payer's deadline first (DOMAIN 5)."""
    early = Q(cycle__status__in=CYCLE_OPEN, fill_date__lt=F("cycle__anchor_date"))
    items = list(
        CycleItem.objects.filter(
            Q(cycle__status__in=CYCLE_PAST_PICKUP) | early,
            cycle__pharmacy=pharmacy,
            state__in=ITEM_ON_SHELF,
        ).select_related("cycle", "cycle__enrollment", "prescription__coverage")
    )
    if not items:
        return 0, 0
    # A prescription naming no coverage is billed to the patient's primary plan (as planned),
    # so that plan's return-to-stock window applies, not the cash default.
    planning.assume_primary_coverage([i.prescription for i in items], today)
    rules = planning.plan_rules_by_coverage([i.prescription for i in items])
    deadlines: dict[int, dt.date] = {}
    cycles = {}
    for item in items:
        rx_rules = planning.rules_for(item.prescription, rules, pharmacy_state=pharmacy.state)
        billed = item.billed_at or item.filled_at or now
        deadline = local_today(pharmacy.time_zone, billed) + dt.timedelta(
            days=rx_rules.return_to_stock_days
        )
        cycle = item.cycle
        cycles[cycle.pk] = cycle
        deadlines[cycle.pk] = min(deadlines.get(cycle.pk, deadline), deadline)
    requests, tasks = [], []
    for cycle_id, deadline in deadlines.items():
        cycle = cycles[cycle_id]
        # An early fill's warning is its own text (the anchor fills may be warned later).
        suffix = "" if cycle.status in CYCLE_PAST_PICKUP else ":early"
        what = "Unclaimed fills" if not suffix else "Unclaimed fill before the anchor"
        warn_from = deadline - dt.timedelta(days=settings_row.rts_warning_days)
        if warn_from <= today and cycle.enrollment.contact_channel == ContactChannel.SMS:
            requests.append(
                MessageRequest(
                    organization_id=cycle.organization_id,
                    cycle_id=cycle.pk,
                    patient_id=cycle.patient_id,
                    kind="rts_warning",
                    dedupe_key=f"cycle:{cycle.public_id}:rts_warning{suffix}",
                    context={
                        "anchor_date": cycle.anchor_date.isoformat(),
                        "pharmacy_id": str(pharmacy.public_id),
                        "pickup_by": (deadline - dt.timedelta(days=1)).isoformat(),
                    },
                    requested_at=now,
                )
            )
        if deadline - dt.timedelta(days=1) <= today:
            tasks.append(
                FollowUpTask(
                    organization_id=cycle.organization_id,
                    cycle_id=cycle.pk,
                    patient_id=cycle.patient_id,
                    kind=TaskKind.RETURN_TO_STOCK,
                    due_on=deadline,
                    detail=f"{what}: reverse and return to stock by {deadline:%b %-d}.",
                    created_at=now,
                )
            )
    return len(_create_requests(requests)), _create_tasks(tasks)


def _create_tasks(tasks: list[FollowUpTask]) -> int:
    """Insert the follow-up tasks not there yet (one per cycle and kind); returns how many."""
    if not tasks:
        return 0
    existing = set(
        FollowUpTask.objects.filter(cycle_id__in=[t.cycle_id for t in tasks]).values_list(
            "cycle_id", "kind"
        )
    )
    new = [t for t in tasks if (t.cycle_id, t.kind) not in existing]
    FollowUpTask.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _create_requests(requests: list[MessageRequest]) -> list[MessageRequest]:
    """Insert the message requests not recorded yet (unique dedupe key); returns the new."""
    if not requests:
        return []
    existing = set(
        MessageRequest.objects.filter(dedupe_key__in=[r.dedupe_key for r in requests]).values_list(
            "dedupe_key", flat=True
        )
    )
    new = [r for r in requests if r.dedupe_key not in existing]
    MessageRequest.objects.bulk_create(new, ignore_conflicts=True)
    return new


def _close_picked_up(pharmacy: Pharmacy, today: dt.date, now: dt.datetime) -> int:
    """Picked-up cycles whose anchor has passed are closed as completed."""
    organization_id = current_organization().pk
    rows = sql.claim_cycles(
        "close_picked_up",
        organization_id=organization_id,
        pharmacy_id=pharmacy.pk,
        limit=CLOSE_ALL,
        today=today,
        now=now,
    )
    sql.insert_events(
        organization_id=organization_id,
        cycle_ids=[row.pk for row in rows],
        kind=EventKind.CLOSED,
        now=now,
        metadata={"reason": CloseReason.COMPLETED.value},
    )
    return len(rows)


def _retire_lapsed(pharmacy: Pharmacy, today: dt.date, now: dt.datetime) -> int:
    """Once the next anchor has come, a missed or partly picked-up cycle's fills that were
    never started are dropped; with nothing left on the shelf the cycle closes."""
    retire = CYCLE_TRANSITIONS["retire"]
    candidates = [
        row
        for row in SyncCycle.objects.filter(pharmacy=pharmacy, status__in=retire.sources).values(
            "pk", "organization_id", "patient_id", "anchor_date", "enrollment__cycle_days"
        )
        if row["anchor_date"] + dt.timedelta(days=row["enrollment__cycle_days"]) <= today
    ]
    if not candidates:
        return 0
    ids = [row["pk"] for row in candidates]
    drop = ITEM_TRANSITIONS["drop"]
    CycleItem.objects.filter(cycle_id__in=ids, state__in=drop.sources).update(
        state=drop.target, version=F("version") + 1
    )
    on_shelf = set(
        CycleItem.objects.filter(cycle_id__in=ids, state__in=ITEM_ON_SHELF).values_list(
            "cycle_id", flat=True
        )
    )
    picked = set(
        CycleItem.objects.filter(cycle_id__in=ids, state=ItemState.PICKED_UP).values_list(
            "cycle_id", flat=True
        )
    )
    done = [row for row in candidates if row["pk"] not in on_shelf]
    closed = 0
    for reason, rows in (
        (CloseReason.COMPLETED, [r for r in done if r["pk"] in picked]),
        (CloseReason.LAPSED, [r for r in done if r["pk"] not in picked]),
    ):
        if not rows:
            continue
        closed += SyncCycle.objects.filter(
            pk__in=[r["pk"] for r in rows], status__in=retire.sources
        ).update(
            status=retire.target,
            close_reason=reason,
            closed_at=now,
            status_changed_at=now,
            prep_open=False,
        )
        CycleEvent.objects.bulk_create(
            CycleEvent(
                organization_id=row["organization_id"],
                cycle_id=row["pk"],
                patient_id=row["patient_id"],
                kind=EventKind.CLOSED,
                occurred_at=now,
                metadata={"reason": reason.value},
            )
            for row in rows
        )
    return closed
