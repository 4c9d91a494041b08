"""The write helpers every topic of the sync engine shares: storing an approved plan, building
a cycle and its items from it, the cycle's event log, automated text requests, and queueing
the sweeps after a change. No other services module is imported here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from medsync.models import User
from patients.models import Prescription
from scheduling import enqueue, selectors
from scheduling.alignment import AlignmentPlan, FillKind
from scheduling.cycle_rows import (
    cycle_item_rows,
    jsonable,
    needs_renewal,
    plan_fill_rows,
    recurring_fill,
    with_renewal,
)
from scheduling.dates import CycleTiming
from scheduling.exceptions import SchedulingError
from scheduling.models import (
    ContactChannel,
    ContactOutcome,
    CycleEvent,
    CycleItem,
    CycleStatus,
    EventChannel,
    EventKind,
    MessageRequest,
    PrepContact,
    SyncCycle,
    SyncEnrollment,
    SyncPlan,
    SyncPlanItem,
)
from scheduling.states import (
    ITEM_DROPPED_ON_REOPEN,
    REOPENABLE,
)


def cycle_event_record(
    cycle: SyncCycle,
    kind: str,
    *,
    now: dt.datetime,
    channel: str = EventChannel.SYSTEM,
    actor: User | None = None,
    metadata: dict | None = None,
) -> CycleEvent:
    """One entry of the cycle's event log (what happened, when, through which channel)."""
    return CycleEvent.objects.create(
        cycle=cycle,
        patient_id=cycle.patient_id,
        kind=kind,
        channel=channel,
        occurred_at=now,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        metadata=metadata or {},
    )


def validate_choice(value, choices, field_name: str, label: str) -> str:
    """`value` if it is one of `choices`, else a SchedulingError on `field_name`."""
    if value not in {c.value for c in choices}:
        raise SchedulingError(
            f"Choose {label}.",
            fields={field_name: [f"One of {', '.join(c.value for c in choices)}."]},
        )
    return value


def message_request_record(
    *, cycle: SyncCycle, kind: str, context: dict, now: dt.datetime
) -> MessageRequest | None:
    """Record that the sync engine wants an automated text; once per cycle and kind.

    The row is handed to messaging by sweeps.message_requests_hand_over (on commit, and
    by the beat), so a request survives messaging being down or not there yet.
    """
    enrollment = cycle.enrollment
    if enrollment.contact_channel != ContactChannel.SMS:
        return None
    key = f"cycle:{cycle.public_id}:{kind}"
    request, created = MessageRequest.objects.get_or_create(
        dedupe_key=key,
        defaults={
            "cycle": cycle,
            "patient_id": cycle.patient_id,
            "kind": kind,
            "context": context,
            "requested_at": now,
        },
    )
    if created:
        enqueue.enqueue_after_commit(enqueue.HAND_OVER_MESSAGE_REQUESTS)
    return request if created else None


def message_context(cycle: SyncCycle, **extra) -> dict:
    """What every automated text about a cycle needs: its anchor and pharmacy."""
    return {
        "anchor_date": cycle.anchor_date.isoformat(),
        "pharmacy_id": str(cycle.pharmacy.public_id),
        **extra,
    }


def sweeps_schedule_after_commit() -> None:
    """After a change to plans or cycles, run the prep and pre-fill sweeps for the tenant."""
    enqueue.enqueue_after_commit(enqueue.OPEN_PREP)
    enqueue.enqueue_after_commit(enqueue.OPEN_PREFILL)


def plan_store(
    *,
    enrollment: SyncEnrollment,
    alignment: AlignmentPlan,
    prescriptions: dict[int, Prescription],
    reason: str,
    actor: User | None,
    now: dt.datetime,
    summary: str = "",
) -> tuple[SyncPlan, list[SyncPlanItem]]:
    """The approved alignment as the enrollment's current plan (the previous one retired):
    the template every later cycle copies its fills from."""
    SyncPlan.objects.filter(enrollment=enrollment, is_current=True).update(is_current=False)
    plan = SyncPlan.objects.create(
        enrollment=enrollment,
        anchor_date=alignment.anchor_date,
        cycle_days=alignment.cycle_days,
        reason=reason,
        summary=summary[:500],
        approved_by=actor if getattr(actor, "is_authenticated", False) else None,
        approved_at=now,
    )
    items = []
    for rx_plan in alignment.items:
        rx = prescriptions[rx_plan.rx_id]
        rows = plan_fill_rows(rx_plan, rx, alignment.cycle_days)
        first = rows[0]
        synced = first["kind"] != FillKind.NOT_SYNCED
        quantity, days, pay = recurring_fill(rx, rx_plan.fills, alignment.cycle_days)
        items.append(
            SyncPlanItem(
                organization_id=enrollment.organization_id,
                plan=plan,
                prescription=rx,
                kind=first["kind"],
                fill_date=dt.date.fromisoformat(first["fill_date"]),
                quantity=Decimal(first["quantity"]) if synced else Decimal("0"),
                days_supply=first["days_supply"] if synced else 0,
                scc_codes=first["scc_codes"],
                patient_pay=None if first["patient_pay"] is None else Decimal(first["patient_pay"]),
                warnings=jsonable([w.as_dict() for w in rx_plan.warnings]),
                fills=rows,
                daily_dose=rx.daily_dose,
                unit_of_use=rx.drug.unit_of_use,
                recurring_quantity=quantity if synced else Decimal("0"),
                recurring_days_supply=days if synced else 0,
                recurring_patient_pay=pay if synced else None,
            )
        )
    SyncPlanItem.objects.bulk_create(items)
    return plan, items


