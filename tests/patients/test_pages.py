import pytest
from django_scopes import scopes_disabled

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.models import Prescription
from tests.factories import DrugFactory, FillFactory, PatientFactory, PrescriptionFactory

pytestmark = pytest.mark.django_db


def test_the_list_searches_and_paginates(client, maple, ada, login):
    for n in range(30):
        PatientFactory(
            organization=maple.organization,
            last_name=f"Zed{n:02d}",
            home_pharmacy=maple.pharmacies[0],  # Main St: the technician's pharmacy
        )
    login(maple.technician)
    page = client.get("/patients/").content.decode()
    assert "Page 1 of 2" in page and "31 patients" in page
    found = client.get("/patients/?q=love").content.decode()
    assert "Lovelace" in found and "Zed00" not in found
    partial = client.get("/patients/?q=love", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "Lovelace" in partial
    nothing = client.get("/patients/?q=qwertyuiop").content.decode()
    assert "No patient matches" in nothing


def test_the_list_costs_a_fixed_number_of_queries(
    client, maple, ada, login, django_assert_max_num_queries
):
    login(maple.pharmacist)
    with django_assert_max_num_queries(12):
        client.get("/patients/")
    for _ in range(40):
        patient = PatientFactory(organization=maple.organization)
        PrescriptionFactory(patient=patient, pharmacy=maple.pharmacies[0])
    with django_assert_max_num_queries(12):
        assert client.get("/patients/").status_code == 200


def test_an_empty_list_says_how_to_import(client, maple, login):
    login(maple.pharmacist)
    page = client.get("/patients/").content.decode()
    assert "No patients yet" in page and "/patients/import/" in page


def test_opening_a_record_shows_it_and_audits_the_view(client, maple, ada, login):
    login(maple.pharmacist)
    response = client.get(f"/patients/{ada.public_id}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ada Lovelace" in page and "Acme Part D" in page and "Atorvastatin" in page
    assert "timeline-data" in page and "Fill history" in page
    with scopes_disabled():
        event = AuditEvent.objects.get(action="patients.patient.viewed")
    assert event.object_id == str(ada.public_id) and event.metadata == {"via": "page"}


def test_the_record_page_costs_a_fixed_number_of_queries(
    client, maple, ada, login, django_assert_max_num_queries
):
    login(maple.pharmacist)
    with django_assert_max_num_queries(25):
        client.get(f"/patients/{ada.public_id}/")
    for n in range(6):
        rx = PrescriptionFactory(patient=ada, pharmacy=maple.pharmacies[0])
        for month in range(1, 10):
            FillFactory(prescription=rx, fill_date=f"2026-{month:02d}-{n + 1:02d}")
    with django_assert_max_num_queries(25):
        assert client.get(f"/patients/{ada.public_id}/").status_code == 200


def test_another_orgs_patient_page_is_a_404(client, birch, ada, login):
    login(birch.pharmacist)
    response = client.get(f"/patients/{ada.public_id}/")
    assert response.status_code == 404
    assert "Lovelace" not in response.content.decode()
    search = client.get("/patients/?q=Lovelace").content.decode()
    assert str(ada.public_id) not in search and "No patient matches" in search


def test_a_pharmacist_overrides_a_suggestion_only_with_a_note(client, maple, ada, login):
    login(maple.pharmacist)
    with tenant_scope(maple.organization):
        rx = ada.prescriptions.get()
    url = f"/prescriptions/{rx.public_id}/sync-decision/"
    refused = client.post(url, {"decision": "excluded", "reason": "other"}, HTTP_HX_REQUEST="true")
    assert "add a note why" in refused.content.decode()
    with tenant_scope(maple.organization):
        assert Prescription.objects.get(pk=rx.pk).sync_decision == "undecided"
    client.post(
        url,
        {"decision": "excluded", "reason": "patient_preference", "note": "Mail order"},
        HTTP_HX_REQUEST="true",
    )
    with tenant_scope(maple.organization):
        rx.refresh_from_db()
    assert (rx.sync_decision, rx.sync_exclusion_reason) == ("excluded", "patient_preference")
    assert rx.sync_decided_by == maple.pharmacist and rx.sync_decided_at is not None
    with scopes_disabled():
        event = AuditEvent.objects.get(action="patients.prescription.sync_decided")
    assert event.metadata["override"] is True and event.metadata["suggested"] == "synced"


def test_accepting_every_suggestion(client, maple, ada, login):
    oxy = DrugFactory(ndc="00406055262", name="Oxycodone", dea_schedule="2")
    PrescriptionFactory(patient=ada, pharmacy=maple.pharmacies[0], drug=oxy, sig_text="q6h")
    login(maple.pharmacist)
    client.post(f"/patients/{ada.public_id}/accept-suggestions/")
    with tenant_scope(maple.organization):
        decisions = dict(ada.prescriptions.values_list("drug__name", "sync_exclusion_reason"))
        states = set(ada.prescriptions.values_list("sync_decision", flat=True))
    assert decisions == {"Atorvastatin": "", "Oxycodone": "schedule_ii"}
    assert states == {"synced", "excluded"}


def test_a_technician_cannot_decide(client, maple, ada, login):
    login(maple.technician)
    with tenant_scope(maple.organization):
        rx = ada.prescriptions.get()
    response = client.post(f"/prescriptions/{rx.public_id}/sync-decision/", {"decision": "synced"})
    assert response.status_code == 403


def test_birch_cannot_decide_on_maples_prescription(client, birch, maple, ada, login):
    login(birch.pharmacist)
    with tenant_scope(maple.organization):
        rx = ada.prescriptions.get()
    response = client.post(f"/prescriptions/{rx.public_id}/sync-decision/", {"decision": "synced"})
    assert response.status_code == 404
    with tenant_scope(maple.organization):
        assert Prescription.objects.get(pk=rx.pk).sync_decision == "undecided"


def test_the_import_page_rejects_a_file_it_cannot_read(client, maple, login):
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(maple.pharmacist)
    bad = SimpleUploadedFile("x.csv", b"foo,bar\n1,2\n", content_type="text/csv")
    page = client.post("/patients/import/", {"files": [bad]}).content.decode()
    assert "Unrecognised file" in page


def test_another_orgs_import_is_a_404(client, birch, maple, login):
    from patients.models import ImportBatch

    with tenant_scope(maple.organization):
        batch = ImportBatch.objects.create(status="previewed", source="api")
    login(birch.pharmacist)
    assert client.get(f"/patients/import/{batch.public_id}/").status_code == 404
    assert client.post(f"/patients/import/{batch.public_id}/confirm/").status_code == 404
