"""Documenting and billing a service: lines from time and the fee schedule, exports once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import (
    ClinicalService,
    LineStatus,
    ServiceClaimExport,
    ServiceClaimExportLine,
    ServiceClaimLine,
)
from billing.x12.validate import validate_837p
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from tests.billing.test_service_engines import _pyx12_acknowledgement
from tests.factories import AppointmentFactory, CoverageFactory, PatientFactory, billing_setup

START = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)  # 09:00 in Madison


@pytest.fixture
def cmr(maple):
    """A booked 40-minute CMR of a new Part D patient at Maple Main St, billing set up."""
    pharmacy = maple.pharmacies[0]
    setup = billing_setup(pharmacy, maple.pharmacist)
    patient = PatientFactory(
        organization=maple.organization, home_pharmacy=pharmacy, first_name="Jane", sex="F"
    )
    coverage = CoverageFactory(patient=patient)
    appointment = AppointmentFactory(
        pharmacy=pharmacy,
        patient=patient,
        pharmacist=maple.pharmacist,
        starts_at=START,
        ends_at=START + dt.timedelta(minutes=40),
    )
    return appointment, setup, coverage


def _document(client, appointment, setup, coverage, **changes):
    body = {
        "new_patient": True,
        "assessed": "Medication list, adherence, BP log",
        "findings": "Skips evening dose",
        "actions": "Moved dose to morning; pill box",
        "diagnosis_codes": ["E11.9", "I10"],
        "follow_up": "TMR in 3 months",
        "follow_up_on": "2027-03-01",
        "payer": str(setup.payer.public_id),
        "coverage": str(coverage.public_id),
    }
    body.update(changes)
    return client.post(
        f"/api/v1/appointments/{appointment.public_id}/document/", body, format="json"
    )


def test_a_40_minute_cmr_bills_99605_once_and_99607_twice_for_a_new_patient(
    maple, cmr, api_client_for
):
    appointment, setup, coverage = cmr
    response = _document(api_client_for(maple.pharmacist), appointment, setup, coverage)
    assert response.status_code == 200, response.json()
    with tenant_scope(maple.organization):
        service = ClinicalService.objects.get()
        assert service.minutes == 40
        assert service.diagnosis_codes == ["E119", "I10"]
        lines = [
            (line.code, line.units, line.charge, line.diagnosis_pointers, line.rendering_npi)
            for line in ServiceClaimLine.objects.order_by("line_number")
        ]
        assert lines == [
            ("99605", 1, Decimal("75.00"), [1, 2], setup.provider.npi),
            ("99607", 2, Decimal("100.00"), [1, 2], setup.provider.npi),
        ]
        appointment.refresh_from_db()
        assert appointment.status == "done" and appointment.service == service
        assert AuditEvent.objects.filter(
            action="billing.clinical_service.documented", object_id=str(service.public_id)
        ).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"diagnosis_codes": ["E11.9", "not-a-code"]}, "diagnosis_codes"),
        (
            {"started_at": "2026-11-30T10:00:00Z", "ended_at": "2026-11-30T09:00:00Z"},
            "ended_at",
        ),
        ({"diagnosis_codes": []}, "diagnosis_codes"),
        ({"payer": "00000000-0000-0000-0000-000000000000"}, "payer"),
    ],
)
def test_bad_documentation_is_a_400_naming_the_field_and_writes_nothing(
    maple, cmr, api_client_for, changes, field
):
    appointment, setup, coverage = cmr
    response = _document(api_client_for(maple.pharmacist), appointment, setup, coverage, **changes)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"], response.json()
    with tenant_scope(maple.organization):
        assert not ClinicalService.objects.exists()
        assert not ServiceClaimLine.objects.exists()
        appointment.refresh_from_db()
        assert appointment.status == "booked"


def test_a_missing_fee_names_the_fee_schedule(maple, api_client_for):
    pharmacy = maple.pharmacies[0]
    setup = billing_setup(pharmacy, maple.pharmacist, fees={"99605": "75.00"})
    patient = PatientFactory(organization=maple.organization, home_pharmacy=pharmacy)
    appointment = AppointmentFactory(
        pharmacy=pharmacy,
        patient=patient,
        pharmacist=maple.pharmacist,
        starts_at=START,
        ends_at=START + dt.timedelta(minutes=40),
    )
    response = _document(
        api_client_for(maple.pharmacist), appointment, setup, CoverageFactory(patient=patient)
    )
    assert response.status_code == 400
    assert "99607" in response.json()["error"]["fields"]["fee_schedule"][0]


def _export(client, maple, setup, fmt="837p"):
    return client.post(
        "/api/v1/service-claim-exports/",
        {
            "pharmacy": str(maple.pharmacies[0].public_id),
            "payer": str(setup.payer.public_id),
            "date_from": "2026-11-30",
            "date_to": "2026-11-30",
            "format": fmt,
        },
        format="json",
    )


def test_an_export_holds_each_ready_line_once_and_validates(maple, cmr, api_client_for, tmp_path):
    appointment, setup, coverage = cmr
    client = api_client_for(maple.pharmacist)
    assert _document(client, appointment, setup, coverage).status_code == 200
    response = _export(client, maple, setup)
    assert response.status_code == 201, response.json()
    download = client.get(f"/api/v1/service-claim-exports/{response.json()['id']}/file/")
    text = download.content.decode()
    assert validate_837p(text) == []
    assert "IK5*A~" in _pyx12_acknowledgement(text, tmp_path)
    assert "SV1*HC:99605*75*UN*1***1:2~" in text
    assert "SV1*HC:99607*100*UN*2***1:2~" in text
    assert "HI*ABK:E119*ABF:I10~" in text
    assert (
        f"NM1*IL*1*{appointment.patient.last_name.upper()}*JANE****MI*{coverage.member_id}" in text
    )
    with tenant_scope(maple.organization):
        assert set(ServiceClaimLine.objects.values_list("status", flat=True)) == {"exported"}
    # Nothing is exported twice: the range again finds nothing ready ...
    again = _export(client, maple, setup, fmt="cms1500")
    assert again.status_code == 400
    assert "date_from" in again.json()["error"]["fields"]
    # ... and the database itself refuses a second export row for a line.
    with tenant_scope(maple.organization):
        assert ServiceClaimExport.objects.count() == 1
        line = ServiceClaimLine.objects.first()
        export = ServiceClaimExport.objects.get()
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            ServiceClaimExportLine.objects.create(export=export, line=line)


def test_the_cms1500_export_is_a_pdf_with_the_claim(maple, cmr, api_client_for):
    import io

    from pypdf import PdfReader

    appointment, setup, coverage = cmr
    client = api_client_for(maple.pharmacist)
    _document(client, appointment, setup, coverage)
    response = _export(client, maple, setup, fmt="cms1500")
    assert response.status_code == 201
    pdf = client.get(f"/api/v1/service-claim-exports/{response.json()['id']}/file/")
    assert pdf["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert coverage.member_id in text and "E11.9" in text and "175.00" in text


def test_line_status_paid_or_denied_by_hand(maple, cmr, api_client_for):
    appointment, setup, coverage = cmr
    client = api_client_for(maple.pharmacist)
    _document(client, appointment, setup, coverage)
    with tenant_scope(maple.organization):
        first, second = ServiceClaimLine.objects.order_by("line_number")
    too_early = client.post(
        f"/api/v1/service-claim-lines/{first.public_id}/status/",
        {"status": "paid", "paid_amount": "70.00"},
    )
    assert too_early.status_code == 400 and "status" in too_early.json()["error"]["fields"]
    _export(client, maple, setup)
    paid = client.post(
        f"/api/v1/service-claim-lines/{first.public_id}/status/",
        {"status": "paid", "paid_amount": "70.00"},
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    no_reason = client.post(
        f"/api/v1/service-claim-lines/{second.public_id}/status/", {"status": "denied"}
    )
    assert "denial_reason" in no_reason.json()["error"]["fields"]
    denied = client.post(
        f"/api/v1/service-claim-lines/{second.public_id}/status/",
        {"status": "denied", "denial_reason": "CO-97 bundled"},
    )
    assert denied.status_code == 200
    with tenant_scope(maple.organization):
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.status, first.paid_amount) == (LineStatus.PAID, Decimal("70.00"))
        assert (second.status, second.denial_reason) == (LineStatus.DENIED, "CO-97 bundled")


def test_another_organizations_services_lines_and_exports_are_404(
    maple, birch, cmr, api_client_for
):
    appointment, setup, coverage = cmr
    _document(api_client_for(maple.pharmacist), appointment, setup, coverage)
    with tenant_scope(maple.organization):
        service = ClinicalService.objects.get()
        line = ServiceClaimLine.objects.first()
    theirs = api_client_for(birch.pharmacist)
    assert theirs.get(f"/api/v1/services/{service.public_id}/").status_code == 404
    assert theirs.get("/api/v1/services/").json()["count"] == 0
    response = theirs.post(
        f"/api/v1/service-claim-lines/{line.public_id}/status/", {"status": "denied"}
    )
    assert response.status_code == 404
    export = _export(theirs, maple, setup)
    assert export.status_code == 400
    assert "pharmacy" in export.json()["error"]["fields"]
    with tenant_scope(maple.organization):
        assert not ServiceClaimExport.objects.exists()


def test_line_status_by_file_is_all_or_nothing(maple, cmr, api_client_for, login):
    from django.core.files.uploadedfile import SimpleUploadedFile

    appointment, setup, coverage = cmr
    client = api_client_for(maple.pharmacist)
    _document(client, appointment, setup, coverage)
    _export(client, maple, setup)
    with tenant_scope(maple.organization):
        first, second = ServiceClaimLine.objects.order_by("line_number")
    page = login(maple.pharmacist)
    bad = (
        "line,status,paid_amount,denial_reason\n"
        f"{first.public_id},paid,70.00,\n"
        f"{second.public_id},denied,,\n"
    )
    page.post(
        "/billing/services/lines/status-file/",
        {"file": SimpleUploadedFile("era.csv", bad.encode(), content_type="text/csv")},
    )
    with tenant_scope(maple.organization):
        assert set(ServiceClaimLine.objects.values_list("status", flat=True)) == {"exported"}
    good = bad.replace("denied,,", "denied,,CO-97 bundled")
    response = page.post(
        "/billing/services/lines/status-file/",
        {"file": SimpleUploadedFile("era.csv", good.encode(), content_type="text/csv")},
    )
    assert response.status_code == 302
    with tenant_scope(maple.organization):
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.status, first.paid_amount) == (LineStatus.PAID, Decimal("70.00"))
        assert (second.status, second.denial_reason) == (LineStatus.DENIED, "CO-97 bundled")
