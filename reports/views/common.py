"""What the report pages share: the scope from the query string (a pharmacy the member
cannot see is a 404), bulk auditing of the patients a page showed, CSV responses."""

from __future__ import annotations

from django.http import Http404, HttpResponse

from medsync.csv_export import csv_writer
from medsync.services import AuditEntry, audit_record_many
from patients.services import PATIENT_VIEWED
from reports.scope import ReportScope, ScopeError, report_scope

PAGE_SIZE = 25


def scope_or_404(request) -> ReportScope:
    try:
        return report_scope(request.membership, request.GET.get("pharmacy", ""))
    except ScopeError:
        raise Http404("No such pharmacy.") from None


def patients_viewed(request, patients, via: str) -> None:
    """Audit each patient a report page or export showed, once, in one statement."""
    unique = {p.pk: p for p in patients if p is not None}
    if unique:
        audit_record_many(
            (AuditEntry(PATIENT_VIEWED, target=p, metadata={"via": via}) for p in unique.values()),
            actor=request.user,
        )


def csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv_writer(response)  # cells that would run as formulas are quoted
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return response


def sorted_rows(rows: list[dict], sort: str, allowed: dict[str, tuple[str, bool]]) -> list[dict]:
    """Rows sorted by one of `allowed` ({param: (key, descending)}); unknown: as given."""
    if sort not in allowed:
        return rows
    key, descending = allowed[sort]
    return sorted(rows, key=lambda r: (r[key] is None, r[key]), reverse=descending)
