"""Pages of the sync engine: the fill queue (the technician's landing page), the prep
worklist, the enrollment list and wizard, each patient's sync panel, re-plans and follow-ups.

Live parts use htmx: an action posts and gets back the fragment it changed. Without
htmx the same endpoints redirect back with a message.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm, role_allows
from medsync.selectors import pharmacies_visible_to
from patients.models import SyncDecision
from patients.services import patient_viewed
from scheduling import cycle_rows, selectors, services
from scheduling.dates import local_today, next_anchor_on_or_after
from scheduling.exceptions import NotFoundInTenant, SchedulingError
from scheduling.models import (
    CYCLE_LENGTHS,
    WEEKDAY_NAMES,
    ConsentMethod,
    ConsentRelationship,
    ContactChannel,
    ContactOutcome,
    CycleStatus,
    DisenrollReason,
    EnrollmentStatus,
    EventChannel,
    FlagReason,
    FollowUpTask,
    Fulfillment,
    ReplanProposal,
    ReplanStatus,
    TaskStatus,
)

PAGE_SIZE = 25
YES_NO_QUESTIONS = [
    ("new_medications", "Any new medicines, from any doctor, since the last pickup?"),
    ("stopped_medications", "Any medicines stopped?"),
    ("dose_changes", "Any dose changes?"),
    ("hospital_stay", "Any hospital stays or ER visits?"),
    ("side_effects", "Any side effects or problems taking them?"),
]


def _today(request) -> dt.date:
    pharmacy = pharmacies_visible_to(request.membership).first()
    zone = pharmacy.time_zone if pharmacy else "America/Chicago"
    return local_today(zone)


def _can(request, perm: Perm) -> bool:
    return role_allows(request.membership.role, perm)


def _back(request, fallback: str):
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or reverse(fallback)
    if not target.startswith("/"):
        target = reverse(fallback)
    return redirect(target)


def _viewed(request, patients, via: str) -> None:
    for patient in {p.pk: p for p in patients}.values():
        patient_viewed(patient=patient, actor=request.user, via=via)


# --- The fill queue ---


@require_permission(Perm.VIEW_FILL_QUEUE)
def fill_queue(request):
    today = _today(request)
    sections = selectors.fill_queue(membership=request.membership, today=today)
    items = [item for section in sections.values() for item in section]
    _viewed(request, [item.cycle.patient for item in items], "fill_queue")
    ready_cycles = {}
    for item in sections["ready"]:
        ready_cycles.setdefault(item.cycle_id, {"cycle": item.cycle, "items": []})
        ready_cycles[item.cycle_id]["items"].append(item)
    return render(
        request,
        "scheduling/fill_queue.html",
        {
            "items": items,
            "sections": sections,
            "ready_cycles": list(ready_cycles.values()),
            "today": today,
            "flag_reasons": FlagReason.choices,
        },
    )


ACTION_PERMS = {
    "bill": Perm.PROCESS_FILLS,
    "fill": Perm.PROCESS_FILLS,
    "flag": Perm.PROCESS_FILLS,
    "unflag": Perm.PROCESS_FILLS,
    "verify": Perm.VERIFY_FILLS,
    "skip": Perm.VERIFY_FILLS,
}


@require_POST
@require_permission(Perm.PROCESS_FILLS)
def item_action(request, item_id, action):
    if action not in ACTION_PERMS:
        raise Http404("No such action.")
    if not _can(request, ACTION_PERMS[action]):
        return _refuse(request, "Only a pharmacist can do this.")
    try:
        item = selectors.item_by_public_id(item_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such fill.") from None
    error = ""
    try:
        item = services.cycle_item_advance(
            item=item,
            actor=request.user,
            action=action,
            flag_reason=request.POST.get("flag_reason", ""),
            note=request.POST.get("note", ""),
        )
    except SchedulingError as exc:
        error = exc.message
        item.refresh_from_db()
    if request.htmx:
        return render(
            request,
            "scheduling/_fill_queue_item.html",
            {"item": item, "error": error, "flag_reasons": FlagReason.choices, "just_done": action},
        )
    if error:
        messages.error(request, error)
    return redirect("fill-queue")


def _refuse(request, message: str):
    if request.htmx:
        return HttpResponse(f'<p class="warning" role="alert">{message}</p>', status=200)
    messages.error(request, message)
    return redirect("fill-queue")


@require_POST
@require_permission(Perm.PROCESS_FILLS)
def cycle_pickup(request, cycle_id):
    """Hand over the ticked fills (the fill queue's form), or every verified one (no list)."""
    cycle = _cycle_or_404(request, cycle_id)
    items = None
    if request.POST.get("partial"):
        chosen = request.POST.getlist("items")
        items = selectors.cycle_items_by_public_ids(cycle, chosen)
        if not chosen:
            messages.error(request, "Tick the fills the patient is taking home.")
            return _back(request, "fill-queue")
        if len(items) != len(set(chosen)):
            messages.error(request, "Only verified fills of this cycle can be handed over.")
            return _back(request, "fill-queue")
    try:
        cycle = services.cycle_pickup_record(
            cycle=cycle,
            actor=request.user,
            items=items,
            channel=request.POST.get("channel", EventChannel.IN_PERSON),
        )
        left = "" if cycle.status == CycleStatus.PICKED_UP else " The rest stays on the shelf."
        messages.success(request, f"Handed over to {cycle.patient.first_name}.{left}")
    except SchedulingError as exc:
        messages.error(request, exc.message)
    return _back(request, "fill-queue")


@require_POST
@require_permission(Perm.PROCESS_FILLS)
def cycle_return_to_stock(request, cycle_id):
    cycle = _cycle_or_404(request, cycle_id)
    try:
        count = services.cycle_items_return_to_stock(cycle=cycle, actor=request.user)
        messages.success(request, f"{count} fill(s) reversed and returned to stock.")
    except SchedulingError as exc:
        messages.error(request, exc.message)
    return _back(request, "sync-tasks")


def _cycle_or_404(request, cycle_id):
    try:
        return selectors.cycle_by_public_id(cycle_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such cycle.") from None


# --- The prep worklist ---


@require_permission(Perm.MANAGE_ENROLLMENT)
def prep_worklist(request):
    today = _today(request)
    scope = "upcoming" if request.GET.get("scope") == "upcoming" else "due"
    cycles = selectors.prep_worklist(membership=request.membership, today=today, scope=scope)
    page = Paginator(cycles, PAGE_SIZE).get_page(request.GET.get("page"))
    _viewed(request, [cycle.patient for cycle in page.object_list], "prep_worklist")
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
    cycle = _cycle_or_404(request, cycle_id)

    def answer(name):
        value = request.POST.get(name, "")
        return {"yes": True, "no": False}.get(value)

    error = ""
    fields: dict = {}
    try:
        services.prep_contact_record(
            cycle=cycle,
            actor=request.user,
            channel=request.POST.get("channel", ""),
            outcome=request.POST.get("outcome", ""),
            new_medications=answer("new_medications"),
            stopped_medications=answer("stopped_medications"),
            dose_changes=answer("dose_changes"),
            hospital_stay=answer("hospital_stay"),
            side_effects=answer("side_effects"),
            fulfillment=request.POST.get("fulfillment", ""),
            notes=request.POST.get("notes", ""),
        )
    except SchedulingError as exc:
        error, fields = exc.message, exc.fields
    cycle = _cycle_or_404(request, cycle_id)
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


# --- Enrollment: list, candidates, wizard, actions ---


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
    today = _today(request)
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
            "replans_waiting": ReplanProposal.objects.filter(status=ReplanStatus.PROPOSED).count(),
            "tasks_open": FollowUpTask.objects.filter(status=TaskStatus.OPEN).count(),
        },
    )


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@require_permission(Perm.MANAGE_ENROLLMENT)
def enroll_wizard(request, patient_id):
    """Three steps on one page: medications and preferences, anchor options, the plan and
    consent. Each step posts the whole form; htmx swaps the wizard in place."""
    try:
        patient = selectors.patient_by_public_id(patient_id)
    except NotFoundInTenant:
        raise Http404("No such patient.") from None
    patient_viewed(patient=patient, actor=request.user, via="enroll_wizard")
    meds = selectors.medication_list(patient)
    existing = selectors.open_enrollment_of(patient)
    data = request.POST if request.method == "POST" else None
    step = (data or {}).get("step", "")
    chosen_ids = (
        data.getlist("prescriptions")
        if data
        else [str(rx.public_id) for rx in meds if rx.sync_decision == SyncDecision.SYNCED]
    )
    cycle_days = _int_or_none((data or {}).get("cycle_days")) or 30
    weekday = _int_or_none((data or {}).get("preferred_weekday"))
    day_of_month = _int_or_none((data or {}).get("preferred_day_of_month"))
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
        "anchor_date": (data or {}).get("anchor_custom") or (data or {}).get("anchor_date", ""),
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
        prescriptions = selectors.chosen_prescriptions(patient, chosen_ids)
        if weekday is not None and day_of_month is not None:
            raise SchedulingError("Choose a preferred weekday or a day of the month, not both.")
        try:
            typed = dt.date.fromisoformat((data or {}).get("anchor_custom", ""))
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
                enrollment = services.enrollment_enroll(
                    patient=patient,
                    actor=request.user,
                    prescriptions=prescriptions,
                    anchor_date=anchor,
                    cycle_days=cycle_days,
                    consent_given_by=data.get("consent_given_by", ""),
                    consent_relationship=data.get("consent_relationship", "self"),
                    consent_method=data.get("consent_method", ""),
                    preferred_weekday=weekday,
                    preferred_day_of_month=day_of_month,
                    fulfillment=data.get("fulfillment", Fulfillment.PICKUP),
                    contact_channel=data.get("contact_channel", ContactChannel.SMS),
                )
                messages.success(
                    request,
                    f"{patient.first_name} is enrolled: anchor "
                    f"{enrollment.anchor_date:%a %b %-d}, every {enrollment.cycle_days} days.",
                )
                target = reverse("sync-patient", args=[patient.public_id])
                if request.htmx:
                    response = HttpResponse("")
                    response["HX-Redirect"] = target
                    return response
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
    try:
        if action == "pause":
            until = request.POST.get("until") or None
            services.enrollment_pause(
                enrollment=enrollment,
                actor=request.user,
                reason=request.POST.get("reason", ""),
                until=dt.date.fromisoformat(until) if until else None,
            )
            messages.success(request, "Sync paused.")
        elif action == "resume":
            services.enrollment_resume(enrollment=enrollment, actor=request.user)
            messages.success(request, "Sync resumed; a re-plan waits for your approval.")
        elif action == "disenroll":
            services.enrollment_disenroll(
                enrollment=enrollment,
                actor=request.user,
                reason=request.POST.get("reason", ""),
                note=request.POST.get("note", ""),
            )
            messages.success(request, "Patient left the sync program.")
    except ValueError:
        messages.error(request, "Give the date as YYYY-MM-DD.")
    except SchedulingError as exc:
        messages.error(request, exc.message)
    return redirect("sync-patient", enrollment.patient.public_id)


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def patient_invite(request, patient_id):
    try:
        patient = selectors.patient_by_public_id(patient_id)
    except NotFoundInTenant:
        raise Http404("No such patient.") from None
    services.enrollment_invite(patient=patient, actor=request.user)
    messages.success(request, f"{patient.first_name} was offered sync.")
    return redirect("sync-patient", patient.public_id)


