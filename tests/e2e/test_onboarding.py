"""A new pharmacy sets itself up in a real browser: from provision_org to a sent test text."""

import re

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from medsync.services import organization_provision
from medsync.validators import npi_with_check_digit

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-Passphrase-42"


def test_an_owner_sets_up_a_new_pharmacy_to_a_sent_test_text(page, log_in, screenshot):
    from messaging.models import ConsoleOutbox

    _, pharmacy, owner = organization_provision(
        name="Oak Drug", slug="oak", owner_email="owner@oak.test", owner_password=PASSWORD
    )
    log_in(page, owner, password=PASSWORD)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    checklist = page.get_by_test_id("checklist")
    expect(checklist.locator('[data-done="no"]')).to_have_count(5)
    checklist.get_by_role("link", name="Pharmacy details").click()
    expect(page.get_by_role("heading", name="Settings of Oak Drug")).to_be_visible()

    page.locator("#id_ncpdp_id").fill("1234567")
    page.locator("#id_npi").fill("1234567890")  # a wrong check digit
    page.locator("#id_phone").fill("(608) 555-0101")
    page.locator("#id_hours_mon").fill("09:00-18:00")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_test_id("error-npi")).to_contain_text("check digit")
    screenshot(page, "pharmacy-settings-error")

    page.locator("#id_npi").fill(npi_with_check_digit("123456789"))
    page.locator("#id_sms_number").fill("608 555 0199")
    page.locator("#id_twilio_auth_token_env").fill("TWILIO_AUTH_TOKEN_OAK")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Saved the settings of Oak Drug.")).to_be_visible()
    expect(page.locator("#id_sms_number")).to_have_value("+16085550199")

    page.get_by_label("Your mobile number").fill("608 555 0111")
    page.get_by_role("button", name="Send test text").click()
    expect(page.get_by_text("Test text sent")).to_be_visible()
    with scopes_disabled():
        sent = ConsoleOutbox.objects.get()
    assert sent.to_number == "+16085550111" and sent.from_number == "+16085550199"

    page.get_by_role("link", name="Setup checklist").click()
    checklist = page.get_by_test_id("checklist")
    expect(checklist.locator('[data-step="pharmacy"]')).to_have_attribute("data-done", "yes")
    expect(checklist.locator('[data-step="texting"]')).to_have_attribute("data-done", "yes")
    expect(checklist.locator('[data-step="team"]')).to_have_attribute("data-done", "no")
    expect(checklist.get_by_role("link", name="Import records")).to_have_attribute(
        "href", "/patients/import/"
    )
    assert page.console_errors == [], page.console_errors
    screenshot(page, "setup-checklist")
    assert pharmacy.public_id
