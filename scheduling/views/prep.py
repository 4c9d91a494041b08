"""The prep worklist: the calls due before each anchor and their structured answers."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm
from patients.assessment_services import assessment_library_install
from patients.clinical_selectors import (
    PREP_CONTACT,
    assessment_form,
    open_agreement_reminders,
    prep_assessments,
    vaccines_due_for,
)
from scheduling import selectors, services
from scheduling.exceptions import SchedulingError
from scheduling.forms import (
    PREP_QUESTIONS,
    PrepContactForm,
)
from scheduling.models import (
    ContactOutcome,
    EventChannel,
    Fulfillment,
)
from scheduling.views.common import (
    PAGE_SIZE,
    bound,
    cycle_or_404,
    today_for,
    viewed,
)

# The five prep questions when the organization's prep-contact assessment is not installed.
YES_NO_QUESTIONS = [
    ("new_medications", "Any new medicines, from any doctor, since the last pickup?"),
    ("stopped_medications", "Any medicines stopped?"),
    ("dose_changes", "Any dose changes?"),
    ("hospital_stay", "Any hospital stays or ER visits?"),
    ("side_effects", "Any side effects or problems taking them?"),
]
SCREENING = "immunization_screening"


@require_permission(Perm.MANAGE_ENROLLMENT)
def prep_worklist(request):
    today = today_for(request)
    scope = "upcoming" if request.GET.get("scope") == "upcoming" else "due"
    assessment_library_install(actor=request.user)
    cycles = selectors.prep_worklist(membership=request.membership, today=today, scope=scope)
    page = Paginator(cycles, PAGE_SIZE).get_page(request.GET.get("page"))
    viewed(request, [cycle.patient for cycle in page.object_list], "prep_worklist")
    choices = _prep_choices()
    _attach_vaccines_due(list(page.object_list), choices, today)
    _attach_agreements_to_resign(list(page.object_list))
    return render(
        request,
        "scheduling/prep_worklist.html",
        {
            "page": page,
            "scope": scope,
            "today": today,
            **choices,
        },
    )


def _attach_agreements_to_resign(cycles) -> None:
    """Agreements whose yearly re-sign reminder is open: the call is the time to say so."""
    due = open_agreement_reminders([cycle.patient for cycle in cycles])
    for cycle in cycles:
        cycle.agreements_to_resign = due.get(cycle.patient_id, [])


def _attach_vaccines_due(cycles, choices: dict, today) -> None:
    """The adult vaccines each patient is due for, when the screening runs at the call."""
    if not any(form["template"].key == SCREENING for form in choices["assessments"]):
        return
    due = vaccines_due_for([cycle.patient for cycle in cycles], today)
    for cycle in cycles:
        cycle.vaccines_due = due.get(cycle.patient_id, [])


def _prep_choices() -> dict:
    """The questions of the call: the prep-contact assessment's five (posted under their own
    names, as the PrepContact stores them), then each other attached assessment."""
    templates = prep_assessments()
    questions = YES_NO_QUESTIONS
    for template in templates:
        if template.key == PREP_CONTACT:
            form = assessment_form(template, "")
            questions = [(q["id"], q["text"]) for q in form["questions"]]
    return {
        "questions": questions,
        "assessments": [
            assessment_form(t, f"a-{t.key}-") for t in templates if t.key != PREP_CONTACT
        ],
        "outcomes": ContactOutcome.choices,
        "channels": [c for c in EventChannel.choices if c[0] != EventChannel.SYSTEM],
        "fulfillments": Fulfillment.choices,
    }


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def prep_contact(request, cycle_id):
    cycle = cycle_or_404(request, cycle_id)
    answers = bound(PrepContactForm, request).cleaned_data
    error = ""
    fields: dict = {}
    try:
        services.prep_contact_record(
            cycle=cycle,
            actor=request.user,
            channel=answers["channel"],
            outcome=answers["outcome"],
            fulfillment=answers["fulfillment"],
            notes=answers["notes"],
            stay_admitted_on=answers.get("stay_admitted_on"),
            stay_discharged_on=answers.get("stay_discharged_on"),
            assessments=_assessment_answers(request.POST),
            **{name: answers[name] for name in PREP_QUESTIONS},
        )
    except SchedulingError as exc:
        error, fields = exc.message, exc.fields
    cycle = cycle_or_404(request, cycle_id)
    if request.htmx:
        if error:
            choices = _prep_choices()
            _attach_vaccines_due([cycle], choices, today_for(request))
            return render(
                request,
                "scheduling/_prep_card.html",
                {"cycle": cycle, "error": error, "fields": fields, **choices},
            )
        return render(request, "scheduling/_prep_result.html", {"cycle": cycle})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Prep call with {cycle.patient.first_name} recorded.")
    return redirect("sync-prep")


def _assessment_answers(post) -> dict[str, dict]:
    """{template key: {question id: answer}} from the card's `a-<key>-<question>` fields."""
    given: dict[str, dict] = {}
    for name in post:
        if name.startswith("a-") and name.count("-") >= 2:
            _, key, question_id = name.split("-", 2)
            given.setdefault(key, {})[question_id] = post.get(name)
    return given
