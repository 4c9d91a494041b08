"""The return-to-stock sweep (scheduling.sweeps.items_return_to_stock with
billing.services.claim_reverse): exactly the fills past their payer's window are reversed,
once, on the pharmacy's local day, across the end of daylight saving time."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from billing.claim_models import Claim
from billing.services import ClaimSubject, claim_submit
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from scheduling import services, sweeps
from scheduling.models import CycleItem
from tests.factories import PriceListEntryFactory
from tests.scheduling.conftest import enroll, make_patient
from tests.scheduling.test_sweeps import at, run

pytestmark = pytest.mark.django_db


def _bill(item, when, actor):
    with time_machine.travel(when, tick=False):
        services.cycle_item_advance(item=item, actor=actor, action="fill")
        rx = item.prescription
        return claim_submit(
            subject=ClaimSubject(
                pharmacy=item.cycle.pharmacy, patient=item.cycle.patient, prescription=rx,
                coverage=rx.coverage, cycle_item_id=item.pk, date_of_service=item.fill_date,
                quantity=item.quantity, days_supply=item.days_supply, fill_number=1,
                scc_codes=tuple(item.scc_codes),
            ),
            actor=actor,
        )  # fmt: skip


def test_the_sweep_reverses_exactly_the_fills_past_their_window_once_across_dst(maple):
    """Chicago; daylight saving ends Sun 2026-11-01. The short fill is billed Fri 10/30 at
    11:30 pm CDT (04:30 UTC on 10/31): Part D's 10-day window closes on local 11/9, which
    starts at 06:00 UTC (CST), not 05:00 (CDT)."""
    org, pharmacy = maple.organization, maple.pharmacies[0]
    with time_machine.travel(at(2026, 10, 28, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 10, 30), dt.date(2026, 11, 5)])
        with tenant_scope(org):
            for rx in synced.prescriptions:
                PriceListEntryFactory(pharmacy=pharmacy, ndc=rx.drug.ndc)
        enroll(pharmacy, synced, anchor=dt.date(2026, 11, 5))
    with tenant_scope(org):
        short = CycleItem.objects.select_related("cycle", "prescription").get(
            fill_date=dt.date(2026, 10, 30)
        )
        anchor = CycleItem.objects.select_related("cycle", "prescription").get(
            fill_date=dt.date(2026, 11, 5), prescription=synced.prescriptions[1]
        )
        paid_short = _bill(short, at(2026, 10, 31, 4, 30), maple.technician)
        paid_anchor = _bill(anchor, at(2026, 11, 3, 15), maple.technician)
    assert (paid_short.status, paid_anchor.status) == ("paid", "paid")
    with tenant_scope(org):
        billed_version = CycleItem.objects.get(pk=short.pk).version

    # 11:30 pm CST on 11/8: still inside the window (a CDT clock would say 11/9).
    assert run(org, sweeps.items_return_to_stock, at(2026, 11, 9, 5, 30)).items == 0
    # 00:30 CST on 11/9: the short fill's window has closed; the anchor fill's has not.
    assert run(org, sweeps.items_return_to_stock, at(2026, 11, 9, 6, 30)).items == 1
    assert run(org, sweeps.items_return_to_stock, at(2026, 11, 9, 7, 30)).items == 0  # twice
    with tenant_scope(org):
        short.refresh_from_db()
        anchor.refresh_from_db()
        assert short.state == "returned" and anchor.state != "returned"
        # Once, and seen: open fill queues refresh on a version change.
        assert short.version == billed_version + 1
        reversals = Claim.objects.filter(transaction="B2")
        assert [(r.cycle_item_id, r.status) for r in reversals] == [(short.pk, "accepted")]
        assert Claim.objects.get(pk=paid_short.pk).status == "reversed"
        assert Claim.objects.get(pk=paid_anchor.pk).status == "paid"
        assert AuditEvent.objects.filter(action="scheduling.item.returned_to_stock").count() == 1
        assert "10 days" in Claim.objects.get(pk=paid_short.pk).reversal_reason
