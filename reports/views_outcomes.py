"""Outcome report pages: adherence (PDC before vs since enrollment, vs not enrolled) and the
four PQA med sync measures, each with a drill-down to its patients and a CSV export."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from medsync.csv_export import csv_writer
from medsync.decorators import require_permission
from medsync.roles import Perm
from medsync.services import AuditEntry, audit_record, audit_record_many
from patients.models import TherapeuticClass
from reports.adherence import (
    PATIENT_SORTS,
    adherence_figures,
    adherence_trend,
    outcome_patients,
    outcome_rows,
)
from reports.models import OutcomePeriod, OutcomeRefresh
from reports.outcome_forms import AdherenceFilterForm, PqaFilterForm
from reports.pqa import EXCLUSION_LABELS, MEASURE_LABELS
from reports.pqa_inputs import patients_by_id, pqa_for
from reports.services import outcomes_refresh_request

PAGE_SIZE = 25
SHOWS = {
    "measured": "Measured",
    "adherent": "Adherent (PDC >= 80%)",
    "below": "Below 80%",
    "excluded": "Excluded or not measurable",
}
PQA_GROUPS = {
    "numerator": "In the numerator",
    "missed": "In the denominator, not the numerator",
    "excluded": "Excluded",
}


def class_label(value: str) -> str:
    return TherapeuticClass(value).label if value in TherapeuticClass.values else value


def _adherence_filters(request):
    form = AdherenceFilterForm(request.GET or None, membership=request.membership)
    if request.GET and not form.is_valid():
        return form, None
    data = form.cleaned_data if form.is_bound else {}
    rows = outcome_rows(
        request.membership,
        pharmacy=data.get("pharmacy"),
        enrolled_from=data.get("enrolled_from"),
        enrolled_to=data.get("enrolled_to"),
    )
    return form, rows


def _chart(figures) -> dict:
    return {
        "labels": [class_label(f.therapeutic_class) for f in figures],
        "series": [
            {
                "label": "12 months before enrollment",
                "data": [_num(f.before.adherent_pct) for f in figures],
            },
            {"label": "Since enrollment", "data": [_num(f.since.adherent_pct) for f in figures]},
            {
                "label": "Not enrolled, matched",
                "data": [_num(f.matched_adherent_pct) for f in figures],
            },
        ],
    }


def _num(value):
    return None if value is None else float(value)


def trend_chart(trend) -> dict:
    return {
        "type": "line",
        "labels": [row["month"].strftime("%Y-%m") for row in trend],
        "series": [
            {"label": label, "data": [_num(row[period]) for row in trend]}
            for period, label in OutcomePeriod.choices
        ],
    }


# The per-class table's orders (?sort=): the classes' own order (Star classes first), or a
# figure, with classes that have no figure last.
CLASS_SORTS = {
    "class": None,
    "since": lambda f: f.since.adherent_pct,
    "-since": lambda f: f.since.adherent_pct,
    "change": lambda f: f.change_points,
    "-change": lambda f: f.change_points,
}


def _sorted_figures(figures: list, sort: str) -> list:
    key = CLASS_SORTS.get(sort)
    if key is None:
        return figures
    known = [f for f in figures if key(f) is not None]
    unknown = [f for f in figures if key(f) is None]
    return sorted(known, key=key, reverse=sort.startswith("-")) + unknown


@require_permission(Perm.VIEW_REPORTS)
def adherence(request):
    form, rows = _adherence_filters(request)
    sort = request.GET.get("sort") or "class"
    if sort not in CLASS_SORTS:
        return HttpResponseBadRequest(f"sort: one of {', '.join(CLASS_SORTS)}.")
    figures = _sorted_figures(adherence_figures(rows), sort) if rows is not None else []
    trend_class = request.GET.get("trend", "statin")
    trend_class = trend_class if trend_class in TherapeuticClass.values else "statin"
    pharmacy = form.cleaned_data.get("pharmacy") if rows is not None and form.is_bound else None
    trend = adherence_trend(request.membership, therapeutic_class=trend_class, pharmacy=pharmacy)
    audit_record(
        action="reports.adherence.viewed",
        actor=request.user,
        metadata={"classes": len(figures), "filters": request.GET.urlencode()[:200]},
    )
    return render(
        request,
        "reports/adherence.html",
        {
            "form": form,
            "figures": [(f, class_label(f.therapeutic_class)) for f in figures],
            "chart": _chart(figures),
            "trend": trend,
            "trend_chart": trend_chart(trend),
            "trend_class": trend_class,
            "trend_label": class_label(trend_class),
            "refresh": OutcomeRefresh.objects.first(),
            "query": request.GET.urlencode(),
            "sort": sort,
        },
        status=400 if rows is None else 200,
    )


@require_permission(Perm.VIEW_REPORTS)
def adherence_patients(request):
    klass = request.GET.get("class", "")
    period = request.GET.get("period", "")
    if klass not in TherapeuticClass.values or period not in OutcomePeriod.values:
        return HttpResponseBadRequest("class and period must name a class and a period.")
    form, rows = _adherence_filters(request)
    if rows is None:
        return HttpResponseBadRequest("Check the filters: " + "; ".join(form.errors))
    show = request.GET.get("show", "measured")
    show = show if show in SHOWS else "measured"
    sort = request.GET.get("sort", "pdc")
    sort = sort if sort in PATIENT_SORTS else "pdc"
    listed = outcome_patients(rows, therapeutic_class=klass, period=period, show=show, sort=sort)
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    if page.object_list:
        audit_record_many(
            [
                AuditEntry("reports.adherence.patient_listed", target=row.patient)
                for row in page.object_list
            ],
            actor=request.user,
        )
    return render(
        request,
        "reports/adherence_patients.html",
        {
            "page": page,
            "klass": klass,
            "class_label": class_label(klass),
            "period": period,
            "period_label": OutcomePeriod(period).label,
            "show": show,
            "shows": SHOWS,
            "sort": sort,
        },
    )


@require_permission(Perm.VIEW_REPORTS)
def adherence_csv(request):
    form, rows = _adherence_filters(request)
    if rows is None:
        return HttpResponseBadRequest("Check the filters: " + "; ".join(form.errors))
    figures = adherence_figures(rows)
    response = HttpResponse(content_type="text/csv")
    today = timezone.localdate()
    response["Content-Disposition"] = f'attachment; filename="adherence-{today}.csv"'
    writer = csv_writer(response)
    writer.writerow(
        [
            "class",
            "star",
            "before_measured",
            "before_adherent_pct",
            "before_mean_pdc",
            "since_measured",
            "since_adherent_pct",
            "since_mean_pdc",
            "not_enrolled_measured",
            "not_enrolled_adherent_pct",
            "matched_not_enrolled_adherent_pct",
            "paired_patients",
            "paired_mean_pdc_change_points",
            "excluded_since",
        ]
    )
    for f in figures:
        writer.writerow(
            [
                f.therapeutic_class,
                "yes" if f.star else "no",
                f.before.measured,
                f.before.adherent_pct,
                f.before.mean_pdc,
                f.since.measured,
                f.since.adherent_pct,
                f.since.mean_pdc,
                f.not_enrolled.measured,
                f.not_enrolled.adherent_pct,
                f.matched_adherent_pct,
                f.paired,
                f.paired_mean_change,
                f.since.excluded,
            ]
        )
    audit_record(action="reports.adherence.exported", actor=request.user)
    return response


@require_POST
@require_permission(Perm.VIEW_REPORTS)
def adherence_refresh(request):
    refresh, _queued = outcomes_refresh_request(actor=request.user)
    return render(request, "reports/_refresh_progress.html", {"refresh": refresh})


@require_permission(Perm.VIEW_REPORTS)
def adherence_refresh_progress(request):
    return render(
        request, "reports/_refresh_progress.html", {"refresh": OutcomeRefresh.objects.first()}
    )


# --------------------------------------------------------------------------- PQA


def _pqa(request):
    form = PqaFilterForm(request.GET, membership=request.membership, today=timezone.localdate())
    if not form.is_valid():
        return form, None, None
    data = form.cleaned_data
    report, patients = pqa_for(
        request.membership, start=data["start"], end=data["end"], pharmacy=data.get("pharmacy")
    )
    return form, report, patients


@require_permission(Perm.VIEW_REPORTS)
def pqa(request):
    form, report, _patients = _pqa(request)
    measures = list(report.measures) if report is not None else []
    audit_record(
        action="reports.pqa.viewed",
        actor=request.user,
        metadata={"filters": request.GET.urlencode()[:200]},
    )
    return render(
        request,
        "reports/pqa.html",
        {
            "form": form,
            "measures": measures,
            "exclusion_labels": EXCLUSION_LABELS,
            "chart": {
                "labels": [m.label for m in measures],
                "rates": [_num(m.rate_percent) for m in measures],
            },
            "query": request.GET.urlencode(),
        },
        status=400 if report is None else 200,
    )


def _group(measure, group: str) -> list[tuple[int, str]]:
    """(enrollment key, reason) of one group of a measure's patients."""
    numerator = set(measure.numerator)
    if group == "numerator":
        return [(k, "") for k in measure.numerator]
    if group == "missed":
        return [(k, "") for k in measure.denominator if k not in numerator]
    return [(k, EXCLUSION_LABELS.get(r, r)) for k, r in measure.excluded]


