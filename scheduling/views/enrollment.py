"""Enrollment: the list, the three-step wizard, the enrollment actions (pause, resume,
disenroll, invite) and each patient's sync panel."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from medsync.decorators import require_permission
from medsync.roles import Perm
from medsync.selectors import pharmacies_visible_to
from patients.models import SyncDecision
from patients.services import patient_viewed, prescription_sync_decide
from scheduling import cycle_rows, selectors, services
from scheduling.dates import next_anchor_on_or_after
from scheduling.exceptions import NotFoundInTenant, SchedulingError
from scheduling.forms import (
    EnrollmentActionForm,
    EnrollWizardForm,
)
from scheduling.models import (
    CYCLE_LENGTHS,
    WEEKDAY_NAMES,
    ConsentMethod,
    ConsentRelationship,
    ContactChannel,
    DisenrollReason,
    EnrollmentStatus,
    Fulfillment,
)
from scheduling.selectors.patients import needs_sync_override
from scheduling.views.common import (
    PAGE_SIZE,
    bound,
    today_for,
)


@require_permission(Perm.MANAGE_ENROLLMENT)
def enrollment_list(request):
    status = request.GET.get("status", "")
    if status and status not in EnrollmentStatus.values:
        status = ""
    search = request.GET.get("q", "").strip()[:60]
    pharmacy = request.GET.get("pharmacy", "")
    enrollments = selectors.enrollment_list(
        membership=request.membership, status=status, search=search, pharmacy_public_id=pharmacy
    )
    page = Paginator(enrollments, PAGE_SIZE).get_page(request.GET.get("page"))
    today = today_for(request)
    rows = []
    for enrollment in page.object_list:
        next_anchor = None
        if enrollment.status == EnrollmentStatus.ENROLLED and enrollment.anchor_date:
            next_anchor = next_anchor_on_or_after(
                enrollment.anchor_date, enrollment.cycle_days, today
            )
        rows.append((enrollment, next_anchor))
    counts = dict(
        selectors.enrollment_list(membership=request.membership)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return render(
        request,
        "scheduling/enrollment_list.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "q": search,
            "pharmacy": pharmacy,
            "statuses": EnrollmentStatus.choices,
            "pharmacies": pharmacies_visible_to(request.membership),
            "status_counts": [
                (label, counts.get(value, 0)) for value, label in EnrollmentStatus.choices
            ],
            "replans_waiting": selectors.replan_queue(membership=request.membership).count(),
            "tasks_open": selectors.follow_up_tasks(membership=request.membership).count(),
        },
    )


@require_permission(Perm.MANAGE_ENROLLMENT)
def enroll_wizard(request, patient_id):
    """Three steps on one page: medications and preferences, anchor options, the plan and
    consent. Each step posts the whole form; htmx swaps the wizard in place."""
    try:
        patient = selectors.patient_by_public_id(patient_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such patient.") from None
    patient_viewed(patient=patient, actor=request.user, via="enroll_wizard")
    meds = selectors.medication_list(patient)
    existing = selectors.open_enrollment_of(patient)
    data = request.POST if request.method == "POST" else None
    posted = bound(EnrollWizardForm, request).cleaned_data if data else {}
    step = posted.get("step", "")
    today = today_for(request)
    # What each medicine needs said beside its box (DOMAIN 3): expired ones cannot be synced
    # (unticked, disabled); excluded ones only with an override note (unticked).
    for rx in meds:
        rx.expired = rx.expiration_date < today
        rx.override_reason = "" if rx.expired else needs_sync_override(rx)
    chosen_ids = (
        posted["prescriptions"]
        if data
        else [
            str(rx.public_id)
            for rx in meds
            if rx.sync_decision == SyncDecision.SYNCED and not rx.expired
        ]
    )
    cycle_days = posted.get("cycle_days") or 30
    if posted.get("use_cycle_days") in CYCLE_LENGTHS:
        # The optimizer's suggestion (28 days keeps a preferred weekday): show the anchors again.
        cycle_days, step = posted["use_cycle_days"], "anchors"
    weekday = posted.get("preferred_weekday")
    day_of_month = posted.get("preferred_day_of_month")
    context = {
        "patient": patient,
        "meds": meds,
        "existing": existing,
        "chosen": set(chosen_ids),
        "cycle_days": cycle_days,
        "cycle_lengths": CYCLE_LENGTHS,
        "weekdays": list(enumerate(WEEKDAY_NAMES)),
        "preferred_weekday": weekday,
        "preferred_day_of_month": day_of_month,
        "anchor_date": posted.get("anchor_custom") or posted.get("anchor_date", ""),
        "override_note": posted.get("override_note", ""),
        "needs_override_note": any(rx.override_reason for rx in meds),
        "consent_methods": ConsentMethod.choices,
        "consent_relationships": ConsentRelationship.choices,
        "fulfillments": Fulfillment.choices,
        "contact_channels": ContactChannel.choices,
        "form": data,
        "step": "choose",
    }
    if existing is not None and existing.status != EnrollmentStatus.INVITED:
        context["step"] = "already"
        return render(request, "scheduling/enroll_wizard.html", context)
    if data is None:
        return render(request, "scheduling/enroll_wizard.html", context)
    try:
        prescriptions = selectors.chosen_prescriptions(
            patient, chosen_ids, override_note=posted.get("override_note", ""), today=today
        )
        if weekday is not None and day_of_month is not None:
            raise SchedulingError("Choose a preferred weekday or a day of the month, not both.")
        try:
            typed = dt.date.fromisoformat(posted["anchor_custom"])
        except ValueError:
            typed = None
        context["options"] = selectors.anchor_options(
            patient=patient,
            prescriptions=prescriptions,
            cycle_days=cycle_days,
            preferred_weekday=weekday,
            preferred_day_of_month=day_of_month,
            chosen_anchor=typed,
        )
        context["step"] = "anchors"
        if step != "anchors":
            if not context["anchor_date"]:
                raise SchedulingError("Pick one of the anchor dates, or type another.")
            try:
                anchor = dt.date.fromisoformat(context["anchor_date"])
            except ValueError:
                raise SchedulingError("Pick an anchor date.") from None
            preview = selectors.plan_preview(
                patient=patient,
                prescriptions=prescriptions,
                anchor_date=anchor,
                cycle_days=cycle_days,
            )
            context["preview"] = preview
            context["plan_rows"] = [
                (row, cycle_rows.plan_fill_rows(row.plan, row.prescription, cycle_days))
                for row in preview.rows
            ]
            context["step"] = "plan"
            if step == "confirm":
                for rx in prescriptions:
                    if needs_sync_override(rx):
                        # The override is the pharmacist's sync decision, noted and audited.
                        prescription_sync_decide(
                            prescription=rx,
                            decision=SyncDecision.SYNCED,
                            note=posted["override_note"],
                            actor=request.user,
                        )
                enrollment = services.enrollment_enroll(
                    patient=patient,
                    actor=request.user,
                    prescriptions=prescriptions,
                    anchor_date=anchor,
                    cycle_days=cycle_days,
                    consent_given_by=posted["consent_given_by"],
                    consent_relationship=posted["consent_relationship"],
                    consent_method=posted["consent_method"],
                    preferred_weekday=weekday,
                    preferred_day_of_month=day_of_month,
                    fulfillment=posted["fulfillment"],
                    contact_channel=posted["contact_channel"],
                )
                messages.success(
                    request,
                    f"{patient.first_name} is enrolled: anchor "
                    f"{enrollment.anchor_date:%a %b %-d}, every {enrollment.cycle_days} days.",
                )
                target = reverse("sync-patient", args=[patient.public_id])
                if request.htmx:
                    return HttpResponseClientRedirect(target)
                return redirect(target)
    except NotFoundInTenant:
        raise Http404("No such prescription.") from None
    except SchedulingError as exc:
        context["error"] = exc.message
        context["error_fields"] = exc.fields
    return render(request, "scheduling/enroll_wizard.html", context)


ENROLLMENT_ACTIONS = {"pause", "resume", "disenroll", "invite"}


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def enrollment_action(request, enrollment_id, action):
    if action not in ENROLLMENT_ACTIONS:
        raise Http404("No such action.")
    enrollment = (
        selectors.enrollment_list(membership=request.membership)
        .filter(public_id=enrollment_id)
        .first()
    )
    if enrollment is None:
        raise Http404("No such enrollment.")
    form = bound(EnrollmentActionForm, request)
    if not form.is_valid():
        messages.error(request, form.first_error())
        return redirect("sync-patient", enrollment.patient.public_id)
    try:
        if action == "pause":
            services.enrollment_pause(
                enrollment=enrollment,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                until=form.cleaned_data["until"],
            )
            messages.success(request, "Sync paused.")
        elif action == "resume":
            services.enrollment_resume(enrollment=enrollment, actor=request.user)
            messages.success(request, "Sync resumed; a re-plan waits for your approval.")
        elif action == "disenroll":
            services.enrollment_disenroll(
                enrollment=enrollment,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
            messages.success(request, "Patient left the sync program.")
    except SchedulingError as exc:
        messages.error(request, exc.message)
    return redirect("sync-patient", enrollment.patient.public_id)


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def patient_invite(request, patient_id):
    try:
        patient = selectors.patient_by_public_id(patient_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such patient.") from None
    services.enrollment_invite(patient=patient, actor=request.user)
    messages.success(request, f"{patient.first_name} was offered sync.")
    return redirect("sync-patient", patient.public_id)


def _panel_context(request, patient_id):
    try:
        patient = selectors.patient_by_public_id(patient_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such patient.") from None
    patient_viewed(patient=patient, actor=request.user, via="sync_panel")
    return {
        "sync": selectors.patient_sync_panel(patient=patient),
        "disenroll_reasons": DisenrollReason.choices,
    }


@require_permission(Perm.VIEW_PATIENTS)
def patient_sync_page(request, patient_id):
    return render(request, "scheduling/patient_sync.html", _panel_context(request, patient_id))


@require_permission(Perm.VIEW_PATIENTS)
def patient_sync_panel(request, patient_id):
    """The panel alone, for the patient page to load with hx-get."""
    return render(
        request, "scheduling/_patient_sync_panel.html", _panel_context(request, patient_id)
    )
