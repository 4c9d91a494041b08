"""Report pages: the enrollment finder (eligibility) with CSV export."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from medsync.csv_export import csv_writer
from medsync.decorators import require_permission
from medsync.roles import Perm
from medsync.services import audit_record
from patients.models import TherapeuticClass
from reports import selectors
from reports.pdc import STAR_CLASSES

PAGE_SIZE = 25
SORTS = {
    "priority": "Best candidates first",
    "pdc": "Lowest Star PDC",
    "trips": "Most pharmacy trips",
    "medications": "Most chronic medications",
    "age": "Oldest",
    "name": "Name",
}


def _filtered(request):
    today = timezone.localdate()
    candidates = selectors.eligibility_candidates(today=today, membership=request.membership)
    show = request.GET.get("show", "qualifying")
    klass = request.GET.get("class", "")
    if show == "qualifying":
        candidates = [c for c in candidates if c.qualifies]
    elif show == "below80":
        candidates = [c for c in candidates if c.qualifies and c.below_80_classes]
    if klass in STAR_CLASSES:
        candidates = [c for c in candidates if klass in c.star_pdc]
    sort = request.GET.get("sort", "priority")
    return today, selectors.rank_candidates(candidates, sort=sort), show, klass, sort


@require_permission(Perm.VIEW_REPORTS)
def eligibility(request):
    today, candidates, show, klass, sort = _filtered(request)
    page = Paginator(candidates, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        action="reports.eligibility.viewed",
        actor=request.user,
        metadata={"patients": len(candidates), "show": show},
    )
    star_labels = {c: TherapeuticClass(c).label for c in sorted(STAR_CLASSES)}
    return render(
        request,
        "reports/eligibility.html",
        {
            "page": page,
            "today": today,
            "show": show,
            "klass": klass,
            "sort": sort,
            "sorts": SORTS,
            "star_labels": star_labels,
            "window_days": selectors.ADHERENCE_WINDOW_DAYS,
            "pickup_window_days": selectors.PICKUP_WINDOW_DAYS,
        },
    )


@require_permission(Perm.VIEW_REPORTS)
def eligibility_csv(request):
    today, candidates, show, *_ = _filtered(request)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="sync-candidates-{today}.csv"'
    writer = csv_writer(response)  # cells that would run as formulas are quoted
    classes = sorted(STAR_CLASSES)
    writer.writerow(
        [
            "last_name",
            "first_name",
            "date_of_birth",
            "age",
            "mrn",
            "phone",
            "chronic_rx_with_refills",
            "pickup_days_90d",
            *[f"pdc_{c}" for c in classes],
            "below_80_classes",
        ]
    )
    for c in candidates:
        writer.writerow(
            [
                c.patient.last_name,
                c.patient.first_name,
                c.patient.date_of_birth.isoformat(),
                c.age,
                c.patient.mrn,
                c.patient.phone,
                c.qualifying_rx,
                c.pickup_days,
                *[_pdc_cell(c.star_pdc.get(k)) for k in classes],
                " ".join(c.below_80_classes),
            ]
        )
    audit_record(
        action="reports.eligibility.exported",
        actor=request.user,
        metadata={"patients": len(candidates), "show": show},
    )
    return response


def _pdc_cell(result) -> str:
    if result is None or result.pdc is None:
        return ""
    return (
        f"{result.pdc_percent}" if result.measurable else f"{result.pdc_percent} (not measurable)"
    )
