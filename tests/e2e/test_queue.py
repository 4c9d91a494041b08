"""The fill queue in real Chromium: a technician works a fill from the keyboard through a
refill-too-soon reject to a scanned fill, the pharmacist verifies it, the technician's page
updates by itself, the bag is handed over; and the page fits 1366x768 and a 768-px tablet."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from medsync.tenancy import tenant_scope
from scheduling.dates import local_today
from scheduling.models import CycleItem, SyncCycle
from scheduling.ndc_match import gs1_check_digit
from tests.factories import FillFactory, build_fill_queue
from tests.factories.billing import PriceListEntryFactory
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db(transaction=True)


def upc_of(ndc11: str) -> str:
    """The package's UPC-A barcode for an NDC whose product segment has a pad zero (5-3-2)."""
    ten = ndc11[:5] + ndc11[6:]
    body = "3" + ten
    return body + str(gs1_check_digit(body))


def a_fill_billed_too_soon(maple):
    """A synced patient's fill for tomorrow's anchor, filled three days ago for 30 days:
    billing it now is a refill too soon (79) on a plan that accepts sync codes."""
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    synced = make_patient(pharmacy, due_dates=[today + dt.timedelta(days=1)])
    enroll(pharmacy, synced, anchor=today + dt.timedelta(days=1))
    rx = synced.prescriptions[0]
    with tenant_scope(maple.organization):
        FillFactory(
            prescription=rx,
            fill_date=today - dt.timedelta(days=3),
            days_supply=30,
            quantity=Decimal(30),
        )
        PriceListEntryFactory(pharmacy=pharmacy, ndc=rx.drug.ndc)
    return rx


def test_start_reject_79_resubmit_scan_verify_pick_up(
    page, browser, live_server, maple, log_in, screenshot
):
    rx = a_fill_billed_too_soon(maple)
    assert rx.drug.ndc[5] == "0"  # the factory's NDCs have a 5-3-2 label form

    log_in(page, maple.technician)
    expect(page).to_have_url(re.compile(r"/fill-queue/$"))
    expect(page.get_by_test_id("keyboard-hints")).to_contain_text("start")
    row = page.get_by_test_id("queue-item")
    expect(row).to_have_count(1)
    page.evaluate("window.__noReload = 'still here'")
    page.keyboard.press("j")  # the first fill
    page.keyboard.press("s")  # start: the claim goes out
    expect(row.get_by_test_id("reject")).to_contain_text("Reject 79: Refill too soon.")
    expect(row).to_contain_text("Resubmit with SCC 47")  # the fix, shown with the code
    page.keyboard.press("s")  # the fix: one action
    expect(row.get_by_test_id("claim-status")).to_contain_text("Paid (SCC 47)")
    expect(row.get_by_test_id("item-state")).to_have_text("Billed")
    page.keyboard.press("f")  # the NDC box; the scanner types the barcode and Enter
    page.keyboard.type(upc_of(rx.drug.ndc))
    page.keyboard.press("Enter")
    expect(row.get_by_test_id("item-state")).to_have_text("Filled, to verify")
    expect(row.get_by_test_id("ndc-scanned")).to_contain_text(rx.drug.ndc)
    expect(row).to_contain_text("Pharmacist to verify")
    expect(row.get_by_role("button", name=re.compile("Verify"))).to_have_count(0)
    assert page.evaluate("window.__noReload") == "still here"
    screenshot(page, "fill-queue-claims-technician")

    # The pharmacist, on another computer, verifies.
    context = browser.new_context(base_url=live_server.url)
    pharmacist = context.new_page()
    log_in(pharmacist, maple.pharmacist)
    pharmacist.goto("/fill-queue/")
    pharmacist.get_by_test_id("queue-item").get_by_role("button", name=re.compile("Verify")).click()
    expect(pharmacist.get_by_test_id("item-state")).to_have_text("Verified, in the bag")
    context.close()

    # The technician's page learns of it by itself (the version poll), without a reload.
    expect(page.get_by_test_id("item-state")).to_have_text("Verified, in the bag", timeout=15000)
    assert page.evaluate("window.__noReload") == "still here"
    page.get_by_test_id("pickup").locator("summary").click()
    page.get_by_test_id("hand-over").click()
    expect(page.locator(".messages")).to_contain_text("Handed over")
    assert page.console_errors == [], page.console_errors
    with tenant_scope(maple.organization):
        item = CycleItem.objects.get()
        assert item.state == "picked_up" and item.ndc_scanned == rx.drug.ndc
        assert SyncCycle.objects.get().status == "picked_up"


