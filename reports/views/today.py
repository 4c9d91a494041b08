"""The pharmacist's dashboard (the landing page of owners and pharmacists): today's and
this week's numbers, each a link to the rows behind it, and the month calendar of anchors."""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from medsync.decorators import require_permission
from medsync.roles import Perm
from reports import dashboard_today
from reports.scope import ScopeError, month_of, report_scope
from reports.views.common import PAGE_SIZE, csv_response, patients_viewed, scope_or_404


def _shift(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def today_context(request, scope) -> dict:
    """What the today section shows (the /today/ page and the dashboard's section)."""
    month = month_of(request.GET.get("month", ""), scope.today)
    counts = dashboard_today.today_counts(scope)
    sections: dict[str, list] = {}
    suffix = f"?pharmacy={scope.pharmacy_param}" if scope.pharmacy else ""
    for metric in dashboard_today.METRICS:
        sections.setdefault(metric.section, []).append(
            {
                "metric": metric,
                "value": counts[metric.key],
                "url": reverse("reports-today-list", args=[metric.key]) + suffix,
            }
        )
    return {
        "scope": scope,
        "sections": sections,
        "weeks": dashboard_today.month_calendar(scope, month),
        "month": month,
        "previous_month": _shift(month, -1).strftime("%Y-%m"),
        "next_month": _shift(month, 1).strftime("%Y-%m"),
        "weekdays": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    }


def today_section(request):
    """The dashboard's top section (registered in ReportsConfig.ready): an unknown pharmacy
    in the query string shows every visible pharmacy rather than failing the landing page."""
    try:
        scope = report_scope(request.membership, request.GET.get("pharmacy", ""))
    except ScopeError:
        scope = report_scope(request.membership)
    return {"template": "reports/_today_section.html", "context": today_context(request, scope)}


@require_permission(Perm.VIEW_DASHBOARD)
def today(request):
    scope = scope_or_404(request)  # counts only: no patient shown, nothing to audit
    return render(request, "reports/today.html", {"section_context": today_context(request, scope)})


@require_permission(Perm.VIEW_DASHBOARD)
def today_list(request, key):
    metric = dashboard_today.METRIC_BY_KEY.get(key)
    if metric is None:
        raise Http404("No such list.")
    scope = scope_or_404(request)
    rows = dashboard_today.metric_rows(scope, key)
    if request.GET.get("format") == "csv":
        patients_viewed(request, [r["patient"] for r in rows], f"reports.today.{key}.csv")
        return csv_response(
            f"{key}-{scope.today}.csv",
            ["date", "last_name", "first_name", "mrn", "pharmacy", "what"],
            (
                [
                    r["date"].isoformat() if r["date"] else "",
                    r["patient"].last_name if r["patient"] else "",
                    r["patient"].first_name if r["patient"] else "",
                    r["patient"].mrn if r["patient"] else "",
                    r["pharmacy"].name if r["pharmacy"] else "",
                    r["what"],
                ]
                for r in rows
            ),
        )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    patients_viewed(request, [r["patient"] for r in page.object_list], f"reports.today.{key}")
    return render(
        request,
        "reports/today_list.html",
        {"scope": scope, "metric": metric, "page": page, "total": len(rows)},
    )
