"""The webhooks page in a real browser: an owner subscribes their system, sees the signing
secret once, creates the inbound endpoint, and reads the delivery log."""

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from medsync import webhooks
from medsync.models import WebhookSubscription

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_owner_subscribes_sees_the_secret_once_and_reads_the_log(page, maple, log_in):
    log_in(page, maple.owner)
    page.goto("/settings/webhooks/")
    expect(page.get_by_text("No subscriptions yet")).to_be_visible()
    page.locator("#id_url").fill("https://pms.example.com/hooks")
    page.get_by_role("checkbox", name="Cycle ready").check()
    page.get_by_role("checkbox", name="Claim rejected").check()
    page.get_by_role("button", name="Add subscription").click()
    with scopes_disabled():
        subscription = WebhookSubscription.objects.get()
    assert sorted(subscription.events) == ["claim.rejected", "cycle.ready"]
    expect(page.get_by_test_id("secret")).to_contain_text(subscription.secret)
    expect(page.get_by_test_id("subscription")).to_contain_text("https://pms.example.com/hooks")

    page.get_by_role("button", name="Create an inbound endpoint").click()
    expect(page.get_by_test_id("inbound-url")).to_contain_text("/webhooks/inbound/")
    expect(page.get_by_test_id("secret")).to_contain_text("whsec_")

    webhooks.emit(maple.organization, "cycle.ready", {"cycle": "c1"})
    page.goto("/settings/webhooks/")
    expect(page.get_by_test_id("secret")).to_have_count(0)  # shown once, never again
    expect(page.locator("body")).to_contain_text("cycle.ready")
    expect(page.locator("body")).not_to_contain_text(subscription.secret)
    assert page.console_errors == [], page.console_errors