# --- A patient's sync panel ---


def _panel_context(request, patient_id):
    try:
        patient = selectors.patient_by_public_id(patient_id)
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


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def replan_request(request, patient_id):
    try:
        patient = selectors.patient_by_public_id(patient_id)
    except NotFoundInTenant:
        raise Http404("No such patient.") from None
    enrollment = selectors.open_enrollment_of(patient)
    if enrollment is None or enrollment.status != EnrollmentStatus.ENROLLED:
        messages.error(request, "Only an enrolled patient can be re-planned.")
        return redirect("sync-patient", patient.public_id)
    note = request.POST.get("note", "").strip() or "Re-plan requested by a pharmacist."
    services.replan_propose(
        enrollment=enrollment,
        reasons=[request.POST.get("reason") or "changes_reported"],
        details=[note[:300]],
        actor=request.user,
        fingerprint_extra=timezone.now().isoformat(),
    )
    return redirect("sync-replans")


# --- Re-plans and follow-up tasks ---


@require_permission(Perm.MANAGE_ENROLLMENT)
def replan_list(request):
    proposals = selectors.replan_queue(membership=request.membership)
    page = Paginator(proposals, PAGE_SIZE).get_page(request.GET.get("page"))
    today = _today(request)
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
    try:
        if decision == "approve":
            anchor = request.POST.get("anchor_date") or None
            plan = services.replan_approve(
                proposal=proposal,
                actor=request.user,
                anchor_date=dt.date.fromisoformat(anchor) if anchor else None,
                cycle_days=_int_or_none(request.POST.get("cycle_days")),
                note=request.POST.get("note", ""),
            )
            messages.success(
                request,
                f"New plan for {proposal.patient.first_name}: anchor {plan.anchor_date:%a %b %-d}.",
            )
        else:
            services.replan_reject(
                proposal=proposal, actor=request.user, note=request.POST.get("note", "")
            )
            messages.success(request, "The plan stays as it is.")
    except ValueError:
        messages.error(request, "Give the anchor date as YYYY-MM-DD.")
    except SchedulingError as exc:
        messages.error(request, exc.message)
    return redirect("sync-replans")


