"""Writes of assessments and the immunization schedule: installing the shipped library,
saving a template (each change a new immutable version), recording a completed response,
and the pharmacy's own schedule. Every write audited."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from medsync.models import User
from medsync.services import audit_record
from patients.assessment_models import (
    AssessmentResponse,
    AssessmentTemplate,
    AssessmentVersion,
    ResponseContext,
)
from patients.assessments import (
    AnswersError,
    DefinitionError,
    Result,
    definition_as_dict,
    evaluate,
    fingerprint,
    next_version,
    parse_definition,
    parse_schedule,
)
from patients.clinical_models import ImmunizationSchedule
from patients.clinical_selectors import PREP_CONTACT, shipped_library


def _actor(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _definition(raw):
    try:
        return parse_definition(raw)
    except DefinitionError as exc:
        raise ValidationError({"definition": [f"{exc.field}: {exc.message}"]}) from None


def _new_version(template: AssessmentTemplate, definition, actor) -> bool:
    """Give `template` a new current version when `definition` differs (True if it did)."""
    current = template.current_version
    number, fingerprint = next_version(
        current.fingerprint if current else None, current.number if current else 0, definition
    )
    if current is not None and number == current.number:
        return False
    template.current_version = AssessmentVersion.objects.create(
        template=template,
        number=number,
        definition=definition_as_dict(definition),
        fingerprint=fingerprint,
        created_by=_actor(actor),
    )
    template.save(update_fields=["current_version", "updated_at"])
    return True


@lru_cache(maxsize=1)
def _shipped_fingerprints() -> dict[str, str]:
    return {
        item["key"]: fingerprint(parse_definition(item["definition"])) for item in shipped_library()
    }


@transaction.atomic
def assessment_library_install(*, actor: User | None = None) -> int:
    """Make the shipped assessments available to the organization; a changed shipped file
    becomes a new version (responses keep theirs). Idempotent (one query when nothing is
    new); returns versions written."""
    wanted = _shipped_fingerprints()
    installed = dict(
        AssessmentTemplate.objects.filter(key__in=wanted).values_list(
            "key", "current_version__fingerprint"
        )
    )
    if installed == wanted:
        return 0
    written = 0
    for item in shipped_library():
        try:
            with transaction.atomic():
                template, _ = AssessmentTemplate.objects.get_or_create(
                    key=item["key"],
                    defaults={
                        "name": item["name"],
                        "description": item.get("description", "")[:300],
                        "shipped": True,
                        "attach_to_prep": item.get("attach_to_prep", False),
                        "prep_order": 0 if item["key"] == PREP_CONTACT else 100,
                    },
                )
        except IntegrityError:  # installed at the same moment by another request
            template = AssessmentTemplate.objects.get(key=item["key"])
        if not template.shipped:
            continue  # the pharmacy's own template took the key first
        template = (
            AssessmentTemplate.objects.select_for_update(of=("self",))
            .select_related("current_version")
            .get(pk=template.pk)
        )
        if _new_version(template, parse_definition(item["definition"]), actor):
            written += 1
            audit_record(
                action="patients.assessment.installed",
                actor=_actor(actor),
                target=template,
                metadata={"version": template.current_version.number},
            )
    return written


def _unique_key(name: str) -> str:
    base = (slugify(name)[:30] or "assessment").replace("-", "_")
    key, n = base, 1
    # The library's keys stay free for the library.
    while key in _shipped_fingerprints() or AssessmentTemplate.objects.filter(key=key).exists():
        n += 1
        key = f"{base}_{n}"
    return key


@transaction.atomic
def assessment_template_save(
    *,
    template: AssessmentTemplate | None,
    actor: User | None,
    name: str | None = None,
    description: str | None = None,
    definition: dict | None = None,
    attach_to_prep: bool | None = None,
    prep_order: int | None = None,
    active: bool | None = None,
) -> AssessmentTemplate:
    """Create or change a pharmacy's assessment. A changed definition is a new version;
    earlier versions (and the responses taken with them) never change. Shipped assessments
    keep their questions (copy one to change it); the prep-contact one stays attached."""
    creating = template is None
    if creating:
        if not (name or "").strip():
            raise ValidationError({"name": ["Give the assessment a name."]})
        if definition is None:
            raise ValidationError({"definition": ["Give the questions."]})
    else:
        template = (
            AssessmentTemplate.objects.select_for_update(of=("self",))
            .select_related("current_version")
            .get(pk=template.pk)
        )
        if template.shipped and definition is not None:
            current = template.current_version.definition if template.current_version else None
            if definition != current:
                raise ValidationError(
                    {"definition": ["A shipped assessment keeps its questions: copy it to change."]}
                )
            definition = None
        if template.key == PREP_CONTACT and (attach_to_prep is False or active is False):
            raise ValidationError(
                {"attach_to_prep": ["The prep call always asks the prep-contact questions."]}
            )
    parsed = _definition(definition) if definition is not None else None
    if creating:
        template = AssessmentTemplate(key=_unique_key(name), shipped=False)
    changes = {
        "name": (name or "").strip()[:120] if name is not None else None,
        "description": (description or "").strip()[:300] if description is not None else None,
        "attach_to_prep": attach_to_prep,
        "prep_order": prep_order,
        "active": active,
    }
    changed = sorted(k for k, v in changes.items() if v is not None)
    for field, value in changes.items():
        if value is not None:
            setattr(template, field, value)
    template.full_clean(exclude=["organization", "current_version"])
    template.save()
    new_version = parsed is not None and _new_version(template, parsed, actor)
    audit_record(
        action=f"patients.assessment.{'created' if creating else 'changed'}",
        actor=_actor(actor),
        target=template,
        metadata={
            "fields": changed + (["definition"] if parsed is not None else []),
            "version": template.current_version.number if template.current_version else None,
            "new_version": bool(new_version),
        },
    )
    return template


@transaction.atomic
def assessment_template_copy(*, template: AssessmentTemplate, actor: User | None, name: str):
    """The pharmacy's own editable copy of an assessment (its current questions)."""
    return assessment_template_save(
        template=None,
        actor=actor,
        name=name,
        description=template.description,
        definition=template.current_version.definition,
    )


