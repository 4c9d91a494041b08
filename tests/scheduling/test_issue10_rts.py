"""Issue 10, defect 10: an aligning short fill dated before the anchor that is billed and
never picked up gets the return-to-stock warning and the pharmacist's task, while its cycle
is still open (only missed or partly picked-up cycles were looked at)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from billing.models import PlanRule
from medsync.tenancy import tenant_scope
from patients.models import Prescription
from scheduling import services, sweeps
from scheduling.models import CycleItem, CycleStatus, FollowUpTask, MessageRequest, SyncCycle
from tests.scheduling.conftest import enroll, make_patient
from tests.scheduling.test_sweeps import at, run, snapshot

pytestmark = pytest.mark.django_db


def test_an_unclaimed_short_fill_before_the_anchor_is_warned_then_tasked(maple):
    organization, pharmacy = maple.organization, maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 12)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    # The short fill due 3/5 (7 days, to the anchor 3/12) is filled and bagged on 3/3 and
    # never picked up. Part D: back to stock 10 days after billing -> deadline 3/13; the text
    # goes 3 days before (3/10), the task the day before (3/12).
    with tenant_scope(organization), time_machine.travel(at(2026, 3, 3, 16), tick=False):
        short = CycleItem.objects.get(fill_date=dt.date(2026, 3, 5))
        assert (short.kind, short.days_supply) == ("short", 7)
        services.cycle_item_advance(item=short, actor=maple.pharmacist, action="fill")
        services.cycle_item_advance(item=short, actor=maple.pharmacist, action="verify")
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 9, 15)).messages == 0
    result = run(organization, sweeps.cycles_check_pickups, at(2026, 3, 10, 15))
    assert (result.messages, result.tasks) == (1, 0)
    with tenant_scope(organization):
        cycle = SyncCycle.objects.get()
        assert cycle.status != CycleStatus.MISSED  # the cycle itself is still ahead
        request = MessageRequest.objects.get(kind="rts_warning")
        assert request.dedupe_key == f"cycle:{cycle.public_id}:rts_warning:early"
        assert request.context["pickup_by"] == "2026-03-12"
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 11, 15)).tasks == 0
    result = run(organization, sweeps.cycles_check_pickups, at(2026, 3, 12, 9))
    assert (result.messages, result.tasks) == (0, 1)
    after = snapshot(organization)
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 12, 10)).tasks == 0
    assert snapshot(organization) == after  # run twice: the same rows
    with tenant_scope(organization):
        task = FollowUpTask.objects.get(kind="return_to_stock")
        assert task.due_on == dt.date(2026, 3, 13)
        assert task.detail == (
            "Unclaimed fill before the anchor: reverse and return to stock by Mar 13."
        )


def test_a_planned_short_fill_before_the_anchor_is_not_warned(maple):
    """Only a fill on the shelf (billed, filled or bagged) can go back to stock."""
    organization, pharmacy = maple.organization, maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 12)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    result = run(organization, sweeps.cycles_check_pickups, at(2026, 3, 11, 15))
    assert (result.messages, result.tasks) == (0, 0)


def test_an_rx_naming_no_coverage_uses_the_primary_plans_return_to_stock_window(maple):
    """The pickups sweep falls back to the patient's primary coverage like planning does: the
    plan's 5-day window applies, not the cash default of 10 days."""
    organization, pharmacy = maple.organization, maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 12)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    with tenant_scope(organization):
        PlanRule.objects.create(
            name="Acme Part D", bin="610014", proration_policy="none", return_to_stock_days=5
        )
        Prescription.objects.filter(patient=synced.patient).update(coverage=None)
    with tenant_scope(organization), time_machine.travel(at(2026, 3, 3, 16), tick=False):
        short = CycleItem.objects.get(fill_date=dt.date(2026, 3, 5))
        services.cycle_item_advance(item=short, actor=maple.pharmacist, action="fill")
        services.cycle_item_advance(item=short, actor=maple.pharmacist, action="verify")
    # Billed 3/3 + 5 days: back to stock by 3/8, the text 3 days before (3/5).
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 4, 15)).messages == 0
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 5, 15)).messages == 1
    with tenant_scope(organization):
        request = MessageRequest.objects.get(kind="rts_warning")
        assert request.context["pickup_by"] == "2026-03-07"
