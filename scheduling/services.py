"""Every write of the sync engine: enrollment, plans, prep contacts, the fill queue,
pickups, re-plans and follow-ups. The sweeps the jobs run live in scheduling/sweeps.py.

Each function is keyword-only, atomic, and writes its audit entry explicitly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from decimal import ROUND_CEILING, Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from medsync.jobs import enqueue_for_organization
from medsync.models import Pharmacy, User
from medsync.services import audit_record
from medsync.tenancy import current_organization
from patients.models import (
    Fill,
    Household,
    Patient,
    Prescription,
    PrescriptionStatus,
    SyncDecision,
)
from patients.services import record_save
from scheduling import selectors
from scheduling.alignment import AlignmentError, AlignmentPlan, FillKind, PlannedFill
from scheduling.dates import CycleTiming, local_today, next_anchor_on_or_after
from scheduling.exceptions import SchedulingError
from scheduling.models import (
    CYCLE_LENGTHS,
    CYCLE_NOT_YET_FILLING,
    CYCLE_OPEN,
    ITEM_DONE,
    CloseReason,
    ConsentMethod,
    ConsentRelationship,
    ContactChannel,
    ContactOutcome,
    CycleEvent,
    CycleItem,
    CycleStatus,
    DisenrollReason,
    EnrollmentStatus,
    EventChannel,
    EventKind,
    FlagReason,
    FollowUpTask,
    Fulfillment,
    ItemState,
    MessageRequest,
    PlanReason,
    PrepContact,
    ReplanProposal,
    ReplanReason,
    ReplanStatus,
    SyncCycle,
    SyncEnrollment,
    SyncPlan,
    SyncPlanItem,
    TaskKind,
    TaskStatus,
)

CHANGE_QUESTIONS = (
    "new_medications",
    "stopped_medications",
    "dose_changes",
    "hospital_stay",
    "side_effects",
)


# --- Small helpers ---


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def fill_as_dict(fill: PlannedFill) -> dict:
    return {
        "fill_date": fill.fill_date.isoformat(),
        "quantity": str(fill.quantity),
        "days_supply": fill.days_supply,
        "kind": FillKind(fill.kind).value,
        "scc_codes": list(fill.scc_codes),
        "patient_pay": _money(fill.patient_pay),
    }


def jsonable(value):
    """Warnings and fills as JSON: dates as ISO strings, Decimals as strings."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def plan_fill_rows(rx_plan, rx: Prescription, cycle_days: int) -> list[dict]:
    """The engine's fills as stored rows. A fill nothing is authorized for (no refills, expired)
    keeps its planned size and is marked blocked: the pre-fill sweep flags it for a renewal."""
    rows = []
    fills = rx_plan.fills
    for index, fill in enumerate(fills):
        row = fill_as_dict(fill)
        if fill.quantity <= 0 and fill.kind != FillKind.NOT_SYNCED:
            start = fill.supply_start or fill.fill_date
            following = fills[index + 1].fill_date if index + 1 < len(fills) else None
            if fill.kind == FillKind.SHORT and following is not None and following > start:
                days = (following - start).days
            else:
                days = cycle_days
            quantity = round_up(rx.daily_dose * days)
            if rx.drug.unit_of_use:
                quantity = round_up(quantity, rx.drug.package_size)
            row.update(quantity=str(quantity), days_supply=days, patient_pay=None, blocked=True)
        rows.append(row)
    return rows


def _event(
    cycle: SyncCycle,
    kind: str,
    *,
    now: dt.datetime,
    channel: str = EventChannel.SYSTEM,
    actor: User | None = None,
    metadata: dict | None = None,
) -> CycleEvent:
    return CycleEvent.objects.create(
        cycle=cycle,
        patient_id=cycle.patient_id,
        kind=kind,
        channel=channel,
        occurred_at=now,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        metadata=metadata or {},
    )


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
        from scheduling import tasks

        enqueue_for_organization(tasks.hand_over_message_requests, current_organization())
    return request if created else None


def message_context(cycle: SyncCycle, **extra) -> dict:
    return {
        "anchor_date": cycle.anchor_date.isoformat(),
        "pharmacy_id": str(cycle.pharmacy.public_id),
        **extra,
    }


def round_up(quantity: Decimal, unit: Decimal = Decimal("1")) -> Decimal:
    return (quantity / unit).to_integral_value(rounding=ROUND_CEILING) * unit


# --- Plans: the approved alignment, stored as the template of every cycle ---


def _recurring_fill(rx: Prescription, rx_fills: Sequence[PlannedFill], cycle_days: int):
    """What a later cycle fills on its anchor: the plan's full fill, without its SCC 48."""
    full = [f for f in rx_fills if f.kind == FillKind.FULL and f.quantity > 0]
    if full:
        last = full[-1]
        return last.quantity, last.days_supply, last.patient_pay
    return round_up(rx.daily_dose * cycle_days), cycle_days, None


def _store_plan(
    *,
    enrollment: SyncEnrollment,
    alignment: AlignmentPlan,
    prescriptions: dict[int, Prescription],
    reason: str,
    actor: User | None,
    now: dt.datetime,
    summary: str = "",
) -> tuple[SyncPlan, list[SyncPlanItem]]:
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
        quantity, days, pay = _recurring_fill(rx, rx_plan.fills, alignment.cycle_days)
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


