"""The fill queue and what follows it: billing, filling and verifying each fill, the pickup,
returns to stock and the follow-up tasks staff resolve."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from medsync.models import User, WebhookEvent
from medsync.services import audit_record
from patients.models import Drug, Fill, Prescription
from scheduling.exceptions import SchedulingError, StaleItem
from scheduling.models import (
    CloseReason,
    CycleItem,
    CycleStatus,
    EventChannel,
    EventKind,
    FlagReason,
    FollowUpTask,
    ItemState,
    SyncCycle,
    TaskKind,
    TaskStatus,
)
from scheduling.ndc_match import NdcFormatError, format_ndc, ndc_readings
from scheduling.services.cycles import (
    cycle_event_record,
    message_context,
    message_request_record,
    validate_choice,
)
from scheduling.services.events_out import cycle_event_emit
from scheduling.states import (
    CYCLE_PARTLY_PICKED_UP_FROM,
    CYCLE_TRANSITIONS,
    ITEM_DONE,
    ITEM_TRANSITIONS,
    QUEUE_ACTIONS,
)


def quantity_left(rx: Prescription, *, original_pending: bool) -> Decimal:
    """What the prescription still authorizes: the recorded quantity remaining, else (imported,
    never filled by us) the refills left (+ the original if unused) x the written quantity."""
    if rx.quantity_remaining is not None:
        return rx.quantity_remaining
    return rx.quantity_per_fill * (rx.refills_remaining + (1 if original_pending else 0))


def refills_used(rx: Prescription, quantity: Decimal, *, original: bool) -> int:
    """Refills a fill uses: one (the original uses none), or one per written quantity it
    holds when consolidated; never more than are left."""
    per_written = max(1, math.ceil(quantity / rx.quantity_per_fill))
    used = per_written - 1 if original else per_written
    return min(used, rx.refills_remaining)


def _record_fill(item: CycleItem, *, now: dt.datetime) -> Fill:
    """Dispense: a Fill row (the history the next plan reads), its quantity taken off what the
    prescription still authorizes, and the refills it uses (DOMAIN 2: refills are counted in
    quantity; a short fill uses one refill and part of its quantity, a consolidated fill one
    per written quantity). A fill handed out before its supply starts records that start."""
    rx = Prescription.objects.select_for_update().get(pk=item.prescription_id)
    if rx.expiration_date < item.fill_date:
        raise SchedulingError(
            f"Rx {rx.rx_number} expired on {rx.expiration_date:%b %-d}: flag it for a renewal.",
            code="renewal_needed",
        )
    first_fill = not Fill.objects.filter(prescription=rx).exists()
    original = first_fill and rx.refills_remaining == rx.refills_authorized
    left = quantity_left(rx, original_pending=original)
    if left <= 0 or (not original and rx.refills_remaining < 1):
        raise SchedulingError(
            f"Rx {rx.rx_number} has no refills left: flag it for a renewal.",
            code="renewal_needed",
        )
    if left < item.quantity:
        raise SchedulingError(
            f"Rx {rx.rx_number} authorizes {left:g} more, not {item.quantity:g}: flag it for a "
            "renewal.",
            code="renewal_needed",
        )
    used = refills_used(rx, item.quantity, original=original)
    Prescription.objects.filter(pk=rx.pk).update(
        refills_remaining=F("refills_remaining") - used,
        quantity_remaining=max(Decimal("0"), left - item.quantity),
        updated_at=now,
    )
    fill_number = 0 if original else rx.refills_authorized - rx.refills_remaining + 1
    supply_start = item.supply_start
    if supply_start is not None and supply_start <= item.fill_date:
        supply_start = None
    fill, _ = Fill.objects.get_or_create(
        prescription=rx,
        fill_date=item.fill_date,
        defaults={
            "supply_start": supply_start,
            "quantity": item.quantity,
            "days_supply": item.days_supply,
            "fill_number": fill_number,
            "scc_codes": list(item.scc_codes),
            "patient_pay": item.patient_pay or Decimal("0"),
        },
    )
    return fill


def refresh_cycle_readiness(cycle: SyncCycle, *, actor: User | None, now: dt.datetime) -> None:
    """A filling cycle whose fills are all verified is ready; the patient is told."""
    ready = CYCLE_TRANSITIONS["ready"]
    if cycle.status not in ready.sources:
        return
    pending = (
        CycleItem.objects.filter(cycle=cycle, fill_date__lte=cycle.anchor_date)
        .exclude(state__in=(*ITEM_DONE, ItemState.READY))
        .exists()
    )
    if pending:
        return
    updated = SyncCycle.objects.filter(pk=cycle.pk, status__in=ready.sources).update(
        status=ready.target, ready_at=now, status_changed_at=now
    )
    if updated:
        cycle_event_record(cycle, EventKind.READY, now=now, actor=actor)
        message_request_record(
            cycle=cycle, kind="ready_for_pickup", context=message_context(cycle), now=now
        )
        cycle_event_emit(cycle, WebhookEvent.CYCLE_READY, status=ready.target)


ACTION_NAMES = {
    "fill": "fill",
    "verify": "verification",
    "flag": "flag",
    "unflag": "clearing of the flag",
    "skip": "skip",
}


def check_version(item: CycleItem, expected_version: int | None, action: str) -> None:
    """Optimistic concurrency: the page showed `expected_version`; a row changed meanwhile by
    someone else refuses this change and says who won and what the fill is now."""
    if expected_version is None or item.version == expected_version:
        return
    who = str(item.state_changed_by) if item.state_changed_by_id else "Someone"
    raise StaleItem(
        f"{who} changed this fill first: it is now {item.get_state_display().lower()}. "
        f"Your {ACTION_NAMES.get(action, action)} was not applied; the row shows it as it is now.",
    )


def scanned_ndc_check(item: CycleItem, ndc: str) -> str:
    """The 11-digit NDC of the package scanned or typed at the fill, when it is the
    prescription's product; otherwise a refusal that names both products."""
    product = item.prescription.drug
    try:
        readings = ndc_readings(ndc)
    except NdcFormatError as exc:
        raise SchedulingError(str(exc), code="ndc_format", fields={"ndc": [str(exc)]}) from None
    if product.ndc in readings:
        return product.ndc
    scanned = Drug.objects.filter(ndc__in=sorted(readings)).order_by("ndc").first()
    scanned_name = (
        f"{scanned.name} {scanned.strength} (NDC {format_ndc(scanned.ndc)})"
        if scanned
        else f"NDC {ndc.strip()}, not in the drug catalog"
    )
    message = (
        f"Wrong package: you scanned {scanned_name}, the prescription is for {product.name} "
        f"{product.strength} (NDC {format_ndc(product.ndc)}). Nothing was filled."
    )
    raise SchedulingError(message, code="ndc_mismatch", fields={"ndc": [message]})


