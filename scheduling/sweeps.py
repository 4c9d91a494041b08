"""The sweeps the jobs run: services over database state, one tenant at a time.

Each sweep asks, per pharmacy and in its own time zone, "what is due and not yet
done?", claims those rows with a conditional UPDATE (under FOR UPDATE SKIP
LOCKED) and writes the consequences in bulk. Running one twice leaves the same
rows; missing a run is repaired by the next. Work goes in batches whose query
count does not depend on the batch size.

    cycles_ensure_upcoming   (a) every enrolled patient has a cycle for the next anchor
    cycles_open_prep         (b) anchor - prep days: prep worklist + prep reminder request
    cycles_open_prefill      (c) anchor - pre-fill days: fill queue, renewals flagged
    cycles_check_pickups     (d) missed pickups, return-to-stock warnings, closing
    replans_detect               new Rx / dose change / discontinuation -> proposed re-plan
    message_requests_hand_over   recorded text requests -> messaging
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from medsync.exceptions import MedSyncError
from medsync.jobs import enqueue_for_organization
from medsync.models import Pharmacy
from medsync.services import audit_record
from medsync.tenancy import current_organization
from patients.models import Prescription, PrescriptionStatus, SyncDecision
from scheduling import bulk, planning, selectors, services
from scheduling import cycle_rows as engine
from scheduling.alignment import AlignmentError, FillKind, align
from scheduling.dates import CycleTiming, local_today, next_anchor_on_or_after
from scheduling.models import (
    CloseReason,
    ContactChannel,
    ContactOutcome,
    CycleEvent,
    CycleItem,
    CycleStatus,
    EnrollmentStatus,
    EventKind,
    FlagReason,
    FollowUpTask,
    ItemState,
    MessageRequest,
    MessageRequestStatus,
    ReplanProposal,
    ReplanReason,
    ReplanStatus,
    SyncCycle,
    SyncEnrollment,
    SyncPlanItem,
    TaskKind,
)
from scheduling.states import CYCLE_OPEN, REOPENABLE

logger = logging.getLogger(__name__)


@contextmanager
def sweep_batch():
    """One batch of a sweep, in its own transaction. Its commit does not wait for the WAL
    to reach the disk (synchronous_commit off, this transaction only): a crash can lose
    the last batches acknowledged, never corrupt them, and the next run redoes them."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def batch_size() -> int:
    return getattr(settings, "SCHEDULING_SWEEP_BATCH_SIZE", 1000)


@dataclass
class SweepResult:
    cycles: int = 0
    items: int = 0
    events: int = 0
    messages: int = 0
    tasks: int = 0
    proposals: int = 0
    batches: int = 0
    pharmacies: list[str] = field(default_factory=list)

    def add(self, other: SweepResult) -> None:
        for f in fields(self):
            if f.name != "pharmacies":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def changed(self) -> bool:
        return any(
            getattr(self, name) for name in ("cycles", "items", "messages", "tasks", "proposals")
        )

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pharmacies"}


def _audit_sweep(name: str, result: SweepResult, pharmacy: Pharmacy, today: dt.date) -> None:
    if result.changed:
        audit_record(
            action=f"scheduling.sweep.{name}",
            target=pharmacy,
            metadata={"local_date": today.isoformat(), **result.as_dict()},
        )


def _hand_over_later(result: SweepResult) -> None:
    if result.messages:
        from scheduling import tasks

        enqueue_for_organization(tasks.hand_over_message_requests, current_organization())


def _events(rows, kind: str, now: dt.datetime, metadata=None) -> list[CycleEvent]:
    return [
        CycleEvent(
            organization_id=row["organization_id"],
            cycle_id=row["pk"],
            patient_id=row["patient_id"],
            kind=kind,
            occurred_at=now,
            metadata=metadata(row) if callable(metadata) else (metadata or {}),
        )
        for row in rows
    ]


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


def _message_requests(rows, kind: str, now: dt.datetime, pharmacy: Pharmacy) -> list:
    return [
        MessageRequest(
            organization_id=row["organization_id"],
            cycle_id=row["pk"],
            patient_id=row["patient_id"],
            kind=kind,
            dedupe_key=f"cycle:{row['public_id']}:{kind}",
            context={
                "anchor_date": row["anchor_date"].isoformat(),
                "pharmacy_id": str(pharmacy.public_id),
            },
            requested_at=now,
        )
        for row in rows
        if row["enrollment__contact_channel"] == ContactChannel.SMS
    ]