def cycle_item_rows(
    plan_item: SyncPlanItem, *, anchor: dt.date, previous_anchor: dt.date | None
) -> list[dict] | None:
    """The fills a cycle on `anchor` takes from a plan item.

    The plan's own fills (the aligning short fill, the first full fill with SCC 48) land
    in the cycle whose window (previous anchor, anchor] holds their date. After them a
    splittable Rx is filled for a full cycle on each anchor. Returns None when the plan
    cannot say (a unit-of-use product past its planned fills: it drifts, and the caller
    asks the alignment engine with the fill history).
    """
    if plan_item.kind == FillKind.NOT_SYNCED:
        return []
    planned = [
        f
        for f in plan_item.fills
        if f["kind"] != FillKind.NOT_SYNCED
        and (previous_anchor is None or dt.date.fromisoformat(f["fill_date"]) > previous_anchor)
        and dt.date.fromisoformat(f["fill_date"]) <= anchor
    ]
    if planned:
        return planned
    last_planned = max(
        (dt.date.fromisoformat(f["fill_date"]) for f in plan_item.fills), default=None
    )
    if last_planned is not None and last_planned >= anchor:
        return []  # the plan already covers this window with a later fill
    if plan_item.unit_of_use:
        return None
    return [
        {
            "fill_date": anchor.isoformat(),
            "quantity": str(plan_item.recurring_quantity),
            "days_supply": plan_item.recurring_days_supply,
            "kind": FillKind.FULL.value,
            "scc_codes": [],
            "patient_pay": _money(plan_item.recurring_patient_pay),
        }
    ]


def renewal_warnings(
    rx, *, fill_date: dt.date, next_anchor: dt.date, ever_filled: bool
) -> list[dict]:
    """DOMAIN 3: a prescription whose refills or expiry run out by this fill, or by the anchor
    after it, needs a renewal request, flagged before the prep contact. `rx` is anything
    with refills_remaining, refills_authorized and expiration_date."""
    original_pending = not ever_filled and rx.refills_remaining == rx.refills_authorized
    fills_left = rx.refills_remaining + (1 if original_pending else 0)
    if rx.expiration_date < fill_date:
        message = f"Expired {rx.expiration_date:%b %-d}: request a new prescription."
        needed_by = fill_date
    elif fills_left < 1:
        message = "No refills left: request a renewal from the prescriber."
        needed_by = fill_date
    elif rx.expiration_date < next_anchor:
        message = (
            f"Expires {rx.expiration_date:%b %-d}, before the next anchor ({next_anchor:%b %-d})."
        )
        needed_by = next_anchor
    elif fills_left == 1:
        message = f"Last refill: request a renewal before the next anchor ({next_anchor:%b %-d})."
        needed_by = next_anchor
    else:
        return []
    return [{"code": "renewal_needed", "message": message, "needed_by": needed_by.isoformat()}]


def with_renewal(warnings: list[dict], rx, *, fill_date, next_anchor, ever_filled) -> list[dict]:
    """The plan's warnings, plus today's renewal check when the plan had none."""
    if any(w.get("code") == "renewal_needed" for w in warnings):
        return list(warnings)
    return [
        *warnings,
        *renewal_warnings(
            rx, fill_date=fill_date, next_anchor=next_anchor, ever_filled=ever_filled
        ),
    ]


def ever_filled(prescription_ids: Iterable[int]) -> set[int]:
    ids = list(prescription_ids)
    if not ids:
        return set()
    return set(
        Fill.objects.filter(prescription_id__in=ids)
        .order_by()
        .values_list("prescription_id", flat=True)
        .distinct()
    )


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
    filled = ever_filled(rx.pk for rx, _row, _warnings in rows)
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
        if any(w.get("code") == "renewal_needed" for w in warnings):
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
            )
        )
    return items


def _new_cycle(
    *,
    enrollment: SyncEnrollment,
    plan: SyncPlan,
    anchor: dt.date,
    timing: CycleTiming,
) -> SyncCycle:
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


def _first_cycle(
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
    cycle = _new_cycle(enrollment=enrollment, plan=plan, anchor=plan.anchor_date, timing=timing)
    reopened = reopenable_cycle(enrollment, plan.anchor_date)
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
        _event(cycle, EventKind.CONTACTED, now=now, channel=contact_channel, actor=actor)
        _event(cycle, EventKind.CONFIRMED, now=now, channel=contact_channel, actor=actor)
    return cycle


REOPENABLE = (CloseReason.PAUSED, CloseReason.REPLANNED)


def reopenable_cycle(enrollment: SyncEnrollment, anchor: dt.date) -> SyncCycle | None:
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
            cycle=cycle, state__in=(ItemState.PLANNED, ItemState.SKIPPED), fill__isnull=True
        ).delete()
    return cycle


def _align_for(
    *,
    patient: Patient,
    prescriptions: Sequence[Prescription],
    anchor_date: dt.date,
    cycle_days: int,
    pharmacy: Pharmacy,
    now: dt.datetime,
):
    preview = selectors.plan_preview(
        patient=patient,
        prescriptions=prescriptions,
        anchor_date=anchor_date,
        cycle_days=cycle_days,
        pharmacy=pharmacy,
        now=now,
    )
    return preview


def _schedule_sweeps_after_commit() -> None:
    from scheduling import tasks

    organization = current_organization()
    enqueue_for_organization(tasks.open_prep, organization)
    enqueue_for_organization(tasks.open_prefill, organization)


# --- Enrollment ---


@transaction.atomic
def enrollment_invite(
    *, patient: Patient, actor: User | None, pharmacy: Pharmacy | None = None
) -> SyncEnrollment:
    """Record that the patient was offered sync (the PQA initial sync rate counts these)."""
    existing = selectors.open_enrollment_of(patient)
    if existing is not None:
        return existing
    enrollment = SyncEnrollment.objects.create(
        patient=patient,
        pharmacy=pharmacy or selectors.home_pharmacy_of(patient),
        status=EnrollmentStatus.INVITED,
        invited_at=timezone.now(),
        household_id=patient.household_id,
    )
    audit_record(action="scheduling.enrollment.invited", actor=actor, target=enrollment)
    return enrollment