@transaction.atomic
def cycle_item_advance(
    *,
    item: CycleItem,
    actor: User | None,
    action: str,
    flag_reason: str = "",
    note: str = "",
    expected_version: int | None = None,
    ndc: str | None = None,
    now: dt.datetime | None = None,
) -> CycleItem:
    """Move one fill along the queue: fill, verify, flag, unflag or skip (starting it, which
    bills it, is services.claims.cycle_item_bill).

    `expected_version` (the version the page showed) refuses a change to a fill someone else
    changed meanwhile (StaleItem). `ndc` (what was scanned or typed; the fill queue always
    sends it with a fill) must be the prescription's product in any NDC form."""
    now = now or timezone.now()
    if action not in QUEUE_ACTIONS:
        raise SchedulingError(f"Unknown action {action!r}.", fields={"action": ["Unknown."]})
    allowed_from, to_state = ITEM_TRANSITIONS[action]
    item = (
        CycleItem.objects.select_for_update(of=("self",))
        .select_related("cycle", "prescription__drug", "state_changed_by")
        .get(pk=item.pk)
    )
    check_version(item, expected_version, action)
    if item.state not in allowed_from:
        raise SchedulingError(
            f"This fill is {item.get_state_display().lower()}: it cannot be {action}ed now.",
            code="wrong_state",
        )
    fields: dict = {"state": to_state, "state_changed_by": actor, "version": item.version + 1}
    if action == "flag":
        validate_choice(flag_reason, FlagReason, "flag_reason", "why it is flagged")
        fields.update(flag_reason=flag_reason, flag_note=note.strip()[:300])
    elif action == "unflag":
        if item.flag_reason == FlagReason.RENEWAL_NEEDED:
            rx = item.prescription
            if rx.expiration_date < item.fill_date or (
                rx.refills_remaining < 1 and Fill.objects.filter(prescription=rx).exists()
            ):
                raise SchedulingError(
                    f"Rx {rx.rx_number} still has no refills (or has expired): "
                    "record the renewal first.",
                    code="renewal_needed",
                )
        fields.update(flag_reason="", flag_note="")
    elif action == "fill":
        if ndc is not None:
            fields["ndc_scanned"] = scanned_ndc_check(item, ndc)
        fields["filled_at"] = now
        fields["fill"] = _record_fill(item, now=now)
        if item.billed_at is None:
            fields["billed_at"] = now
    elif action == "verify":
        fields["ready_at"] = now
    for name, value in fields.items():
        setattr(item, name, value)
    item.save(update_fields=list(fields))
    metadata = {"cycle": str(item.cycle.public_id), "state": to_state}
    if fields.get("ndc_scanned"):
        metadata["ndc"] = fields["ndc_scanned"]
    audit_record(
        action=f"scheduling.cycle_item.{action}", actor=actor, target=item, metadata=metadata
    )
    refresh_cycle_readiness(item.cycle, actor=actor, now=now)
    return item


