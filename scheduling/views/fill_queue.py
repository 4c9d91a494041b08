"""The fill queue (the technician's landing page): each fill moved along with htmx, the
pickup of a ready bag, returns to stock."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm
from scheduling import selectors, services
from scheduling.exceptions import NotFoundInTenant, SchedulingError
from scheduling.forms import (
    ItemActionForm,
    PickupForm,
    QueueFilterForm,
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
    viewed_many,
)
from scheduling.views.queue_rows import render_queue_row


@require_permission(Perm.VIEW_FILL_QUEUE)
def fill_queue(request):
    """One row per patient and cycle with its fills, in anchor order, filtered and paginated;
    htmx asks for the queue's body alone when a colleague changed something."""
    form = QueueFilterForm(request.GET)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return HttpResponseBadRequest(f"{field}: {errors[0]}", content_type="text/plain")
    today = today_for(request)
    filters = selectors.QueueFilters(
        section=form.cleaned_data["section"] or "",
        anchor=form.cleaned_data["anchor"],
        attention=bool(form.cleaned_data["attention"]),
    )
    queue = selectors.fill_queue_page(
        membership=request.membership,
        today=today,
        filters=filters,
        page=form.cleaned_data["page"] or 1,
    )
    first_page = queue.groups.number == 1 and not any(
        (filters.section, filters.anchor, filters.attention)
    )
    satellites = (
        selectors.satellites_due(membership=request.membership, today=today) if first_page else []
    )
    viewed_many(
        request,
        [group.patient for group in queue.groups.object_list] + [s.patient for s in satellites],
        "fill_queue",
    )
    row = _row_renderer(request)
    for group in queue.groups.object_list:
        group.rows_html = mark_safe("".join(row(item) for item in group.items))  # noqa: S308
    context = {
        "queue": queue,
        "groups": queue.groups.object_list,
        "satellites": satellites,
        "today": today,
        "flag_reasons": FlagReason.choices,
        "section_labels": selectors.SECTION_LABELS,
        "version": queue.version,
        "filter_query": _filter_query(request),
    }
    if request.htmx and request.htmx.target == "queue-body":
        return render(request, "scheduling/_fill_queue_body.html", context)
    return render(request, "scheduling/fill_queue.html", context)


def _row_renderer(request):
    """render_queue_row for this member (their permissions, the action URLs' prefix)."""
    base = item_url_base()
    process, verify = can(request, Perm.PROCESS_FILLS), can(request, Perm.VERIFY_FILLS)

    def row(item, error: str = ""):
        return render_queue_row(
            item, base=base, can_process=process, can_verify=verify, error=error
        )

    return row


def item_url_base() -> str:
    """The prefix of a fill's action URLs (the rows add "<id>/<action>/": no url tag per row)."""
    return reverse("fill-queue") + "items/"


def _filter_query(request) -> str:
    """The filters of this page as a query string (for the pagination links)."""
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("poll", None)
    return query.urlencode()


@require_permission(Perm.VIEW_FILL_QUEUE)
def fill_queue_version(request):
    """The poll of the open queue: 204 while nothing changed, else the new token and an
    htmx event that makes the page fetch its body again."""
    version = selectors.fill_queue_version(membership=request.membership, today=today_for(request))
    if request.GET.get("v") == version:
        return HttpResponse(status=204)
    response = HttpResponse(version, content_type="text/plain")
    response["HX-Trigger"] = "queue-changed"
    return response


ACTION_PERMS = {
    "bill": Perm.PROCESS_FILLS,  # "Start": submits the claim
    **{fix: Perm.PROCESS_FILLS for fix in services.CLAIM_FIXES},
    "next_anchor": Perm.PROCESS_FILLS,
    "fill": Perm.PROCESS_FILLS,
    "flag": Perm.PROCESS_FILLS,
    "unflag": Perm.PROCESS_FILLS,
    "verify": Perm.VERIFY_FILLS,
    "skip": Perm.VERIFY_FILLS,
}


def _act(request, item, action: str, form: ItemActionForm) -> None:
    """Run one action through its service (starting and reject fixes go through billing)."""
    version = form.cleaned_data["version"]
    if action == "bill" or action in services.CLAIM_FIXES:
        services.cycle_item_bill(
            item=item,
            actor=request.user,
            fix="" if action == "bill" else action,
            pa_number=form.cleaned_data["pa_number"],
            expected_version=version,
        )
    elif action == "next_anchor":
        services.cycle_item_move_to_next_anchor(
            item=item, actor=request.user, expected_version=version
        )
    else:
        services.cycle_item_advance(
            item=item,
            actor=request.user,
            action=action,
            flag_reason=form.cleaned_data["flag_reason"],
            note=form.cleaned_data["note"],
            expected_version=version,
            ndc=form.cleaned_data["ndc"] if action == "fill" else None,
        )


@require_POST
@require_permission(Perm.PROCESS_FILLS)
def item_action(request, item_id, action):
    """One action on one fill. The page posts the version it showed (a fill someone else
    changed meanwhile is refused, 409) and, at the fill, the NDC scanned (a wrong product is
    refused, 400); the row comes back as it is now, with its claim and the message."""
    if action not in ACTION_PERMS:
        raise Http404("No such action.")
    if not can(request, ACTION_PERMS[action]):
        return _refuse(request, "Only a pharmacist can do this.", status=403)
    try:
        item = selectors.item_by_public_id(item_id, membership=request.membership)
    except NotFoundInTenant:
        raise Http404("No such fill.") from None
    form = bound(ItemActionForm, request)
    error, status = "", 200
    try:
        _act(request, item, action, form)
    except SchedulingError as exc:
        error, status = exc.message, exc.http_status
    item = selectors.queue_item(item_id, membership=request.membership)
    if request.htmx:
        return HttpResponse(_row_renderer(request)(item, error), status=status)
    if error:
        messages.error(request, error)
    return redirect("fill-queue")


def _refuse(request, message: str, *, status: int):
    if request.htmx:
        return HttpResponse(f'<p class="warning" role="alert">{message}</p>', status=status)
    return HttpResponseForbidden(message, content_type="text/plain")


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