def _validate_choice(value, choices, field_name: str, label: str) -> str:
    if value not in {c.value for c in choices}:
        raise SchedulingError(
            f"Choose {label}.",
            fields={field_name: [f"One of {', '.join(c.value for c in choices)}."]},
        )
    return value


@transaction.atomic
def enrollment_enroll(
    *,
    patient: Patient,
    actor: User | None,
    prescriptions: Sequence[Prescription],
    anchor_date: dt.date,
    cycle_days: int,
    consent_given_by: str,
    consent_relationship: str = ConsentRelationship.SELF,
    consent_method: str,
    consent_at: dt.datetime | None = None,
    pharmacy: Pharmacy | None = None,
    preferred_weekday: int | None = None,
    preferred_day_of_month: int | None = None,
    fulfillment: str = Fulfillment.PICKUP,
    contact_channel: str = ContactChannel.SMS,
    household: Household | None = None,
    now: dt.datetime | None = None,
) -> SyncEnrollment:
    """Enroll a patient: consent, the chosen prescriptions, the anchor, the plan, the first
    cycle. All of it or nothing."""
    now = now or timezone.now()
    if cycle_days not in CYCLE_LENGTHS:
        raise SchedulingError(
            "The cycle is 28, 30, 60 or 90 days.", fields={"cycle_days": ["28, 30, 60 or 90."]}
        )
    if not (consent_given_by or "").strip():
        raise SchedulingError(
            "Record who gave consent.", fields={"consent_given_by": ["Who agreed to sync?"]}
        )
    _validate_choice(consent_method, ConsentMethod, "consent_method", "how consent was given")
    _validate_choice(consent_relationship, ConsentRelationship, "consent_relationship", "who")
    _validate_choice(fulfillment, Fulfillment, "fulfillment", "pickup or delivery")
    _validate_choice(contact_channel, ContactChannel, "contact_channel", "a contact channel")
    if preferred_weekday is not None and preferred_day_of_month is not None:
        raise SchedulingError(
            "Give a preferred weekday or a day of the month, not both.",
            fields={"preferred_day_of_month": ["Or a weekday, not both."]},
        )
    if patient.status != "active":
        raise SchedulingError("Only active patients can be enrolled.")
    existing = (
        SyncEnrollment.objects.select_for_update()
        .filter(patient=patient, status__in=selectors.OPEN_ENROLLMENT_STATUSES)
        .first()
    )
    if existing is not None and existing.status != EnrollmentStatus.INVITED:
        raise SchedulingError(
            f"{patient.first_name} is already {existing.get_status_display().lower()} in sync.",
            code="already_enrolled",
        )
    pharmacy = pharmacy or selectors.home_pharmacy_of(patient, prescriptions)
    preview = _align_for(
        patient=patient,
        prescriptions=prescriptions,
        anchor_date=anchor_date,
        cycle_days=cycle_days,
        pharmacy=pharmacy,
        now=now,
    )
    # The wizard's choice is the reconciliation decision for undecided prescriptions.
    for rx in prescriptions:
        if rx.sync_decision != SyncDecision.SYNCED:
            record_save(
                instance=rx,
                actor=actor,
                fields={
                    "sync_decision": SyncDecision.SYNCED,
                    "sync_exclusion_reason": "",
                    "sync_decided_by": actor if getattr(actor, "is_authenticated", False) else None,
                    "sync_decided_at": now,
                },
            )
    enrollment = existing or SyncEnrollment(patient=patient)
    enrollment.pharmacy = pharmacy
    enrollment.status = EnrollmentStatus.ENROLLED
    enrollment.household = household or patient.household
    enrollment.consent_given_by = consent_given_by.strip()[:200]
    enrollment.consent_relationship = consent_relationship
    enrollment.consent_method = consent_method
    enrollment.consent_at = consent_at or now
    enrollment.consent_recorded_by = actor if getattr(actor, "is_authenticated", False) else None
    enrollment.cycle_days = cycle_days
    enrollment.anchor_date = anchor_date
    enrollment.preferred_weekday = preferred_weekday
    enrollment.preferred_day_of_month = preferred_day_of_month
    enrollment.fulfillment = fulfillment
    enrollment.contact_channel = contact_channel
    enrollment.enrolled_at = now
    enrollment.enrolled_by = enrollment.consent_recorded_by
    try:
        with transaction.atomic():
            enrollment.save()
    except IntegrityError as exc:
        raise SchedulingError(
            f"{patient.first_name} is already enrolled in sync.", code="already_enrolled"
        ) from exc
    by_id = {rx.pk: rx for rx in prescriptions}
    plan, plan_items = _store_plan(
        enrollment=enrollment,
        alignment=preview.plan,
        prescriptions=by_id,
        reason=PlanReason.ENROLLMENT,
        actor=actor,
        now=now,
        summary=f"Enrolled on anchor {anchor_date:%a %b %-d}, every {cycle_days} days.",
    )
    channel = (
        EventChannel.PHONE if consent_method == ConsentMethod.PHONE else EventChannel.IN_PERSON
    )
    cycle = _first_cycle(
        enrollment=enrollment,
        plan=plan,
        plan_items=plan_items,
        today=preview.today,
        now=now,
        actor=actor,
        contact_channel=channel,
    )
    audit_record(
        action="scheduling.enrollment.enrolled",
        actor=actor,
        target=enrollment,
        metadata={
            "anchor_date": anchor_date.isoformat(),
            "cycle_days": cycle_days,
            "prescriptions": [str(rx.public_id) for rx in prescriptions],
            "consent_method": consent_method,
            "first_cycle": str(cycle.public_id),
        },
    )
    _schedule_sweeps_after_commit()
    return enrollment


