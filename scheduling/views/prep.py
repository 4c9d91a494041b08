"""The prep worklist: the calls due before each anchor and their structured answers."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm
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

YES_NO_QUESTIONS = [
    ("new_medications", "Any new medicines, from any doctor, since the last pickup?"),
    ("stopped_medications", "Any medicines stopped?"),
    ("dose_changes", "Any dose changes?"),
    ("hospital_stay", "Any hospital stays or ER visits?"),
    ("side_effects", "Any side effects or problems taking them?"),
]


@require_permission(Perm.MANAGE_ENROLLMENT)
def prep_worklist(request):
    today = today_for(request)
    scope = "upcoming" if request.GET.get("scope") == "upcoming" else "due"
    cycles = selectors.prep_worklist(membership=request.membership, today=today, scope=scope)
    page = Paginator(cycles, PAGE_SIZE).get_page(request.GET.get("page"))
    viewed(request, [cycle.patient for cycle in page.object_list], "prep_worklist")
    return render(
        request,
        "scheduling/prep_worklist.html",
        {
            "page": page,
            "scope": scope,
            "today": today,
            **_prep_choices(),
        },
    )


def _prep_choices() -> dict:
    return {
        "questions": YES_NO_QUESTIONS,
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
            **{name: answers[name] for name in PREP_QUESTIONS},
        )
    except SchedulingError as exc:
        error, fields = exc.message, exc.fields
    cycle = cycle_or_404(request, cycle_id)
    if request.htmx:
        if error:
            return render(
                request,
                "scheduling/_prep_card.html",
                {"cycle": cycle, "error": error, "fields": fields, **_prep_choices()},
            )
        return render(request, "scheduling/_prep_result.html", {"cycle": cycle})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Prep call with {cycle.patient.first_name} recorded.")
    return redirect("sync-prep")