@require_permission(Perm.MANAGE_ENROLLMENT)
def task_list(request):
    tasks = selectors.follow_up_tasks(membership=request.membership)
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "scheduling/task_list.html", {"page": page, "today": _today(request)})


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def task_resolve(request, task_id, status):
    task = selectors.follow_up_tasks(membership=request.membership).filter(public_id=task_id)
    task = task.first()
    if task is None or status not in (TaskStatus.DONE, TaskStatus.DISMISSED):
        raise Http404("No such task.")
    try:
        services.follow_up_resolve(
            task=task, actor=request.user, status=status, note=request.POST.get("note", "")
        )
    except SchedulingError as exc:
        messages.error(request, exc.message)
    if request.htmx:
        return HttpResponse("")
    return redirect("sync-tasks")


# --- Settings ---


@require_permission(Perm.MANAGE_PHARMACIES)
def sync_settings(request):
    pharmacies = list(pharmacies_visible_to(request.membership))
    rows = [(p, selectors.sync_settings_for(p)) for p in pharmacies]
    if request.method == "POST":
        pharmacy = next(
            (p for p in pharmacies if str(p.public_id) == request.POST.get("pharmacy")), None
        )
        if pharmacy is None:
            raise Http404("No such pharmacy.")
        try:
            services.sync_settings_update(
                pharmacy=pharmacy,
                actor=request.user,
                prep_days=_int_or_none(request.POST.get("prep_days")) or 0,
                prefill_days=_int_or_none(request.POST.get("prefill_days")) or 0,
                closed_weekdays=[
                    int(d) for d in request.POST.getlist("closed_weekdays") if d.isdigit()
                ],
                missed_after_days=_int_or_none(request.POST.get("missed_after_days")) or 0,
                rts_warning_days=_int_or_none(request.POST.get("rts_warning_days")) or 0,
                daily_anchor_capacity=_int_or_none(request.POST.get("daily_anchor_capacity")),
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
