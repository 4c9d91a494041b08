"""The fill queue (the technician's landing page): each fill moved along with htmx, the
pickup of a ready bag, returns to stock."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm
from scheduling import selectors, services
from scheduling.exceptions import NotFoundInTenant, SchedulingError
from scheduling.forms import (
    ItemActionForm,
    PickupForm,
)
from scheduling.models import (
    CycleStatus,
    FlagReason,
)
from scheduling.views.common import (
    back,
    bound,
    can,
    cycle_or_404,
    today_for,
    viewed,
)


@require_permission(Perm.VIEW_FILL_QUEUE)
def fill_queue(request):
    today = today_for(request)
    sections = selectors.fill_queue(membership=request.membership, today=today)
    items = [item for section in sections.values() for item in section]
    satellites = selectors.satellites_due(membership=request.membership, today=today)
    viewed(
        request,
        [item.cycle.patient for item in items] + [s.patient for s in satellites],
        "fill_queue",
    )
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
            "satellites": satellites,
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
    if not can(request, ACTION_PERMS[action]):
        return _refuse(request, "Only a pharmacist can do this.")
    try:
        item = selectors.item_by_public_id(item_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such fill.") from None
    form = bound(ItemActionForm, request)
    error = ""
    try:
        item = services.cycle_item_advance(
            item=item,
            actor=request.user,
            action=action,
            flag_reason=form.cleaned_data["flag_reason"],
            note=form.cleaned_data["note"],
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
    cycle = cycle_or_404(request, cycle_id)
    form = bound(PickupForm, request)
    items = None
    if form.cleaned_data["partial"]:
        chosen = form.cleaned_data["items"]
        items = selectors.cycle_items_by_public_ids(cycle, chosen)
        if not chosen:
            messages.error(request, "Tick the fills the patient is taking home.")
            return back(request, "fill-queue")
        if len(items) != len(set(chosen)):
            messages.error(request, "Only verified fills of this cycle can be handed over.")
            return back(request, "fill-queue")
    try:
        cycle = services.cycle_pickup_record(
            cycle=cycle,
            actor=request.user,
            items=items,
            channel=form.cleaned_data["channel"],
        )
        left = "" if cycle.status == CycleStatus.PICKED_UP else " The rest stays on the shelf."
        messages.success(request, f"Handed over to {cycle.patient.first_name}.{left}")
    except SchedulingError as exc:
        messages.error(request, exc.message)
    return back(request, "fill-queue")


@require_POST
@require_permission(Perm.PROCESS_FILLS)
def cycle_return_to_stock(request, cycle_id):
    cycle = cycle_or_404(request, cycle_id)
    try:
        count = services.cycle_items_return_to_stock(cycle=cycle, actor=request.user)
        messages.success(request, f"{count} fill(s) reversed and returned to stock.")
    except SchedulingError as exc:
        messages.error(request, exc.message)
    return back(request, "sync-tasks")