def build_cycle_items(
    cycle: SyncCycle,
    rows: Iterable[tuple[Prescription, dict, list[dict]]],
    *,
    cycle_days: int,
    timing: CycleTiming,
) -> list[CycleItem]:
    """Unsaved CycleItems (for bulk_create), each with the plan's warnings and a renewal
    check; sets cycle.needs_renewal when any fill needs one."""
    rows = list(rows)
    filled = selectors.ever_filled(rx.pk for rx, _row, _warnings in rows)
    next_anchor = cycle.anchor_date + dt.timedelta(days=cycle_days)
    items = []
    for rx, row, plan_warnings in rows:
        fill_date = dt.date.fromisoformat(row["fill_date"])
        warnings = with_renewal(
            plan_warnings,
            rx,
            fill_date=fill_date,
            next_anchor=next_anchor,
            ever_filled=rx.pk in filled,
        )
        if needs_renewal(warnings):
            cycle.needs_renewal = True
        items.append(
            CycleItem(
                organization_id=cycle.organization_id,
                cycle=cycle,
                prescription=rx,
                fill_date=fill_date,
                queue_from=timing.prefill_due_on(fill_date),
                kind=row["kind"],
                quantity=Decimal(row["quantity"]),
                days_supply=row["days_supply"],
                scc_codes=row["scc_codes"],
                patient_pay=None if row["patient_pay"] is None else Decimal(row["patient_pay"]),
                warnings=warnings,
                off_anchor=fill_date != cycle.anchor_date,
                supply_start=row.get("supply_start"),
            )
        )
    return items


def new_cycle(
    *,
    enrollment: SyncEnrollment,
    plan: SyncPlan,
    anchor: dt.date,
    timing: CycleTiming,
) -> SyncCycle:
    """An unsaved cycle on `anchor` with its prep and pre-fill days."""
    prep = timing.prep_due_on(anchor)
    prefill = timing.prefill_due_on(anchor)
    return SyncCycle(
        organization_id=enrollment.organization_id,
        enrollment=enrollment,
        patient_id=enrollment.patient_id,
        pharmacy_id=enrollment.pharmacy_id,
        plan=plan,
        anchor_date=anchor,
        prep_due_on=prep,
        prefill_due_on=prefill,
    )


def cycle_reopen_for_anchor(*, enrollment: SyncEnrollment, anchor: dt.date) -> SyncCycle | None:
    """A cycle on this anchor closed by a pause or a re-plan: a new plan reuses its slot
    (one cycle per enrollment and anchor), dropping the fills it never started."""
    cycle = SyncCycle.objects.filter(
        enrollment=enrollment,
        anchor_date=anchor,
        status=CycleStatus.CLOSED,
        close_reason__in=REOPENABLE,
    ).first()
    if cycle is not None:
        CycleItem.objects.filter(
            cycle=cycle, state__in=ITEM_DROPPED_ON_REOPEN, fill__isnull=True
        ).delete()
    return cycle


def cycle_first_create(
    *,
    enrollment: SyncEnrollment,
    plan: SyncPlan,
    plan_items: list[SyncPlanItem],
    today: dt.date,
    now: dt.datetime,
    actor: User | None,
    contact_channel: str,
) -> SyncCycle:
    """The cycle of the plan's first anchor, with its aligning fills. When its prep day has
    already come, the enrollment conversation was the prep contact."""
    timing = selectors.timing_of(selectors.sync_settings_for(enrollment.pharmacy))
    cycle = new_cycle(enrollment=enrollment, plan=plan, anchor=plan.anchor_date, timing=timing)
    reopened = cycle_reopen_for_anchor(enrollment=enrollment, anchor=plan.anchor_date)
    if reopened is not None:
        cycle.pk, cycle.public_id, cycle.created_at = (
            reopened.pk,
            reopened.public_id,
            reopened.created_at,
        )
        cycle.status_changed_at = now
        cycle._state.adding = False
    rows = []
    for item in plan_items:
        for row in cycle_item_rows(item, anchor=plan.anchor_date, previous_anchor=None) or []:
            rows.append((item.prescription, row, item.warnings))
    items = build_cycle_items(cycle, rows, cycle_days=plan.cycle_days, timing=timing)
    if cycle.prep_due_on <= today:
        cycle.status = CycleStatus.CONTACTED
        cycle.contact_outcome = ContactOutcome.CONFIRMED
        cycle.contacted_at = now
    cycle.save()
    CycleItem.objects.bulk_create(items)
    if cycle.status == CycleStatus.CONTACTED:
        PrepContact.objects.create(
            cycle=cycle,
            channel=contact_channel,
            outcome=ContactOutcome.CONFIRMED,
            notes="Reviewed at enrollment.",
            contacted_at=now,
            contacted_by=actor,
        )
        cycle_event_record(
            cycle, EventKind.CONTACTED, now=now, channel=contact_channel, actor=actor
        )
        cycle_event_record(
            cycle, EventKind.CONFIRMED, now=now, channel=contact_channel, actor=actor
        )
    return cycle
