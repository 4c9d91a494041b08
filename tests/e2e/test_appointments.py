"""Clinical services in a real browser: offer a CMR from the patient record, book it,
document it, export the 837P (htmx under the strict CSP)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from billing.models import ServiceClaimExport, ServiceClaimLine
from billing.x12.validate import validate_837p
from medsync.tenancy import tenant_scope
from scheduling.dates import local_today
from scheduling.models import Appointment, ServiceOffer
from tests.factories import (
    CoverageFactory,
    DrugFactory,
    PatientFactory,
    PrescriptionFactory,
    billing_setup,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pharmacist_books_a_cmr_documents_it_and_exports_the_837p(
    page, maple, log_in, screenshot
):
    pharmacy = maple.pharmacies[0]
    setup = billing_setup(pharmacy, maple.pharmacist)
    patient = PatientFactory(
        organization=maple.organization, home_pharmacy=pharmacy, last_name="Quill"
    )
    coverage = CoverageFactory(patient=patient)
    for _ in range(5):
        PrescriptionFactory(patient=patient, pharmacy=pharmacy, drug=DrugFactory())
    tomorrow = local_today(pharmacy.time_zone) + dt.timedelta(days=1)

    log_in(page, maple.pharmacist)
    page.goto(f"/patients/{patient.public_id}/")
    due = page.locator('[data-testid="service-due"][data-kind="cmr"]')
    expect(due).to_contain_text("CMR due this year")
    due.get_by_test_id("offer-accept").click()
    expect(page).to_have_url(re.compile(r"/appointments/book/.*kind=cmr"))

    form = page.get_by_test_id("book-form")
    form.get_by_label("Day").fill(tomorrow.isoformat())
    form.get_by_label("Time (pharmacy's local)").fill("09:00")
    form.get_by_label("Minutes").fill("40")
    form.get_by_label("Room").fill("Consult 1")
    form.get_by_role("button", name="Book").click()
    appointment_row = page.get_by_test_id("appointment")
    expect(appointment_row).to_contain_text("Quill")
    expect(appointment_row).to_contain_text("09:00")
    screenshot(page, "appointments-day")

    appointment_row.get_by_test_id("document").click()
    document = page.get_by_test_id("document-form")
    document.get_by_label("Assessed").fill("Full medication list")
    document.get_by_label("Found").fill("Evening doses missed")
    document.get_by_label("Done or recommended").fill("Moved doses to the morning")
    document.get_by_label("Diagnoses (ICD-10-CM)").fill("E11.9 I10")
    document.get_by_label("Bill to (blank: not billed)").select_option(label=setup.payer.name)
    document.get_by_label("Coverage (member ID)").select_option(index=1)
    document.get_by_role("button", name="Save documentation").click()
    lines = page.get_by_test_id("service-lines")
    expect(lines).to_contain_text("99605")
    expect(lines).to_contain_text("99607")

    page.goto("/billing/services/")
    expect(page.get_by_test_id("claim-line")).to_have_count(2)
    export = page.get_by_test_id("export-form")
    export.get_by_label("Pharmacy").select_option(label=pharmacy.name)
    export.get_by_label("Payer").select_option(label=setup.payer.name)
    export.get_by_label("From").fill(tomorrow.isoformat())
    export.get_by_label("To").fill(tomorrow.isoformat())
    export.get_by_role("button", name="Export ready lines").click()
    expect(page.get_by_test_id("exports")).to_contain_text("X12 837P")
    with page.expect_download() as download:
        page.get_by_test_id("export-download").first.click()
    text = open(download.value.path()).read()  # noqa: SIM115
    assert validate_837p(text) == []
    assert "SV1*HC:99607*100*UN*2***1:2~" in text
    assert page.console_errors == [], page.console_errors

    with tenant_scope(maple.organization):
        assert ServiceOffer.objects.get().answer == "accepted"
        assert Appointment.objects.get().status == "done"
        assert set(ServiceClaimLine.objects.values_list("status", flat=True)) == {"exported"}
        assert ServiceClaimExport.objects.get().content.tobytes().decode() == text
        assert coverage.member_id in text
