"""What scheduling adds to the patient record page (patients/panels.py registry)."""

from __future__ import annotations

from django.urls import reverse

from scheduling.models.appointments import AppointmentStatus
from scheduling.selectors.appointments import appointment_list


def sync_panel(request, patient) -> dict:
    """The sync panel loads itself with htmx after the record page (it reads the enrollment,
    cycles and plans: no cost to the record page's own queries, and one audited view)."""
    return {
        "title": "Med sync",
        "template": "scheduling/_patient_record_panel.html",
        "context": {"patient_id": patient.public_id},
    }


def appointments_panel(request, patient) -> dict:
    """Appointments and the extra services due (loaded with htmx when shown)."""
    upcoming = list(
        appointment_list(membership=request.membership, patient=patient).filter(
            status=AppointmentStatus.BOOKED
        )[:5]
    )
    return {
        "title": "Appointments and services",
        "template": "scheduling/_patient_appointments_panel.html",
        "context": {"patient": patient, "upcoming": upcoming},
    }


def enrollment_setup_step(request):
    """The first-run checklist's "first enrollment" step (medsync.onboarding)."""
    from scheduling.models import SyncEnrollment

    return {
        "title": "First enrollment",
        "done": SyncEnrollment.objects.exists(),
        "url": reverse("sync-enrollments"),
        "hint": "Enroll a first patient in med sync from their record.",
    }


def sync_settings_section(request, pharmacy):
    """The sync timing box on a pharmacy's settings page (medsync.onboarding)."""
    from scheduling.selectors import sync_settings_for

    row = sync_settings_for(pharmacy)
    closed = ", ".join(WEEKDAY_LABELS[d] for d in row.closed_weekdays) or "none"
    return {
        "title": "Sync settings",
        "lines": [
            f"Prep call {row.prep_days} days and pre-fill {row.prefill_days} days "
            "before the anchor",
            f"Closed weekdays for sync work: {closed}",
            f"Missed after {row.missed_after_days} days; return-to-stock warning "
            f"{row.rts_warning_days} days ahead",
        ],
        "url": reverse("sync-settings"),
    }


WEEKDAY_LABELS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
