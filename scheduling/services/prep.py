"""The prep contact: the structured answers of the call (or text) before each anchor."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from medsync.models import User
from medsync.services import audit_record
from patients.assessment_services import assessment_evaluate, assessment_response_record
from patients.assessments import AnswersError, Result, parse_definition
from patients.clinical_selectors import PREP_CONTACT, prep_assessments
from patients.models import (
    AssessmentTemplate,
    InpatientStay,
    Patient,
    ResponseContext,
    StayKind,
    StaySource,
)
from scheduling.dates import local_today
from scheduling.exceptions import SchedulingError
from scheduling.models import (
    ContactOutcome,
    EventChannel,
    EventKind,
    FollowUpTask,
    Fulfillment,
    PrepContact,
    ReplanProposal,
    ReplanReason,
    SatelliteDue,
    SyncCycle,
    SyncEnrollment,
    TaskKind,
)
from scheduling.services.cycles import cycle_event_record, validate_choice
from scheduling.services.replans import replan_propose
from scheduling.states import (
    CYCLE_PREP_ANSWERABLE,
    CYCLE_TRANSITIONS,
)


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


def _check_stay_dates(admitted: dt.date | None, discharged: dt.date | None, today: dt.date):
    if admitted is None:
        if discharged is not None:
            raise SchedulingError(
                "Give the day the stay began.",
                fields={"stay_admitted_on": ["The admission date."]},
            )
        return
    if admitted > today:
        raise SchedulingError(
            "A stay cannot begin after today.", fields={"stay_admitted_on": ["Not in the future."]}
        )
    if discharged is not None and not admitted <= discharged <= today:
        raise SchedulingError(
            "The discharge date is between the admission and today.",
            fields={"stay_discharged_on": ["On or after the admission, not after today."]},
        )


def assessment_field(key: str, question_id: str) -> str:
    """The form field of an attached assessment's question on the prep card."""
    return f"a-{key}-{question_id}"


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_assessments(
    given: dict[str, dict], prep_answers: dict, reached: bool
) -> list[tuple[AssessmentTemplate, Result]]:
    """The prep call's assessments to record, checked: the prep-contact one from the five
    answers (when all were given), each other attached one the caller started. An
    assessment not attached to the prep call, or a wrong answer, is a SchedulingError naming
    its field; nothing is written."""
    attached = {template.key: template for template in prep_assessments()}
    unknown = sorted(set(given) - set(attached))
    if unknown:
        raise SchedulingError(
            "Not an assessment of the prep call.",
            fields={key: ["Not attached to the prep call."] for key in unknown},
        )
    if not reached:
        return []
    checked: list[tuple[AssessmentTemplate, Result]] = []
    errors: dict[str, list[str]] = {}
    for key, template in attached.items():
        answers = dict(given.get(key, {}))
        if key == PREP_CONTACT:
            if any(value is None for value in prep_answers.values()):
                continue  # an SMS reply: the questions were not asked
            answers.update(prep_answers)
        elif all(_blank(value) for value in answers.values()):
            continue  # not asked at this call
        try:
            checked.append((template, assessment_evaluate(template, answers)))
        except AnswersError as exc:
            definition = parse_definition(template.current_version.definition)
            for question_id, message in exc.errors.items():
                question = definition.question(question_id)
                where = f"{template.name}, “{question.text}”" if question else template.name
                errors[assessment_field(key, question_id)] = [f"{where}: {message}"]
    if errors:
        raise SchedulingError("Check the assessment answers marked below.", fields=errors)
    return checked


def _flag_detail(template: AssessmentTemplate, result: Result) -> list[str]:
    definition = parse_definition(template.current_version.definition)
    lines = []
    for flag in result.flags:
        question = definition.question(flag.question) if flag.question else None
        said = f'"{question.text}" {flag.answer}' if question else flag.answer
        lines.append(f"{template.name}: {flag.label} ({said})")
    return lines


