"""The dashboard shell in a real browser: login, landing per role, switcher, 404s, CSP."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_pharmacist_logs_in_and_lands_on_the_dashboard(page, maple, log_in, screenshot):
    log_in(page, maple.pharmacist)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", name="Maple Pharmacy")).to_be_visible()
    expect(page.get_by_test_id("role")).to_have_text("Pharmacist")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Fill queue")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit log")).to_have_count(0)
    # Pico CSS was served by us and applied (not a CDN, not blocked by the CSP).
    font_family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "system-ui" in font_family or "apple-system" in font_family.lower()
    assert page.console_errors == [], page.console_errors
    screenshot(page, "dashboard-pharmacist")


def test_a_technician_lands_on_the_fill_queue_with_its_empty_state(page, maple, log_in):
    log_in(page, maple.technician)
    expect(page).to_have_url(re.compile(r"/fill-queue/$"))
    expect(page.get_by_test_id("fill-queue-empty")).to_contain_text("Nothing to fill today")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Dashboard")).to_have_count(0)
    assert page.console_errors == [], page.console_errors


def test_a_wrong_password_shows_the_generic_message(page, maple, log_in):
    log_in(page, maple.pharmacist, password="not-the-password")
    expect(page.locator("#login-error")).to_have_text(
        "That email and password did not match. Check both and try again."
    )
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_the_organization_switcher_moves_a_floater_between_tenants(
    page, floater, maple, birch, log_in, screenshot
):
    log_in(page, floater)
    expect(page.get_by_role("heading", name="Maple Pharmacy")).to_be_visible()
    page.locator("#org-switcher summary").click()
    screenshot(page, "org-switcher-open")
    page.get_by_role("button", name="Switch to Birch Rx").click()
    expect(page).to_have_url(re.compile(r"/fill-queue/$"))
    expect(page.locator(".messages")).to_contain_text("You are now working in Birch Rx")
    page.goto("/pharmacies/")
    expect(page.get_by_role("link", name="Birch Rx", exact=True)).to_be_visible()
    expect(page.get_by_text("Maple Main St")).to_have_count(0)


def test_another_orgs_pharmacy_is_a_404_page(page, maple, birch, log_in):
    log_in(page, birch.pharmacist)
    response = page.goto(f"/pharmacies/{maple.pharmacies[0].public_id}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("Maple Main St")).to_have_count(0)


def test_logging_out_returns_to_the_login_page(page, maple, log_in):
    log_in(page, maple.owner)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))


def test_the_api_docs_render_under_the_strict_policy(page, maple, log_in):
    page.goto("/api/v1/docs/")  # behind the login: a browser without a session goes there
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/api/v1/docs/$"))
    log_in(page, maple.pharmacist)
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("MedSync API", timeout=15000)
