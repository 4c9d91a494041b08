"""What scheduling adds to the patient record page (patients/panels.py registry)."""

from __future__ import annotations

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
        appointment_list(membership=request.membership, patient=patient).filter(status="booked")[:5]
    )
    return {
        "title": "Appointments and services",
        "template": "scheduling/_patient_appointments_panel.html",
        "context": {"patient": patient, "upcoming": upcoming},
    }
