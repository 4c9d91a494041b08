"""Patient record pages: list and search, the record, reconciliation, imports."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from medsync.decorators import require_permission
from medsync.jobs import enqueue_for_organization
from medsync.roles import Perm
from patients import selectors, services
from patients.forms import ImportUploadForm, SyncDecisionForm
from patients.models import (
    ExclusionReason,
    ImportBatch,
    PatientStatus,
    Prescription,
    PrescriptionStatus,
    SyncDecision,
)
from patients.panels import panels_for
from patients.visibility import limit_to_visible_patients

PAGE_SIZE = 25
TIMELINE_DAYS = 120


@require_permission(Perm.VIEW_PATIENTS)
def patient_list(request):
    """Patients, searched and filtered by status, a page at a time (rows only for htmx)."""
    query = request.GET.get("q", "").strip()[: selectors.SEARCH_MAX_LENGTH]
    status = request.GET.get("status", PatientStatus.ACTIVE)
    if status not in PatientStatus.values and status != "":
        status = PatientStatus.ACTIVE
    patients = selectors.patient_search(query, status=status, membership=request.membership)
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    services.audit_record(
        action="patients.patient.listed",
        actor=request.user,
        metadata={"count": page.paginator.count, "searched": bool(query)},
    )
    context = {
        "page": page,
        "query": query,
        "status": status,
        "statuses": PatientStatus.choices,
    }
    template = "patients/_patient_rows.html" if request.htmx else "patients/patient_list.html"
    return render(request, template, context)


def _patient_or_404(request, public_id):
    patient = selectors.patient_with_record(public_id, membership=request.membership)
    if patient is None:
        raise Http404("No such patient.")
    return patient


def _medication_rows(patient) -> list[dict]:
    today = timezone.localdate()
    rows = []
    for prescription in patient.prescriptions.all():
        rows.append(
            {
                "rx": prescription,
                "suggestion": services.prescription_suggestion(prescription, today=today),
            }
        )
    return rows


@require_permission(Perm.VIEW_PATIENTS)
def patient_detail(request, public_id):
    """A patient's record: medications with suggestions, fills, supply timeline, panels."""
    patient = _patient_or_404(request, public_id)
    services.patient_viewed(patient=patient, actor=request.user, via="page")
    today = timezone.localdate()
    fills = Paginator(selectors.fills_of_patient(patient), PAGE_SIZE).get_page(
        request.GET.get("fills_page")
    )
    timeline = selectors.supply_timeline(patient, today=today, days=TIMELINE_DAYS)
    window_start = today - dt.timedelta(days=TIMELINE_DAYS - 1)
    chart = {
        "start": window_start.isoformat(),
        "end": today.isoformat(),
        "rows": [
            {
                "label": row.label,
                "gap_days": row.gap_days,
                "spans": [[s.start.isoformat(), s.end.isoformat()] for s in row.spans],
            }
            for row in timeline
        ],
    }
    return render(
        request,
        "patients/patient_detail.html",
        {
            "patient": patient,
            "medications": _medication_rows(patient),
            "fills": fills,
            "timeline": timeline,
            "timeline_days": TIMELINE_DAYS,
            "chart": chart,
            "panels": panels_for(request, patient),
            "exclusion_reasons": ExclusionReason.choices,
            "undecided": sum(
                1
                for rx in patient.prescriptions.all()
                if rx.status == PrescriptionStatus.ACTIVE
                and rx.sync_decision == SyncDecision.UNDECIDED
            ),
        },
    )


@require_permission(Perm.EDIT_PATIENTS)
@require_POST
def prescription_decide(request, public_id):
    """A pharmacist's sync decision on one prescription (the row again for htmx)."""
    prescription = (
        limit_to_visible_patients(
            Prescription.objects.select_related("drug", "pharmacy", "patient", "sync_decided_by"),
            request.membership,
            "patient",
        )
        .filter(public_id=public_id)
        .first()
    )
    if prescription is None:
        raise Http404("No such prescription.")
    form = SyncDecisionForm(request.POST)
    errors = {} if form.is_valid() else dict(form.errors)
    if not errors:
        try:
            services.prescription_sync_decide(
                prescription=prescription, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            errors = exc.message_dict
    row = {"rx": prescription, "suggestion": services.prescription_suggestion(prescription)}
    context = {"row": row, "errors": errors, "exclusion_reasons": ExclusionReason.choices}
    if request.htmx:
        return render(request, "patients/_medication_row.html", context, status=200)
    if errors:
        messages.error(request, " ".join(m for ms in errors.values() for m in ms))
    return redirect("patient-detail", public_id=prescription.patient.public_id)


@require_permission(Perm.EDIT_PATIENTS)
@require_POST
def patient_accept_suggestions(request, public_id):
    """Accept the suggestion for every undecided active prescription of a patient."""
    patient = _patient_or_404(request, public_id)
    decided = services.patient_reconcile_accept_suggestions(patient=patient, actor=request.user)
    messages.success(request, f"Accepted the suggestion for {decided} prescription(s).")
    return redirect("patient-detail", public_id=patient.public_id)


# --- Imports ----------------------------------------------------------------------------------


@require_permission(Perm.IMPORT_RECORDS)
def import_start(request):
    """Upload CSV files to check (GET shows the form and recent imports)."""
    error = ""
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
        try:
            if not form.is_valid():
                raise ValidationError([m for ms in form.errors.values() for m in ms])
            uploads = form.cleaned_data["files"]
            files = services.read_uploads(uploads)
            batch = services.import_batch_create(
                files=files, source="dashboard", actor=request.user
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            enqueue_for_organization(
                "patients.import_preview", request.organization, batch_id=str(batch.public_id)
            )
            return redirect("import-detail", public_id=batch.public_id)
    recent = ImportBatch.objects.select_related("uploaded_by").order_by("-created_at")[:10]
    limits = {"files": settings.UPLOAD_MAX_FILES, "mb": settings.UPLOAD_MAX_BYTES // 1024 // 1024}
    return render(
        request,
        "patients/import_start.html",
        {"error": error, "recent": recent, "limits": limits},
    )


def _batch_or_404(public_id) -> ImportBatch:
    batch = ImportBatch.objects.filter(public_id=public_id).prefetch_related("files").first()
    if batch is None:
        raise Http404("No such import.")
    return batch


@require_permission(Perm.IMPORT_RECORDS)
def import_detail(request, public_id):
    """An import's preview or result, with live progress while it runs."""
    batch = _batch_or_404(public_id)
    context = {
        "batch": batch,
        "progress": services.import_progress(batch),
        "running": batch.in_progress,
    }
    template = "patients/_import_status.html" if request.htmx else "patients/import_detail.html"
    return render(request, template, context)


@require_permission(Perm.IMPORT_RECORDS)
@require_POST
def import_confirm(request, public_id):
    """Confirm a previewed import: the good rows are written in the background."""
    batch = _batch_or_404(public_id)
    if services.import_batch_request_apply(batch=batch, actor=request.user):
        messages.success(request, "Importing: the good rows are being written.")
    else:
        messages.error(request, "This import is not waiting for confirmation.")
    return redirect("import-detail", public_id=batch.public_id)
