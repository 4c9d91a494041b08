"""A FHIR Bundle uploaded through the imports API: checked and applied by a real worker,
through the same preview and confirm as CSV files."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from medsync.tenancy import tenant_scope
from patients.catalog import drug_catalog_load
from patients.models import ImportBatch, Patient
from tests.factories import PharmacyFactory
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]
SAMPLE = Path(__file__).parents[2] / "patients" / "samples" / "fhir_bundle.json"


def _status(batch_id):
    with scopes_disabled():
        return ImportBatch.objects.get(public_id=batch_id).status


def test_a_bundle_is_previewed_then_imported_for_maple_only(
    api_client_for, maple, birch, celery_worker_process
):
    drug_catalog_load()
    PharmacyFactory(organization=maple.organization, ncpdp_id="5012345", state="WI")
    client = api_client_for(maple.pharmacist)
    upload = SimpleUploadedFile("bundle.json", SAMPLE.read_bytes(), content_type="application/json")
    response = client.post("/api/v1/imports/", {"files": [upload]}, format="multipart")
    assert response.status_code == 201, response.json()
    batch_id = response.json()["id"]
    wait_until(lambda: _status(batch_id) == "previewed", timeout=60)
    [file] = client.get(f"/api/v1/imports/{batch_id}/").json()["files"]
    assert (file["kind"], file["created"], file["rejected"]) == ("fhir", 8, 0), file["errors"]
    # Birch cannot see or confirm it.
    birch_client = api_client_for(birch.pharmacist)
    assert birch_client.post(f"/api/v1/imports/{batch_id}/confirm/").status_code == 404
    assert client.post(f"/api/v1/imports/{batch_id}/confirm/").status_code == 202
    wait_until(lambda: _status(batch_id) == "applied", timeout=60)
    with tenant_scope(maple.organization):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["F-2001"]
    with tenant_scope(birch.organization):
        assert not Patient.objects.exists()
    exported = client.get(f"/api/v1/patients/{_patient_id(maple)}/fhir/").json()
    assert exported["resourceType"] == "Bundle" and len(exported["entry"]) == 9


def _patient_id(tenant):
    with tenant_scope(tenant.organization):
        return str(Patient.objects.get(mrn="F-2001").public_id)
