"""Billing from the fill queue (issue 11, item 3): starting a fill submits its claim through
billing's simulator, a reject flags the fill with its code, meaning and fix, each fix is one
action, and a paid claim shows on the row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from billing.claim_models import Claim
from medsync.models import AuditEvent, Membership
from medsync.tenancy import tenant_scope
from scheduling import sweeps
from scheduling.models import CycleItem, FlagReason, ItemState
from tests.factories import FillFactory
from tests.factories.billing import (
    PlanProductRuleFactory,
    PlanRuleFactory,
    PriceListEntryFactory,
)
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def one_fill(tenant, *, recent_fill: bool = False) -> CycleItem:
    """One full fill on the Mar 5 anchor in today's queue; `recent_fill`: the prescription was
    also filled on Feb 28 for 30 days, so a claim on Mar 5 is a refill too soon (79)."""
    pharmacy = tenant.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 5)])
    enroll(pharmacy, synced, anchor=dt.date(2026, 3, 5))
    with tenant_scope(tenant.organization):
        sweeps.cycles_open_prefill()
        item = CycleItem.objects.select_related("prescription__drug").get(
            cycle__patient=synced.patient
        )
        PriceListEntryFactory(pharmacy=pharmacy, ndc=item.prescription.drug.ndc)
        if recent_fill:
            FillFactory(
                prescription=item.prescription,
                fill_date=dt.date(2026, 2, 28),
                days_supply=30,
                quantity=Decimal(30),
            )
        return item


def post(client, item, action, **data):
    return client.post(
        f"/fill-queue/items/{item.public_id}/{action}/", data, HTTP_HX_REQUEST="true"
    )


def test_start_bills_the_fill_and_the_row_shows_it_paid(client, login, maple, frozen):
    item = one_fill(maple)
    login(maple.technician)
    response = post(client, item, "bill", version=1)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Billed" in page and 'data-testid="claim-status"' in page and "Paid" in page
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        claim = Claim.objects.get(cycle_item_id=item.pk)
        assert claim.status == "paid" and claim.transaction == "B1"
        assert item.state == ItemState.BILLED and item.patient_pay == claim.patient_pay
        assert AuditEvent.objects.filter(action="scheduling.cycle_item.billed").count() == 1
    # Started twice (a second tab): refused, still one claim.
    again = post(client, item, "bill", version=2)
    assert again.status_code == 400 and "cannot be started" in again.content.decode()
    with tenant_scope(maple.organization):
        assert Claim.objects.filter(cycle_item_id=item.pk).count() == 1


def test_a_79_shows_its_fix_and_one_action_resubmits_with_scc_47(client, login, maple, frozen):
    item = one_fill(maple, recent_fill=True)
    login(maple.technician)
    rejected = post(client, item, "bill", version=1).content.decode()
    assert "Reject 79: Refill too soon." in rejected
    assert "Resubmit with SCC 47" in rejected  # the fix, as billing words it
    assert "Resubmit with sync SCC 47/48" in rejected and "Move to next anchor" in rejected
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.FLAGGED
        assert item.flag_reason == FlagReason.REFILL_TOO_SOON
    # The "rejects" filter finds it.
    assert str(item.public_id) in client.get("/fill-queue/?attention=1").content.decode()
    paid = post(client, item, "resubmit_scc", version=2).content.decode()
    assert "Paid (SCC 47)" in paid
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.BILLED and item.scc_codes == [47]
        claims = list(Claim.objects.filter(cycle_item_id=item.pk).order_by("pk"))
        assert [(c.status, c.scc_codes) for c in claims] == [("rejected", []), ("paid", [47])]


def test_a_79_the_plan_will_not_override_moves_to_the_next_anchor(client, login, maple, frozen):
    PlanRuleFactory(organization=maple.organization, sync_codes_allowed=False)
    item = one_fill(maple, recent_fill=True)
    login(maple.technician)
    rejected = post(client, item, "bill", version=1).content.decode()
    assert "Reject 79" in rejected and "Resubmit with sync SCC" not in rejected
    refused = post(client, item, "resubmit_scc", version=2)
    assert refused.status_code == 400 and "next anchor" in refused.content.decode()
    moved = post(client, item, "next_anchor", version=2)
    assert moved.status_code == 200
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.SKIPPED and "next anchor" in item.flag_note


def test_a_76_is_cut_to_what_the_plan_allows_in_one_action(client, login, maple, frozen):
    item = one_fill(maple)  # planned for 30 days; the plan's 20-day limit comes after
    PlanRuleFactory(organization=maple.organization, max_days_supply_per_fill=20)
    login(maple.technician)
    rejected = post(client, item, "bill", version=1).content.decode()
    assert "Reject 76: Plan limitations exceeded." in rejected
    assert "Cut to whole package, resubmit" in rejected
    post(client, item, "cut_package", version=2)
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.BILLED
        assert (item.quantity, item.days_supply) == (Decimal(20), 20)
        assert "(76)" in item.flag_note
        paid = Claim.objects.get(cycle_item_id=item.pk, status="paid")
        assert (paid.quantity, paid.days_supply) == (Decimal(20), 20)


def test_a_75_records_the_pa_number_and_resubmits(client, login, maple, frozen):
    item = one_fill(maple)
    rule = PlanRuleFactory(organization=maple.organization)
    PlanProductRuleFactory(plan_rule=rule, ndc=item.prescription.drug.ndc, prior_auth_required=True)
    login(maple.technician)
    rejected = post(client, item, "bill", version=1).content.decode()
    assert "Reject 75" in rejected and 'name="pa_number"' in rejected
    missing = post(client, item, "record_pa", version=2)
    assert missing.status_code == 400 and "prior authorization number" in missing.content.decode()
    post(client, item, "record_pa", version=2, pa_number="PA-20260302")
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.BILLED
        assert Claim.objects.get(cycle_item_id=item.pk, status="paid").prior_auth_number == (
            "PA-20260302"
        )


def test_birch_cannot_start_or_resubmit_maples_fill(client, login, maple, birch, frozen):
    item = one_fill(maple, recent_fill=True)
    login(birch.pharmacist)
    for action in ("bill", "resubmit_scc", "next_anchor", "cut_package"):
        assert post(client, item, action, version=1).status_code == 404
    with tenant_scope(maple.organization):
        assert not Claim.objects.filter(cycle_item_id=item.pk).exists()


def test_a_row_reads_the_same_on_the_page_as_after_its_own_change(client, login, maple, frozen):
    """The page builds its rows from values (scheduling.selectors.QueueRow); a row's own change
    answers with the model (queue_item). Both render the same markup in every state shown
    here: paid with SCC, rejected 79 with its fix, flagged with a note, scanned, a renewal
    warning, and untouched."""
    from scheduling import selectors
    from scheduling.views.queue_rows import render_queue_row

    rejected = one_fill(maple, recent_fill=True)
    paid = one_fill(maple)
    flagged = one_fill(maple)
    plain = one_fill(maple)
    login(maple.technician)
    assert post(client, rejected, "bill", version=1).status_code == 200
    assert post(client, paid, "bill", version=1).status_code == 200
    assert post(client, paid, "fill", version=2, ndc=paid.prescription.drug.ndc).status_code == 200
    post(client, flagged, "flag", version=1, flag_reason="out_of_stock", note="Back <Friday>")
    with tenant_scope(maple.organization):
        CycleItem.objects.filter(pk=plain.pk).update(
            warnings=[{"code": "renewal_needed", "message": "Ask Dr. O'Neil & co."}]
        )
        membership = Membership.objects.get(user=maple.technician)
        page = selectors.fill_queue_page(membership=membership, today=dt.date(2026, 3, 2))
        shown = {row.public_id: row for row in page.items}
        assert len(shown) == 4
        for can in [(True, False), (True, True), (False, True)]:
            for public_id, row in shown.items():
                model = selectors.queue_item(public_id, membership=membership)
                kwargs = dict(base="/q/", can_process=can[0], can_verify=can[1])
                assert render_queue_row(row, **kwargs) == render_queue_row(model, **kwargs)
        html = "".join(
            render_queue_row(r, base="/q/", can_process=True, can_verify=True)
            for r in shown.values()
        )
    assert "Reject 79" in html and "Paid" in html and "NDC" in html
    assert "Back &lt;Friday&gt;" in html and "O&#x27;Neil &amp; co." in html


def test_a_rejected_claim_is_queued_for_the_pharmacy_systems_webhook(maple, frozen):
    from django_scopes import scopes_disabled

    from medsync.models import WebhookDelivery
    from scheduling import services
    from tests.factories import WebhookSubscriptionFactory

    WebhookSubscriptionFactory(
        organization=maple.organization, url="https://hooks.example/h", events=["claim.rejected"]
    )
    rejected, paid = one_fill(maple, recent_fill=True), one_fill(maple)
    with tenant_scope(maple.organization):
        for item in (rejected, paid):
            services.cycle_item_bill(item=item, actor=maple.technician, expected_version=1)
        claim = Claim.objects.get(cycle_item_id=rejected.pk)
    with scopes_disabled():
        [delivery] = WebhookDelivery.objects.all()  # the paid one sent nothing
    assert delivery.event == "claim.rejected"
    assert delivery.payload["claim"] == str(claim.public_id)
    assert delivery.payload["cycle_item"] == str(rejected.public_id)
    assert delivery.payload["reject_codes"] == ["79"]
