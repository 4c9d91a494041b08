"""The patient-records card on the dashboard."""

from django.db.models import Count, Q
from django.urls import reverse

from patients.models import (
    ImportBatch,
    Patient,
    PatientStatus,
    Prescription,
    PrescriptionStatus,
    SyncDecision,
)
from patients.visibility import limit_to_visible_patients


def records_card(request):
    """The dashboard card: active patients and prescriptions still to reconcile."""
    membership = request.membership
    patients = limit_to_visible_patients(Patient.objects.all(), membership).aggregate(
        active=Count("id", filter=Q(status=PatientStatus.ACTIVE))
    )["active"]
    undecided = (
        limit_to_visible_patients(
            Prescription.objects.filter(
                status=PrescriptionStatus.ACTIVE,
                sync_decision=SyncDecision.UNDECIDED,
                patient__status=PatientStatus.ACTIVE,
            ),
            membership,
            "patient",
        )
        .values("patient_id")
        .distinct()
        .count()
    )
    last_import = ImportBatch.objects.order_by("-created_at").only("created_at", "status").first()
    lines = [
        {"label": "Active patients", "value": patients, "url": reverse("patient-list")},
        {"label": "Patients with medications to reconcile", "value": undecided, "url": ""},
    ]
    note = (
        f"Last import {last_import.created_at:%m/%d/%Y %H:%M} UTC: "
        f"{last_import.get_status_display().lower()}."
        if last_import
        else "No import yet."
    )
    action = None
    if patients == 0:
        action = {"label": "Import patients", "url": reverse("import-start")}
    return {"title": "Patient records", "lines": lines, "note": note, "action": action}


def records_setup_step(request):
    """The first-run checklist's "import records" step (medsync.onboarding)."""
    return {
        "title": "Import records",
        "done": Patient.objects.exists(),
        "url": reverse("import-start"),
        "hint": "Upload your pharmacy system's patient, prescription and fill exports.",
    }
