"""The patients pages read their posts through forms, under the field names the templates use."""

from django.core.files.uploadedfile import SimpleUploadedFile

from medsync.tenancy import tenant_scope
from patients.models import ImportBatch, Prescription

PATIENTS_CSV = (
    b"mrn,first_name,last_name,date_of_birth,phone\nP9,Ada,Lovelace,1950-12-10,6085550101\n"
)
FILLS_CSV = b"rx_number,fill_date,quantity,days_supply\n1000001,2026-09-01,30,30\n"


def test_posting_no_file_asks_for_one(client, maple, login):
    login(maple.pharmacist)
    page = client.post("/patients/import/", {}).content.decode()
    assert "Choose at least one CSV file." in page
    with tenant_scope(maple.organization):
        assert not ImportBatch.objects.exists()


def test_an_empty_file_is_reported_by_the_import_not_the_form(client, maple, login):
    login(maple.pharmacist)
    empty = SimpleUploadedFile("empty.csv", b"", content_type="text/csv")
    page = client.post("/patients/import/", {"files": [empty]}).content.decode()
    assert "empty.csv: The file is empty" in page


def test_several_files_posted_under_one_name_make_one_batch(client, maple, login):
    login(maple.pharmacist)
    files = [
        SimpleUploadedFile("patients.csv", PATIENTS_CSV, content_type="text/csv"),
        SimpleUploadedFile("fills.csv", FILLS_CSV, content_type="text/csv"),
    ]
    response = client.post("/patients/import/", {"files": files})
    with tenant_scope(maple.organization):
        batch = ImportBatch.objects.get()
        kinds = sorted(batch.files.values_list("kind", flat=True))
    assert response.status_code == 302
    assert response["Location"] == f"/patients/import/{batch.public_id}/"
    assert kinds == ["fills", "patients"]


def test_a_decision_without_fields_is_refused_with_the_services_message(client, maple, ada, login):
    login(maple.pharmacist)
    with tenant_scope(maple.organization):
        rx = ada.prescriptions.get()
    page = client.post(
        f"/prescriptions/{rx.public_id}/sync-decision/", {}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Choose synced or excluded." in page
    with tenant_scope(maple.organization):
        assert Prescription.objects.get(pk=rx.pk).sync_decision == "undecided"


def test_the_note_is_kept_as_typed_apart_from_outer_spaces(client, maple, ada, login):
    login(maple.pharmacist)
    with tenant_scope(maple.organization):
        rx = ada.prescriptions.get()
    client.post(
        f"/prescriptions/{rx.public_id}/sync-decision/",
        {"decision": "excluded", "reason": "patient_preference", "note": "  Mail  order "},
    )
    with tenant_scope(maple.organization):
        rx.refresh_from_db()
    assert (rx.sync_decision, rx.sync_decision_note) == ("excluded", "Mail  order")