def assessment_evaluate(template: AssessmentTemplate, answers: dict) -> Result:
    """Answers checked against the template's current version (AnswersError: {id: message})."""
    if template.current_version is None:
        raise AnswersError({"template": "This assessment has no questions yet."})
    return evaluate(parse_definition(template.current_version.definition), answers)


def assessment_check(template: AssessmentTemplate, answers: dict) -> Result:
    """Check answers against the template's current version (ValidationError naming the
    question ids that are wrong, under `answers`)."""
    try:
        return assessment_evaluate(template, answers)
    except AnswersError as exc:
        raise ValidationError(
            {"answers": [f"{qid}: {message}" for qid, message in exc.errors.items()]}
        ) from None


@transaction.atomic
def assessment_response_record(
    *,
    patient,
    template: AssessmentTemplate,
    answers: dict,
    actor: User | None,
    context: str = ResponseContext.RECORD,
    cycle_public_id=None,
    result: Result | None = None,
    now: dt.datetime | None = None,
) -> AssessmentResponse:
    """Record a completed assessment with the version it was taken with, its score, band
    and flags (each with the answer that raised it). Nothing is written if an answer is wrong."""
    result = result or assessment_check(template, answers)
    response = AssessmentResponse.objects.create(
        patient=patient,
        version=template.current_version,
        answers=result.answers,
        score=result.score,
        band=result.band,
        flags=[flag.as_dict() for flag in result.flags],
        context=context,
        cycle_public_id=cycle_public_id,
        completed_at=now or timezone.now(),
        completed_by=_actor(actor),
    )
    audit_record(
        action="patients.assessment_response.recorded",
        actor=_actor(actor),
        target=patient,
        metadata={
            "response": str(response.public_id),
            "assessment": template.key,
            "version": template.current_version.number,
            "flags": len(result.flags),
        },
    )
    return response


@transaction.atomic
def immunization_schedule_save(*, document: dict, actor: User | None) -> ImmunizationSchedule:
    """The pharmacy's own adult schedule (checked first); it replaces the shipped one."""
    try:
        parse_schedule(document)
    except DefinitionError as exc:
        raise ValidationError({"document": [f"{exc.field}: {exc.message}"]}) from None
    schedule = ImmunizationSchedule.objects.select_for_update().first()
    if schedule is None:
        schedule = ImmunizationSchedule(document=document)
    schedule.document = document
    schedule.updated_by = _actor(actor)
    schedule.save()
    audit_record(
        action="patients.immunization_schedule.saved", actor=_actor(actor), target=schedule
    )
    return schedule


@transaction.atomic
def immunization_schedule_reset(*, actor: User | None) -> bool:
    """Drop the pharmacy's own schedule: the shipped one applies again. False: none was saved."""
    schedule = ImmunizationSchedule.objects.select_for_update().first()
    if schedule is None:
        return False
    audit_record(
        action="patients.immunization_schedule.reset", actor=_actor(actor), target=schedule
    )
    schedule.delete()
    return True
