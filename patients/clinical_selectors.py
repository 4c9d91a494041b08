"""Reads of the clinical record and assessments shared by pages, the API and scheduling:
the immunization schedule in force and the vaccines a patient is due for, the assessments the
prep call runs, a patient's clinical summary."""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path

from patients.agreement_models import AgreementKind, AgreementReminder
from patients.assessment_models import AssessmentResponse, AssessmentTemplate
from patients.assessments import (
    DueVaccine,
    Schedule,
    parse_definition,
    parse_schedule,
    shown_questions,
)
from patients.assessments import vaccines_due as _vaccines_due
from patients.clinical_models import (
    Allergy,
    Condition,
    ConditionStatus,
    Immunization,
    ImmunizationSchedule,
)

DATA = Path(__file__).resolve().parent / "data"
SHIPPED_SCHEDULE = DATA / "adult_immunization_schedule.json"
LIBRARY = DATA / "assessments"
PREP_CONTACT = "prep_contact"  # the shipped assessment whose answers are the prep contact's


@lru_cache(maxsize=1)
def shipped_schedule_document() -> dict:
    return json.loads(SHIPPED_SCHEDULE.read_text())


@lru_cache(maxsize=1)
def shipped_library() -> tuple[dict, ...]:
    """The shipped assessments (patients/data/assessments/*.json), each checked."""
    items = []
    for path in sorted(LIBRARY.glob("*.json")):
        item = json.loads(path.read_text())
        parse_definition(item["definition"])
        items.append(item)
    return tuple(items)


def schedule_document() -> dict:
    """The organization's schedule document, or the shipped one."""
    own = ImmunizationSchedule.objects.first()
    return own.document if own is not None else shipped_schedule_document()


def has_own_immunization_schedule() -> bool:
    return ImmunizationSchedule.objects.exists()


def immunization_schedule() -> Schedule:
    return parse_schedule(schedule_document())


def vaccines_due(
    patient, on_date: dt.date, *, schedule: Schedule | None = None
) -> list[DueVaccine]:
    """The adult vaccines `patient` is due for on `on_date`, from their immunization history
    and active conditions against the schedule in force (2 queries; 3 without `schedule`)."""
    schedule = schedule or immunization_schedule()
    history = list(
        Immunization.objects.filter(patient=patient).values_list("vaccine", "administered_on")
    )
    codes = list(
        Condition.objects.filter(patient=patient, status=ConditionStatus.ACTIVE).values_list(
            "icd10_code", flat=True
        )
    )
    return _vaccines_due(
        schedule,
        birth_date=patient.date_of_birth,
        on_date=on_date,
        history=history,
        condition_codes=codes,
    )


def assessment_templates(*, active_only: bool = True):
    queryset = AssessmentTemplate.objects.select_related("current_version")
    return queryset.filter(active=True) if active_only else queryset


def prep_assessments() -> list[AssessmentTemplate]:
    """The assessments the prep call runs, the prep-contact one first."""
    templates = assessment_templates().filter(attach_to_prep=True, current_version__isnull=False)
    return sorted(templates, key=lambda t: (t.key != PREP_CONTACT, t.prep_order, t.name))


def patient_clinical_record(patient) -> dict:
    """Everything the clinical panel of a patient page shows (a fixed number of queries)."""
    return {
        "conditions": list(Condition.objects.filter(patient=patient)),
        "allergies": list(Allergy.objects.filter(patient=patient)),
        "immunizations": list(Immunization.objects.filter(patient=patient)),
        "stays": list(patient.inpatient_stays.order_by("-admitted_on")),
        "responses": list(
            AssessmentResponse.objects.filter(patient=patient).select_related("version__template")[
                :10
            ]
        ),
    }


def vaccines_due_for(patients, on_date: dt.date) -> dict[int, list[DueVaccine]]:
    """`vaccines_due` for many patients at once (3 queries in all): patient pk -> due list."""
    patients = list(patients)
    schedule = immunization_schedule()
    ids = [p.pk for p in patients]
    history: dict[int, list] = {pk: [] for pk in ids}
    for pk, vaccine, day in Immunization.objects.filter(patient_id__in=ids).values_list(
        "patient_id", "vaccine", "administered_on"
    ):
        history[pk].append((vaccine, day))
    codes: dict[int, list] = {pk: [] for pk in ids}
    for pk, code in Condition.objects.filter(
        patient_id__in=ids, status=ConditionStatus.ACTIVE
    ).values_list("patient_id", "icd10_code"):
        codes[pk].append(code)
    return {
        p.pk: _vaccines_due(
            schedule,
            birth_date=p.date_of_birth,
            on_date=on_date,
            history=history[p.pk],
            condition_codes=codes[p.pk],
        )
        for p in patients
    }


def assessment_form(template: AssessmentTemplate, prefix: str) -> dict:
    """What a page needs to ask a template's current questions: input names
    `<prefix><question id>`, choices with their points, each question's display condition
    (for the page's script, assessments.js) and whether it starts hidden."""
    definition = parse_definition(template.current_version.definition)
    shown = {q.id for q in shown_questions(definition, {})}
    questions = []
    for q in definition.questions:
        if q.kind == "yes_no":
            choices = [("yes", "Yes", q.score.get("yes")), ("no", "No", q.score.get("no"))]
        else:
            choices = [(c.value, c.label, c.score) for c in q.choices]
        questions.append(
            {
                "id": q.id,
                "name": f"{prefix}{q.id}",
                "kind": q.kind,
                "text": q.text,
                "help": q.help,
                "required": q.required,
                "choices": choices,
                "min": q.min,
                "max": q.max,
                "number_scored": q.kind == "number" and bool(q.score),
                "show_if_json": json.dumps(q.show_if.as_dict()) if q.show_if else "",
                "hidden": q.id not in shown,
            }
        )
    return {"template": template, "prefix": prefix, "questions": questions}


def open_agreement_reminders(patients) -> dict[int, list[str]]:
    """patient pk -> labels of the agreements they should re-sign (open reminders; 1 query)."""
    due: dict[int, list[str]] = {}
    for patient_id, kind in AgreementReminder.objects.filter(
        patient__in=[p.pk for p in patients], resolved_at__isnull=True
    ).values_list("patient_id", "kind"):
        due.setdefault(patient_id, []).append(AgreementKind(kind).label)
    return due