def _settle_cycle(cycle: SyncCycle, *, now: dt.datetime) -> None:
    """Close a cycle once nothing in it is waiting any more."""
    waiting = (
        CycleItem.objects.filter(cycle=cycle, fill_date__lte=cycle.anchor_date)
        .exclude(state__in=ITEM_DONE)
        .exists()
    )
    if waiting:
        return
    picked = CycleItem.objects.filter(cycle=cycle, state=ItemState.PICKED_UP).exists()
    if cycle.status == CycleStatus.PICKED_UP:
        return  # closed by the pickup sweep once the anchor has passed
    settle = CYCLE_TRANSITIONS["settle"]
    SyncCycle.objects.filter(pk=cycle.pk, status__in=settle.sources).update(
        status=settle.target,
        close_reason=CloseReason.COMPLETED if picked else CloseReason.RETURNED_TO_STOCK,
        closed_at=now,
        status_changed_at=now,
        prep_open=False,
    )


@transaction.atomic
def cycle_pickup_record(
    *,
    cycle: SyncCycle,
    actor: User | None,
    items: Sequence[CycleItem] | None = None,
    channel: str = EventChannel.IN_PERSON,
    now: dt.datetime | None = None,
) -> SyncCycle:
    """Hand over verified fills (all ready ones by default); partial pickups are recorded."""
    now = now or timezone.now()
    cycle = SyncCycle.objects.select_for_update().get(pk=cycle.pk)
    pick_up = ITEM_TRANSITIONS["pick_up"]
    ready = CycleItem.objects.filter(cycle=cycle, state__in=pick_up.sources)
    if items is not None:
        wanted = {i.pk for i in items}
        ready = ready.filter(pk__in=wanted)
        if ready.count() != len(wanted):
            raise SchedulingError("Only verified fills of this cycle can be handed over.")
    picked = list(ready)
    if not picked:
        raise SchedulingError("Nothing in this cycle is verified and ready to hand over.")
    ids = [i.pk for i in picked]
    CycleItem.objects.filter(pk__in=ids).update(
        state=pick_up.target, picked_up_at=now, state_changed_by=actor, version=F("version") + 1
    )
    Fill.objects.filter(pk__in=[i.fill_id for i in picked if i.fill_id]).update(picked_up_at=now)
    remaining = (
        CycleItem.objects.filter(cycle=cycle, fill_date__lte=cycle.anchor_date)
        .exclude(state__in=ITEM_DONE)
        .exists()
    )
    status = cycle.status
    if not remaining:
        status = CycleStatus.PICKED_UP
    elif cycle.status in CYCLE_PARTLY_PICKED_UP_FROM or any(
        i.fill_date >= cycle.anchor_date for i in picked
    ):
        status = CycleStatus.PARTLY_PICKED_UP
    if status != cycle.status:
        SyncCycle.objects.filter(pk=cycle.pk).update(
            status=status, picked_up_at=now, status_changed_at=now, prep_open=False
        )
        cycle.status, cycle.picked_up_at, cycle.status_changed_at = status, now, now
    kind = EventKind.PICKED_UP if not remaining else EventKind.PARTLY_PICKED_UP
    cycle_event_record(
        cycle, kind, now=now, channel=channel, actor=actor, metadata={"items": len(ids)}
    )
    FollowUpTask.objects.filter(
        cycle=cycle, kind=TaskKind.MISSED_PICKUP, status=TaskStatus.OPEN
    ).update(status=TaskStatus.DONE, resolved_at=now, resolution_note="Picked up.")
    audit_record(
        action="scheduling.cycle.picked_up",
        actor=actor,
        target=cycle,
        metadata={"items": [str(i.public_id) for i in picked], "complete": not remaining},
    )
    cycle_event_emit(cycle, WebhookEvent.CYCLE_PICKED_UP)
    return cycle


