"""The workload and inventory forecast pages (next 30 days of the sync calendar), the
on-hand counts they start from, and the pharmacy's report settings."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.roles import Perm
from reports import operations, services
from reports.exceptions import ReportError
from reports.forms import WEEKDAY_CHOICES, OnHandForm, OnHandImportForm, ReportSettingsForm
from reports.scope import report_settings_of
from reports.views.common import PAGE_SIZE, csv_response, scope_or_404

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@require_permission(Perm.VIEW_REPORTS)
def workload(request):
    scope = scope_or_404(request)
    loads = operations.workload(scope)
    if request.GET.get("format") == "csv":
        return csv_response(
            f"workload-{scope.today}.csv",
            [
                "date",
                "fills",
                "verifications",
                "prep_calls",
                "pickups",
                "technician_hours",
                "pharmacist_hours",
            ],
            (
                [
                    d.day.isoformat(),
                    d.fills,
                    d.verifications,
                    d.prep_calls,
                    d.pickups,
                    d.tech_hours,
                    d.pharmacist_hours,
                ]
                for d in loads
            ),
        )
    chart = {
        "labels": [d.day.strftime("%a %b %-d") for d in loads],
        "datasets": [
            {"label": "Technician hours", "data": [float(d.tech_hours) for d in loads]},
            {"label": "Pharmacist hours", "data": [float(d.pharmacist_hours) for d in loads]},
        ],
    }
    return render(
        request,
        "reports/workload.html",
        {
            "scope": scope,
            "loads": loads,
            "chart": chart,
            "minutes": [(p, operations.minutes_of(p)) for p in scope.in_view],
            "totals": {
                "tech": sum(d.tech_hours for d in loads),
                "pharmacist": sum(d.pharmacist_hours for d in loads),
            },
        },
    )


FORECAST_SORTS = {"name": "Drug", "due": "Most due", "short": "Runs short first"}


@require_permission(Perm.VIEW_REPORTS)
def forecast(request):
    scope = scope_or_404(request)
    rows = operations.inventory_forecast(scope)
    export = request.GET.get("format", "")
    if export == "csv":
        return csv_response(
            f"inventory-forecast-{scope.today}.csv",
            ["ndc", "drug", "date", "planned", "filled", "due", "arriving", "stock_after"],
            (
                [
                    f.ndc,
                    f.name,
                    d.day.isoformat(),
                    d.planned,
                    d.filled,
                    d.due,
                    d.arriving,
                    d.stock_after,
                ]
                for f in rows
                for d in f.days
            ),
        )
    if export == "orders":
        return csv_response(
            f"order-suggestion-{scope.today}.csv",
            [
                "order_date",
                "delivery_date",
                "ndc",
                "drug",
                "packages",
                "package_size",
                "quantity",
                "covers_through",
            ],
            (
                [
                    o.order_day.isoformat(),
                    o.arrives.isoformat(),
                    f.ndc,
                    f.name,
                    o.packages,
                    f.package_size,
                    o.quantity,
                    o.covers_to.isoformat(),
                ]
                for f in rows
                for o in f.orders
            ),
        )
    sort = request.GET.get("sort", "name")
    if sort == "due":
        rows = sorted(rows, key=lambda f: -f.total_due)
    elif sort == "short":
        rows = sorted(rows, key=lambda f: (f.short_on is None, f.short_on or scope.today))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    days = [d.day for d in rows[0].days] if rows else []
    return render(
        request,
        "reports/forecast.html",
        {
            "scope": scope,
            "page": page,
            "days": days,
            "sort": sort,
            "sorts": FORECAST_SORTS,
            "order_days": [WEEKDAY_CHOICES[d][1] for d in operations.order_weekdays(scope)],
        },
    )


def _one_pharmacy(request):
    scope = scope_or_404(request)
    if scope.pharmacy is None:
        if len(scope.pharmacies) != 1:
            raise Http404("Choose a pharmacy.")
        scope.pharmacy = scope.pharmacies[0]
    return scope


@require_POST
@require_permission(Perm.VIEW_REPORTS)
def on_hand(request):
    scope = _one_pharmacy(request)
    back = reverse("reports-forecast") + f"?pharmacy={scope.pharmacy.public_id}"
    if request.FILES:
        form = OnHandImportForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, "Choose a CSV file with the columns ndc and quantity.")
            return redirect(back)
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            messages.error(request, "The file is larger than 2 MB.")
            return redirect(back)
        try:
            text = upload.read().decode("utf-8-sig")
            count = services.on_hand_import(pharmacy=scope.pharmacy, actor=request.user, text=text)
        except UnicodeDecodeError:
            messages.error(request, "The file is not UTF-8 text.")
        except ReportError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{count} on-hand count{'s' if count != 1 else ''} saved.")
        return redirect(back)
    form = OnHandForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter an NDC of 11 digits and a quantity from 0 up.")
        return redirect(back)
    try:
        services.on_hand_set(
            pharmacy=scope.pharmacy,
            actor=request.user,
            ndc=form.cleaned_data["ndc"],
            quantity=form.cleaned_data["quantity"],
        )
    except ReportError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "On-hand count saved.")
    return redirect(back)


@require_permission(Perm.MANAGE_PHARMACIES)
def report_settings(request):
    scope = _one_pharmacy(request)
    row = report_settings_of(scope.pharmacy)
    errors: dict = {}
    if request.method == "POST":
        form = ReportSettingsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.report_settings_update(
                    pharmacy=scope.pharmacy,
                    actor=request.user,
                    minutes={n: data[n] for n in services.MINUTE_FIELDS},
                    order_weekdays=data["order_weekdays"],
                    inactive_months=data["inactive_months"],
                )
            except ReportError as exc:
                errors = exc.fields
            else:
                messages.success(request, "Report settings saved.")
                return redirect(
                    reverse("reports-settings") + f"?pharmacy={scope.pharmacy.public_id}"
                )
        else:
            errors = form.errors
    return render(
        request,
        "reports/settings.html",
        {
            "scope": scope,
            "row": row,
            "errors": errors,
            "weekdays": WEEKDAY_CHOICES,
            "minute_fields": [
                (n, getattr(row, n), ReportSettingsLabels.get(n, n)) for n in services.MINUTE_FIELDS
            ],
        },
        status=400 if errors else 200,
    )


ReportSettingsLabels = {
    "tech_minutes_per_fill": "Technician minutes per fill (pull, count, label, bill)",
    "pharmacist_minutes_per_verification": "Pharmacist minutes per verification",
    "tech_minutes_per_prep_call": "Technician minutes per prep call",
    "tech_minutes_per_pickup": "Technician minutes per pickup",
    "pharmacist_minutes_per_pickup": "Pharmacist minutes per pickup appointment",
}