CLAIM_FIELDS = (
    "pk",
    "organization_id",
    "patient_id",
    "public_id",
    "anchor_date",
    "status",
    "contact_outcome",
    "enrollment__contact_channel",
)


# --- (a) Cycles for the next anchor ---


def cycles_ensure_upcoming(
    *,
    now: dt.datetime | None = None,
    limit: int | None = None,
    partition: int = 0,
    partitions: int = 1,
):
    """Every enrolled patient gets a cycle for the next anchor (>= the pharmacy's today).

    With `partitions` > 1 this run takes only the enrollments whose id falls in its
    `partition` (id modulo partitions), so several workers share a large program."""
    now = now or timezone.now()
    limit = limit or batch_size()
    total = SweepResult()
    for pharmacy, settings_row in selectors.pharmacies_with_settings():
        today = local_today(pharmacy.time_zone, now)
        timing = selectors.timing_of(settings_row)
        result = SweepResult()
        last_pk = 0
        while True:
            batch = [
                EnrollmentRow(*row)
                for row in bulk.enrollments_needing_cycles(
                    organization_id=current_organization().pk,
                    pharmacy_id=pharmacy.pk,
                    today=today,
                    reopenable=REOPENABLE,
                    after_id=last_pk,
                    limit=limit,
                    partition=partition,
                    partitions=partitions,
                )
            ]
            if not batch:
                break
            last_pk = batch[-1].pk
            with sweep_batch():
                result.add(_create_cycles(batch, pharmacy, timing, today=today, now=now))
            result.batches += 1
        _audit_sweep("cycles_created", result, pharmacy, today)
        total.add(result)
    return total


class EnrollmentRow(NamedTuple):
    pk: int
    patient_id: int
    anchor_date: dt.date
    cycle_days: int
    closed_cycle_ids: list[int] | None  # closed by a pause or re-plan, on or after today
    closed_cycle_anchors: list[dt.date] | None


class PlanItemRow(NamedTuple):
    """A current plan's item as the cycle sweep reads it (tuples, not model objects)."""

    item_id: int
    plan_id: int
    enrollment_id: int
    cycle_days: int
    prescription_id: int
    patient_id: int
    kind: str
    fills: list
    unit_of_use: bool
    recurring_quantity: Decimal
    recurring_days_supply: int
    recurring_patient_pay: Decimal | None
    warnings: list
    refills_remaining: int
    refills_authorized: int
    expiration_date: dt.date
    ever_filled: bool  # only known when refills run low (the renewal check needs it)
    rx_active: bool

    @property
    def pk(self) -> int:
        return self.prescription_id


def _plan_items(plans: dict[int, tuple]) -> dict[int, list[PlanItemRow]]:
    """The items of these current plans that need Python (not routine), as tuples (one
    query); `plans` maps enrollment -> (plan, previous anchor, next anchor)."""
    by_enrollment: dict[int, list[PlanItemRow]] = defaultdict(list)
    for row in bulk.current_plan_items(
        organization_id=current_organization().pk, plans=list(plans.values())
    ):
        *fields_, status, decision = row
        fields_[7] = _json(fields_[7])  # fills
        fields_[12] = _json(fields_[12])  # warnings
        active = status == PrescriptionStatus.ACTIVE and decision == SyncDecision.SYNCED
        item = PlanItemRow(*fields_, rx_active=active)
        by_enrollment[item.enrollment_id].append(item)
    return by_enrollment


def _json(value):
    """Django leaves jsonb undecoded on raw cursors; '[]' is by far the most common."""
    if isinstance(value, str):
        return [] if value == "[]" else json.loads(value)
    return value


