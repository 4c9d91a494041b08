"""Appointment pages: calendar, booking, documenting, ICS, services due and offers."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from icalendar import Calendar
from pypdf import PdfReader

from billing.models import ClinicalService, ServiceClaimLine
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.clinical_selectors import vaccines_due
from patients.models import TherapeuticClass
from scheduling.models import Appointment, OfferAnswer, ServiceOffer
from scheduling.selectors.appointments import services_due
from tests.factories import (
    AppointmentFactory,
    CoverageFactory,
    DrugFactory,
    PatientFactory,
    PrescriptionFactory,
    billing_setup,
)

START = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)  # 09:00 in Madison


@pytest.fixture
def page(maple, login):
    return login(maple.pharmacist)


def _appointments(maple, count=3):
    pharmacy = maple.pharmacies[0]
    return [
        AppointmentFactory(
            pharmacy=pharmacy,
            patient=PatientFactory(organization=maple.organization, home_pharmacy=pharmacy),
            pharmacist=maple.pharmacist,
            starts_at=START + dt.timedelta(hours=n),
            ends_at=START + dt.timedelta(hours=n, minutes=40),
            room="Consult 1",
        )
        for n in range(count)
    ]


def test_the_day_and_week_calendars_show_bookings_in_local_time(
    maple, page, django_assert_max_num_queries
):
    booked = _appointments(maple, 4)
    pharmacy = maple.pharmacies[0]
    with django_assert_max_num_queries(30):
        day = page.get("/appointments/", {"pharmacy": pharmacy.public_id, "date": "2026-12-07"})
    text = day.content.decode()
    assert day.status_code == 200
    assert text.count('data-testid="appointment"') == 4
    assert "09:00" in text and "09:40" in text and booked[0].patient.last_name in text
    week = page.get(
        "/appointments/", {"pharmacy": pharmacy.public_id, "date": "2026-12-09", "view": "week"}
    )
    assert week.content.decode().count('data-testid="calendar-day"') == 7
    empty = page.get("/appointments/", {"pharmacy": pharmacy.public_id, "date": "2026-12-08"})
    assert "Nothing booked" in empty.content.decode()
    with tenant_scope(maple.organization):
        assert (
            AuditEvent.objects.filter(
                action="patients.patient.viewed", metadata__via="calendar"
            ).count()
            == 8  # each page showed the four patients
        )


def test_another_organizations_calendar_and_appointments_are_404(maple, birch, login):
    page = login(birch.pharmacist)
    appointment = _appointments(maple, 1)[0]
    assert (
        page.get("/appointments/", {"pharmacy": maple.pharmacies[0].public_id}).status_code == 404
    )
    assert page.get(f"/appointments/{appointment.public_id}/document/").status_code == 404
    assert page.post(f"/appointments/{appointment.public_id}/cancelled/").status_code == 404
    assert page.get(f"/appointments/book/{appointment.patient.public_id}/").status_code == 404
    with tenant_scope(maple.organization):
        assert Appointment.objects.get().status == "booked"


def test_booking_from_the_page_and_a_double_booking_names_the_time(maple, page):
    pharmacy = maple.pharmacies[0]
    patient = PatientFactory(organization=maple.organization, home_pharmacy=pharmacy)
    form = {
        "kind": "cmr",
        "pharmacy": pharmacy.public_id,
        "pharmacist": maple.pharmacist.public_id,
        "day": "2026-12-07",
        "time": "09:00",
        "minutes": 40,
        "room": "Consult 1",
    }
    response = page.post(f"/appointments/book/{patient.public_id}/", form)
    assert response.status_code == 302
    with tenant_scope(maple.organization):
        appointment = Appointment.objects.get()
        assert appointment.starts_at == START and appointment.minutes == 40
    again = page.post(f"/appointments/book/{patient.public_id}/", {**form, "time": "09:30"})
    assert again.status_code == 400
    assert "already booked" in again.content.decode()
    with tenant_scope(maple.organization):
        assert Appointment.objects.count() == 1


def test_documenting_from_the_page_bills_and_shows_the_summary(maple, page):
    appointment = _appointments(maple, 1)[0]
    setup = billing_setup(maple.pharmacies[0], maple.pharmacist)
    coverage = CoverageFactory(patient=appointment.patient)
    PrescriptionFactory(patient=appointment.patient, pharmacy=maple.pharmacies[0])
    form = {
        "started": "2026-12-07T09:00",
        "ended": "2026-12-07T09:40",
        "new_patient": "on",
        "assessed": "All medicines",
        "findings": "Skips doses",
        "actions": "Use a pill box",
        "diagnosis_codes": "E11.9, I10",
        "follow_up": "Call in 2 weeks",
        "payer": setup.payer.public_id,
        "coverage": coverage.public_id,
    }
    bad = page.post(
        f"/appointments/{appointment.public_id}/document/", {**form, "ended": "2026-12-07T08:00"}
    )
    assert bad.status_code == 400 and "The end must be after the start" in bad.content.decode()
    with tenant_scope(maple.organization):
        assert not ClinicalService.objects.exists()
    response = page.post(f"/appointments/{appointment.public_id}/document/", form)
    assert response.status_code == 302
    with tenant_scope(maple.organization):
        service = ClinicalService.objects.get()
        assert sorted(ServiceClaimLine.objects.values_list("code", "units")) == [
            ("99605", 1),
            ("99607", 2),
        ]
    detail = page.get(f"/services/{service.public_id}/")
    assert "99607" in detail.content.decode()
    pdf = page.get(f"/services/{service.public_id}/summary.pdf")
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Recommended To-Do List" in text and "Use a pill box" in text
    assert "Medication List" in text


def test_a_pharmacists_day_as_ics_carries_no_names(maple, page):
    booked = _appointments(maple, 2)
    response = page.get(
        "/appointments/day.ics",
        {
            "pharmacy": maple.pharmacies[0].public_id,
            "pharmacist": maple.pharmacist.public_id,
            "date": "2026-12-07",
        },
    )
    assert response["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert [e.decoded("dtstart") for e in events] == [a.starts_at for a in booked]
    assert booked[0].patient.last_name not in response.content.decode()
    assert "Consult 1" in str(events[0]["location"])


def _part_d_patient_on(maple, classes, prescriptions=5):
    pharmacy = maple.pharmacies[0]
    patient = PatientFactory(organization=maple.organization, home_pharmacy=pharmacy)
    CoverageFactory(patient=patient)
    for n in range(prescriptions):
        drug = DrugFactory(therapeutic_classes=[classes[n % len(classes)]])
        PrescriptionFactory(patient=patient, pharmacy=pharmacy, drug=drug)
    return patient


def test_services_due_cmr_for_part_d_and_bp_check_for_antihypertensives(maple):
    today = dt.date(2026, 12, 2)
    with tenant_scope(maple.organization):
        on_bp = _part_d_patient_on(maple, [TherapeuticClass.RAS_ANTAGONIST, "statin"])
        due = services_due(on_bp, today)
        assert [d.kind for d in due if d.kind != "vaccine"] == ["cmr", "bp_check"]
        # Vaccines come first, exactly those the immunization screening finds due.
        vaccines = [d.detail for d in due if d.kind == "vaccine"]
        expected = vaccines_due(on_bp, today)
        assert vaccines and len(vaccines) == len(expected)
        assert [d.kind for d in due[: len(vaccines)]] == ["vaccine"] * len(vaccines)
        few = _part_d_patient_on(maple, ["statin"], prescriptions=4)
        assert [d for d in services_due(few, today) if d.kind != "vaccine"] == []


def test_an_offer_is_recorded_and_an_accepted_one_goes_to_booking(maple, page):
    with tenant_scope(maple.organization):
        patient = _part_d_patient_on(maple, [TherapeuticClass.BETA_BLOCKER])
    partial = page.get(f"/patients/{patient.public_id}/services-due/", {"place": "pickup"})
    offered = re.findall(r'data-kind="(\w+)"', partial.content.decode())
    assert [k for k in offered if k != "vaccine"] == ["cmr", "bp_check"]
    declined = page.post(
        f"/patients/{patient.public_id}/service-offers/",
        {"kind": "bp_check", "place": "pickup", "answer": "declined"},
        HTTP_HX_REQUEST="true",
    )
    offered = re.findall(r'data-kind="(\w+)"', declined.content.decode())
    assert [k for k in offered if k != "vaccine"] == ["cmr"]
    accepted = page.post(
        f"/patients/{patient.public_id}/service-offers/",
        {"kind": "cmr", "place": "pickup", "answer": "accepted"},
    )
    assert accepted.status_code == 302
    assert accepted["Location"] == f"/appointments/book/{patient.public_id}/?kind=cmr"
    with tenant_scope(maple.organization):
        answers = sorted(ServiceOffer.objects.values_list("kind", "answer", "place"))
        assert answers == [("bp_check", "declined", "pickup"), ("cmr", "accepted", "pickup")]
        assert AuditEvent.objects.filter(action="scheduling.service_offer.recorded").count() == 2
        assert ServiceOffer.objects.filter(answer=OfferAnswer.LATER).count() == 0


def test_the_service_billing_page_exports_an_837p_once(maple, login):
    page = login(maple.owner)
    appointment = _appointments(maple, 1)[0]
    setup = billing_setup(maple.pharmacies[0], maple.pharmacist)
    with tenant_scope(maple.organization):
        from scheduling.services.appointments import appointment_document

        appointment_document(
            appointment=appointment,
            actor=maple.pharmacist,
            diagnosis_codes=["I10"],
            payer=setup.payer,
            coverage=CoverageFactory(patient=appointment.patient),
        )
    listing = page.get("/billing/services/")
    assert listing.content.decode().count('data-testid="claim-line"') == 2
    form = {
        "pharmacy": maple.pharmacies[0].public_id,
        "payer": setup.payer.public_id,
        "date_from": "2026-12-01",
        "date_to": "2026-12-31",
        "format": "837p",
    }
    assert page.post("/billing/services/", form).status_code == 302
    again = page.post("/billing/services/", form)
    assert again.status_code == 400 and "No ready service lines" in again.content.decode()
    exported = page.get("/billing/services/", {"status": "exported"})
    assert exported.content.decode().count('data-testid="claim-line"') == 2