@pytest.mark.parametrize("width, height", [(1366, 768), (768, 1024)])
def test_the_queue_fits_without_sideways_scrolling(page, maple, log_in, width, height):
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    with tenant_scope(maple.organization):
        build_fill_queue(pharmacy, items=12, today=today, per_patient=3)
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, maple.pharmacist)
    page.goto("/fill-queue/")
    expect(page.get_by_test_id("queue-group")).to_have_count(4)
    fits = page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    assert fits, page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_visible()
    box = log_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    start = page.get_by_role("button", name=re.compile("Start")).first
    box = start.bounding_box()
    assert box["x"] + box["width"] <= width
    assert page.console_errors == [], page.console_errors


def test_flag_from_the_keyboard_and_a_stale_row_is_told_who_won(page, maple, log_in):
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    with tenant_scope(maple.organization):
        item = build_fill_queue(pharmacy, items=1, today=today, per_patient=1)[0]
    log_in(page, maple.technician)
    row = page.get_by_test_id("queue-item")
    page.keyboard.press("j")
    page.keyboard.press("x")  # the flag dialog, its reason focused
    expect(page.locator("#flag-dialog")).to_be_visible()
    page.locator("#flag-reason").select_option("out_of_stock")
    page.keyboard.press("Enter")
    expect(row.get_by_test_id("item-state")).to_have_text("Flagged")
    expect(row).to_contain_text("Out of stock")
    # Meanwhile a colleague clears it; this page still shows the flagged row (version 2): the
    # poll is stopped here so that the page cannot learn of it first.
    page.evaluate("document.getElementById('queue-poll').remove()")
    with tenant_scope(maple.organization):
        from scheduling import services

        services.cycle_item_advance(item=item, actor=maple.pharmacist, action="unflag")
    row.get_by_role("button", name="Cleared").click()
    expect(row.get_by_test_id("item-error")).to_contain_text("changed this fill first")
    expect(row.get_by_test_id("item-state")).to_have_text("To fill")
    unexpected = [e for e in page.console_errors if "409" not in e]
    assert unexpected == [], unexpected


def test_a_control_swapped_into_a_row_works_at_once(page, maple, log_in):
    """The resubmit button that a reject swaps in is clicked in the same moment it arrives (as
    a key pressed or a barcode scanned right then would be): it must already post. With
    htmx's default 20 ms settle delay it was not bound yet and did nothing (a flaky CI run)."""
    a_fill_billed_too_soon(maple)
    log_in(page, maple.technician)
    page.evaluate("document.getElementById('queue-poll').remove()")  # no refresh to rescue it
    page.evaluate(
        """() => document.body.addEventListener("htmx:afterSwap", () => {
            const resubmit = document.querySelector('[hx-post$="/resubmit_scc/"]');
            if (resubmit) queueMicrotask(() => resubmit.click());
        })"""
    )
    row = page.get_by_test_id("queue-item")
    row.get_by_role("button", name=re.compile("Start")).click()
    expect(row.get_by_test_id("claim-status")).to_contain_text("Paid (SCC 47)")
    with tenant_scope(maple.organization):
        assert CycleItem.objects.get().state == "billed"
    assert page.console_errors == [], page.console_errors


def test_a_refresh_asked_before_a_row_changed_never_shows_the_older_queue(page, maple, log_in):
    """Two refreshes are on their way (held here) when the technician flags a fill; their
    answers, computed before the flag, arrive after it: both are dropped and the queue is
    asked again, so the row keeps showing the flag."""
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    with tenant_scope(maple.organization):
        build_fill_queue(pharmacy, items=1, today=today, per_patient=1)
    log_in(page, maple.technician)
    row = page.get_by_test_id("queue-item")
    expect(row.get_by_test_id("item-state")).to_have_text("To fill")
    page.evaluate("document.getElementById('queue-poll').remove()")
    held = []

    def hold_the_first_two(route):
        if len(held) < 2:
            held.append((route, route.fetch()))  # the queue as it is now, before the flag
        else:
            route.continue_()

    page.route(re.compile(r"/fill-queue/\?.*poll=1"), hold_the_first_two)
    page.evaluate("document.body.dispatchEvent(new Event('queue-changed'))")
    page.evaluate("document.body.dispatchEvent(new Event('queue-changed'))")
    for _ in range(100):  # until both are held (each a round trip to the server)
        if len(held) == 2:
            break
        page.wait_for_timeout(50)
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.locator("#flag-reason").select_option("out_of_stock")
    page.keyboard.press("Enter")
    expect(row.get_by_test_id("item-state")).to_have_text("Flagged")
    assert len(held) == 2
    for route, answer in held:
        route.fulfill(response=answer)  # both show the fill "To fill"
    expect(page.locator("#queue-notice")).to_contain_text("updated with a colleague's changes")
    expect(row.get_by_test_id("item-state")).to_have_text("Flagged")
    assert page.console_errors == [], page.console_errors