def _close_cycles_not_yet_filling(
    enrollment: SyncEnrollment, *, reason: str, now: dt.datetime
) -> int:
    cycles = SyncCycle.objects.filter(enrollment=enrollment, status__in=CYCLE_NOT_YET_FILLING)
    ids = list(cycles.values_list("pk", flat=True))
    if not ids:
        return 0
    CycleItem.objects.filter(cycle_id__in=ids, state=ItemState.PLANNED).update(
        state=ItemState.SKIPPED
    )
    SyncCycle.objects.filter(pk__in=ids).update(
        status=CycleStatus.CLOSED,
        close_reason=reason,
        closed_at=now,
        status_changed_at=now,
        prep_open=False,
    )
    return len(ids)


@transaction.atomic
def enrollment_pause(
    *,
    enrollment: SyncEnrollment,
    actor: User | None,
    reason: str,
    until: dt.date | None = None,
    now: dt.datetime | None = None,
) -> SyncEnrollment:
    """Pause (a hospital stay, a long trip): no cycles are made until it resumes."""
    now = now or timezone.now()
    if not reason.strip():
        raise SchedulingError("Say why sync is paused.", fields={"reason": ["Required."]})
    updated = SyncEnrollment.objects.filter(
        pk=enrollment.pk, status=EnrollmentStatus.ENROLLED
    ).update(
        status=EnrollmentStatus.PAUSED,
        paused_at=now,
        pause_reason=reason.strip()[:300],
        paused_until=until,
        updated_at=now,
    )
    if not updated:
        raise SchedulingError("Only an enrolled patient's sync can be paused.")
    closed = _close_cycles_not_yet_filling(enrollment, reason=CloseReason.PAUSED, now=now)
    enrollment.refresh_from_db()
    audit_record(
        action="scheduling.enrollment.paused",
        actor=actor,
        target=enrollment,
        metadata={"until": until.isoformat() if until else None, "cycles_closed": closed},
    )
    return enrollment


@transaction.atomic
def enrollment_resume(
    *, enrollment: SyncEnrollment, actor: User | None, now: dt.datetime | None = None
) -> SyncEnrollment:
    """Back in sync. Supply drifted while paused, so a re-plan is proposed for approval."""
    now = now or timezone.now()
    updated = SyncEnrollment.objects.filter(
        pk=enrollment.pk, status=EnrollmentStatus.PAUSED
    ).update(status=EnrollmentStatus.ENROLLED, paused_until=None, updated_at=now)
    if not updated:
        raise SchedulingError("Only a paused enrollment can resume.")
    enrollment.refresh_from_db()
    replan_propose(
        enrollment=enrollment,
        reasons=[ReplanReason.CHANGES_REPORTED],
        details=["Resumed after a pause: check the supply on hand and re-align."],
        actor=actor,
        now=now,
    )
    audit_record(action="scheduling.enrollment.resumed", actor=actor, target=enrollment)
    _schedule_sweeps_after_commit()
    return enrollment


@transaction.atomic
def enrollment_disenroll(
    *,
    enrollment: SyncEnrollment,
    actor: User | None,
    reason: str,
    note: str = "",
    now: dt.datetime | None = None,
) -> SyncEnrollment:
    now = now or timezone.now()
    _validate_choice(reason, DisenrollReason, "reason", "why the patient leaves sync")
    if reason == DisenrollReason.OTHER and not note.strip():
        raise SchedulingError("Add a note for 'other'.", fields={"note": ["Required for other."]})
    updated = SyncEnrollment.objects.filter(
        pk=enrollment.pk, status__in=selectors.OPEN_ENROLLMENT_STATUSES
    ).update(
        status=EnrollmentStatus.DISENROLLED,
        disenrolled_at=now,
        disenroll_reason=reason,
        disenroll_note=note.strip()[:500],
        disenrolled_by=actor if getattr(actor, "is_authenticated", False) else None,
        updated_at=now,
    )
    if not updated:
        raise SchedulingError("This patient is not in sync.")
    closed = _close_cycles_not_yet_filling(enrollment, reason=CloseReason.DISENROLLED, now=now)
    ReplanProposal.objects.filter(enrollment=enrollment, status=ReplanStatus.PROPOSED).update(
        status=ReplanStatus.SUPERSEDED, decided_at=now
    )
    SyncPlan.objects.filter(enrollment=enrollment, is_current=True).update(is_current=False)
    enrollment.refresh_from_db()
    audit_record(
        action="scheduling.enrollment.disenrolled",
        actor=actor,
        target=enrollment,
        metadata={"reason": reason, "cycles_closed": closed},
    )
    return enrollment


# --- Prep contact ---


def _open_replan_for_contact(
    cycle: SyncCycle, contact: PrepContact, *, actor: User | None, now: dt.datetime
) -> ReplanProposal | None:
    reasons = []
    if contact.hospital_stay:
        reasons.append(ReplanReason.HOSPITAL_STAY)
    if contact.new_medications or contact.stopped_medications or contact.dose_changes:
        reasons.append(ReplanReason.CHANGES_REPORTED)
    if not reasons:
        return None
    details = [f"Prep call {now:%b %-d}: patient reported {', '.join(contact.reported_changes)}."]
    if contact.notes:
        details.append("See the prep call notes.")
    return replan_propose(
        enrollment=cycle.enrollment,
        reasons=reasons,
        details=details,
        actor=actor,
        now=now,
        fingerprint_extra=str(contact.public_id),
    )