def _create_cycles(
    batch: list[SyncEnrollment],
    pharmacy: Pharmacy,
    timing: CycleTiming,
    *,
    today: dt.date,
    now: dt.datetime,
) -> SweepResult:
    """One batch: the next cycle of each enrollment and its fills, in a fixed number of
    statements (plan items read as tuples, rows written with multi-row INSERTs)."""
    organization_id = current_organization().pk
    anchors = {e.pk: next_anchor_on_or_after(e.anchor_date, e.cycle_days, today) for e in batch}
    next_anchors = {e.pk: anchors[e.pk] + dt.timedelta(days=e.cycle_days) for e in batch}
    previous_anchors = {e.pk: anchors[e.pk] - dt.timedelta(days=e.cycle_days) for e in batch}
    # Routine items (most of them, once a patient is past the aligning cycle) never come to
    # Python: PostgreSQL repeats them from the plan (bulk.insert_recurring_items); only the
    # others are read and planned here.
    plan_of = bulk.current_plans(organization_id=organization_id, enrollment_ids=list(anchors))
    plan_items = _plan_items(
        {pk: (plan, previous_anchors[pk], next_anchors[pk]) for pk, plan in plan_of.items()}
    )
    cycle_rows, item_rows = [], defaultdict(list)
    drifting: dict[int, list[PlanItemRow]] = defaultdict(list)
    for enrollment in batch:
        if enrollment.pk not in plan_of:
            continue  # enrolled without a plan cannot happen through services; skip safely
        anchor = anchors[enrollment.pk]
        key = (enrollment.pk, anchor)
        anchor_iso = anchor.isoformat()
        next_anchor = next_anchors[enrollment.pk]
        previous = previous_anchors[enrollment.pk]
        needs_renewal = False
        for item in plan_items.get(enrollment.pk, ()):
            if not item.rx_active:
                continue  # stopped since the plan: replans_detect proposes the change
            window = engine.cycle_item_rows(item, anchor=anchor, previous_anchor=previous)
            if window is None:
                drifting[enrollment.patient_id].append(item)
                continue
            for row in window:
                # The plan's own fills carry the engine's warnings; every fill gets today's
                # renewal check (refills and expiry) on top.
                planned = item.warnings if item.fills and row in item.fills else []
                fill_date = anchor if row["fill_date"] == anchor_iso else None
                if (
                    not planned
                    and fill_date is not None
                    and item.expiration_date >= next_anchor
                    and item.refills_remaining > 1
                ):
                    warnings = []  # plenty of refills, not expiring: nothing to check
                else:
                    warnings = engine.with_renewal(
                        planned,
                        item,
                        fill_date=fill_date or dt.date.fromisoformat(row["fill_date"]),
                        next_anchor=next_anchor,
                        ever_filled=item.ever_filled,
                    )
                    needs_renewal = needs_renewal or any(
                        w["code"] == "renewal_needed" for w in warnings
                    )
                item_rows[key].append((item.prescription_id, row, warnings))
        cycle_rows.append(
            (
                organization_id,
                enrollment.pk,
                enrollment.patient_id,
                pharmacy.pk,
                plan_of[enrollment.pk],
                anchor,
                timing.prep_due_on(anchor),
                timing.prefill_due_on(anchor),
                needs_renewal,
                now,
            )
        )
    if drifting:
        keys = {e.patient_id: (e.pk, anchors[e.pk]) for e in batch}
        _plan_drifting_items(drifting, keys, item_rows, pharmacy, today)

    prefill_on = {(r[1], r[5]): r[7] for r in cycle_rows}
    closed = {
        (e.pk, anchor): cycle_id
        for e in batch
        if e.closed_cycle_ids
        for cycle_id, anchor in zip(e.closed_cycle_ids, e.closed_cycle_anchors, strict=True)
    }
    reopened = _reopen_closed_slots(
        {
            (r[1], r[5]): (closed[(r[1], r[5])], r[6], r[7], r[4])
            for r in cycle_rows
            if (r[1], r[5]) in closed
        },
        now,
    )
    inserted = bulk.insert_cycles(r for r in cycle_rows if (r[1], r[5]) not in reopened)
    cycle_ids = {**inserted, **reopened}
    rows = [
        (
            organization_id,
            cycle_ids[key],
            rx_id,
            row["fill_date"],
            timing.prefill_due_on(dt.date.fromisoformat(row["fill_date"]))
            if row["fill_date"] != key[1].isoformat()
            else prefill_on[key],
            row["kind"],
            row["quantity"],
            row["days_supply"],
            row["scc_codes"],
            row["patient_pay"],
            warnings,
            row["fill_date"] != key[1].isoformat(),
        )
        for key, entries in item_rows.items()
        if key in cycle_ids
        for rx_id, row, warnings in entries
    ]
    new_cycles = set(inserted.values())
    bulk.copy_items(r for r in rows if r[1] in new_cycles)
    bulk.insert_items(r for r in rows if r[1] not in new_cycles)
    recurring_rows = [
        (cycle_id, plan_of[key[0]], key[1], prefill_on[key], previous_anchors[key[0]])
        for key, cycle_id in cycle_ids.items()
    ]
    written = bulk.insert_recurring_items(
        organization_id=organization_id,
        rows=recurring_rows,
        read_by_python=[item.item_id for items in plan_items.values() for item in items],
    )
    renewal = [
        cycle_ids[key]
        for key, entries in item_rows.items()
        if key in reopened
        and any(w["code"] == "renewal_needed" for _rx, _row, ws in entries for w in ws)
    ]
    if renewal:
        SyncCycle.objects.filter(pk__in=renewal).update(needs_renewal=True)
    return SweepResult(cycles=len(cycle_ids), items=len(rows) + written)


