"""Patient records in a real browser: import with preview and progress, search, the record."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from medsync.tenancy import tenant_scope
from patients.models import Fill, Patient, PriceListEntry
from tests.factories import PharmacyFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]
SAMPLES = Path(__file__).resolve().parents[2] / "patients" / "samples"


def test_a_pharmacist_imports_files_previews_confirms_and_finds_the_patient(
    page, maple, log_in, celery_worker_process, screenshot
):
    from patients.catalog import drug_catalog_load

    drug_catalog_load()  # transactional tests flush the catalog the migration loaded
    PharmacyFactory(organization=maple.organization, ncpdp_id="5012345", name="Maple Main")
    log_in(page, maple.pharmacist)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page.get_by_test_id("patients-empty")).to_contain_text("No patients yet")
    page.get_by_role("link", name="start an import").click()
    page.set_input_files("#import-files", [str(p) for p in sorted(SAMPLES.glob("*.csv"))])
    page.get_by_role("button", name="Check files").click()
    # The worker checks the files; the page polls until the preview is ready.
    expect(page.get_by_test_id("import-status")).to_have_text("Ready to confirm", timeout=30000)
    expect(page.get_by_test_id("import-file")).to_have_count(5)  # with the price list
    screenshot(page, "import-preview")
    with tenant_scope(maple.organization):
        assert Patient.objects.count() == 0  # a preview writes nothing
    page.get_by_test_id("confirm-import").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Imported", timeout=30000)
    with tenant_scope(maple.organization):
        assert Patient.objects.count() == 3 and Fill.objects.count() == 12
        assert PriceListEntry.objects.count() == 6  # prices.csv: six NDCs

    page.get_by_role("link", name="See the patients").click()
    page.get_by_label("Search patients").fill("ortega")
    expect(page.locator("#patient-results tbody tr")).to_have_count(1, timeout=5000)
    page.get_by_role("link", name="Ortega, Lucia").click()
    expect(page).to_have_url(re.compile(r"/patients/[0-9a-f-]{36}/$"))
    expect(page.get_by_role("heading", name="Lucia Ortega")).to_be_visible()
    expect(page.locator("#supply-timeline")).to_have_attribute("data-rendered", "true")
    assert page.console_errors == [], page.console_errors
    screenshot(page, "patient-record")


def test_a_pharmacist_reconciles_a_prescription_in_place(page, maple, log_in):
    from tests.factories import DrugFactory, PatientFactory, PrescriptionFactory

    patient = PatientFactory(
        organization=maple.organization, first_name="Ada", last_name="Lovelace"
    )
    PrescriptionFactory(
        patient=patient, pharmacy=maple.pharmacies[0], drug=DrugFactory(name="Atorvastatin")
    )
    log_in(page, maple.pharmacist)
    page.goto(f"/patients/{patient.public_id}/")
    row = page.get_by_test_id("rx-row")
    expect(row.get_by_test_id("sync-decision")).to_contain_text("Not reconciled")
    row.get_by_text("Decide").click()
    row.get_by_role("button", name="Save decision").click()
    expect(page.get_by_test_id("sync-decision")).to_contain_text("Synced")
    assert page.console_errors == [], page.console_errors