@transaction.atomic
def prep_contact_record(
    *,
    cycle: SyncCycle,
    actor: User | None,
    channel: str,
    outcome: str,
    new_medications: bool | None = None,
    stopped_medications: bool | None = None,
    dose_changes: bool | None = None,
    hospital_stay: bool | None = None,
    side_effects: bool | None = None,
    fulfillment: str = "",
    notes: str = "",
    now: dt.datetime | None = None,
) -> PrepContact:
    """The prep call's structured answers (DOMAIN 1, step 5). Changes open a re-plan."""
    now = now or timezone.now()
    _validate_choice(channel, EventChannel, "channel", "how the patient was contacted")
    _validate_choice(outcome, ContactOutcome, "outcome", "the outcome")
    if fulfillment:
        _validate_choice(fulfillment, Fulfillment, "fulfillment", "pickup or delivery")
    cycle = (
        SyncCycle.objects.select_for_update()
        .select_related("enrollment", "pharmacy")
        .get(pk=cycle.pk)
    )
    if cycle.status not in CYCLE_OPEN or cycle.status == CycleStatus.MISSED:
        raise SchedulingError("This cycle is past its prep contact.")
    answers = {
        "new_medications": new_medications,
        "stopped_medications": stopped_medications,
        "dose_changes": dose_changes,
        "hospital_stay": hospital_stay,
        "side_effects": side_effects,
    }
    if outcome == ContactOutcome.UNREACHABLE:
        answers = dict.fromkeys(answers)
    else:
        missing = [name for name, value in answers.items() if value is None]
        if channel != EventChannel.SMS and missing:
            raise SchedulingError(
                "Ask every prep question (answer yes or no).",
                fields={name: ["Yes or no."] for name in missing},
            )
        changes = any(
            answers[name]
            for name in ("new_medications", "stopped_medications", "dose_changes", "hospital_stay")
        )
        if outcome == ContactOutcome.CONFIRMED and changes:
            raise SchedulingError(
                "The patient reported changes: record the outcome as 'changes reported'.",
                fields={"outcome": ["Changes were reported."]},
            )
    contact = PrepContact.objects.create(
        cycle=cycle,
        channel=channel,
        outcome=outcome,
        fulfillment=fulfillment,
        notes=notes.strip(),
        contacted_at=now,
        contacted_by=actor if getattr(actor, "is_authenticated", False) else None,
        **answers,
    )
    if outcome == ContactOutcome.UNREACHABLE:
        _event(cycle, EventKind.CONTACT_ATTEMPTED, now=now, channel=channel, actor=actor)
        _event(cycle, EventKind.UNREACHABLE, now=now, channel=channel, actor=actor)
        still_open = True
    else:
        _event(cycle, EventKind.CONTACTED, now=now, channel=channel, actor=actor)
        kind = (
            EventKind.CONFIRMED
            if outcome == ContactOutcome.CONFIRMED
            else EventKind.CHANGES_REPORTED
        )
        _event(cycle, kind, now=now, channel=channel, actor=actor)
        # A text "X" tells us there are changes, not which: the call is still owed.
        still_open = channel == EventChannel.SMS and outcome == ContactOutcome.CHANGES_REPORTED
    fields = {"contact_outcome": outcome, "prep_open": still_open}
    if cycle.status in (CycleStatus.SCHEDULED, CycleStatus.PREP_DUE, CycleStatus.CONTACTED):
        fields.update(status=CycleStatus.CONTACTED, status_changed_at=now)
    if outcome != ContactOutcome.UNREACHABLE:
        fields["contacted_at"] = now
    SyncCycle.objects.filter(pk=cycle.pk).update(**fields)
    if fulfillment and fulfillment != cycle.enrollment.fulfillment:
        SyncEnrollment.objects.filter(pk=cycle.enrollment_id).update(
            fulfillment=fulfillment, updated_at=now
        )
    if outcome == ContactOutcome.CHANGES_REPORTED and channel != EventChannel.SMS:
        _open_replan_for_contact(cycle, contact, actor=actor, now=now)
    if contact.side_effects:
        # Not a change to the plan, but the pharmacist must hear of it before the pickup.
        FollowUpTask.objects.get_or_create(
            cycle=cycle,
            kind=TaskKind.SIDE_EFFECTS,
            defaults={
                "patient_id": cycle.patient_id,
                "due_on": local_today(cycle.pharmacy.time_zone, now),
                "detail": (notes.strip() or "Side effects reported at the prep call.")[:300],
                "created_at": now,
            },
        )
    audit_record(
        action="scheduling.prep_contact.recorded",
        actor=actor,
        target=cycle,
        metadata={"outcome": outcome, "channel": channel, "contact": str(contact.public_id)},
    )
    return contact


def open_prep_cycle_for(patient: Patient, *, now: dt.datetime | None = None) -> SyncCycle | None:
    """The cycle whose prep question a patient's text answers (soonest open anchor)."""
    today_utc = (now or timezone.now()).date() - dt.timedelta(days=1)
    return (
        SyncCycle.objects.filter(
            patient=patient,
            prep_open=True,
            status__in=CYCLE_OPEN,
            anchor_date__gte=today_utc,
        )
        .exclude(status=CycleStatus.MISSED)
        .select_related("enrollment", "pharmacy")
        .order_by("anchor_date")
        .first()
    )


def cycle_sms_reply(patient: Patient, intent: str, message) -> bool:
    """messaging's reply handler: "C" confirms the open cycle, "X" reports changes."""
    from messaging.registry import INTENT_CHANGE, INTENT_CONFIRM

    cycle = open_prep_cycle_for(patient)
    if cycle is None:
        return False
    if intent == INTENT_CONFIRM:
        outcome = ContactOutcome.CONFIRMED
    elif intent == INTENT_CHANGE:
        outcome = ContactOutcome.CHANGES_REPORTED
    else:
        return False
    prep_contact_record(
        cycle=cycle,
        actor=None,
        channel=EventChannel.SMS,
        outcome=outcome,
        notes="Replied by text.",
    )
    return True


def has_open_prep_question(patient: Patient) -> bool:
    """messaging asks this before reading a bare "yes" as a confirmation."""
    return open_prep_cycle_for(patient) is not None


