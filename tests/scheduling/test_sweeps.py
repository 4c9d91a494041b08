"""The sweeps in-process, with frozen time: what each one does, that a second run changes
nothing, that each pharmacy's own calendar day counts (daylight-saving days included), and
that one organization's sweep never touches another's rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.models import PrescriptionStatus
from scheduling import cycle_rows, selectors, services, sql, sweeps
from scheduling.exceptions import SchedulingError
from scheduling.models import (
    CycleEvent,
    CycleItem,
    CycleStatus,
    FlagReason,
    FollowUpTask,
    ItemState,
    MessageRequest,
    ReplanProposal,
    SyncCycle,
    SyncEnrollment,
    SyncPlanItem,
    SyncSettings,
)
from tests.factories import SyncPrescriptionFactory
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def snapshot(organization):
    """Every row the sweeps write, as comparable tuples."""
    with tenant_scope(organization):
        return {
            "cycles": sorted(
                SyncCycle.objects.values_list(
                    "pk", "anchor_date", "status", "contact_outcome", "close_reason", "prep_open"
                )
            ),
            "items": sorted(
                CycleItem.objects.values_list("pk", "cycle_id", "fill_date", "state", "flag_reason")
            ),
            "events": sorted(CycleEvent.objects.values_list("pk", "cycle_id", "kind")),
            "messages": sorted(MessageRequest.objects.values_list("pk", "dedupe_key", "kind")),
            "tasks": sorted(FollowUpTask.objects.values_list("pk", "cycle_id", "kind")),
            "proposals": sorted(ReplanProposal.objects.values_list("pk", "status", "reasons")),
        }


def run(organization, sweep, now):
    with time_machine.travel(now, tick=False), tenant_scope(organization):
        return sweep()


@pytest.fixture
def maple_patient(maple):
    """Enrolled 3/2 on anchor Thu 3/12 with prescriptions due 3/5 and 3/12; texts by SMS."""
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 12)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    return synced


# --- (a) cycles ---------------------------------------------------------------------------


def test_the_cycle_sweep_makes_the_next_cycle_once(maple, maple_patient):
    organization = maple.organization
    assert run(organization, sweeps.cycles_ensure_upcoming, at(2026, 3, 12, 15)).cycles == 0
    first = run(organization, sweeps.cycles_ensure_upcoming, at(2026, 3, 13, 15))
    assert first.cycles == 1 and first.items == 2
    after_one = snapshot(organization)
    second = run(organization, sweeps.cycles_ensure_upcoming, at(2026, 3, 13, 16))
    assert second.cycles == 0
    assert snapshot(organization) == after_one
    with tenant_scope(organization):
        cycle = SyncCycle.objects.get(anchor_date=dt.date(2026, 4, 11))
        assert (cycle.prep_due_on, cycle.prefill_due_on) == (
            dt.date(2026, 4, 4),
            dt.date(2026, 4, 8),
        )
        items = list(cycle.items.order_by("prescription_id"))
        # Full 30-day fills on the anchor; SCC 48 rode on the first full fill, not on these.
        assert [(i.kind, i.quantity, i.days_supply, i.scc_codes) for i in items] == [
            ("full", Decimal("30"), 30, []),
            ("full", Decimal("30"), 30, []),
        ]
        assert all(i.patient_pay == Decimal("10.00") for i in items)


def test_the_cycle_sweep_skips_paused_and_disenrolled_patients(maple, maple_patient):
    with tenant_scope(maple.organization):
        enrollment = SyncEnrollment.objects.get()
        services.enrollment_pause(enrollment=enrollment, actor=None, reason="Hospital")
    assert run(maple.organization, sweeps.cycles_ensure_upcoming, at(2026, 3, 13, 15)).cycles == 0


def test_the_cycle_sweep_costs_the_same_queries_per_batch_whatever_its_size(maple):
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        for _ in range(6):
            synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 9)])
            enroll(pharmacy, synced, anchor=dt.date(2026, 3, 9))

    def queries(limit):
        with tenant_scope(maple.organization):
            SyncCycle.objects.filter(anchor_date__gt=dt.date(2026, 3, 9)).delete()
        with CaptureQueriesContext(connection) as captured:
            result = run(
                maple.organization,
                lambda: sweeps.cycles_ensure_upcoming(limit=limit),
                at(2026, 3, 10, 15),
            )
        assert result.cycles == 6
        return len(captured), result.batches

    small_queries, small_batches = queries(2)  # three batches of two
    big_queries, big_batches = queries(6)  # one batch of six
    per_batch = (small_queries - big_queries) / (small_batches - big_batches)
    # Same fixed cost per batch: total = overhead + batches x per-batch queries.
    assert big_queries - per_batch * big_batches == pytest.approx(
        small_queries - per_batch * small_batches
    )
    assert per_batch <= 12


def test_postgres_repeats_only_the_fills_python_would_plan_the_same_way(maple):
    """The cycle sweep leaves routine fills to PostgreSQL (sql.ROUTINE_ITEM) and plans the
    rest in Python: both must agree on which is which, and each fill must come out as
    cycle_rows.cycle_item_rows and the renewal check would make it."""
    pharmacy = maple.pharmacies[0]
    march_12, april_11, may_11 = dt.date(2026, 3, 12), dt.date(2026, 4, 11), dt.date(2026, 5, 11)
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        # Due 3/12 (x4): on the anchor; due 3/20: filled short on 3/12, its first full (SCC 48)
        # on 4/11 - a planned fill inside the 4/11 cycle's window.
        synced = make_patient(pharmacy, due_dates=[march_12] * 4 + [dt.date(2026, 3, 20)])
        enroll(pharmacy, synced, anchor=march_12)
    routine, last_refill, expiring, stopped, aligning = synced.prescriptions
    with tenant_scope(maple.organization):
        last_refill.refills_remaining = 1
        last_refill.save()
        expiring.expiration_date = dt.date(2026, 5, 1)  # before the next anchor, 5/11
        expiring.save()
        stopped.status = PrescriptionStatus.DISCONTINUED
        stopped.save()
        plan_items = {
            i.prescription_id: i for i in SyncPlanItem.objects.filter(plan__is_current=True)
        }
        plan_id = next(iter(plan_items.values())).plan_id
        left_to_python = {
            row[4]
            for row in sql.current_plan_items(
                organization_id=maple.organization.pk, plans=[(plan_id, march_12, may_11)]
            )
        }
    assert left_to_python == {last_refill.pk, expiring.pk, stopped.pk, aligning.pk}
    # Python's own planning of the one left to PostgreSQL: the recurring full fill, no warning.
    assert cycle_rows.cycle_item_rows(
        plan_items[routine.pk], anchor=april_11, previous_anchor=march_12
    ) == [
        {
            "fill_date": "2026-04-11",
            "quantity": "30.000",
            "days_supply": 30,
            "kind": "full",
            "scc_codes": [],
            "patient_pay": "10.00",
        }
    ]

    result = run(maple.organization, sweeps.cycles_ensure_upcoming, at(2026, 3, 13, 15))
    assert (result.cycles, result.items) == (1, 4)
    with tenant_scope(maple.organization):
        cycle = SyncCycle.objects.get(anchor_date=april_11)
        assert cycle.needs_renewal
        items = {i.prescription_id: i for i in cycle.items.all()}
    assert stopped.pk not in items  # replans_detect proposes the change
    assert {rx: (i.fill_date, i.kind, i.quantity, i.scc_codes) for rx, i in items.items()} == {
        routine.pk: (april_11, "full", Decimal("30"), []),
        last_refill.pk: (april_11, "full", Decimal("30"), []),
        expiring.pk: (april_11, "full", Decimal("30"), []),
        aligning.pk: (april_11, "full", Decimal("30"), [48]),
    }
    assert items[routine.pk].warnings == [] and items[routine.pk].patient_pay == Decimal("10.00")
    assert items[routine.pk].queue_from == cycle.prefill_due_on
    for rx in (last_refill, expiring):
        assert [w["code"] for w in items[rx.pk].warnings] == ["renewal_needed"]


# --- (b) prep ----------------------------------------------------------------------------------


def test_prep_opens_at_anchor_minus_seven_days_with_a_reminder_request(maple, maple_patient):
    organization = maple.organization
    assert run(organization, sweeps.cycles_open_prep, at(2026, 3, 4, 15)).cycles == 0
    first = run(organization, sweeps.cycles_open_prep, at(2026, 3, 5, 15))
    assert first.cycles == 1 and first.messages == 1
    after_one = snapshot(organization)
    assert run(organization, sweeps.cycles_open_prep, at(2026, 3, 5, 18)).cycles == 0
    assert snapshot(organization) == after_one
    with tenant_scope(organization):
        cycle = SyncCycle.objects.get()
        assert cycle.status == CycleStatus.PREP_DUE and cycle.prep_open
        request = MessageRequest.objects.get()
        assert request.kind == "prep_reminder"
        assert request.dedupe_key == f"cycle:{cycle.public_id}:prep_reminder"
        assert request.context["anchor_date"] == "2026-03-12"
        assert cycle.prep_opened_at is not None
        assert not CycleEvent.objects.exists()  # nothing happened with the patient yet
        assert AuditEvent.objects.filter(action="scheduling.sweep.prep_opened").count() == 1


def test_no_reminder_is_requested_for_a_patient_called_by_phone(maple):
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 12)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12), contact_channel="phone")
    result = run(maple.organization, sweeps.cycles_open_prep, at(2026, 3, 5, 15))
    assert result.cycles == 1 and result.messages == 0
    with tenant_scope(maple.organization):
        assert not MessageRequest.objects.exists()


def test_prep_moves_to_the_open_day_before_a_closed_day(maple):
    pharmacy = maple.pharmacies[0]
    with tenant_scope(maple.organization):
        SyncSettings.objects.create(pharmacy=pharmacy, closed_weekdays=[3])  # closed Thursdays
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 12)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    with tenant_scope(maple.organization):
        cycle = SyncCycle.objects.get()
    # 3/12 - 7 = Thu 3/5 (closed): the call moves to Wed 3/4; 3/12 - 3 = Mon 3/9 stays.
    assert cycle.prep_due_on == dt.date(2026, 3, 4)
    assert cycle.prefill_due_on == dt.date(2026, 3, 9)


# --- Daylight-saving days ----------------------------------------------------------------------


def hourly(start: dt.datetime, hours: int):
    return [start + dt.timedelta(hours=h) for h in range(hours)]


def test_prep_on_the_spring_forward_day_opens_once_at_local_midnight(maple):
    """Sun 2026-03-08 in Chicago has 23 hours. Anchor 3/15: prep due that day."""
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 1, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 15)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 15))
    opened_at = []
    for now in hourly(at(2026, 3, 7, 12), 36):  # every hour through the short day
        if run(maple.organization, sweeps.cycles_open_prep, now).cycles:
            opened_at.append(now)
    # 06:00 UTC is local midnight (CST, UTC-6) on the 8th; the clocks jump at 08:00 UTC.
    assert opened_at == [at(2026, 3, 8, 6)]
    with tenant_scope(maple.organization):
        assert SyncCycle.objects.get().prep_opened_at == at(2026, 3, 8, 6)
        assert MessageRequest.objects.count() == 1


def test_prep_on_the_fall_back_day_opens_once_despite_the_repeated_hour(maple):
    """Sun 2026-11-01 in Chicago has 25 hours (1:00-2:00 happens twice)."""
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 10, 25, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 11, 8)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 11, 8))
    opened_at = []
    for now in hourly(at(2026, 10, 31, 12), 36):
        for minute in (0, 30):  # twice an hour: the repeated local hour is swept four times
            moment = now + dt.timedelta(minutes=minute)
            if run(maple.organization, sweeps.cycles_open_prep, moment).cycles:
                opened_at.append(moment)
    assert opened_at == [at(2026, 11, 1, 5)]  # local midnight, CDT (UTC-5)
    with tenant_scope(maple.organization):
        assert MessageRequest.objects.count() == 1


def test_the_missed_pickup_day_follows_local_time_across_the_fall_back(maple):
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 10, 28, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 10, 31)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 10, 31))
    run(maple.organization, sweeps.cycles_open_prefill, at(2026, 10, 28, 16))
    missed_at = []
    for now in hourly(at(2026, 10, 31, 12), 30):
        if run(maple.organization, sweeps.cycles_check_pickups, now).cycles:
            missed_at.append(now)
    assert missed_at == [at(2026, 11, 1, 5)]  # the first hour of Nov 1, Chicago time


def test_each_pharmacy_uses_its_own_time_zone(maple, birch):
    """At 05:30 UTC on 3/8 it is already the 8th in Asheville but still the 7th in Madison."""
    made = []
    for tenant in (maple, birch):
        pharmacy = tenant.pharmacies[0]
        with time_machine.travel(at(2026, 3, 1, 15), tick=False):
            synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 15)])
            enroll(pharmacy, synced, anchor=dt.date(2026, 3, 15))
        made.append(synced)
    moment = at(2026, 3, 8, 5, 30)
    assert run(birch.organization, sweeps.cycles_open_prep, moment).cycles == 1
    assert run(maple.organization, sweeps.cycles_open_prep, moment).cycles == 0


# --- Tenancy ------------------------------------------------------------------------------------


def test_a_birch_sweep_never_touches_maples_cycles(maple, birch, maple_patient):
    before = snapshot(maple.organization)
    for sweep in (
        sweeps.cycles_ensure_upcoming,
        sweeps.cycles_open_prep,
        sweeps.cycles_open_prefill,
        sweeps.cycles_check_pickups,
        sweeps.replans_detect,
    ):
        for day in (5, 9, 13, 20):
            run(birch.organization, sweep, at(2026, 3, day, 15))
    assert snapshot(maple.organization) == before


# --- (c) pre-fill --------------------------------------------------------------------------------


def test_prefill_queues_the_fills_and_flags_missing_renewals(maple):
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 12), dt.date(2026, 3, 12)])
        last_refill = synced.prescriptions[1]
        last_refill.refills_remaining = 1
        last_refill.save()
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12), contact_channel="phone")
    with tenant_scope(maple.organization):
        cycle = SyncCycle.objects.get()
        warned = CycleItem.objects.get(prescription=last_refill)
        assert cycle.needs_renewal
        assert any(w["code"] == "renewal_needed" for w in warned.warnings)
        # The renewal never came and the last refill went elsewhere: none left by pre-fill.
        last_refill.refills_remaining = 0
        last_refill.save()
    first = run(maple.organization, sweeps.cycles_open_prefill, at(2026, 3, 9, 15))
    assert first.cycles == 1
    after_one = snapshot(maple.organization)
    run(maple.organization, sweeps.cycles_open_prefill, at(2026, 3, 9, 20))
    assert snapshot(maple.organization) == after_one
    with tenant_scope(maple.organization):
        cycle.refresh_from_db()
        assert cycle.status == CycleStatus.FILLING
        states = dict(CycleItem.objects.values_list("prescription_id", "state"))
        assert states[synced.prescriptions[0].pk] == ItemState.PLANNED
        flagged = CycleItem.objects.get(prescription=last_refill)
        assert (flagged.state, flagged.flag_reason) == (ItemState.FLAGGED, "renewal_needed")
        kinds = set(FollowUpTask.objects.values_list("kind", flat=True))
        # Not reached by phone before the pre-fill, and a renewal to chase.
        assert kinds == {"renewal_needed", "unreachable"}
        # Clearing the flag is refused until the prescriber renews.
        with pytest.raises(SchedulingError, match="still has no refills"):
            services.cycle_item_advance(item=flagged, actor=maple.pharmacist, action="unflag")
        last_refill.refills_remaining = 5
        last_refill.save()
        item = services.cycle_item_advance(item=flagged, actor=maple.pharmacist, action="unflag")
        assert item.state == ItemState.PLANNED
    run(maple.organization, sweeps.cycles_open_prefill, at(2026, 3, 10, 15))
    with tenant_scope(maple.organization):
        assert CycleItem.objects.get(prescription=last_refill).state == ItemState.PLANNED


def test_prefill_holds_fills_of_a_patient_with_a_pending_replan(maple, maple_patient):
    with tenant_scope(maple.organization):
        services.replan_propose(
            enrollment=SyncEnrollment.objects.get(),
            reasons=["hospital_stay"],
            details=["Hospital last week."],
        )
    run(maple.organization, sweeps.cycles_open_prefill, at(2026, 3, 9, 15))
    with tenant_scope(maple.organization):
        anchor_items = CycleItem.objects.filter(fill_date=dt.date(2026, 3, 12))
        assert {i.flag_reason for i in anchor_items} == {FlagReason.NEEDS_PHARMACIST}


# --- (d) pickups ---------------------------------------------------------------------------------


def fill_everything(organization, actor):
    with tenant_scope(organization):
        for item in CycleItem.objects.filter(state=ItemState.PLANNED):
            services.cycle_item_advance(item=item, actor=actor, action="fill")
            services.cycle_item_advance(item=item, actor=actor, action="verify")


def test_a_cycle_not_picked_up_the_day_after_its_anchor_is_missed_once(maple, maple_patient):
    organization = maple.organization
    run(organization, sweeps.cycles_open_prefill, at(2026, 3, 9, 15))
    with time_machine.travel(at(2026, 3, 9, 16), tick=False):
        fill_everything(organization, maple.pharmacist)
    with tenant_scope(organization):
        assert SyncCycle.objects.get().status == CycleStatus.READY
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 12, 23)).cycles == 0
    first = run(organization, sweeps.cycles_check_pickups, at(2026, 3, 13, 15))
    assert first.cycles == 1 and first.tasks == 1
    after_one = snapshot(organization)
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 13, 16)).cycles == 0
    assert snapshot(organization) == after_one
    with tenant_scope(organization):
        cycle = SyncCycle.objects.get()
        assert cycle.status == CycleStatus.MISSED
        task = FollowUpTask.objects.get(kind="missed_pickup")
        assert task.due_on == dt.date(2026, 3, 13)
        kinds = set(MessageRequest.objects.values_list("kind", flat=True))
        assert kinds == {"ready_for_pickup", "missed_pickup"}


def test_unclaimed_fills_get_a_return_to_stock_warning_then_a_task(maple, maple_patient):
    organization = maple.organization
    run(organization, sweeps.cycles_open_prefill, at(2026, 3, 9, 15))
    with time_machine.travel(at(2026, 3, 9, 16), tick=False):
        fill_everything(organization, maple.pharmacist)
    run(organization, sweeps.cycles_check_pickups, at(2026, 3, 13, 15))
    # Billed 3/9 (Part D default: 10 days) -> back to stock by 3/19; warn 3 days before.
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 15, 15)).messages == 0
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 16, 15)).messages == 1
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 3, 17, 15)).messages == 0
    result = run(organization, sweeps.cycles_check_pickups, at(2026, 3, 18, 15))
    assert result.tasks == 1
    with tenant_scope(organization):
        task = FollowUpTask.objects.get(kind="return_to_stock")
        assert task.due_on == dt.date(2026, 3, 19)
        request = MessageRequest.objects.get(kind="rts_warning")
        assert request.context["pickup_by"] == "2026-03-18"
        cycle = SyncCycle.objects.get()
        rx = maple_patient.prescriptions[0]
        refills_before = type(rx).objects.get(pk=rx.pk).refills_remaining
        with time_machine.travel(at(2026, 3, 19, 15), tick=False):
            returned = services.cycle_items_return_to_stock(cycle=cycle, actor=maple.pharmacist)
        assert returned == 3  # the short fill and both anchor fills
        cycle.refresh_from_db()
        assert (cycle.status, cycle.close_reason) == (CycleStatus.CLOSED, "returned_to_stock")
        assert type(rx).objects.get(pk=rx.pk).refills_remaining == refills_before + 2
        task.refresh_from_db()
        assert task.status == "done"


def test_a_partial_pickup_then_the_rest(maple, maple_patient):
    organization = maple.organization
    run(organization, sweeps.cycles_open_prefill, at(2026, 3, 9, 15))
    with time_machine.travel(at(2026, 3, 9, 16), tick=False):
        fill_everything(organization, maple.pharmacist)
    with tenant_scope(organization), time_machine.travel(at(2026, 3, 12, 16), tick=False):
        cycle = SyncCycle.objects.get()
        first = CycleItem.objects.filter(fill_date=dt.date(2026, 3, 12)).first()
        services.cycle_pickup_record(cycle=cycle, actor=maple.technician, items=[first])
        cycle.refresh_from_db()
        assert cycle.status == CycleStatus.PARTLY_PICKED_UP
        services.cycle_pickup_record(cycle=cycle, actor=maple.technician)
        cycle.refresh_from_db()
        assert cycle.status == CycleStatus.PICKED_UP
        assert (
            list(CycleEvent.objects.filter(cycle=cycle).values_list("kind", flat=True)).count(
                "partly_picked_up"
            )
            == 1
        )
    run(organization, sweeps.cycles_check_pickups, at(2026, 3, 13, 15))
    with tenant_scope(organization):
        cycle.refresh_from_db()
        assert (cycle.status, cycle.close_reason) == (CycleStatus.CLOSED, "completed")


def test_a_missed_cycle_nobody_filled_lapses_when_the_next_anchor_comes(maple, maple_patient):
    organization = maple.organization
    run(organization, sweeps.cycles_open_prefill, at(2026, 3, 9, 15))
    run(organization, sweeps.cycles_check_pickups, at(2026, 3, 13, 15))
    assert run(organization, sweeps.cycles_check_pickups, at(2026, 4, 10, 15)).cycles == 0
    run(organization, sweeps.cycles_check_pickups, at(2026, 4, 11, 15))
    with tenant_scope(organization):
        cycle = SyncCycle.objects.get(anchor_date=dt.date(2026, 3, 12))
        assert (cycle.status, cycle.close_reason) == (CycleStatus.CLOSED, "lapsed")
        assert set(cycle.items.values_list("state", flat=True)) == {ItemState.SKIPPED}


# --- Re-plans ----------------------------------------------------------------------------------


def test_a_new_prescription_a_dose_change_and_a_stop_each_propose_a_replan_once(
    maple, maple_patient
):
    organization = maple.organization
    assert run(organization, sweeps.replans_detect, at(2026, 3, 3, 15)).proposals == 0
    with tenant_scope(organization):
        first, second = maple_patient.prescriptions
        first.daily_dose = Decimal("2")
        first.save()
        second.status = PrescriptionStatus.DISCONTINUED
        second.save()
        new = SyncPrescriptionFactory(
            patient=maple_patient.patient,
            pharmacy=first.pharmacy,
            coverage=maple_patient.coverage,
        )
    assert run(organization, sweeps.replans_detect, at(2026, 3, 3, 16)).proposals == 1
    after_one = snapshot(organization)
    assert run(organization, sweeps.replans_detect, at(2026, 3, 3, 17)).proposals == 0
    assert snapshot(organization) == after_one
    with tenant_scope(organization):
        proposal = ReplanProposal.objects.get()
        assert proposal.reasons == ["discontinuation", "dose_change", "new_rx"]
        assert any(new.rx_number in line for line in proposal.details)
        # Rejected: the same change is not proposed again.
        services.replan_reject(proposal=proposal, actor=maple.pharmacist, note="Leave it")
    assert run(organization, sweeps.replans_detect, at(2026, 3, 3, 18)).proposals == 0


def test_approving_a_replan_rebuilds_the_cycle_not_yet_filled(maple, maple_patient):
    organization = maple.organization
    with tenant_scope(organization):
        first, second = maple_patient.prescriptions
        second.status = PrescriptionStatus.DISCONTINUED
        second.save()
    run(organization, sweeps.replans_detect, at(2026, 3, 3, 15))
    with tenant_scope(organization), time_machine.travel(at(2026, 3, 3, 16), tick=False):
        proposal = ReplanProposal.objects.get()
        plan = services.replan_approve(proposal=proposal, actor=maple.pharmacist)
        assert plan.anchor_date == dt.date(2026, 3, 12)  # the patient keeps the pickup day
        cycle = SyncCycle.objects.get()
        assert set(cycle.items.values_list("prescription_id", flat=True)) == {first.pk}
        enrollment = SyncEnrollment.objects.get()
        assert enrollment.plans.filter(is_current=True).get() == plan
        assert enrollment.plans.count() == 2


def test_pausing_closes_open_cycles_and_resuming_asks_for_a_replan(maple, maple_patient):
    organization = maple.organization
    with tenant_scope(organization), time_machine.travel(at(2026, 3, 3, 15), tick=False):
        enrollment = SyncEnrollment.objects.get()
        services.enrollment_pause(enrollment=enrollment, actor=maple.pharmacist, reason="Rehab")
        cycle = SyncCycle.objects.get()
        assert (cycle.status, cycle.close_reason) == (CycleStatus.CLOSED, "paused")
        services.enrollment_resume(enrollment=enrollment, actor=maple.pharmacist)
        proposal = ReplanProposal.objects.get()
        services.replan_approve(proposal=proposal, actor=maple.pharmacist)
        cycle.refresh_from_db()
        # The same anchor's slot is reused: one cycle per enrollment and anchor.
        assert cycle.status == CycleStatus.SCHEDULED
        assert cycle.items.exclude(state=ItemState.SKIPPED).exists()


def test_the_cycle_sweep_brings_back_a_cycle_closed_by_a_pause(maple, maple_patient):
    organization = maple.organization
    with tenant_scope(organization), time_machine.travel(at(2026, 3, 3, 15), tick=False):
        enrollment = SyncEnrollment.objects.get()
        services.enrollment_pause(enrollment=enrollment, actor=maple.pharmacist, reason="Trip")
        services.enrollment_resume(enrollment=enrollment, actor=maple.pharmacist)
        cycle = SyncCycle.objects.get()
        assert (cycle.status, cycle.close_reason) == (CycleStatus.CLOSED, "paused")
        # While it was paused the pharmacy moved its pre-fill to two days before the anchor.
        timing = selectors.sync_settings_for(maple.pharmacies[0])
        timing.prefill_days = 2
        timing.save()
    first = run(organization, sweeps.cycles_ensure_upcoming, at(2026, 3, 4, 15))
    assert first.cycles == 1
    after_one = snapshot(organization)
    assert run(organization, sweeps.cycles_ensure_upcoming, at(2026, 3, 4, 16)).cycles == 0
    assert snapshot(organization) == after_one
    with tenant_scope(organization):
        assert SyncCycle.objects.count() == 1  # the same slot, reopened
        cycle.refresh_from_db()
        assert (cycle.status, cycle.close_reason) == (CycleStatus.SCHEDULED, "")
        assert cycle.prefill_due_on == dt.date(2026, 3, 10)  # today's timing, not the old one
        assert set(
            cycle.items.filter(fill_date=dt.date(2026, 3, 12)).values_list("queue_from", flat=True)
        ) == {dt.date(2026, 3, 10)}
        # The plan again: the aligning short fill on 3/5, then both full fills on the anchor.
        assert sorted(
            cycle.items.filter(state=ItemState.PLANNED).values_list("fill_date", "kind")
        ) == [
            (dt.date(2026, 3, 5), "short"),
            (dt.date(2026, 3, 12), "full"),
            (dt.date(2026, 3, 12), "full"),
        ]


# --- Hand-over to messaging ----------------------------------------------------------------


def test_message_requests_are_handed_to_messaging_once(maple, maple_patient):
    organization = maple.organization
    run(organization, sweeps.cycles_open_prep, at(2026, 3, 5, 15))
    first = run(organization, sweeps.message_requests_hand_over, at(2026, 3, 5, 15, 5))
    with tenant_scope(organization):
        request = MessageRequest.objects.get()
        assert request.status in ("handed_over", "skipped")  # skipped: no SMS consent on file
        assert first.messages == 1
    second = run(organization, sweeps.message_requests_hand_over, at(2026, 3, 5, 15, 10))
    assert second.messages == 0


def test_the_cycle_sweep_split_in_partitions_makes_every_cycle_once(maple):
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        for _ in range(5):
            enroll(
                pharmacy,
                make_patient(pharmacy, due_dates=[dt.date(2026, 3, 9)]),
                anchor=dt.date(2026, 3, 9),
            )
    moment = at(2026, 3, 10, 15)
    first = run(
        maple.organization, lambda: sweeps.cycles_ensure_upcoming(partition=0, partitions=2), moment
    )
    second = run(
        maple.organization, lambda: sweeps.cycles_ensure_upcoming(partition=1, partitions=2), moment
    )
    assert first.cycles + second.cycles == 5 and first.cycles and second.cycles
    assert run(maple.organization, sweeps.cycles_ensure_upcoming, moment).cycles == 0


def test_the_database_refuses_an_item_of_another_organizations_cycle(maple, birch, maple_patient):
    """Cycle items carry one composite foreign key (organization, cycle): an item cannot
    name a cycle of another organization, whatever code writes it."""
    from django.db import IntegrityError, transaction

    with tenant_scope(maple.organization):
        item = CycleItem.objects.first()
    with (
        pytest.raises(IntegrityError, match="cycle_item_cycle_same_tenant"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS cycle_item_cycle_same_tenant IMMEDIATE")
        cursor.execute(
            "UPDATE scheduling_cycleitem SET organization_id = %s WHERE id = %s",
            [birch.organization.pk, item.pk],
        )
    with tenant_scope(maple.organization):
        assert CycleItem.objects.filter(pk=item.pk).exists()
