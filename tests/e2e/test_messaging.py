"""The staff inbox in a real browser: unread counts, reply, simulate a patient's answer,
close; the templates preview; all under the strict CSP."""

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from medsync.tenancy import tenant_scope
from messaging import services
from messaging.models import Conversation, Direction, Message, MessageKind
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def texting_maple(maple, settings, monkeypatch):
    settings.MESSAGING_GATEWAY = "console"
    settings.MESSAGING_SIMULATOR_ENABLED = True
    monkeypatch.setattr(services.dispatcher, "dispatcher_enqueue", lambda organization: None)
    main_st = maple.pharmacies[0]
    with tenant_scope(maple.organization):
        main_st.sms_number = "+16085550100"
        main_st.save()
        patient = PatientFactory(
            organization=maple.organization,
            first_name="Ana",
            last_name="Alvarez",
            phone="+16085551234",
            home_pharmacy=main_st,
        )
        services.sms_consent_grant(patient=patient, method="verbal", actor=maple.pharmacist)
        # Any hour: the browser test runs at real time and must not hit the quiet hours.
        services.sms_preferences_update(
            patient=patient,
            actor=maple.pharmacist,
            language="",
            quiet_start=time(0, 0),
            quiet_end=time(23, 59, 59),
        )
        services.inbound_message_receive(
            pharmacy=main_st,
            from_number=patient.phone,
            to_number=main_st.sms_number,
            body="Can I pick up Friday instead?",
            provider_sid="SM" + "e2e".rjust(32, "0"),
        )
    maple.patient = patient
    return maple


def test_a_pharmacist_answers_a_patient_from_the_inbox(page, texting_maple, log_in, screenshot):
    log_in(page, texting_maple.pharmacist)
    page.goto("/inbox/")
    row = page.get_by_test_id("conversation-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("unread-count")).to_have_text("1")
    screenshot(page, "messaging-inbox")
    row.get_by_role("link", name="Alvarez, Ana").click()
    expect(page.get_by_role("heading", name="Ana Alvarez")).to_be_visible()
    expect(page.get_by_text("Can I pick up Friday instead?")).to_be_visible()

    page.get_by_label(re.compile("^Reply")).fill("Friday is fine, see you then.")
    page.get_by_role("button", name="Send", exact=True).click()
    outbound = page.locator('[data-testid="message"][data-direction="out"]')
    expect(outbound).to_contain_text("Friday is fine, see you then.")
    expect(page.get_by_label(re.compile("^Reply"))).to_have_value("")

    # Development: the patient answers X (something changed).
    page.get_by_text("Development: simulate a text from this number").click()
    page.get_by_label("Simulated text").fill("X")
    page.get_by_role("button", name="Receive it").click()
    inbound = page.locator('[data-testid="message"][data-direction="in"]')
    expect(inbound).to_have_count(2)
    expect(inbound.last).to_contain_text("change (not applied: please handle)")
    screenshot(page, "messaging-conversation")

    page.get_by_role("button", name="Close conversation").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    expect(page.get_by_test_id("inbox-empty")).to_be_visible()
    assert page.console_errors == [], page.console_errors

    with tenant_scope(texting_maple.organization):
        reply = Message.objects.get(kind=MessageKind.MANUAL)
        assert reply.sent_by == texting_maple.pharmacist
        assert reply.to_number == "+16085551234"
        assert Conversation.objects.get().status == "closed"
        assert not Message.objects.filter(
            direction=Direction.INBOUND, read_at__isnull=True
        ).exists()


def test_an_owner_sees_template_problems_while_typing(page, texting_maple, log_in):
    log_in(page, texting_maple.owner)
    page.goto("/texting/templates/ready_for_pickup/en/")
    box = page.get_by_label("Wording")
    box.fill("{first_name}, your {drug_name} is ready.")
    errors = page.get_by_test_id("template-errors")
    expect(errors).to_contain_text("{drug_name} could put a drug name")
    box.fill("{pharmacy_name}: {first_name}, ready for pickup. Reply STOP to opt out")
    expect(page.get_by_test_id("template-preview")).to_contain_text(
        "Maple Elm Ave: Ana, ready for pickup."
    )
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/texting/templates/$"))
    expect(page.locator(".messages")).to_contain_text("Template saved.")
    assert page.console_errors == [], page.console_errors
