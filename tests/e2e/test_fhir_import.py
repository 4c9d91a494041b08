"""A FHIR R4 Bundle imported in a real browser: the same preview (problems by bundle entry)
and confirm as CSV files."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from medsync.tenancy import tenant_scope
from patients.models import Fill, Patient
from tests.factories import PharmacyFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]
SAMPLE = Path(__file__).resolve().parents[2] / "patients" / "samples" / "fhir_bundle.json"


def test_a_pharmacist_imports_a_fhir_bundle_and_sees_a_bad_resource_by_entry(
    page, maple, log_in, celery_worker_process, screenshot, tmp_path
):
    from patients.catalog import drug_catalog_load

    drug_catalog_load()  # transactional tests flush the catalog the migration loaded
    PharmacyFactory(organization=maple.organization, ncpdp_id="5012345", name="Maple Main")
    bundle = json.loads(SAMPLE.read_text())
    bundle["entry"][7]["resource"]["quantity"]["value"] = -30  # one dispense is wrong
    upload = tmp_path / "okafor.json"
    upload.write_text(json.dumps(bundle))
    log_in(page, maple.pharmacist)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="start an import").click()
    page.set_input_files("#import-files", str(upload))
    page.get_by_role("button", name="Check files").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Ready to confirm", timeout=30000)
    expect(page.get_by_test_id("import-file")).to_contain_text("fhir")
    rejected = page.get_by_test_id("rejected-row")
    expect(rejected).to_have_count(1)
    expect(rejected).to_contain_text("Bundle.entry[7].resource (MedicationDispense)")
    expect(rejected).to_contain_text("quantity must be more than 0")
    expect(page.locator("th", has_text="Bundle entry")).to_be_visible()
    screenshot(page, "fhir-import-preview")
    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Imported", timeout=30000)
    with tenant_scope(maple.organization):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["F-2001"]
        assert Fill.objects.count() == 3
    assert page.console_errors == [], page.console_errors
