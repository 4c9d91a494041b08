"""Assessments and immunization screening, pure (no Django): definitions with typed questions,
display conditions, scores and flag rules (`definition`), taking one (`engine`), and the
adult immunization schedule (`immunizations`). The ORM side is `patients.assessment_models`."""

from patients.assessments.definition import (
    Definition,
    DefinitionError,
    Question,
    definition_as_dict,
    parse_definition,
)
from patients.assessments.engine import (
    AnswersError,
    Flag,
    Result,
    display,
    evaluate,
    fingerprint,
    next_version,
    shown_questions,
)
from patients.assessments.immunizations import (
    DueVaccine,
    Schedule,
    parse_schedule,
    vaccines_due,
)

__all__ = [
    "AnswersError",
    "Definition",
    "DefinitionError",
    "DueVaccine",
    "Flag",
    "Question",
    "Result",
    "Schedule",
    "definition_as_dict",
    "display",
    "evaluate",
    "fingerprint",
    "next_version",
    "parse_definition",
    "parse_schedule",
    "shown_questions",
    "vaccines_due",
]