def _reopen_closed_slots(
    candidates: dict[tuple[int, dt.date], tuple[int, dt.date, dt.date, int]], now: dt.datetime
) -> dict[tuple[int, dt.date], int]:
    """Cycles on these (enrollment, anchor) slots closed by a pause or a re-plan come back
    with today's timing and plan: (enrollment, anchor) -> (cycle, prep day, pre-fill day,
    plan). Returns the slots reopened here (one reopened meanwhile by someone else is not)."""
    if not candidates:
        return {}
    ids = bulk.reopen_cycles(
        organization_id=current_organization().pk,
        rows=list(candidates.values()),
        reopenable=REOPENABLE,
        now=now,
    )
    if ids:
        CycleItem.objects.filter(
            cycle_id__in=ids,
            state__in=(ItemState.PLANNED, ItemState.SKIPPED),
            fill__isnull=True,
        ).delete()
    return {key: row[0] for key, row in candidates.items() if row[0] in ids}


def _plan_drifting_items(drifting, keys, item_rows, pharmacy, today) -> None:
    """Unit-of-use products drift off the anchor: ask the alignment engine, with the fill
    history, whether and when each one is due in this cycle."""
    rx_ids = {item.prescription_id for items in drifting.values() for item in items}
    cycle_days = {patient: items[0].cycle_days for patient, items in drifting.items()}
    inputs = planning.rx_inputs_for_patients(
        list(drifting), today=today, pharmacy_state=pharmacy.state, only_rx_ids=rx_ids
    )
    for patient_id, entry in inputs.items():
        key = keys[patient_id]
        anchor, days = key[1], cycle_days[patient_id]
        try:
            plan = align(
                today=today, anchor_date=anchor, cycle_days=days, prescriptions=entry.inputs
            )
        except AlignmentError:
            logger.warning("Could not plan drifting items of one cycle; left for a re-plan.")
            continue
        by_id = {rx.pk: rx for rx in entry.prescriptions}
        next_anchor = anchor + dt.timedelta(days=days)
        for rx_plan in plan.items:
            for row in engine.plan_fill_rows(rx_plan, by_id[rx_plan.rx_id], days):
                if row["kind"] == FillKind.NOT_SYNCED:
                    continue
                if dt.date.fromisoformat(row["fill_date"]) < next_anchor:
                    warnings = engine.jsonable([w.as_dict() for w in rx_plan.warnings])
                    item_rows[key].append((rx_plan.rx_id, row, warnings))
                    break


# --- (b) Prep: the worklist and the reminder ---


def cycles_open_prep(*, now: dt.datetime | None = None, limit: int | None = None):
    """Anchor minus prep days, in the pharmacy's time zone: the cycle joins the prep worklist
    and, for patients who take texts, a prep reminder is requested from messaging."""
    now = now or timezone.now()
    limit = limit or batch_size()
    organization_id = current_organization().pk
    total = SweepResult()
    for pharmacy, _settings in selectors.pharmacies_with_settings():
        today = local_today(pharmacy.time_zone, now)
        result = SweepResult()
        while True:
            with sweep_batch():
                rows = bulk.claim_cycles(
                    organization_id=organization_id,
                    where="pharmacy_id = %s AND status = 'scheduled' AND prep_due_on <= %s"
                    " AND anchor_date >= %s",
                    params=[pharmacy.pk, today, today],
                    set_sql="status = 'prep_due', prep_opened_at = %s, prep_open = true,"
                    " status_changed_at = %s",
                    set_params=[now, now],
                    limit=limit,
                )
                if not rows:
                    break
                ids = [row["pk"] for row in rows]
                result.cycles += len(ids)
                reminded = bulk.insert_message_requests(
                    organization_id=organization_id,
                    cycle_ids=ids,
                    kind="prep_reminder",
                    now=now,
                    pharmacy_public_id=str(pharmacy.public_id),
                )
                result.messages += len(reminded)
                result.batches += 1
        _audit_sweep("prep_opened", result, pharmacy, today)
        total.add(result)
    _hand_over_later(total)
    return total


