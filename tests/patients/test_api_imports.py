"""Imports through the API, checked and applied by a real Celery worker."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from medsync.tenancy import tenant_scope
from patients.models import ImportBatch, Patient
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]

PATIENTS = (
    b"mrn,first_name,last_name,date_of_birth,phone\n"
    b"A1,Ada,Lovelace,1950-12-10,6085550101\n"
    b"A2,Bad,Phone,1950-12-10,12\n"
)


def _status(batch_id):
    with scopes_disabled():
        return ImportBatch.objects.get(public_id=batch_id).status


def test_upload_preview_confirm_through_the_api(api_client_for, maple, celery_worker_process):
    client = api_client_for(maple.pharmacist)
    upload = SimpleUploadedFile("patients.csv", PATIENTS, content_type="text/csv")
    response = client.post("/api/v1/imports/", {"files": [upload]}, format="multipart")
    assert response.status_code == 201, response.json()
    batch_id = response.json()["id"]
    wait_until(lambda: _status(batch_id) == "previewed")
    preview = client.get(f"/api/v1/imports/{batch_id}/").json()
    [file] = preview["files"]
    assert (file["created"], file["rejected"]) == (1, 1)
    assert file["errors"] == [{"line": 3, "reason": "phone '12' is not a valid phone number."}]
    with tenant_scope(maple.organization):
        assert not Patient.objects.exists()
    assert client.post(f"/api/v1/imports/{batch_id}/confirm/").status_code == 202
    wait_until(lambda: _status(batch_id) == "applied")
    with tenant_scope(maple.organization):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["A1"]
    # Confirming again does nothing: the batch is no longer waiting.
    again = client.post(f"/api/v1/imports/{batch_id}/confirm/")
    assert again.status_code == 400 and "status" in again.json()["error"]["fields"]


def test_birch_cannot_read_or_confirm_maples_import(api_client_for, maple, birch):
    with tenant_scope(maple.organization):
        batch = ImportBatch.objects.create(status="previewed", source="api")
    client = api_client_for(birch.pharmacist)
    assert client.get(f"/api/v1/imports/{batch.public_id}/").status_code == 404
    assert client.post(f"/api/v1/imports/{batch.public_id}/confirm/").status_code == 404
    assert client.get("/api/v1/imports/").json()["count"] == 0


def test_a_file_that_is_no_csv_layout_gets_a_field_error(api_client_for, maple):
    upload = SimpleUploadedFile("x.csv", b"\xff\xfe\x00garbage", content_type="text/csv")
    response = api_client_for(maple.pharmacist).post(
        "/api/v1/imports/", {"files": [upload]}, format="multipart"
    )
    assert response.status_code == 400
    assert "files" in response.json()["error"]["fields"]
    with scopes_disabled():
        assert not ImportBatch.objects.exists()


def test_a_technician_cannot_import(api_client_for, maple):
    upload = SimpleUploadedFile("patients.csv", PATIENTS, content_type="text/csv")
    response = api_client_for(maple.technician).post(
        "/api/v1/imports/", {"files": [upload]}, format="multipart"
    )
    assert response.status_code == 403
