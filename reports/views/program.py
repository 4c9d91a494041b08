"""Program & money pages (funnel, disenrollment, risk, on-time pickups; returns to stock,
short-fill cost, Rx and revenue per synced patient), opportunities (90-day conversion,
inactive enrollments with one-click disenrollment) and the owner's PDF month summary."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.redirects import safe_next
from medsync.roles import Perm
from reports import opportunities, pdf
from reports.forms import DisenrollForm
from reports.program import money_report, program_report, services_delivered
from reports.scope import ScopeError, date_range
from reports.views.common import PAGE_SIZE, csv_response, patients_viewed, scope_or_404
from scheduling import services as scheduling_services
from scheduling.exceptions import SchedulingError
from scheduling.models import DisenrollReason

RISK_SORTS = {"score": "Most signals", "missed": "Most missed pickups", "name": "Name"}


def _scope_and_range(request):
    scope = scope_or_404(request)
    try:
        start, end = date_range(request.GET, today=scope.today)
    except ScopeError as exc:
        messages.error(request, f"{exc.field}: {exc.message} Showing the last 90 days.")
        start, end = date_range({}, today=scope.today)
    return scope, start, end


@require_permission(Perm.VIEW_REPORTS)
def program(request):
    scope, start, end = _scope_and_range(request)
    report = program_report(scope, start, end)
    risk = report.risk
    sort = request.GET.get("sort", "score")
    if sort == "missed":
        risk = sorted(risk, key=lambda r: (-r.missed, -r.score))
    elif sort == "name":
        risk = sorted(risk, key=lambda r: (r.enrollment.patient.last_name.lower(),))
    if request.GET.get("format") == "csv":
        patients_viewed(request, [r.enrollment.patient for r in risk], "reports.program.csv")
        return csv_response(
            f"program-{start}-{end}.csv",
            ["section", "item", "value", "of", "falling_pdc_classes"],
            [["funnel", f["label"], f["value"], f.get("of", "")] for f in report.funnel]
            + [["disenrolled", r["label"], r["value"], ""] for r in report.reasons]
            + [["on_time_pickup", "cycles", report.on_time["on_time"], report.on_time["cycles"]]]
            + [
                [
                    "risk",
                    f"{r.enrollment.patient.last_name}, {r.enrollment.patient.first_name} "
                    f"({r.enrollment.patient.mrn})",
                    r.missed,
                    r.unreachable,
                    " ".join(r.falling_pdc),
                ]
                for r in risk
            ],
        )
    page = Paginator(risk, PAGE_SIZE).get_page(request.GET.get("page"))
    patients_viewed(request, [r.enrollment.patient for r in page.object_list], "reports.program")
    return render(
        request,
        "reports/program.html",
        {
            "scope": scope,
            "start": start,
            "end": end,
            "report": report,
            "page": page,
            "sort": sort,
            "sorts": RISK_SORTS,
            "funnel_chart": {
                "labels": [f["label"] for f in report.funnel],
                "datasets": [{"label": "Patients", "data": [f["value"] for f in report.funnel]}],
            },
            "reasons_chart": {
                "labels": [r["label"] for r in report.reasons],
                "datasets": [{"label": "Left", "data": [r["value"] for r in report.reasons]}],
            },
        },
    )


@require_permission(Perm.VIEW_REPORTS)
def money(request):
    scope, start, end = _scope_and_range(request)
    report = money_report(scope, start, end)
    if request.GET.get("format") == "csv":
        return csv_response(
            f"money-{start}-{end}.csv",
            [
                "month",
                "synced_patients",
                "prescriptions",
                "revenue",
                "prescriptions_per_patient",
                "revenue_per_patient",
            ],
            (
                [
                    m["month"],
                    m["synced_patients"],
                    m["prescriptions"],
                    m["revenue"],
                    m["prescriptions_per_patient"] or "",
                    m["revenue_per_patient"] or "",
                ]
                for m in report.months
            ),
        )
    return render(
        request,
        "reports/money.html",
        {
            "scope": scope,
            "start": start,
            "end": end,
            "report": report,
            "chart": {
                "labels": [m["month"] for m in report.months],
                "datasets": [
                    {
                        "label": "Prescriptions per synced patient",
                        "data": [float(m["prescriptions_per_patient"] or 0) for m in report.months],
                    },
                ],
            },
            "revenue_chart": {
                "labels": [m["month"] for m in report.months],
                "datasets": [
                    {
                        "label": "Revenue per synced patient ($)",
                        "data": [float(m["revenue_per_patient"] or 0) for m in report.months],
                    },
                ],
            },
        },
    )


@require_permission(Perm.VIEW_REPORTS)
def opportunities_page(request):
    scope = scope_or_404(request)
    conversions = opportunities.ninety_day_candidates(scope)
    inactive = opportunities.inactive_enrollments(scope)
    if request.GET.get("format") == "csv":
        patients_viewed(request, [p.patient for p in conversions], "reports.opportunities.csv")
        return csv_response(
            f"ninety-day-conversions-{scope.today}.csv",
            [
                "last_name",
                "first_name",
                "mrn",
                "rx_number",
                "drug",
                "pay_30",
                "pay_90",
                "yearly_saving",
                "trips_saved_per_year",
            ],
            (
                [
                    p.patient.last_name,
                    p.patient.first_name,
                    p.patient.mrn,
                    c.prescription.rx_number,
                    str(c.prescription.drug),
                    c.pay_30,
                    c.pay_90,
                    c.yearly_saving,
                    p.trips_saved,
                ]
                for p in conversions
                for c in p.conversions
            ),
        )
    conversion_page = Paginator(conversions, PAGE_SIZE).get_page(request.GET.get("page"))
    inactive_page = Paginator(inactive, PAGE_SIZE).get_page(request.GET.get("inactive_page"))
    patients_viewed(
        request,
        [p.patient for p in conversion_page.object_list]
        + [i.enrollment.patient for i in inactive_page.object_list],
        "reports.opportunities",
    )
    return render(
        request,
        "reports/opportunities.html",
        {
            "scope": scope,
            "conversion_page": conversion_page,
            "inactive_page": inactive_page,
            "inactive_total": len(inactive),
        },
    )


@require_POST
@require_permission(Perm.MANAGE_ENROLLMENT)
def inactive_disenroll(request, enrollment_id):
    """One click: close an inactive enrollment through scheduling's disenroll service."""
    scope = scope_or_404(request)
    row = next(
        (
            i
            for i in opportunities.inactive_enrollments(scope)
            if str(i.enrollment.public_id) == str(enrollment_id)
        ),
        None,
    )
    if row is None:
        raise Http404("No such inactive enrollment.")
    form = DisenrollForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        scheduling_services.enrollment_disenroll(
            enrollment=row.enrollment,
            actor=request.user,
            reason=DisenrollReason.UNREACHABLE,
            note=note or f"No pickup for {row.months} months (inactive enrollments report).",
        )
    except SchedulingError as exc:
        messages.error(request, exc.message)
    else:
        patient = row.enrollment.patient
        messages.success(request, f"{patient.first_name} {patient.last_name} left the program.")
    return redirect(
        safe_next(request, request.POST.get("next"), fallback="/reports/opportunities/")
    )


@require_permission(Perm.VIEW_REPORTS)
def month_pdf(request):
    scope = scope_or_404(request)
    month = request.GET.get("month", "")
    try:
        first = pdf.month_start(month, scope.today)
    except ValueError:
        raise Http404("A month as YYYY-MM.") from None
    body = pdf.month_summary(scope, first)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="sync-summary-{first:%Y-%m}.pdf"'
    return response


@require_permission(Perm.VIEW_REPORTS)
def program_services(request):
    """The clinical services delivered in the range, loaded by the program page with htmx
    (its own request keeps the program page within its query budget)."""
    scope, start, end = _scope_and_range(request)
    return render(
        request,
        "reports/_services_delivered.html",
        {"services": services_delivered(scope, start, end), "start": start, "end": end},
    )
