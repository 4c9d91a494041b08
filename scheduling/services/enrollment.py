"""Enrollment: inviting, enrolling (consent, plan, first cycle), pausing, resuming and
disenrolling a patient."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from medsync.models import Pharmacy, User
from medsync.services import audit_record
from patients.models import Household, Patient, Prescription, SyncDecision
from patients.services import record_save
from scheduling import selectors
from scheduling.exceptions import SchedulingError
from scheduling.models import (
    CYCLE_LENGTHS,
    OPEN_ENROLLMENT_STATUSES,
    CloseReason,
    ConsentMethod,
    ConsentRelationship,
    ContactChannel,
    CycleItem,
    DisenrollReason,
    EnrollmentStatus,
    EventChannel,
    Fulfillment,
    PlanReason,
    ReplanProposal,
    ReplanReason,
    ReplanStatus,
    SyncCycle,
    SyncEnrollment,
    SyncPlan,
)
from scheduling.services.cycles import (
    cycle_first_create,
    plan_store,
    sweeps_schedule_after_commit,
    validate_choice,
)
from scheduling.services.events_out import enrollment_event_emit
from scheduling.services.replans import replan_propose
from scheduling.states import (
    CYCLE_TRANSITIONS,
    ITEM_TRANSITIONS,
)


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
    validate_choice(consent_method, ConsentMethod, "consent_method", "how consent was given")
    validate_choice(consent_relationship, ConsentRelationship, "consent_relationship", "who")
    validate_choice(fulfillment, Fulfillment, "fulfillment", "pickup or delivery")
    validate_choice(contact_channel, ContactChannel, "contact_channel", "a contact channel")
    if preferred_weekday is not None and preferred_day_of_month is not None:
        raise SchedulingError(
            "Give a preferred weekday or a day of the month, not both.",
            fields={"preferred_day_of_month": ["Or a weekday, not both."]},
        )
    if patient.status != "active":
        raise SchedulingError("Only active patients can be enrolled.")
    existing = (
        SyncEnrollment.objects.select_for_update()
        .filter(patient=patient, status__in=OPEN_ENROLLMENT_STATUSES)
        .first()
    )
    if existing is not None and existing.status != EnrollmentStatus.INVITED:
        raise SchedulingError(
            f"{patient.first_name} is already {existing.get_status_display().lower()} in sync.",
            code="already_enrolled",
        )
    pharmacy = pharmacy or selectors.home_pharmacy_of(patient, prescriptions)
    preview = selectors.plan_preview(
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
    plan, plan_items = plan_store(
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
    cycle = cycle_first_create(
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
    enrollment_event_emit(enrollment, "enrolled")
    sweeps_schedule_after_commit()
    return enrollment


def _close_cycles_not_yet_filling(
    enrollment: SyncEnrollment, *, reason: str, now: dt.datetime
) -> int:
    withdraw = CYCLE_TRANSITIONS["withdraw"]
    cycles = SyncCycle.objects.filter(enrollment=enrollment, status__in=withdraw.sources)
    ids = list(cycles.values_list("pk", flat=True))
    if not ids:
        return 0
    drop = ITEM_TRANSITIONS["withdraw"]
    CycleItem.objects.filter(cycle_id__in=ids, state__in=drop.sources).update(
        state=drop.target, version=F("version") + 1
    )
    SyncCycle.objects.filter(pk__in=ids).update(
        status=withdraw.target,
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
    enrollment_event_emit(enrollment, "paused")
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
    enrollment_event_emit(enrollment, "resumed")
    sweeps_schedule_after_commit()
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
    validate_choice(reason, DisenrollReason, "reason", "why the patient leaves sync")
    if reason == DisenrollReason.OTHER and not note.strip():
        raise SchedulingError("Add a note for 'other'.", fields={"note": ["Required for other."]})
    updated = SyncEnrollment.objects.filter(
        pk=enrollment.pk, status__in=OPEN_ENROLLMENT_STATUSES
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
    enrollment_event_emit(enrollment, "disenrolled")
    return enrollment
