"""Issue 10, defects 3 and 9 through the database: a fill handed out before its supply starts
records that start, planning walks the history with supply carried forward, and a fill takes its
quantity off what the prescription authorizes (numbers by hand; today Mon 3/2/2026)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from medsync.tenancy import tenant_scope
from patients.models import Fill, Prescription
from scheduling import services, sweeps
from scheduling.models import CycleItem, SyncCycle, SyncPlanItem
from scheduling.planning import fill_summaries
from tests.factories import FillFactory, InhalerFactory, SyncPrescriptionFactory
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db

D = dt.date


def at(day: dt.date):
    return time_machine.travel(dt.datetime(day.year, day.month, day.day, 15, tzinfo=dt.UTC))


def test_the_inhaler_handed_out_early_is_not_dispensed_again_early(maple):
    pharmacy = maple.pharmacies[0]
    with at(D(2026, 3, 2)):
        synced = make_patient(pharmacy, due_dates=[D(2026, 3, 5)])
        # 200 puffs at 4 a day = 50 days; filled 1/29 -> due 3/20; paid from 1/29 + 38 = 3/8.
        inhaler = SyncPrescriptionFactory(
            patient=synced.patient,
            pharmacy=pharmacy,
            coverage=synced.coverage,
            drug=InhalerFactory(),
            daily_dose=Decimal("4"),
            quantity_per_fill=Decimal("200"),
            days_supply=50,
            refills_authorized=5,
            refills_remaining=5,
        )
        FillFactory(
            prescription=inhaler, fill_date=D(2026, 1, 29), quantity=Decimal("200"), days_supply=50
        )
        synced.prescriptions.append(inhaler)
        enroll(pharmacy, synced, anchor=D(2026, 3, 5))
        with tenant_scope(maple.organization):
            plan_item = SyncPlanItem.objects.get(prescription=inhaler)
            # Handed out 3/8 (the first day the plan pays) with its supply from 3/20.
            assert plan_item.fills[0]["fill_date"] == "2026-03-08"
            assert plan_item.fills[0]["supply_start"] == "2026-03-20"
    with at(D(2026, 3, 6)), tenant_scope(maple.organization):
        sweeps.cycles_ensure_upcoming()
        item = CycleItem.objects.get(prescription=inhaler, cycle__anchor_date=D(2026, 4, 4))
        assert (item.fill_date, item.supply_start, item.days_supply) == (
            D(2026, 3, 8),
            D(2026, 3, 20),
            50,
        )
    with at(D(2026, 3, 8)), tenant_scope(maple.organization):
        services.cycle_item_advance(item=item, actor=maple.pharmacist, action="fill")
        fill = Fill.objects.get(prescription=inhaler, fill_date=D(2026, 3, 8))
        assert fill.supply_start == D(2026, 3, 20)
        # Refills counted in quantity: 5 refills x 200 left before, 800 after this one.
        inhaler.refresh_from_db()
        assert (inhaler.refills_remaining, inhaler.quantity_remaining) == (4, Decimal("800"))
        # The history walked with supply carried forward: due 5/9 (it said 3/8 + 50 = 4/27).
        assert fill_summaries([inhaler.pk], year=2026)[inhaler.pk].supply_end == D(2026, 5, 9)
    with at(D(2026, 4, 5)), tenant_scope(maple.organization):
        sweeps.cycles_ensure_upcoming()
        cycle = SyncCycle.objects.get(anchor_date=D(2026, 5, 4))
        # The next inhaler joins the anchor 5/4 with its supply from 5/9; the old due date 4/27
        # sent it out on 4/15 (the first paid day), 24 days before the first one ran out.
        again = cycle.items.get(prescription=inhaler)
        assert (again.fill_date, again.supply_start) == (D(2026, 5, 4), D(2026, 5, 9))


def test_a_history_with_a_recorded_supply_start_gives_the_carried_forward_due_date(maple):
    pharmacy = maple.pharmacies[0]
    with at(D(2026, 3, 21)), tenant_scope(maple.organization):
        synced = make_patient(pharmacy, due_dates=[D(2026, 3, 28)])
        rx = synced.prescriptions[0]
        # A short fill on the anchor 3/20 for 22 days whose supply starts 3/28: due 4/19, not
        # 3/20 + 22 = 4/11 (a re-plan the next day would have planned a second short fill).
        Fill.objects.create(
            organization=maple.organization,
            prescription=rx,
            fill_date=D(2026, 3, 20),
            supply_start=D(2026, 3, 28),
            quantity=Decimal("22"),
            days_supply=22,
            fill_number=2,
            scc_codes=[47],
        )
        summary = fill_summaries([rx.pk], year=2026)[rx.pk]
        assert (summary.supply_end, summary.last_fill_date, summary.last_fill_short) == (
            D(2026, 4, 19),
            D(2026, 3, 20),
            True,
        )


def test_returning_a_fill_to_stock_gives_its_quantity_and_refill_back(maple):
    pharmacy = maple.pharmacies[0]
    with at(D(2026, 3, 2)):
        synced = make_patient(pharmacy, due_dates=[D(2026, 3, 9)])
        rx = synced.prescriptions[0]
        enroll(pharmacy, synced, anchor=D(2026, 3, 9))
    with at(D(2026, 3, 9)), tenant_scope(maple.organization):
        before = Prescription.objects.get(pk=rx.pk)
        item = CycleItem.objects.get(prescription=rx)
        services.cycle_item_advance(item=item, actor=maple.pharmacist, action="fill")
        after = Prescription.objects.get(pk=rx.pk)
        assert after.refills_remaining == before.refills_remaining - 1
        assert after.quantity_remaining == before.quantity_per_fill * before.refills_remaining - 30
        assert after.quantity_authorized_total == before.quantity_per_fill * (
            before.refills_authorized + 1
        )