# --- (c) Pre-fill: the fill queue, renewals flagged ---


def cycles_open_prefill(*, now: dt.datetime | None = None, limit: int | None = None):
    """Anchor minus pre-fill days: the cycle's fills enter the fill queue; a fill whose
    prescription has no refills left or has expired is flagged for a renewal."""
    now = now or timezone.now()
    limit = limit or batch_size()
    organization_id = current_organization().pk
    total = SweepResult()
    for pharmacy, _settings in selectors.pharmacies_with_settings():
        today = local_today(pharmacy.time_zone, now)
        result = SweepResult()
        while True:
            with sweep_batch():
                rows = bulk.claim_cycles(
                    organization_id=organization_id,
                    where="pharmacy_id = %s AND status IN ('scheduled', 'prep_due', 'contacted')"
                    " AND prefill_due_on <= %s",
                    params=[pharmacy.pk, today],
                    set_sql="status = 'filling', filling_at = %s, status_changed_at = %s",
                    set_params=[now, now],
                    limit=limit,
                )
                if not rows:
                    break
                reached = {
                    row["pk"]
                    for row in rows
                    if row["old_status"] == CycleStatus.CONTACTED
                    and row["old_outcome"] != ContactOutcome.UNREACHABLE
                }
                not_reached = [row["pk"] for row in rows if row["pk"] not in reached]
                result.cycles += len(rows)
                result.tasks += bulk.insert_tasks(
                    organization_id=organization_id,
                    cycle_ids=not_reached,
                    kind=TaskKind.UNREACHABLE,
                    due_on=today,
                    detail="Not reached before the pre-fill: call before the anchor ({anchor}).",
                    now=now,
                )
                enrollments = {row["pk"]: row["enrollment_id"] for row in rows}
                waiting = _cycles_waiting_for_replan(enrollments)
                attention = bulk.items_needing_attention(
                    organization_id=organization_id,
                    today=today,
                    cycle_ids=list(enrollments),
                    waiting_cycle_ids=waiting,
                )
                result.tasks += _check_due_fills(attention, set(waiting), today, now)
                result.batches += 1
        with transaction.atomic():
            result.tasks += _check_early_fills(pharmacy, today, now)
        _audit_sweep("prefill_opened", result, pharmacy, today)
        total.add(result)
    return total


def _cycles_waiting_for_replan(enrollments: dict[int, int]) -> list[int]:
    """Of these cycles (cycle id -> enrollment id), those whose patient has a re-plan
    waiting for a pharmacist."""
    waiting = set(
        ReplanProposal.objects.filter(
            enrollment_id__in=set(enrollments.values()), status=ReplanStatus.PROPOSED
        ).values_list("enrollment_id", flat=True)
    )
    return [cycle for cycle, enrollment in enrollments.items() if enrollment in waiting]


def _check_early_fills(pharmacy: Pharmacy, today: dt.date, now: dt.datetime) -> int:
    """Fills dated off the anchor (aligning short fills before it, a drifting product after
    it) join the queue on their own day: check them like the rest (idempotent: only fills
    not started and not flagged are looked at)."""
    organization_id = current_organization().pk
    due = bulk.off_anchor_items_due(organization_id=organization_id, today=today)
    if not due:
        return 0
    cycles = dict(
        SyncCycle.objects.filter(
            pk__in={cycle_id for _, cycle_id, _, _ in due},
            pharmacy=pharmacy,
            status__in=CYCLE_OPEN,
        ).values_list("pk", "enrollment_id")
    )
    waiting = _cycles_waiting_for_replan(cycles)
    attention = bulk.items_needing_attention(
        organization_id=organization_id,
        today=today,
        item_ids=[row[0] for row in due if row[1] in cycles],
        waiting_cycle_ids=waiting,
    )
    return _check_due_fills(attention, set(waiting), today, now)


