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
import logging
from collections import defaultdict
from dataclasses import dataclass, field, fields

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from medsync.exceptions import MedSyncError
from medsync.jobs import enqueue_for_organization
from medsync.models import Pharmacy
from medsync.services import audit_record
from medsync.tenancy import current_organization
from patients.models import Fill, Prescription, PrescriptionStatus, SyncDecision
from scheduling import planning, selectors, services
from scheduling.alignment import AlignmentError, FillKind, align
from scheduling.dates import CycleTiming, local_today, next_anchor_on_or_after
from scheduling.models import (
    CYCLE_NOT_YET_FILLING,
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

logger = logging.getLogger(__name__)


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


def _claim(queryset, limit: int) -> list[dict]:
    """Lock up to `limit` rows of a due-work queryset; concurrent sweeps skip them."""
    return list(
        queryset.select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")
        .values(*CLAIM_FIELDS)[:limit]
    )


# --- (a) Cycles for the next anchor ---


def cycles_ensure_upcoming(*, now: dt.datetime | None = None, limit: int | None = None):
    """Every enrolled patient gets a cycle for the next anchor (>= the pharmacy's today)."""
    now = now or timezone.now()
    limit = limit or batch_size()
    total = SweepResult()
    for pharmacy, settings_row in selectors.pharmacies_with_settings():
        today = local_today(pharmacy.time_zone, now)
        timing = selectors.timing_of(settings_row)
        upcoming = SyncCycle.objects.filter(
            enrollment_id=OuterRef("pk"), anchor_date__gte=today
        ).exclude(status=CycleStatus.CLOSED, close_reason__in=services.REOPENABLE)
        needing = (
            SyncEnrollment.objects.filter(
                pharmacy=pharmacy, status=EnrollmentStatus.ENROLLED, anchor_date__isnull=False
            )
            .annotate(has_upcoming=Exists(upcoming))
            .filter(has_upcoming=False)
        )
        result = SweepResult()
        last_pk = 0
        while True:
            batch = list(
                needing.filter(pk__gt=last_pk)
                .order_by("pk")
                .only(
                    "pk",
                    "organization_id",
                    "patient_id",
                    "pharmacy_id",
                    "anchor_date",
                    "cycle_days",
                )[:limit]
            )
            if not batch:
                break
            last_pk = batch[-1].pk
            with transaction.atomic():
                result.add(_create_cycles(batch, pharmacy, timing, today=today, now=now))
            result.batches += 1
        _audit_sweep("cycles_created", result, pharmacy, today)
        total.add(result)
    return total


def _create_cycles(
    batch: list[SyncEnrollment],
    pharmacy: Pharmacy,
    timing: CycleTiming,
    *,
    today: dt.date,
    now: dt.datetime,
) -> SweepResult:
    anchors = {e.pk: next_anchor_on_or_after(e.anchor_date, e.cycle_days, today) for e in batch}
    plan_items = defaultdict(list)
    plans = {}
    for item in (
        SyncPlanItem.objects.filter(plan__enrollment_id__in=list(anchors), plan__is_current=True)
        .select_related("plan", "prescription__drug")
        .order_by("plan_id", "id")
    ):
        plan_items[item.plan.enrollment_id].append(item)
        plans[item.plan.enrollment_id] = item.plan
    rx_ids = [item.prescription_id for items in plan_items.values() for item in items]
    ever = services._ever_filled(rx_ids)

    cycles: list[SyncCycle] = []
    rows_by_cycle: dict[int, list] = {}
    drifting: dict[int, list[SyncPlanItem]] = defaultdict(list)
    for enrollment in batch:
        plan = plans.get(enrollment.pk)
        if plan is None:
            continue  # enrolled without a plan cannot happen through services; skip safely
        anchor = anchors[enrollment.pk]
        cycle = services._new_cycle(enrollment=enrollment, plan=plan, anchor=anchor, timing=timing)
        previous = anchor - dt.timedelta(days=enrollment.cycle_days)
        rows = []
        for item in plan_items[enrollment.pk]:
            rx = item.prescription
            if rx.status != PrescriptionStatus.ACTIVE or rx.sync_decision != SyncDecision.SYNCED:
                continue  # stopped since the plan: replans_detect proposes the change
            window = services.cycle_item_rows(item, anchor=anchor, previous_anchor=previous)
            if window is None:
                drifting[enrollment.patient_id].append(item)
                continue
            rows.extend((rx, row, item.warnings if row["scc_codes"] else []) for row in window)
        cycles.append(cycle)
        rows_by_cycle[id(cycle)] = rows
    by_patient_cycle = {c.patient_id: c for c in cycles}
    if drifting:
        _plan_drifting_items(drifting, by_patient_cycle, rows_by_cycle, pharmacy, today)

    keys = {(c.enrollment_id, c.anchor_date): c for c in cycles}
    existing = {
        (row["enrollment_id"], row["anchor_date"]): row
        for row in SyncCycle.objects.filter(
            enrollment_id__in=[c.enrollment_id for c in cycles],
            anchor_date__in={c.anchor_date for c in cycles},
        ).values("pk", "enrollment_id", "anchor_date", "status", "close_reason")
    }
    reopen = {
        row["pk"]: keys[key]
        for key, row in existing.items()
        if key in keys
        and row["status"] == CycleStatus.CLOSED
        and row["close_reason"] in services.REOPENABLE
    }
    new = [c for key, c in keys.items() if key not in existing]
    SyncCycle.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        created_pks = {
            (row["enrollment_id"], row["anchor_date"]): row["pk"]
            for row in SyncCycle.objects.filter(
                enrollment_id__in=[c.enrollment_id for c in new],
                anchor_date__in={c.anchor_date for c in new},
            ).values("pk", "enrollment_id", "anchor_date")
        }
        for cycle in new:
            cycle.pk = created_pks.get((cycle.enrollment_id, cycle.anchor_date))
    if reopen:
        CycleItem.objects.filter(
            cycle_id__in=list(reopen),
            state__in=(ItemState.PLANNED, ItemState.SKIPPED),
            fill__isnull=True,
        ).delete()
        SyncCycle.objects.filter(pk__in=list(reopen)).update(
            status=CycleStatus.SCHEDULED,
            close_reason="",
            closed_at=None,
            status_changed_at=now,
            prep_open=False,
            contact_outcome="",
        )
        for pk, cycle in reopen.items():
            cycle.pk = pk
    items: list[CycleItem] = []
    for cycle in [*new, *reopen.values()]:
        if cycle.pk is None:
            continue
        next_anchor = cycle.anchor_date + dt.timedelta(days=cycle.plan.cycle_days)
        items.extend(
            services.build_cycle_items(
                cycle, rows_by_cycle[id(cycle)], next_anchor=next_anchor, ever_filled=ever
            )
        )
    CycleItem.objects.bulk_create(items, ignore_conflicts=True)
    renewal = [pk for pk, cycle in reopen.items() if cycle.needs_renewal]
    if renewal:
        SyncCycle.objects.filter(pk__in=renewal).update(needs_renewal=True)
    return SweepResult(cycles=len(new) + len(reopen), items=len(items))


def _plan_drifting_items(drifting, cycles_by_patient, rows_by_cycle, pharmacy, today) -> None:
    """Unit-of-use products drift off the anchor: ask the alignment engine, with the fill
    history, whether and when each one is due in this cycle."""
    rx_ids = {item.prescription_id for items in drifting.values() for item in items}
    inputs = planning.rx_inputs_for_patients(
        list(drifting), today=today, pharmacy_state=pharmacy.state, only_rx_ids=rx_ids
    )
    for patient_id, entry in inputs.items():
        cycle = cycles_by_patient[patient_id]
        try:
            plan = align(
                today=today,
                anchor_date=cycle.anchor_date,
                cycle_days=cycle.plan.cycle_days,
                prescriptions=entry.inputs,
            )
        except AlignmentError:
            logger.warning("Could not plan drifting items of one cycle; left for a re-plan.")
            continue
        by_id = {rx.pk: rx for rx in entry.prescriptions}
        next_anchor = cycle.anchor_date + dt.timedelta(days=cycle.plan.cycle_days)
        for rx_plan in plan.items:
            rx = by_id[rx_plan.rx_id]
            for row in services.plan_fill_rows(rx_plan, rx, cycle.plan.cycle_days):
                if row["kind"] == FillKind.NOT_SYNCED:
                    continue
                if dt.date.fromisoformat(row["fill_date"]) < next_anchor:
                    warnings = services.jsonable([w.as_dict() for w in rx_plan.warnings])
                    rows_by_cycle[id(cycle)].append((rx, row, warnings))
                    break


# --- (b) Prep: the worklist and the reminder ---


def cycles_open_prep(*, now: dt.datetime | None = None, limit: int | None = None):
    """Anchor minus prep days, in the pharmacy's time zone: the cycle joins the prep worklist
    and, for patients who take texts, a prep reminder is requested from messaging."""
    now = now or timezone.now()
    limit = limit or batch_size()
    total = SweepResult()
    for pharmacy, _settings in selectors.pharmacies_with_settings():
        today = local_today(pharmacy.time_zone, now)
        due = SyncCycle.objects.filter(
            pharmacy=pharmacy,
            status=CycleStatus.SCHEDULED,
            prep_due_on__lte=today,
            anchor_date__gte=today,
        )
        result = SweepResult()
        while True:
            with transaction.atomic():
                rows = _claim(due, limit)
                if not rows:
                    break
                ids = [row["pk"] for row in rows]
                result.cycles += SyncCycle.objects.filter(
                    pk__in=ids, status=CycleStatus.SCHEDULED
                ).update(
                    status=CycleStatus.PREP_DUE,
                    prep_opened_at=now,
                    prep_open=True,
                    status_changed_at=now,
                )
                requests = _create_requests(_message_requests(rows, "prep_reminder", now, pharmacy))
                reminded = {r.cycle_id for r in requests}
                events = _events(rows, EventKind.PREP_OPENED, now) + _events(
                    [row for row in rows if row["pk"] in reminded],
                    EventKind.REMINDER_REQUESTED,
                    now,
                    metadata={"kind": "prep_reminder"},
                )
                CycleEvent.objects.bulk_create(events)
                result.events += len(events)
                result.messages += len(requests)
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
    total = SweepResult()
    for pharmacy, settings_row in selectors.pharmacies_with_settings():
        today = local_today(pharmacy.time_zone, now)
        due = SyncCycle.objects.filter(
            pharmacy=pharmacy, status__in=CYCLE_NOT_YET_FILLING, prefill_due_on__lte=today
        )
        result = SweepResult()
        while True:
            with transaction.atomic():
                rows = _claim(due, limit)
                if not rows:
                    break
                ids = [row["pk"] for row in rows]
                result.cycles += SyncCycle.objects.filter(
                    pk__in=ids, status__in=CYCLE_NOT_YET_FILLING
                ).update(status=CycleStatus.FILLING, filling_at=now, status_changed_at=now)
                not_reached = [
                    row
                    for row in rows
                    if row["status"] != CycleStatus.CONTACTED
                    or row["contact_outcome"] == ContactOutcome.UNREACHABLE
                ]
                tasks = [
                    FollowUpTask(
                        organization_id=row["organization_id"],
                        cycle_id=row["pk"],
                        patient_id=row["patient_id"],
                        kind=TaskKind.UNREACHABLE,
                        due_on=today,
                        detail="Not reached before the pre-fill: call before the anchor.",
                        created_at=now,
                    )
                    for row in not_reached
                ]
                created_tasks = _create_tasks(tasks)
                events = _events(
                    rows,
                    EventKind.FILLING,
                    now,
                    metadata=lambda row: {
                        "reached": row["status"] == CycleStatus.CONTACTED
                        and row["contact_outcome"] != ContactOutcome.UNREACHABLE
                    },
                )
                CycleEvent.objects.bulk_create(events)
                result.events += len(events)
                result.tasks += created_tasks
                result.batches += 1
        with transaction.atomic():
            result.items += _queue_items(pharmacy, settings_row.prefill_days, today, now)
            flagged, renewal_tasks = _flag_items_needing_renewal(pharmacy, today, now)
            result.items += flagged
            result.tasks += renewal_tasks
        _audit_sweep("prefill_opened", result, pharmacy, today)
        total.add(result)
    return total


def _queue_items(pharmacy: Pharmacy, prefill_days: int, today: dt.date, now: dt.datetime) -> int:
    """Planned fills whose day has come (anchor fills with their cycle's pre-fill day,
    aligning short fills and drifting products `prefill_days` before their own date)."""
    due = (
        CycleItem.objects.filter(cycle__pharmacy=pharmacy, state=ItemState.PLANNED)
        .exclude(cycle__status=CycleStatus.CLOSED)
        .filter(
            Q(fill_date=F("cycle__anchor_date"), cycle__prefill_due_on__lte=today)
            | (
                ~Q(fill_date=F("cycle__anchor_date"))
                & Q(fill_date__lte=today + dt.timedelta(days=prefill_days))
            )
        )
    )
    queued = due.update(state=ItemState.QUEUED, queued_at=now)
    if queued:
        # A pending re-plan means the pharmacist must look before these are filled.
        CycleItem.objects.filter(
            cycle__pharmacy=pharmacy, state=ItemState.QUEUED, queued_at=now
        ).filter(_replan_pending()).update(
            state=ItemState.FLAGGED,
            flag_reason=FlagReason.NEEDS_PHARMACIST,
            flag_note="A re-plan is waiting for approval.",
        )
    return queued


def _replan_pending() -> Q:
    return Q(
        Exists(
            ReplanProposal.objects.filter(
                enrollment_id=OuterRef("cycle__enrollment_id"), status=ReplanStatus.PROPOSED
            )
        )
    )


def _flag_items_needing_renewal(
    pharmacy: Pharmacy, today: dt.date, now: dt.datetime
) -> tuple[int, int]:
    ever_filled = Exists(Fill.objects.filter(prescription_id=OuterRef("prescription_id")))
    queued = CycleItem.objects.filter(cycle__pharmacy=pharmacy, state=ItemState.QUEUED)
    renewal = queued.filter(
        Q(prescription__expiration_date__lt=F("fill_date"))
        | (Q(prescription__refills_remaining=0) & Q(ever_filled))
    ).filter(prescription__status=PrescriptionStatus.ACTIVE)
    flagged = renewal.update(
        state=ItemState.FLAGGED,
        flag_reason=FlagReason.RENEWAL_NEEDED,
        flag_note="No refills left or expired: request a renewal.",
    )
    flagged += queued.exclude(prescription__status=PrescriptionStatus.ACTIVE).update(
        state=ItemState.FLAGGED,
        flag_reason=FlagReason.NEEDS_PHARMACIST,
        flag_note="The prescription is no longer active.",
    )
    cycles = list(
        CycleItem.objects.filter(
            cycle__pharmacy=pharmacy,
            state=ItemState.FLAGGED,
            flag_reason=FlagReason.RENEWAL_NEEDED,
        )
        .values("cycle_id", "cycle__patient_id", "organization_id", "fill_date")
        .order_by("cycle_id", "fill_date")
        .distinct("cycle_id")
    )
    tasks = [
        FollowUpTask(
            organization_id=row["organization_id"],
            cycle_id=row["cycle_id"],
            patient_id=row["cycle__patient_id"],
            kind=TaskKind.RENEWAL_NEEDED,
            due_on=min(row["fill_date"], today) if row["fill_date"] > today else today,
            detail="A fill is waiting for a renewal from the prescriber.",
            created_at=now,
        )
        for row in cycles
    ]
    return flagged, _create_tasks(tasks)


# --- (d) Pickups: missed, ready reminders, return to stock, closing ---


def cycles_check_pickups(*, now: dt.datetime | None = None, limit: int | None = None):
    """A cycle not picked up by the day after its anchor is missed: a follow-up task and a
    missed-pickup text. Unclaimed fills near the payer's return-to-stock window get a
    warning text and a task. Picked-up cycles close once their anchor has passed."""
    now = now or timezone.now()
    limit = limit or batch_size()
    total = SweepResult()
    for pharmacy, settings_row in selectors.pharmacies_with_settings():
        today = local_today(pharmacy.time_zone, now)
        result = SweepResult()
        missed_by = today - dt.timedelta(days=settings_row.missed_after_days)
        due = SyncCycle.objects.filter(
            pharmacy=pharmacy,
            status__in=(CycleStatus.FILLING, CycleStatus.READY),
            anchor_date__lte=missed_by,
        )
        while True:
            with transaction.atomic():
                rows = _claim(due, limit)
                if not rows:
                    break
                ids = [row["pk"] for row in rows]
                result.cycles += SyncCycle.objects.filter(
                    pk__in=ids, status__in=(CycleStatus.FILLING, CycleStatus.READY)
                ).update(
                    status=CycleStatus.MISSED, missed_at=now, status_changed_at=now, prep_open=False
                )
                tasks = [
                    FollowUpTask(
                        organization_id=row["organization_id"],
                        cycle_id=row["pk"],
                        patient_id=row["patient_id"],
                        kind=TaskKind.MISSED_PICKUP,
                        due_on=today,
                        detail=f"Not picked up on {row['anchor_date']:%b %-d}: call the patient.",
                        created_at=now,
                    )
                    for row in rows
                ]
                created_tasks = _create_tasks(tasks)
                requests = _create_requests(_message_requests(rows, "missed_pickup", now, pharmacy))
                events = _events(rows, EventKind.MISSED, now)
                CycleEvent.objects.bulk_create(events)
                result.tasks += created_tasks
                result.messages += len(requests)
                result.events += len(events)
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
    rows = list(
        SyncCycle.objects.filter(
            pharmacy=pharmacy,
            status=CycleStatus.READY,
            enrollment__contact_channel=ContactChannel.SMS,
        )
        .filter(~Exists(already))
        .values(*CLAIM_FIELDS)
    )
    return len(_create_requests(_message_requests(rows, "ready_for_pickup", now, pharmacy)))


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
    rows = list(
        SyncCycle.objects.filter(
            pharmacy=pharmacy, status=CycleStatus.PICKED_UP, anchor_date__lt=today
        ).values(*CLAIM_FIELDS)
    )
    if not rows:
        return 0
    closed = SyncCycle.objects.filter(
        pk__in=[r["pk"] for r in rows], status=CycleStatus.PICKED_UP
    ).update(
        status=CycleStatus.CLOSED,
        close_reason=CloseReason.COMPLETED,
        closed_at=now,
        status_changed_at=now,
    )
    CycleEvent.objects.bulk_create(_events(rows, EventKind.CLOSED, now))
    return closed


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
        cycle_id__in=ids, state__in=(ItemState.PLANNED, ItemState.QUEUED, ItemState.FLAGGED)
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