@require_permission(Perm.VIEW_REPORTS)
def pqa_patients(request, measure: str):
    if measure not in MEASURE_LABELS:
        raise Http404
    group = request.GET.get("group", "numerator")
    if group not in PQA_GROUPS:
        return HttpResponseBadRequest("group must be numerator, missed or excluded.")
    form, report, patients = _pqa(request)
    if report is None:
        return HttpResponseBadRequest("Check the filters: " + "; ".join(form.errors))
    result = report.by_name()[measure]
    keys = _group(result, group)
    page = Paginator(keys, PAGE_SIZE).get_page(request.GET.get("page"))
    people = patients_by_id(patients[k] for k, _ in page.object_list)
    rows = [(people[patients[k]], reason) for k, reason in page.object_list]
    rows.sort(key=lambda r: (r[0].last_name.lower(), r[0].first_name.lower()))
    if rows:
        audit_record_many(
            [AuditEntry("reports.pqa.patient_listed", target=p) for p, _ in rows],
            actor=request.user,
        )
    return render(
        request,
        "reports/pqa_patients.html",
        {
            "result": result,
            "measure": measure,
            "group": group,
            "groups": PQA_GROUPS,
            "page": page,
            "rows": rows,
        },
    )


@require_permission(Perm.VIEW_REPORTS)
def pqa_csv(request):
    form, report, _patients = _pqa(request)
    if report is None:
        return HttpResponseBadRequest("Check the filters: " + "; ".join(form.errors))
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="pqa-{form.cleaned_data["start"]}-{form.cleaned_data["end"]}.csv"'
    )
    writer = csv_writer(response)
    writer.writerow(
        [
            "measure",
            "period_start",
            "period_end",
            "numerator",
            "denominator",
            "excluded",
            "rate_pct",
            "pending",
        ]
    )
    for m in report.measures:
        writer.writerow(
            [
                m.measure,
                m.period_start,
                m.period_end,
                len(m.numerator),
                len(m.denominator),
                len(m.excluded),
                m.rate_percent,
                "yes" if m.pending else "no",
            ]
        )
    audit_record(action="reports.pqa.exported", actor=request.user)
    return response