@transaction.atomic
def cycle_items_return_to_stock(
    *,
    cycle: SyncCycle,
    actor: User | None,
    items: Sequence[CycleItem] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Reverse (B2) and shelve unclaimed fills: the refill comes back, the fill is marked."""
    now = now or timezone.now()
    cycle = SyncCycle.objects.select_for_update().get(pk=cycle.pk)
    unclaimed = CycleItem.objects.filter(
        cycle=cycle, state__in=ITEM_TRANSITIONS["return_to_stock"].sources
    )
    if items is not None:
        unclaimed = unclaimed.filter(pk__in=[i.pk for i in items])
    returned = list(unclaimed.select_related("fill__prescription"))
    if not returned:
        raise SchedulingError("Nothing in this cycle is waiting to be returned to stock.")
    for item in returned:
        if item.fill_id:
            Fill.objects.filter(pk=item.fill_id, returned_to_stock_at__isnull=True).update(
                returned_to_stock_at=now
            )
            rx = item.fill.prescription
            original = item.fill.fill_number == 0
            given_back = refills_used(rx, item.fill.quantity, original=original)
            Prescription.objects.filter(pk=item.prescription_id).update(
                refills_remaining=F("refills_remaining") + given_back,
                quantity_remaining=F("quantity_remaining") + item.fill.quantity,
                updated_at=now,
            )
    CycleItem.objects.filter(pk__in=[i.pk for i in returned]).update(
        state=ITEM_TRANSITIONS["return_to_stock"].target,
        returned_at=now,
        state_changed_by=actor,
        version=F("version") + 1,
    )
    cycle_event_record(
        cycle,
        EventKind.RETURNED,
        now=now,
        actor=actor,
        metadata={"items": len(returned)},
    )
    FollowUpTask.objects.filter(
        cycle=cycle, kind=TaskKind.RETURN_TO_STOCK, status=TaskStatus.OPEN
    ).update(status=TaskStatus.DONE, resolved_at=now, resolution_note="Returned to stock.")
    _settle_cycle(cycle, now=now)
    audit_record(
        action="scheduling.cycle.returned_to_stock",
        actor=actor,
        target=cycle,
        metadata={"items": [str(i.public_id) for i in returned]},
    )
    return len(returned)


@transaction.atomic
def follow_up_resolve(
    *, task: FollowUpTask, actor: User | None, status: str = TaskStatus.DONE, note: str = ""
) -> FollowUpTask:
    if status not in (TaskStatus.DONE, TaskStatus.DISMISSED):
        raise SchedulingError("Mark the task done or dismissed.")
    updated = FollowUpTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
        status=status,
        resolved_at=timezone.now(),
        resolved_by=actor if getattr(actor, "is_authenticated", False) else None,
        resolution_note=note.strip()[:500],
    )
    if not updated:
        raise SchedulingError("This task is already closed.")
    task.refresh_from_db()
    audit_record(action=f"scheduling.follow_up.{status}", actor=actor, target=task)
    return task
