"""The sync engine in a real browser: the enrollment wizard, the prep call form and the
technician's fill queue, all through htmx under the strict CSP."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from medsync.tenancy import tenant_scope
from scheduling import sweeps
from scheduling.dates import local_today
from scheduling.models import CycleItem, SyncCycle, SyncEnrollment
from tests.factories.billing import PriceListEntryFactory
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db(transaction=True)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def test_a_pharmacist_enrolls_a_patient_with_the_wizard(page, maple, log_in, screenshot):
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    synced = make_patient(pharmacy, due_dates=[today + days(3), today + days(9), today + days(16)])
    log_in(page, maple.pharmacist)
    page.goto(f"/sync/enroll/{synced.patient.public_id}/")
    expect(page.get_by_role("heading", name="1. Medicines to sync")).to_be_visible()
    page.get_by_role("button", name="Find anchor dates").click()
    options = page.get_by_test_id("anchor-option")
    expect(options.first).to_be_visible()
    assert options.count() >= 3
    options.first.get_by_role("radio").check()
    page.get_by_role("button", name="See the plan").click()
    expect(page.get_by_test_id("plan-table")).to_be_visible()
    expect(page.get_by_test_id("plan-table")).to_contain_text("Rx ")
    screenshot(page, "sync-wizard-plan")
    page.get_by_label("How").select_option("in_person")
    page.get_by_test_id("confirm-enrollment").click()
    expect(page).to_have_url(re.compile(rf"/sync/patients/{synced.patient.public_id}/$"))
    expect(page.get_by_test_id("sync-status")).to_contain_text("Enrolled")
    expect(page.get_by_test_id("current-cycle")).to_be_visible()
    assert page.console_errors == [], page.console_errors
    with tenant_scope(maple.organization):
        enrollment = SyncEnrollment.objects.get()
        assert enrollment.consent_recorded_by == maple.pharmacist


def test_a_pharmacist_records_a_prep_call(page, maple, log_in):
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    synced = make_patient(pharmacy, due_dates=[today + days(2), today + days(9)])
    enroll(pharmacy, synced, anchor=today + days(9))
    with tenant_scope(maple.organization):
        SyncCycle.objects.update(prep_due_on=today)
        sweeps.cycles_open_prep()
    log_in(page, maple.pharmacist)
    page.goto("/sync/prep/")
    card = page.get_by_test_id("prep-card")
    expect(card).to_contain_text(synced.patient.last_name)
    for question in card.locator("fieldset fieldset").all():
        question.get_by_label("No").check()
    card.get_by_test_id("prep-outcome").select_option("confirmed")
    card.get_by_role("button", name="Record the call").click()
    expect(page.get_by_test_id("prep-recorded")).to_contain_text("confirmed, no changes, recorded")
    assert page.console_errors == [], page.console_errors
    with tenant_scope(maple.organization):
        cycle = SyncCycle.objects.get()
        assert cycle.contact_outcome == "confirmed" and not cycle.prep_open


def test_a_technician_fills_from_the_queue_without_a_reload(page, maple, log_in, screenshot):
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    synced = make_patient(pharmacy, due_dates=[today + days(1), today + days(1)])
    enroll(pharmacy, synced, anchor=today + days(1))
    for rx in synced.prescriptions:
        PriceListEntryFactory(pharmacy=pharmacy, ndc=rx.drug.ndc)
    log_in(page, maple.technician)
    expect(page).to_have_url(re.compile(r"/fill-queue/$"))
    rows = page.get_by_test_id("queue-item")
    expect(rows).to_have_count(2)
    page.evaluate("window.__noReload = 'still here'")
    rows.first.get_by_role("button", name=re.compile("Start")).click()
    expect(rows.first.get_by_test_id("item-state")).to_have_text("Billed")
    rows.first.get_by_label(re.compile("NDC scanned")).fill(synced.prescriptions[0].drug.ndc)
    rows.first.get_by_role("button", name=re.compile("Fill")).click()
    expect(rows.first.get_by_test_id("item-state")).to_have_text("Filled, to verify")
    assert page.evaluate("window.__noReload") == "still here"  # htmx swapped the row only
    screenshot(page, "fill-queue-technician")
    assert page.console_errors == [], page.console_errors
    with tenant_scope(maple.organization):
        assert CycleItem.objects.filter(state="filled").count() == 1


def test_the_patient_record_shows_the_sync_panel(page, maple, log_in):
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    synced = make_patient(pharmacy, due_dates=[today + days(4), today + days(11)])
    enroll(pharmacy, synced, anchor=today + days(11))
    log_in(page, maple.pharmacist)
    page.goto(f"/patients/{synced.patient.public_id}/")
    panel = page.get_by_test_id("sync-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("sync-panel-loading")).to_have_count(0)
    expect(page.get_by_test_id("sync-status")).to_contain_text("Enrolled")
    expect(page.get_by_test_id("next-anchor")).to_contain_text((today + days(11)).strftime("%b"))
    expect(page.get_by_test_id("current-cycle")).to_be_visible()
    assert page.get_by_role("heading", name="Med sync").count() == 1
    assert page.console_errors == [], page.console_errors