def _check_due_fills(attention: list[tuple], waiting: set[int], today, now) -> int:
    """Flag the fills a person must look at first: no refills left or expired (a renewal,
    with a follow-up task), a prescription no longer active, or a re-plan waiting for
    approval. Returns the follow-up tasks made."""
    if not attention:
        return 0
    organization_id = current_organization().pk
    filled = selectors.ever_filled(row[2] for row in attention if row[5] == 0)
    renewal, inactive, replan, renewal_cycles = [], [], [], set()
    for item_id, cycle_id, rx_id, fill_date, status, remaining, authorized, expires in attention:
        if status != PrescriptionStatus.ACTIVE:
            inactive.append(item_id)
        elif expires < fill_date or (remaining == 0 and (authorized > 0 or rx_id in filled)):
            renewal.append(item_id)
            renewal_cycles.add(cycle_id)
        elif cycle_id in waiting:
            replan.append(item_id)
    for ids, reason, note in (
        (renewal, FlagReason.RENEWAL_NEEDED, "No refills left or expired: request a renewal."),
        (inactive, FlagReason.NEEDS_PHARMACIST, "The prescription is no longer active."),
        (replan, FlagReason.NEEDS_PHARMACIST, "A re-plan is waiting for approval."),
    ):
        bulk.flag_items(organization_id=organization_id, item_ids=ids, reason=reason, note=note)
    return bulk.insert_tasks(
        organization_id=organization_id,
        cycle_ids=sorted(renewal_cycles),
        kind=TaskKind.RENEWAL_NEEDED,
        due_on=today,
        detail="A fill for the {anchor} anchor waits for a renewal from the prescriber.",
        now=now,
    )


# --- (d) Pickups: missed, ready reminders, return to stock, closing ---


def cycles_check_pickups(*, now: dt.datetime | None = None, limit: int | None = None):
    """A cycle not picked up by the day after its anchor is missed: a follow-up task and a
    missed-pickup text. Unclaimed fills near the payer's return-to-stock window get a
    warning text and a task. Picked-up cycles close once their anchor has passed."""
    now = now or timezone.now()
    limit = limit or batch_size()
    organization_id = current_organization().pk
    total = SweepResult()
    for pharmacy, settings_row in selectors.pharmacies_with_settings():
        today = local_today(pharmacy.time_zone, now)
        result = SweepResult()
        missed_by = today - dt.timedelta(days=settings_row.missed_after_days)
        while True:
            with sweep_batch():
                rows = bulk.claim_cycles(
                    organization_id=organization_id,
                    where="pharmacy_id = %s AND status IN ('filling', 'ready')"
                    " AND anchor_date <= %s",
                    params=[pharmacy.pk, missed_by],
                    set_sql="status = 'missed', missed_at = %s, status_changed_at = %s,"
                    " prep_open = false",
                    set_params=[now, now],
                    limit=limit,
                )
                if not rows:
                    break
                ids = [row["pk"] for row in rows]
                result.cycles += len(ids)
                result.tasks += bulk.insert_tasks(
                    organization_id=organization_id,
                    cycle_ids=ids,
                    kind=TaskKind.MISSED_PICKUP,
                    due_on=today,
                    detail="Not picked up on {anchor}: call the patient.",
                    now=now,
                )
                result.messages += len(
                    bulk.insert_message_requests(
                        organization_id=organization_id,
                        cycle_ids=ids,
                        kind="missed_pickup",
                        now=now,
                        pharmacy_public_id=str(pharmacy.public_id),
                    )
                )
                result.events += bulk.insert_events(
                    organization_id=organization_id, cycle_ids=ids, kind=EventKind.MISSED, now=now
                )
                result.batches += 1
        with transaction.atomic():
            result.messages += _ready_reminders(pharmacy, now)
            messages, tasks = _return_to_stock_warnings(pharmacy, settings_row, today, now)
            result.messages += messages
            result.tasks += tasks
            result.cycles += _close_picked_up(pharmacy, today, now)
            result.cycles += _retire_lapsed(pharmacy, today, now)
        _audit_sweep("pickups_checked", result, pharmacy, today)
        total.add(result)
    _hand_over_later(total)
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
        bulk.insert_message_requests(
            organization_id=current_organization().pk,
            cycle_ids=ids,
            kind="ready_for_pickup",
            now=now,
            pharmacy_public_id=str(pharmacy.public_id),
        )
    )


