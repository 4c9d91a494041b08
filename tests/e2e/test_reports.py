"""The pharmacist's dashboard and a report in a real browser, under the strict CSP: the
today numbers link to their rows, the anchor calendar shows the load, Chart.js draws."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from scheduling.dates import local_today
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_dashboard_numbers_open_their_rows(page, maple, log_in, screenshot):
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    anchor = today + dt.timedelta(days=2)
    synced = make_patient(pharmacy, due_dates=[anchor, anchor])
    enroll(pharmacy, synced, anchor=anchor)
    log_in(page, maple.pharmacist)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    week = page.get_by_test_id("today-anchors_week")
    expect(week).to_have_text("1")
    calendar = page.get_by_test_id("anchor-calendar")
    if anchor.month == today.month:
        cell = calendar.locator(f'td[data-day="{anchor:%Y-%m-%d}"]')
        expect(cell).to_contain_text("1 patient")
        expect(cell).to_contain_text("2 fills")
    screenshot(page, "reports-dashboard")
    week.click()
    expect(page).to_have_url(re.compile(r"/today/anchors_week/$"))
    expect(page.get_by_test_id("list-row")).to_have_count(1)
    expect(page.get_by_test_id("list-row")).to_contain_text(synced.patient.last_name)
    assert page.console_errors == [], page.console_errors


def test_the_workload_report_draws_its_chart(page, maple, log_in, screenshot):
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    anchor = today + dt.timedelta(days=5)
    enroll(pharmacy, make_patient(pharmacy, due_dates=[anchor, anchor]), anchor=anchor)
    log_in(page, maple.owner)
    page.goto("/reports/workload/")
    expect(page.get_by_role("heading", name="Workload, next 30 days")).to_be_visible()
    expect(page.locator('canvas[data-chart="workload-data"]')).to_have_attribute(
        "data-drawn", "true"
    )
    expect(page.locator(f'tr[data-day="{anchor:%Y-%m-%d}"]')).to_be_visible()
    page.get_by_label("Pharmacy").select_option(str(maple.pharmacies[1].public_id))
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"pharmacy={maple.pharmacies[1].public_id}"))
    expect(page.get_by_test_id("tech-hours")).to_have_text("0.0")
    screenshot(page, "reports-workload")
    assert page.console_errors == [], page.console_errors