def _record_assessments(
    cycle: SyncCycle,
    checked: list[tuple[AssessmentTemplate, Result]],
    *,
    actor: User | None,
    now: dt.datetime,
) -> None:
    """Store each response with its version; flagged answers open one follow-up task for
    the pharmacist that quotes each answer that raised a flag."""
    if not checked:
        return
    patient = Patient.objects.get(pk=cycle.patient_id)
    flagged, lines = None, []
    for template, result in checked:
        response = assessment_response_record(
            patient=patient,
            template=template,
            answers=result.answers,
            actor=actor,
            context=ResponseContext.PREP_CALL,
            cycle_public_id=cycle.public_id,
            result=result,
            now=now,
        )
        if result.flags:
            flagged = flagged or response
            lines.extend(_flag_detail(template, result))
    if flagged is not None:
        FollowUpTask.objects.get_or_create(
            cycle=cycle,
            kind=TaskKind.ASSESSMENT_FLAG,
            defaults={
                "patient_id": cycle.patient_id,
                "due_on": local_today(cycle.pharmacy.time_zone, now),
                "detail": "; ".join(lines)[:300],
                "created_at": now,
                "assessment_response": flagged,
            },
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
    stay_admitted_on: dt.date | None = None,
    stay_discharged_on: dt.date | None = None,
    assessments: dict[str, dict] | None = None,
    now: dt.datetime | None = None,
) -> PrepContact:
    """The prep call's structured answers (DOMAIN 1, step 5). Changes open a re-plan.

    A hospital stay with its admission date (and discharge date, empty while still in)
    records the stay on the patient's record once, for PDC (DOMAIN 6: the days in the stay
    leave the period, the supply held resumes after discharge).

    The call also runs the assessments attached to the prep call (`assessments`: template
    key -> {question id: answer}); the five questions are the shipped prep-contact
    assessment. Each response keeps its version; a flagged answer opens a follow-up task."""
    now = now or timezone.now()
    validate_choice(channel, EventChannel, "channel", "how the patient was contacted")
    validate_choice(outcome, ContactOutcome, "outcome", "the outcome")
    if fulfillment:
        validate_choice(fulfillment, Fulfillment, "fulfillment", "pickup or delivery")
    cycle = (
        SyncCycle.objects.select_for_update()
        .select_related("enrollment", "pharmacy")
        .get(pk=cycle.pk)
    )
    if cycle.status not in CYCLE_PREP_ANSWERABLE:
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
    checked = _check_assessments(
        assessments or {}, answers, reached=outcome != ContactOutcome.UNREACHABLE
    )
    today = local_today(cycle.pharmacy.time_zone, now)
    if not answers["hospital_stay"]:
        stay_admitted_on = stay_discharged_on = None
    _check_stay_dates(stay_admitted_on, stay_discharged_on, today)
    stay = None
    if stay_admitted_on is not None:
        stay = InpatientStay.objects.create(
            patient_id=cycle.patient_id,
            admitted_on=stay_admitted_on,
            discharged_on=stay_discharged_on,
            kind=StayKind.HOSPITAL,
            reported_by=actor if getattr(actor, "is_authenticated", False) else None,
            source=StaySource.PREP_CALL,
            note=f"Reported at the prep call of the {cycle.anchor_date:%b %-d} cycle.",
        )
    contact = PrepContact.objects.create(
        cycle=cycle,
        stay_admitted_on=stay_admitted_on,
        stay_discharged_on=stay_discharged_on,
        inpatient_stay=stay,
        channel=channel,
        outcome=outcome,
        fulfillment=fulfillment,
        notes=notes.strip(),
        contacted_at=now,
        contacted_by=actor if getattr(actor, "is_authenticated", False) else None,
        **answers,
    )
    if outcome == ContactOutcome.UNREACHABLE:
        cycle_event_record(
            cycle, EventKind.CONTACT_ATTEMPTED, now=now, channel=channel, actor=actor
        )
        cycle_event_record(cycle, EventKind.UNREACHABLE, now=now, channel=channel, actor=actor)
        still_open = True
    else:
        cycle_event_record(cycle, EventKind.CONTACTED, now=now, channel=channel, actor=actor)
        kind = (
            EventKind.CONFIRMED
            if outcome == ContactOutcome.CONFIRMED
            else EventKind.CHANGES_REPORTED
        )
        cycle_event_record(cycle, kind, now=now, channel=channel, actor=actor)
        # A text "X" tells us there are changes, not which: the call is still owed.
        still_open = channel == EventChannel.SMS and outcome == ContactOutcome.CHANGES_REPORTED
    fields = {"contact_outcome": outcome, "prep_open": still_open}
    contacted = CYCLE_TRANSITIONS["contact"]
    if cycle.status in contacted.sources:
        fields.update(status=contacted.target, status_changed_at=now)
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
    _record_assessments(cycle, checked, actor=actor, now=now)
    audit_record(
        action="scheduling.prep_contact.recorded",
        actor=actor,
        target=cycle,
        metadata={"outcome": outcome, "channel": channel, "contact": str(contact.public_id)},
    )
    return contact


@transaction.atomic
def satellite_prep_answer_record(*, satellite: SatelliteDue, outcome: str) -> SatelliteDue:
    """The patient's text answer to a satellite's own prep reminder, recorded once and
    audited (the first answer stands; a later one goes to the inbox)."""
    validate_choice(outcome, ContactOutcome, "outcome", "an outcome")
    updated = SatelliteDue.objects.filter(pk=satellite.pk, prep_contacted_at__isnull=True).update(
        prep_outcome=outcome, prep_contacted_at=timezone.now()
    )
    if updated:
        audit_record(
            action="scheduling.satellite.prep_answered",
            target=satellite.patient,
            metadata={"satellite": satellite.pk, "outcome": outcome, "channel": "sms"},
        )
    satellite.refresh_from_db()
    return satellite
