"""Outcome reports in a real browser: refresh with progress (the real worker), the adherence
chart and table, the drill-down to patients, the PQA measures."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import (
    DrugFactory,
    FillFactory,
    PatientFactory,
    PrescriptionFactory,
    SyncEnrollmentFactory,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker, pytest.mark.e2e]


def _statin_history(pharmacy, last_name: str, *, every: int = 30):
    today = timezone.localdate()
    patient = PatientFactory(
        organization=pharmacy.organization, home_pharmacy=pharmacy, last_name=last_name
    )
    rx = PrescriptionFactory(
        patient=patient, pharmacy=pharmacy, drug=DrugFactory(generic_name="Atorvastatin")
    )
    day = today - dt.timedelta(days=420)
    while day <= today:
        FillFactory(prescription=rx, fill_date=day, days_supply=30)
        day += dt.timedelta(days=every)
    return patient


def test_a_pharmacist_refreshes_outcomes_and_drills_down(
    page, maple, log_in, celery_worker_process, screenshot
):
    main = maple.pharmacies[0]
    synced = _statin_history(main, "Syncwell")
    SyncEnrollmentFactory(
        patient=synced, pharmacy=main, enrolled_at=timezone.now() - dt.timedelta(days=150)
    )
    _statin_history(main, "Notenrolled", every=45)
    log_in(page, maple.pharmacist)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Outcomes").click()
    expect(page.get_by_role("heading", name="No adherence figures yet")).to_be_visible()
    page.get_by_test_id("refresh").click()
    # the worker measures everyone; the progress bar polls until it is done
    expect(page.get_by_test_id("refresh-done")).to_be_visible(timeout=30000)
    page.reload()
    row = page.locator('[data-testid="class-row"][data-class="statin"]')
    expect(row).to_be_visible()
    expect(row.get_by_test_id("since-adherent")).to_have_text("100.0%")
    expect(page.locator('canvas[data-chart="adherence-data"]')).to_have_attribute(
        "data-rendered", "true"
    )
    screenshot(page, "adherence")
    row.get_by_test_id("since-adherent").click()
    expect(page.get_by_test_id("patient-row")).to_have_count(1)
    expect(page.get_by_test_id("patient-row")).to_contain_text("Syncwell")
    page.get_by_role("link", name="PQA med sync measures").click()
    measure = page.locator('[data-testid="measure-row"][data-measure="initial_sync"]')
    expect(measure.get_by_test_id("denominator")).to_have_text("1")
    expect(page.locator('canvas[data-chart="pqa-data"]')).to_have_attribute("data-rendered", "true")
    screenshot(page, "pqa")
    assert page.console_errors == [], page.console_errors