# --- The fill queue ---

# action -> (allowed from, to)
ITEM_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "bill": ((ItemState.PLANNED,), ItemState.BILLED),
    "fill": ((ItemState.PLANNED, ItemState.BILLED), ItemState.FILLED),
    "verify": ((ItemState.FILLED,), ItemState.READY),
    "flag": ((ItemState.PLANNED, ItemState.BILLED, ItemState.FILLED), ItemState.FLAGGED),
    "unflag": ((ItemState.FLAGGED,), ItemState.PLANNED),
    "skip": (
        (ItemState.PLANNED, ItemState.BILLED, ItemState.FLAGGED),
        ItemState.SKIPPED,
    ),
}
ACTIONS_NEEDING_PHARMACIST = {"verify", "skip"}


def _record_fill(item: CycleItem, *, now: dt.datetime) -> Fill:
    """Dispense: a Fill row (the history the next plan reads) and one refill used."""
    rx = Prescription.objects.select_for_update().get(pk=item.prescription_id)
    if rx.expiration_date < item.fill_date:
        raise SchedulingError(
            f"Rx {rx.rx_number} expired on {rx.expiration_date:%b %-d}: flag it for a renewal.",
            code="renewal_needed",
        )
    first_fill = not Fill.objects.filter(prescription=rx).exists()
    original = first_fill and rx.refills_remaining == rx.refills_authorized
    if not original:
        if rx.refills_remaining < 1:
            raise SchedulingError(
                f"Rx {rx.rx_number} has no refills left: flag it for a renewal.",
                code="renewal_needed",
            )
        Prescription.objects.filter(pk=rx.pk).update(
            refills_remaining=F("refills_remaining") - 1, updated_at=now
        )
    fill_number = 0 if original else rx.refills_authorized - rx.refills_remaining + 1
    fill, _ = Fill.objects.get_or_create(
        prescription=rx,
        fill_date=item.fill_date,
        defaults={
            "quantity": item.quantity,
            "days_supply": item.days_supply,
            "fill_number": fill_number,
            "scc_codes": list(item.scc_codes),
            "patient_pay": item.patient_pay or Decimal("0"),
        },
    )
    return fill


def _refresh_cycle_readiness(cycle: SyncCycle, *, actor: User | None, now: dt.datetime) -> None:
    """A filling cycle whose fills are all verified is ready; the patient is told."""
    if cycle.status != CycleStatus.FILLING:
        return
    pending = (
        CycleItem.objects.filter(cycle=cycle, fill_date__lte=cycle.anchor_date)
        .exclude(state__in=(*ITEM_DONE, ItemState.READY))
        .exists()
    )
    if pending:
        return
    updated = SyncCycle.objects.filter(pk=cycle.pk, status=CycleStatus.FILLING).update(
        status=CycleStatus.READY, ready_at=now, status_changed_at=now
    )
    if updated:
        _event(cycle, EventKind.READY, now=now, actor=actor)
        message_request_record(
            cycle=cycle, kind="ready_for_pickup", context=message_context(cycle), now=now
        )


