"""Renewal requests: opened from the engine's flags, a fax PDF per prescriber with every
field a prescriber's office needs (read back with pypdf), the SCRIPT-shaped export, and
the status recorded and shown on the cycle."""

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from django_scopes import scopes_disabled
from pypdf import PdfReader

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from scheduling import services
from scheduling.exceptions import SchedulingError
from scheduling.models import RenewalRequest, RenewalStatus, SyncCycle
from scheduling.renewal_documents import SCRIPT_COLUMNS
from tests.factories import PrescriberFactory, SyncPrescriptionFactory
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db


def at(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def flagged(maple):
    """Anchor Thu 3/12: one Rx with no refills left (renewal), one with plenty."""
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(
            pharmacy,
            due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 12)],
            first_name="Ada",
            last_name="Lovelace",
        )
        with tenant_scope(maple.organization):
            doctor = PrescriberFactory(
                organization=maple.organization,
                first_name="Grace",
                last_name="Hopper",
                fax="+16085550177",
            )
            low, fine = synced.prescriptions
            type(low).objects.filter(pk=low.pk).update(refills_remaining=0, prescriber=doctor)
            type(fine).objects.filter(pk=fine.pk).update(prescriber=doctor)
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    with tenant_scope(maple.organization):
        cycle = SyncCycle.objects.get()
    assert cycle.needs_renewal
    return synced, cycle, doctor


def test_requests_open_once_per_flagged_prescription(maple, flagged):
    synced, cycle, doctor = flagged
    with tenant_scope(maple.organization):
        first = services.renewals_open(cycle=cycle, actor=maple.pharmacist)
        again = services.renewals_open(cycle=cycle, actor=maple.pharmacist)
    assert [r.pk for r in first] == [r.pk for r in again]
    [request] = first
    assert request.prescription_id == synced.prescriptions[0].pk
    assert request.prescriber_id == doctor.pk and request.status == RenewalStatus.TO_SEND
    assert "renewal" in request.reason


def test_the_pdf_has_every_field_a_prescribers_office_needs(client, maple, flagged, login):
    synced, cycle, doctor = flagged
    with tenant_scope(maple.organization):
        services.renewals_open(cycle=cycle, actor=None)
        rx = (
            type(synced.prescriptions[0])
            .objects.select_related("drug")
            .get(pk=synced.prescriptions[0].pk)
        )
        pharmacy = cycle.pharmacy
    login(maple.pharmacist)
    response = client.get(f"/sync/cycles/{cycle.public_id}/renewals/{doctor.public_id}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    flat = " ".join(text.split())
    for needed in [
        pharmacy.name,
        pharmacy.ncpdp_id,
        pharmacy.npi,
        pharmacy.phone,
        "Dr. Grace Hopper",
        doctor.npi,
        "+16085550177",
        "Lovelace, Ada",
        synced.patient.date_of_birth.strftime("%m/%d/%Y"),
        rx.drug.name,
        rx.drug.ndc,
        rx.rx_number,
        f"Sig: {rx.sig_text}",
        "Quantity: 30",
        "Last fill: 02/03/2026 (quantity 30)",
        "Refills requested: 5",
        "Prescriber signature:",
        "Date:",
    ]:
        assert needed in flat, needed
    assert synced.prescriptions[1].rx_number not in flat  # only the flagged prescription
    with scopes_disabled():
        assert AuditEvent.objects.filter(
            action="scheduling.renewal.pdf_downloaded", actor=maple.pharmacist
        ).exists()


def test_the_export_is_shaped_like_an_rx_renewal_request(client, maple, flagged, login):
    synced, cycle, doctor = flagged
    with tenant_scope(maple.organization):
        services.renewals_open(cycle=cycle, actor=None)
    login(maple.pharmacist)
    base = f"/sync/cycles/{cycle.public_id}/renewals/export"
    rows = list(csv.reader(io.StringIO(client.get(base + ".csv").content.decode())))
    assert rows[0] == SCRIPT_COLUMNS and len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["PrescriberNPI"] == doctor.npi and row["ProductCodeQualifier"] == "ND"
    assert row["RxReferenceNumber"] == synced.prescriptions[0].rx_number
    assert row["NumberOfRefillsRequested"] == "5" and row["LastFillDate"] == "2026-02-03"
    message = json.loads(client.get(base + ".json").content)["messages"][0]
    body = message["Body"]["RxRenewalRequest"]
    assert body["Prescriber"]["Identification"]["NPI"] == doctor.npi
    assert body["Patient"]["Name"] == {"LastName": "Lovelace", "FirstName": "Ada"}
    assert body["MedicationDispensed"]["DrugCoded"]["ProductCode"]["Qualifier"] == "ND"
    assert client.get(base + ".xml").status_code == 404


def test_status_sent_then_approved_with_the_new_prescription_shows_on_the_cycle(
    client, maple, flagged, login
):
    synced, cycle, doctor = flagged
    with tenant_scope(maple.organization):
        [renewal] = services.renewals_open(cycle=cycle, actor=None)
        new_rx = SyncPrescriptionFactory(
            patient=synced.patient, pharmacy=cycle.pharmacy, prescriber=doctor
        )
        other_patient_rx = SyncPrescriptionFactory(
            patient=make_patient(cycle.pharmacy, due_dates=[dt.date(2026, 3, 20)]).patient,
            pharmacy=cycle.pharmacy,
        )
    login(maple.pharmacist)
    url = f"/sync/cycles/{cycle.public_id}/renewals/{renewal.public_id}/status/"
    client.post(url, {"status": "sent"})
    client.post(url, {"status": "approved", "new_prescription": str(other_patient_rx.public_id)})
    with tenant_scope(maple.organization):
        renewal.refresh_from_db()
    assert renewal.status == RenewalStatus.SENT and renewal.sent_at is not None
    client.post(url, {"status": "approved", "new_prescription": str(new_rx.public_id)})
    with tenant_scope(maple.organization):
        renewal.refresh_from_db()
    assert renewal.status == RenewalStatus.APPROVED and renewal.new_prescription_id == new_rx.pk
    page = client.get(f"/sync/cycles/{cycle.public_id}/renewals/").content.decode()
    assert f"Approved (new prescription): Rx {new_rx.rx_number}" in page
    panel = client.get(f"/sync/patients/{synced.patient.public_id}/").content.decode()
    assert "approved (new prescription)" in panel
    with tenant_scope(maple.organization), pytest.raises(SchedulingError):
        services.renewal_status_set(renewal=renewal, status="denied", actor=None)


def test_another_tenant_or_a_technician_cannot_open_the_renewals(
    client, maple, birch, flagged, login
):
    _synced, cycle, doctor = flagged
    with tenant_scope(maple.organization):
        services.renewals_open(cycle=cycle, actor=None)
    login(birch.pharmacist)
    for url in [
        f"/sync/cycles/{cycle.public_id}/renewals/",
        f"/sync/cycles/{cycle.public_id}/renewals/{doctor.public_id}.pdf",
        f"/sync/cycles/{cycle.public_id}/renewals/export.csv",
    ]:
        assert client.get(url).status_code == 404
    client.logout()
    login(maple.technician)
    assert client.get(f"/sync/cycles/{cycle.public_id}/renewals/").status_code == 403
    with scopes_disabled():
        assert RenewalRequest.objects.count() == 1
