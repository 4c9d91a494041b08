"""Re-plans waiting for a pharmacist, follow-up tasks, and each pharmacy's sync settings."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm
from medsync.selectors import pharmacies_visible_to
from scheduling import selectors, services
from scheduling.exceptions import NotFoundInTenant, SchedulingError
from scheduling.forms import (
    ReplanDecisionForm,
    ReplanRequestForm,
    SyncSettingsForm,
    TaskResolveForm,
)
from scheduling.models import (
    WEEKDAY_NAMES,
    EnrollmentStatus,
    ReplanReason,
    TaskStatus,
)
from scheduling.views.common import (
    PAGE_SIZE,
    bound,
    today_for,
)


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def replan_request(request, patient_id):
    try:
        patient = selectors.patient_by_public_id(patient_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such patient.") from None
    enrollment = selectors.open_enrollment_of(patient)
    if enrollment is None or enrollment.status != EnrollmentStatus.ENROLLED:
        messages.error(request, "Only an enrolled patient can be re-planned.")
        return redirect("sync-patient", patient.public_id)
    form = bound(ReplanRequestForm, request)
    note = form.cleaned_data["note"].strip() or "Re-plan requested by a pharmacist."
    services.replan_propose(
        enrollment=enrollment,
        reasons=[form.cleaned_data["reason"] or ReplanReason.CHANGES_REPORTED],
        details=[note[:300]],
        actor=request.user,
        fingerprint_extra=timezone.now().isoformat(),
    )
    return redirect("sync-replans")


@require_permission(Perm.MANAGE_ENROLLMENT)
def replan_list(request):
    proposals = selectors.replan_queue(membership=request.membership)
    page = Paginator(proposals, PAGE_SIZE).get_page(request.GET.get("page"))
    today = today_for(request)
    rows = [
        (proposal, selectors.default_replan_anchor(proposal.enrollment, today=today))
        for proposal in page.object_list
    ]
    return render(request, "scheduling/replan_list.html", {"page": page, "rows": rows})


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def replan_decide(request, proposal_id, decision):
    proposal = (
        selectors.replan_queue(membership=request.membership).filter(public_id=proposal_id).first()
    )
    if proposal is None or decision not in ("approve", "reject"):
        raise Http404("No such re-plan.")
    form = bound(ReplanDecisionForm, request)
    if not form.is_valid():
        messages.error(request, form.first_error())
        return redirect("sync-replans")
    try:
        if decision == "approve":
            plan = services.replan_approve(
                proposal=proposal,
                actor=request.user,
                anchor_date=form.cleaned_data["anchor_date"],
                cycle_days=form.cleaned_data["cycle_days"],
                note=form.cleaned_data["note"],
            )
            messages.success(
                request,
                f"New plan for {proposal.patient.first_name}: anchor {plan.anchor_date:%a %b %-d}.",
            )
        else:
            services.replan_reject(
                proposal=proposal, actor=request.user, note=form.cleaned_data["note"]
            )
            messages.success(request, "The plan stays as it is.")
    except SchedulingError as exc:
        messages.error(request, exc.message)
    return redirect("sync-replans")


@require_permission(Perm.MANAGE_ENROLLMENT)
def task_list(request):
    tasks = selectors.follow_up_tasks(membership=request.membership)
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "scheduling/task_list.html", {"page": page, "today": today_for(request)})


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def task_resolve(request, task_id, status):
    task = selectors.follow_up_tasks(membership=request.membership).filter(public_id=task_id)
    task = task.first()
    if task is None or status not in (TaskStatus.DONE, TaskStatus.DISMISSED):
        raise Http404("No such task.")
    try:
        services.follow_up_resolve(
            task=task,
            actor=request.user,
            status=status,
            note=bound(TaskResolveForm, request).cleaned_data["note"],
        )
    except SchedulingError as exc:
        messages.error(request, exc.message)
    if request.htmx:
        return HttpResponse("")
    return redirect("sync-tasks")


@require_permission(Perm.MANAGE_PHARMACIES)
def sync_settings(request):
    pharmacies = list(pharmacies_visible_to(request.membership))
    rows = [(p, selectors.sync_settings_for(p)) for p in pharmacies]
    if request.method == "POST":
        form = bound(SyncSettingsForm, request)
        pharmacy = next(
            (p for p in pharmacies if str(p.public_id) == form.cleaned_data["pharmacy"]), None
        )
        if pharmacy is None:
            raise Http404("No such pharmacy.")
        try:
            services.sync_settings_update(
                pharmacy=pharmacy,
                actor=request.user,
                **form.settings(),
            )
            messages.success(request, f"Sync settings of {pharmacy.name} saved.")
            return redirect("sync-settings")
        except SchedulingError as exc:
            messages.error(
                request,
                exc.message + " " + "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items()),
            )
    return render(
        request,
        "scheduling/settings.html",
        {"rows": rows, "weekdays": list(enumerate(WEEKDAY_NAMES))},
    )