@transaction.atomic
def cycle_item_advance(
    *,
    item: CycleItem,
    actor: User | None,
    action: str,
    flag_reason: str = "",
    note: str = "",
    now: dt.datetime | None = None,
) -> CycleItem:
    """Move one fill along the queue: bill, fill, verify, flag, unflag or skip."""
    now = now or timezone.now()
    if action not in ITEM_TRANSITIONS:
        raise SchedulingError(f"Unknown action {action!r}.", fields={"action": ["Unknown."]})
    allowed_from, to_state = ITEM_TRANSITIONS[action]
    item = (
        CycleItem.objects.select_for_update()
        .select_related("cycle", "prescription")
        .get(pk=item.pk)
    )
    if item.state not in allowed_from:
        raise SchedulingError(
            f"This fill is {item.get_state_display().lower()}: it cannot be {action}ed now.",
            code="wrong_state",
        )
    fields: dict = {"state": to_state, "state_changed_by": actor}
    if action == "flag":
        _validate_choice(flag_reason, FlagReason, "flag_reason", "why it is flagged")
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
    elif action == "bill":
        fields["billed_at"] = now
    elif action == "fill":
        fields["filled_at"] = now
        fields["fill"] = _record_fill(item, now=now)
        if item.billed_at is None:
            fields["billed_at"] = now
    elif action == "verify":
        fields["ready_at"] = now
    for name, value in fields.items():
        setattr(item, name, value)
    item.save(update_fields=list(fields))
    audit_record(
        action=f"scheduling.cycle_item.{action}",
        actor=actor,
        target=item,
        metadata={"cycle": str(item.cycle.public_id), "state": to_state},
    )
    _refresh_cycle_readiness(item.cycle, actor=actor, now=now)
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
    SyncCycle.objects.filter(pk=cycle.pk, status__in=CYCLE_OPEN).update(
        status=CycleStatus.CLOSED,
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
    ready = CycleItem.objects.filter(cycle=cycle, state=ItemState.READY)
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
        state=ItemState.PICKED_UP, picked_up_at=now, state_changed_by=actor
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
    elif cycle.status in (
        CycleStatus.READY,
        CycleStatus.MISSED,
        CycleStatus.PARTLY_PICKED_UP,
    ) or any(i.fill_date >= cycle.anchor_date for i in picked):
        status = CycleStatus.PARTLY_PICKED_UP
    if status != cycle.status:
        SyncCycle.objects.filter(pk=cycle.pk).update(
            status=status, picked_up_at=now, status_changed_at=now, prep_open=False
        )
        cycle.status, cycle.picked_up_at, cycle.status_changed_at = status, now, now
    kind = EventKind.PICKED_UP if not remaining else EventKind.PARTLY_PICKED_UP
    _event(cycle, kind, now=now, channel=channel, actor=actor, metadata={"items": len(ids)})
    FollowUpTask.objects.filter(
        cycle=cycle, kind=TaskKind.MISSED_PICKUP, status=TaskStatus.OPEN
    ).update(status=TaskStatus.DONE, resolved_at=now, resolution_note="Picked up.")
    audit_record(
        action="scheduling.cycle.picked_up",
        actor=actor,
        target=cycle,
        metadata={"items": [str(i.public_id) for i in picked], "complete": not remaining},
    )
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
        cycle=cycle, state__in=(ItemState.BILLED, ItemState.FILLED, ItemState.READY)
    )
    if items is not None:
        unclaimed = unclaimed.filter(pk__in=[i.pk for i in items])
    returned = list(unclaimed.select_related("fill"))
    if not returned:
        raise SchedulingError("Nothing in this cycle is waiting to be returned to stock.")
    for item in returned:
        if item.fill_id:
            Fill.objects.filter(pk=item.fill_id, returned_to_stock_at__isnull=True).update(
                returned_to_stock_at=now
            )
            if item.fill.fill_number > 0:
                Prescription.objects.filter(pk=item.prescription_id).update(
                    refills_remaining=F("refills_remaining") + 1, updated_at=now
                )
    CycleItem.objects.filter(pk__in=[i.pk for i in returned]).update(
        state=ItemState.RETURNED, returned_at=now, state_changed_by=actor
    )
    _event(
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


# --- Re-plans ---


def _fingerprint(reasons: Sequence[str], details: Sequence[str], extra: str = "") -> str:
    payload = json.dumps([sorted(reasons), sorted(details), extra], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


@transaction.atomic
def replan_propose(
    *,
    enrollment: SyncEnrollment,
    reasons: Sequence[str],
    details: Sequence[str],
    actor: User | None = None,
    now: dt.datetime | None = None,
    fingerprint_extra: str = "",
) -> ReplanProposal | None:
    """Open (or widen) the enrollment's one pending re-plan. Returns None when the same change
    is already pending, so a sweep that finds it again writes nothing."""
    now = now or timezone.now()
    reasons = sorted(set(reasons))
    for reason in reasons:
        _validate_choice(reason, ReplanReason, "reasons", "a reason")
    fingerprint = _fingerprint(reasons, details, fingerprint_extra)
    if ReplanProposal.objects.filter(
        enrollment=enrollment, fingerprint=fingerprint, status=ReplanStatus.REJECTED
    ).exists():
        return None  # a pharmacist already said no to exactly this change
    existing = (
        ReplanProposal.objects.select_for_update()
        .filter(enrollment=enrollment, status=ReplanStatus.PROPOSED)
        .first()
    )
    if existing is not None:
        if existing.fingerprint == fingerprint or (
            set(reasons) <= set(existing.reasons) and set(details) <= set(existing.details)
        ):
            return None
        existing.reasons = sorted(set(existing.reasons) | set(reasons))
        existing.details = list(dict.fromkeys([*existing.details, *details]))
        existing.fingerprint = fingerprint
        existing.save(update_fields=["reasons", "details", "fingerprint"])
        audit_record(
            action="scheduling.replan.widened",
            actor=actor,
            target=existing,
            metadata={"reasons": reasons},
        )
        return existing
    proposal = ReplanProposal.objects.create(
        enrollment=enrollment,
        patient_id=enrollment.patient_id,
        reasons=reasons,
        details=list(details),
        fingerprint=fingerprint,
        proposed_at=now,
        proposed_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        action="scheduling.replan.proposed",
        actor=actor,
        target=proposal,
        metadata={"reasons": reasons},
    )
    return proposal


def synced_prescriptions(patient: Patient) -> list[Prescription]:
    return list(
        Prescription.objects.filter(
            patient=patient,
            status=PrescriptionStatus.ACTIVE,
            sync_decision=SyncDecision.SYNCED,
        ).select_related("drug", "coverage", "pharmacy")
    )


def default_replan_anchor(enrollment: SyncEnrollment, *, today: dt.date) -> dt.date:
    """Keep the patient's pickup day: the next anchor of the schedule from tomorrow."""
    return next_anchor_on_or_after(
        enrollment.anchor_date, enrollment.cycle_days, today + dt.timedelta(days=1)
    )


@transaction.atomic
def replan_approve(
    *,
    proposal: ReplanProposal,
    actor: User | None,
    anchor_date: dt.date | None = None,
    cycle_days: int | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> SyncPlan:
    """A pharmacist approves: a new plan from today's medication list; cycles not yet being
    filled are rebuilt from it, fills already made stay."""
    now = now or timezone.now()
    proposal = ReplanProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != ReplanStatus.PROPOSED:
        raise SchedulingError("This re-plan was already decided.", code="already_decided")
    enrollment = (
        SyncEnrollment.objects.select_for_update()
        .select_related("pharmacy", "patient")
        .get(pk=proposal.enrollment_id)
    )
    if enrollment.status != EnrollmentStatus.ENROLLED:
        raise SchedulingError("Resume the enrollment before approving a re-plan.")
    today = selectors.pharmacy_today(enrollment.pharmacy, now)
    cycle_days = cycle_days or enrollment.cycle_days
    anchor_date = anchor_date or default_replan_anchor(enrollment, today=today)
    prescriptions = synced_prescriptions(enrollment.patient)
    if not prescriptions:
        raise SchedulingError(
            "No synced prescription is left: disenroll the patient instead.",
            code="nothing_to_sync",
        )
    try:
        preview = selectors.plan_preview(
            patient=enrollment.patient,
            prescriptions=prescriptions,
            anchor_date=anchor_date,
            cycle_days=cycle_days,
            pharmacy=enrollment.pharmacy,
            now=now,
        )
    except AlignmentError as exc:  # pragma: no cover - plan_preview maps it already
        raise SchedulingError(str(exc)) from exc
    plan, plan_items = _store_plan(
        enrollment=enrollment,
        alignment=preview.plan,
        prescriptions={rx.pk: rx for rx in prescriptions},
        reason=PlanReason.REPLAN,
        actor=actor,
        now=now,
        summary="Re-plan: " + "; ".join(proposal.details)[:480],
    )
    SyncEnrollment.objects.filter(pk=enrollment.pk).update(
        anchor_date=anchor_date, cycle_days=cycle_days, updated_at=now
    )
    enrollment.anchor_date, enrollment.cycle_days = anchor_date, cycle_days
    _apply_plan_to_open_cycles(enrollment, plan, plan_items, today=today, now=now, actor=actor)
    ReplanProposal.objects.filter(pk=proposal.pk).update(
        status=ReplanStatus.APPROVED,
        decided_at=now,
        decided_by=actor if getattr(actor, "is_authenticated", False) else None,
        decision_note=note.strip()[:500],
        resulting_plan=plan,
    )
    audit_record(
        action="scheduling.replan.approved",
        actor=actor,
        target=proposal,
        metadata={
            "plan": str(plan.public_id),
            "anchor_date": anchor_date.isoformat(),
            "cycle_days": cycle_days,
        },
    )
    _schedule_sweeps_after_commit()
    return plan


def _apply_plan_to_open_cycles(
    enrollment: SyncEnrollment,
    plan: SyncPlan,
    plan_items: list[SyncPlanItem],
    *,
    today: dt.date,
    now: dt.datetime,
    actor: User | None,
) -> None:
    """Cycles not yet filling are rebuilt (or closed when the anchor moved); a cycle being
    filled keeps what is done, drops unstarted fills of stopped prescriptions and takes the
    new plan's fills due by its anchor."""
    kept_rx = {item.prescription_id for item in plan_items if item.kind != FillKind.NOT_SYNCED}
    open_cycles = list(
        SyncCycle.objects.select_for_update().filter(enrollment=enrollment, status__in=CYCLE_OPEN)
    )
    has_first = False
    for cycle in open_cycles:
        if cycle.status in CYCLE_NOT_YET_FILLING:
            CycleItem.objects.filter(cycle=cycle, state=ItemState.PLANNED).delete()
            if cycle.anchor_date != plan.anchor_date:
                SyncCycle.objects.filter(pk=cycle.pk).update(
                    status=CycleStatus.CLOSED,
                    close_reason=CloseReason.REPLANNED,
                    closed_at=now,
                    status_changed_at=now,
                    prep_open=False,
                )
                continue
            has_first = True
            _add_plan_fills(cycle, plan_items, plan=plan)
            SyncCycle.objects.filter(pk=cycle.pk).update(plan=plan)
        else:
            CycleItem.objects.filter(
                cycle=cycle,
                state__in=(ItemState.PLANNED, ItemState.FLAGGED),
            ).exclude(prescription_id__in=kept_rx).update(
                state=ItemState.SKIPPED, state_changed_by=actor
            )
            if cycle.anchor_date == plan.anchor_date:
                has_first = True
            if cycle.anchor_date <= plan.anchor_date:
                _add_plan_fills(cycle, plan_items, plan=plan, up_to=cycle.anchor_date)
    if not has_first:
        _first_cycle(
            enrollment=enrollment,
            plan=plan,
            plan_items=plan_items,
            today=today,
            now=now,
            actor=actor,
            contact_channel=EventChannel.PHONE,
        )


def _add_plan_fills(
    cycle: SyncCycle,
    plan_items: list[SyncPlanItem],
    *,
    plan: SyncPlan,
    up_to: dt.date | None = None,
) -> None:
    """Add the plan's fills for this cycle's window that it does not have yet."""
    have = set(
        CycleItem.objects.filter(cycle=cycle)
        .exclude(state=ItemState.SKIPPED)
        .values_list("prescription_id", flat=True)
    )
    rows = []
    for item in plan_items:
        if item.prescription_id in have:
            continue  # started or kept: the cycle already fills this prescription
        window = cycle_item_rows(item, anchor=up_to or cycle.anchor_date, previous_anchor=None)
        for row in window or []:
            rows.append((item.prescription, row, item.warnings))
    if not rows:
        return
    timing = selectors.timing_of(selectors.sync_settings_for(cycle.pharmacy))
    items = build_cycle_items(cycle, rows, cycle_days=plan.cycle_days, timing=timing)
    CycleItem.objects.bulk_create(items, ignore_conflicts=True)
    if cycle.needs_renewal:
        SyncCycle.objects.filter(pk=cycle.pk).update(needs_renewal=True)


@transaction.atomic
def replan_reject(
    *, proposal: ReplanProposal, actor: User | None, note: str = "", now: dt.datetime | None = None
) -> ReplanProposal:
    now = now or timezone.now()
    if not note.strip():
        raise SchedulingError(
            "Say why the plan stays as it is.", fields={"note": ["Required to reject."]}
        )
    updated = ReplanProposal.objects.filter(pk=proposal.pk, status=ReplanStatus.PROPOSED).update(
        status=ReplanStatus.REJECTED,
        decided_at=now,
        decided_by=actor if getattr(actor, "is_authenticated", False) else None,
        decision_note=note.strip()[:500],
    )
    if not updated:
        raise SchedulingError("This re-plan was already decided.", code="already_decided")
    proposal.refresh_from_db()
    audit_record(action="scheduling.replan.rejected", actor=actor, target=proposal)
    return proposal


# --- Settings ---


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
