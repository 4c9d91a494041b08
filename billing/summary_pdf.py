"""A documented service's written summary for the patient, as a PDF (fpdf2).

For a CMR it follows the sections of CMS's standardized format for the MTM written summary:
a cover letter, the "Recommended To-Do List" (what was done or recommended, the follow-up)
and the "Medication List" (the patient's active prescriptions), then when and with whom the
review took place. Other services get the same page without the medication list.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fpdf import FPDF

from billing.models import ClinicalService, ServiceKind
from patients.models import Prescription, PrescriptionStatus


def _latin(text: str) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, _latin(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.multi_cell(0, 5, _latin(text or "-"), new_x="LMARGIN", new_y="NEXT")


def render_cmr_summary(service: ClinicalService) -> bytes:
    patient = service.patient
    pharmacy = service.pharmacy
    zone = ZoneInfo(pharmacy.time_zone)
    started = service.started_at.astimezone(zone)
    pdf = FPDF(format="Letter")
    pdf.set_title("Your medication review summary")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    title = (
        "Your Recent Medication Review"
        if service.kind in (ServiceKind.CMR, ServiceKind.TMR)
        else f"Your visit: {service.get_kind_display()}"
    )
    pdf.cell(0, 9, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    _paragraph(
        pdf,
        f"Dear {patient.first_name} {patient.last_name},\n"
        f"Thank you for talking with your pharmacist {service.pharmacist} at {pharmacy.name} "
        f"on {started:%B %-d, %Y}. This summary lists what we talked about and what to do "
        "next. Keep it with your medication list and bring it to your next visit.",
    )
    _heading(pdf, "Recommended To-Do List")
    _paragraph(pdf, service.actions)
    if service.follow_up or service.follow_up_on:
        when = f" (by {service.follow_up_on:%B %-d, %Y})" if service.follow_up_on else ""
        _paragraph(pdf, f"Follow-up: {service.follow_up}{when}")
    _heading(pdf, "What we reviewed")
    _paragraph(pdf, service.assessed)
    _heading(pdf, "What we found")
    _paragraph(pdf, service.findings)
    if service.kind in (ServiceKind.CMR, ServiceKind.TMR):
        _heading(pdf, "Medication List")
        prescriptions = Prescription.objects.filter(
            patient=patient, status=PrescriptionStatus.ACTIVE
        ).select_related("drug", "prescriber")
        for rx in prescriptions:
            prescriber = f" - Dr. {rx.prescriber.last_name}" if rx.prescriber_id else ""
            _paragraph(pdf, f"{rx.drug.name} {rx.drug.strength}: {rx.sig_text}{prescriber}")
    _heading(pdf, "Questions?")
    _paragraph(pdf, f"Call {pharmacy.name} at {pharmacy.phone}.")
    return bytes(pdf.output())