def _return_to_stock_warnings(pharmacy, settings_row, today, now) -> tuple[int, int]:
    """Fills billed but unclaimed: warn the patient `rts_warning_days` before the payer's
    return-to-stock deadline, and give staff a task the day before it."""
    items = list(
        CycleItem.objects.filter(
            cycle__pharmacy=pharmacy,
            cycle__status__in=(CycleStatus.MISSED, CycleStatus.PARTLY_PICKED_UP),
            state__in=(ItemState.BILLED, ItemState.FILLED, ItemState.READY),
        ).select_related("cycle", "cycle__enrollment", "prescription__coverage")
    )
    if not items:
        return 0, 0
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
        warn_from = deadline - dt.timedelta(days=settings_row.rts_warning_days)
        if warn_from <= today and cycle.enrollment.contact_channel == ContactChannel.SMS:
            requests.append(
                MessageRequest(
                    organization_id=cycle.organization_id,
                    cycle_id=cycle.pk,
                    patient_id=cycle.patient_id,
                    kind="rts_warning",
                    dedupe_key=f"cycle:{cycle.public_id}:rts_warning",
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
                    detail=f"Unclaimed fills: reverse and return to stock by {deadline:%b %-d}.",
                    created_at=now,
                )
            )
    return len(_create_requests(requests)), _create_tasks(tasks)


def _close_picked_up(pharmacy: Pharmacy, today: dt.date, now: dt.datetime) -> int:
    organization_id = current_organization().pk
    rows = bulk.claim_cycles(
        organization_id=organization_id,
        where="pharmacy_id = %s AND status = 'picked_up' AND anchor_date < %s",
        params=[pharmacy.pk, today],
        set_sql="status = 'closed', close_reason = 'completed', closed_at = %s,"
        " status_changed_at = %s",
        set_params=[now, now],
        limit=1_000_000,
    )
    bulk.insert_events(
        organization_id=organization_id,
        cycle_ids=[row["pk"] for row in rows],
        kind=EventKind.CLOSED,
        now=now,
        metadata_sql="""'{"reason": "completed"}'::jsonb""",
    )
    return len(rows)


def _retire_lapsed(pharmacy: Pharmacy, today: dt.date, now: dt.datetime) -> int:
    """Once the next anchor has come, a missed or partly picked-up cycle's fills that were
    never started are dropped; with nothing left on the shelf the cycle closes."""
    candidates = [
        row
        for row in SyncCycle.objects.filter(
            pharmacy=pharmacy,
            status__in=(CycleStatus.MISSED, CycleStatus.PARTLY_PICKED_UP),
        ).values(*CLAIM_FIELDS, "enrollment__cycle_days")
        if row["anchor_date"] + dt.timedelta(days=row["enrollment__cycle_days"]) <= today
    ]
    if not candidates:
        return 0
    ids = [row["pk"] for row in candidates]
    CycleItem.objects.filter(
        cycle_id__in=ids, state__in=(ItemState.PLANNED, ItemState.FLAGGED)
    ).update(state=ItemState.SKIPPED)
    on_shelf = set(
        CycleItem.objects.filter(
            cycle_id__in=ids, state__in=(ItemState.BILLED, ItemState.FILLED, ItemState.READY)
        ).values_list("cycle_id", flat=True)
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
            pk__in=[r["pk"] for r in rows],
            status__in=(CycleStatus.MISSED, CycleStatus.PARTLY_PICKED_UP),
        ).update(
            status=CycleStatus.CLOSED,
            close_reason=reason,
            closed_at=now,
            status_changed_at=now,
            prep_open=False,
        )
        CycleEvent.objects.bulk_create(
            _events(rows, EventKind.CLOSED, now, metadata={"reason": reason.value})
        )
    return closed


# --- Re-plans ---


def replans_detect(*, now: dt.datetime | None = None, limit: int | None = None) -> SweepResult:
    """Compare each enrolled patient's synced medication list with the current plan: a new
    prescription, a dose change or a discontinuation opens a re-plan for a pharmacist."""
    now = now or timezone.now()
    limit = limit or batch_size()
    result = SweepResult()
    enrollments = SyncEnrollment.objects.filter(status=EnrollmentStatus.ENROLLED).order_by("pk")
    last_pk = 0
    while True:
        batch = list(enrollments.filter(pk__gt=last_pk)[:limit])
        if not batch:
            break
        last_pk = batch[-1].pk
        result.batches += 1
        by_patient = {e.patient_id: e for e in batch}
        planned: dict[int, dict[int, SyncPlanItem]] = defaultdict(dict)
        for item in SyncPlanItem.objects.filter(
            plan__enrollment__in=batch, plan__is_current=True
        ).select_related("plan", "prescription__drug"):
            if item.kind != FillKind.NOT_SYNCED:
                planned[item.plan.enrollment_id][item.prescription_id] = item
        current: dict[int, dict[int, Prescription]] = defaultdict(dict)
        for rx in Prescription.objects.filter(
            patient_id__in=list(by_patient),
            status=PrescriptionStatus.ACTIVE,
            sync_decision=SyncDecision.SYNCED,
        ).select_related("drug"):
            current[rx.patient_id][rx.pk] = rx
        for patient_id, enrollment in by_patient.items():
            reasons, details = _changes(planned[enrollment.pk], current[patient_id])
            if reasons:
                with transaction.atomic():
                    if services.replan_propose(
                        enrollment=enrollment, reasons=reasons, details=details, now=now
                    ):
                        result.proposals += 1
    return result


def _changes(planned: dict[int, SyncPlanItem], current: dict[int, Prescription]):
    reasons, details = set(), []
    for rx_id, rx in sorted(current.items()):
        name = f"Rx {rx.rx_number} ({rx.drug.name} {rx.drug.strength})"
        item = planned.get(rx_id)
        if item is None:
            reasons.add(ReplanReason.NEW_RX)
            details.append(f"New prescription {name}.")
        elif item.daily_dose != rx.daily_dose:
            reasons.add(ReplanReason.DOSE_CHANGE)
            details.append(
                f"Dose change {name}: {item.daily_dose.normalize()} to "
                f"{rx.daily_dose.normalize()} a day."
            )
    for rx_id, item in sorted(planned.items()):
        if rx_id not in current:
            rx = item.prescription
            reasons.add(ReplanReason.DISCONTINUATION)
            state = rx.get_status_display().lower() if rx.status != "active" else "no longer synced"
            details.append(f"Rx {rx.rx_number} ({rx.drug.name} {rx.drug.strength}) is {state}.")
    return sorted(reasons), details


# --- Hand-over to messaging ---


def _messaging_entry_point():
    try:
        from messaging import services as messaging_services
    except ImportError:  # pragma: no cover - messaging is installed with the project
        return None
    return getattr(messaging_services, "automated_message_request", None)


def message_requests_hand_over(*, limit: int = 500, now: dt.datetime | None = None) -> SweepResult:
    """Give recorded text requests to messaging, each once (claimed under SKIP LOCKED, marked
    in the same transaction). Until messaging can take them they stay pending."""
    now = now or timezone.now()
    result = SweepResult()
    request_message = _messaging_entry_point()
    if request_message is None:
        return result
    while True:
        with transaction.atomic():
            batch = list(
                MessageRequest.objects.filter(status=MessageRequestStatus.PENDING)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("patient")
                .order_by("pk")[:limit]
            )
            if not batch:
                break
            for request in batch:
                context = dict(request.context)
                if "anchor_date" in context:
                    context["anchor_date"] = dt.date.fromisoformat(context["anchor_date"])
                try:
                    with transaction.atomic():
                        message = request_message(
                            patient=request.patient,
                            kind=request.kind,
                            dedupe_key=request.dedupe_key,
                            context=context,
                        )
                except NotImplementedError:
                    logger.info("Messaging does not take automated requests yet; kept pending.")
                    MessageRequest.objects.filter(pk__in=[r.pk for r in batch]).update(
                        attempts=F("attempts") + 1
                    )
                    return result
                except MedSyncError as exc:
                    # Refused for good (a bad kind or key): recorded, never retried in a loop.
                    logger.warning("Messaging refused a %s request: %s", request.kind, exc.code)
                    message = None
                status = (
                    MessageRequestStatus.HANDED_OVER
                    if message is not None
                    else MessageRequestStatus.SKIPPED
                )
                MessageRequest.objects.filter(pk=request.pk).update(
                    status=status, handed_over_at=now, attempts=F("attempts") + 1
                )
                result.messages += 1
        if len(batch) < limit:
            break
    return result
