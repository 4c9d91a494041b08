"""The sync engine's services with worked examples from DOMAIN sections 1 to 4: enrollment
and its plan, an inhaler, a prescription out of refills, Part D, coinsurance and capped
commercial plans, the SMS replies, refusals, and what pausing or leaving does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from messaging import registry
from messaging.models import Message
from messaging.services import sms_consent_grant
from patients.models import Household, PlanType, PrescriptionStatus, SyncDecision
from scheduling import selectors, services, sweeps
from scheduling.exceptions import NotFoundInTenant, SchedulingError
from scheduling.models import (
    CycleItem,
    CycleStatus,
    ItemState,
    MessageRequest,
    PrepContact,
    SyncCycle,
    SyncEnrollment,
    SyncPlanItem,
    SyncSettings,
)
from tests.factories import (
    CoverageFactory,
    FillFactory,
    InhalerFactory,
    SyncPrescriptionFactory,
)
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # Monday 3/2, 9:00 in Madison
D = dt.date


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def items_by_rx(organization):
    with tenant_scope(organization):
        return {
            (i.prescription_id, i.fill_date): i
            for i in CycleItem.objects.select_related("cycle").order_by("fill_date", "id")
        }


# --- Worked examples --------------------------------------------------------------------------


def test_a_four_drug_patient_lines_up_on_one_anchor(maple):
    """Four prescriptions due 3/5, 3/10, 3/12 and 3/20, Part D $10 copays, anchor Fri 3/20.

    DOMAIN 3: short-fill days = A - N, quantity = days x dose; SCC 47 on the short fill, 48 on
    the first full fill after it. DOMAIN 4: Part D solid oral, $10 x days / 30, cents half up.
    """
    pharmacy = maple.pharmacies[0]
    synced = make_patient(
        pharmacy, due_dates=[D(2026, 3, 5), D(2026, 3, 10), D(2026, 3, 12), D(2026, 3, 20)]
    )
    enroll(pharmacy, synced, anchor=D(2026, 3, 20), actor=maple.pharmacist)
    a, b, c, d = (rx.pk for rx in synced.prescriptions)
    items = items_by_rx(maple.organization)
    # Short fills batched into one trip on 3/5 (each may be filled early: 75% rule).
    short = {rx: items[(rx, D(2026, 3, 5))] for rx in (a, b, c)}
    assert [(i.days_supply, i.quantity, i.scc_codes) for i in short.values()] == [
        (15, Decimal("15"), [47]),
        (10, Decimal("10"), [47]),
        (8, Decimal("8"), [47]),
    ]
    assert [i.patient_pay for i in short.values()] == [
        Decimal("5.00"),
        Decimal("3.33"),
        Decimal("2.67"),
    ]
    assert all(i.off_anchor and i.kind == "short" for i in short.values())
    full = [items[(rx, D(2026, 3, 20))] for rx in (a, b, c, d)]
    assert [i.scc_codes for i in full] == [[48], [48], [48], []]
    assert {(i.kind, i.days_supply, i.patient_pay) for i in full} == {
        ("full", 30, Decimal("10.00"))
    }
    with tenant_scope(maple.organization):
        cycle = SyncCycle.objects.get()
        assert (cycle.prep_due_on, cycle.prefill_due_on) == (D(2026, 3, 13), D(2026, 3, 17))
        # The short fills join the fill queue three days before their own date.
        assert short[a].queue_from == D(2026, 3, 2)
        assert full[0].queue_from == D(2026, 3, 17)
        plan_items = SyncPlanItem.objects.filter(plan__enrollment__patient=synced.patient)
        assert {p.recurring_quantity for p in plan_items} == {Decimal("30")}
        assert AuditEvent.objects.filter(action="scheduling.enrollment.enrolled").count() == 1


def later(*args):
    return time_machine.travel(dt.datetime(*args, 15, tzinfo=dt.UTC), tick=False)


def test_an_inhaler_is_never_split_and_drifts_off_the_anchor(maple):
    """A 200-puff inhaler at 8 puffs a day lasts 25 days: whole inhalers only."""
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 12)])
    inhaler = SyncPrescriptionFactory(
        patient=synced.patient,
        pharmacy=pharmacy,
        coverage=synced.coverage,
        drug=InhalerFactory(),
        daily_dose=Decimal("8"),
        quantity_per_fill=Decimal("200"),
        days_supply=25,
    )
    FillFactory(
        prescription=inhaler, fill_date=D(2026, 2, 20), quantity=Decimal("200"), days_supply=25
    )
    synced.prescriptions.append(inhaler)
    enroll(pharmacy, synced, anchor=D(2026, 3, 12))
    with tenant_scope(maple.organization):
        fills = list(CycleItem.objects.filter(prescription=inhaler).order_by("fill_date"))
        assert fills, "the inhaler is in the first cycle"
        assert all(f.quantity % 200 == 0 for f in fills)  # whole packages
        plan_item = SyncPlanItem.objects.get(prescription=inhaler)
        assert plan_item.unit_of_use
        assert any(w["code"] == "unit_of_use_drift" for w in plan_item.warnings)
    # Next cycle: the engine decides from the fill history whether it is due by then.
    with later(2026, 3, 13), tenant_scope(maple.organization):
        for item in CycleItem.objects.filter(state=ItemState.PLANNED):
            services.cycle_item_advance(item=item, actor=maple.pharmacist, action="fill")
        sweeps.cycles_ensure_upcoming()
        cycle = SyncCycle.objects.get(anchor_date=D(2026, 4, 11))
        inhaler_fills = list(cycle.items.filter(prescription=inhaler))
        assert all(f.quantity % 200 == 0 for f in inhaler_fills)
        assert all(f.fill_date < D(2026, 5, 11) for f in inhaler_fills)


def test_a_prescription_with_no_refills_left_is_flagged_for_renewal(maple):
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 9), D(2026, 3, 9)])
    empty = synced.prescriptions[1]
    empty.refills_remaining = 0
    empty.save()
    enroll(pharmacy, synced, anchor=D(2026, 3, 9))
    with tenant_scope(maple.organization):
        cycle = SyncCycle.objects.get()
        assert cycle.needs_renewal
        item = CycleItem.objects.get(prescription=empty)
        assert any(w["code"] == "renewal_needed" for w in item.warnings)
        with pytest.raises(SchedulingError, match="no refills left"):
            services.cycle_item_advance(item=item, actor=maple.pharmacist, action="fill")
        item.refresh_from_db()
        assert item.state == ItemState.PLANNED and item.fill_id is None


def test_a_coinsurance_plan_leaves_the_price_to_the_claim(maple):
    """20% coinsurance: the patient pays a share of the (smaller) claim; no price list here."""
    pharmacy = maple.pharmacies[0]
    synced = make_patient(
        pharmacy, due_dates=[D(2026, 3, 5), D(2026, 3, 20)], coinsurance=Decimal("20")
    )
    enroll(pharmacy, synced, anchor=D(2026, 3, 20))
    with tenant_scope(maple.organization):
        assert set(CycleItem.objects.values_list("patient_pay", flat=True)) == {None}


def test_a_colorado_commercial_plan_caps_the_short_fill_at_the_copay(maple):
    """CO caps a short fill at the normal copay (no daily rate): $25 for 15 days."""
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 5), D(2026, 3, 20)])
    with tenant_scope(maple.organization):
        coverage = synced.coverage
        coverage.plan_type = PlanType.COMMERCIAL
        coverage.rules_state = "CO"
        coverage.copay_amount = Decimal("25.00")
        coverage.save()
    enroll(pharmacy, synced, anchor=D(2026, 3, 20))
    items = items_by_rx(maple.organization)
    short = items[(synced.prescriptions[0].pk, D(2026, 3, 5))]
    assert (short.days_supply, short.patient_pay) == (15, Decimal("25.00"))


def test_a_new_york_commercial_plan_prorates_the_short_fill(maple):
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 5), D(2026, 3, 20)])
    with tenant_scope(maple.organization):
        coverage = synced.coverage
        coverage.plan_type = PlanType.COMMERCIAL
        coverage.rules_state = "NY"
        coverage.copay_amount = Decimal("25.00")
        coverage.save()
    enroll(pharmacy, synced, anchor=D(2026, 3, 20))
    short = items_by_rx(maple.organization)[(synced.prescriptions[0].pk, D(2026, 3, 5))]
    assert short.patient_pay == Decimal("12.50")  # $25 x 15 / 30


# --- Refusals -----------------------------------------------------------------------------------


def test_enrolling_twice_is_refused_and_nothing_is_half_made(maple):
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 9)])
    enroll(pharmacy, synced, anchor=D(2026, 3, 9))
    with pytest.raises(SchedulingError, match="already enrolled"):
        enroll(pharmacy, synced, anchor=D(2026, 3, 10))
    with tenant_scope(maple.organization):
        assert SyncEnrollment.objects.count() == 1
        assert SyncCycle.objects.count() == 1


def test_an_anchor_in_the_past_is_refused(maple):
    synced = make_patient(maple.pharmacies[0], due_dates=[D(2026, 3, 9)])
    with pytest.raises(SchedulingError, match="in the past"):
        enroll(maple.pharmacies[0], synced, anchor=D(2026, 3, 1))
    with tenant_scope(maple.organization):
        assert not SyncEnrollment.objects.exists()


def test_consent_must_say_who_and_how(maple):
    synced = make_patient(maple.pharmacies[0], due_dates=[D(2026, 3, 9)])
    with pytest.raises(SchedulingError, match="who gave consent"):
        enroll(maple.pharmacies[0], synced, anchor=D(2026, 3, 9), consent_given_by=" ")
    with pytest.raises(SchedulingError, match="how consent was given"):
        enroll(maple.pharmacies[0], synced, anchor=D(2026, 3, 9), consent_method="telepathy")


def test_another_patients_prescription_is_not_found(maple):
    mine = make_patient(maple.pharmacies[0], due_dates=[D(2026, 3, 9)])
    other = make_patient(maple.pharmacies[0], due_dates=[D(2026, 3, 9)])
    with tenant_scope(maple.organization), pytest.raises(NotFoundInTenant):
        selectors.chosen_prescriptions(
            mine.patient, [mine.prescriptions[0].public_id, other.prescriptions[0].public_id]
        )


def test_the_wizards_choice_becomes_the_reconciliation_decision(maple):
    synced = make_patient(maple.pharmacies[0], due_dates=[D(2026, 3, 9), D(2026, 3, 9)])
    undecided = synced.prescriptions[1]
    undecided.sync_decision = SyncDecision.UNDECIDED
    undecided.save()
    enroll(maple.pharmacies[0], synced, anchor=D(2026, 3, 9), actor=maple.pharmacist)
    with tenant_scope(maple.organization):
        undecided.refresh_from_db()
        assert undecided.sync_decision == SyncDecision.SYNCED
        assert undecided.sync_decided_by == maple.pharmacist


# --- Replies by text ------------------------------------------------------------------------


@pytest.fixture
def prep_open(maple):
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 5), D(2026, 3, 12)])
    enroll(pharmacy, synced, anchor=D(2026, 3, 12))
    with later(2026, 3, 5), tenant_scope(maple.organization):
        sweeps.cycles_open_prep()
    return synced


def test_replying_c_confirms_the_open_cycle(maple, prep_open):
    with tenant_scope(maple.organization):
        assert services.has_open_prep_question(prep_open.patient)
        assert registry.prep_question_open(prep_open.patient)
        assert registry.dispatch_reply(prep_open.patient, registry.INTENT_CONFIRM, None)
        cycle = SyncCycle.objects.get()
        assert (cycle.status, cycle.contact_outcome) == (CycleStatus.CONTACTED, "confirmed")
        assert not cycle.prep_open
        contact = PrepContact.objects.get()
        assert contact.channel == "sms" and contact.new_medications is None
        assert set(cycle.events.values_list("kind", flat=True)) == {"contacted", "confirmed"}
        # Nothing is open any more: a second "C" is not applied (it reaches the inbox).
        assert not registry.dispatch_reply(prep_open.patient, registry.INTENT_CONFIRM, None)


def test_replying_x_reports_changes_and_keeps_the_call_on_the_worklist(maple, prep_open):
    with tenant_scope(maple.organization):
        assert registry.dispatch_reply(prep_open.patient, registry.INTENT_CHANGE, None)
        cycle = SyncCycle.objects.get()
        assert cycle.contact_outcome == "changes_reported" and cycle.prep_open
        today = D(2026, 3, 2)
        assert cycle in selectors.prep_worklist(today=today)


def test_a_reply_from_a_patient_without_an_open_cycle_is_not_applied(maple):
    synced = make_patient(maple.pharmacies[0], due_dates=[D(2026, 3, 20)])
    with tenant_scope(maple.organization):
        assert not registry.dispatch_reply(synced.patient, registry.INTENT_CONFIRM, None)


def test_the_prep_reminder_reaches_messaging_for_a_consenting_patient(maple, prep_open):
    pharmacy = maple.pharmacies[0]
    pharmacy.sms_number = "+16085550100"
    pharmacy.save()
    with tenant_scope(maple.organization):
        sms_consent_grant(patient=prep_open.patient, method="written", actor=maple.pharmacist)
        sweeps.message_requests_hand_over()
        request = MessageRequest.objects.get()
        assert request.status == "handed_over"
        message = Message.objects.get(dedupe_key=request.dedupe_key)
        assert message.kind == "prep_reminder" and message.patient == prep_open.patient
        assert prep_open.prescriptions[0].drug.name not in message.body  # no PHI in texts


# --- Pause, leave, households, settings -----------------------------------------------------


def test_disenrolling_closes_cycles_not_yet_filled_and_is_audited(maple):
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 12)])
    enrollment = enroll(pharmacy, synced, anchor=D(2026, 3, 12))
    with tenant_scope(maple.organization):
        services.enrollment_disenroll(
            enrollment=enrollment, actor=maple.pharmacist, reason="transferred"
        )
        cycle = SyncCycle.objects.get()
        assert (cycle.status, cycle.close_reason) == (CycleStatus.CLOSED, "disenrolled")
        assert set(cycle.items.values_list("state", flat=True)) == {ItemState.SKIPPED}
        assert AuditEvent.objects.filter(action="scheduling.enrollment.disenrolled").exists()
        with pytest.raises(SchedulingError):
            services.enrollment_disenroll(
                enrollment=enrollment, actor=maple.pharmacist, reason="transferred"
            )
    # Enrolling again later is allowed: one open enrollment per patient.
    enroll(pharmacy, synced, anchor=D(2026, 3, 20))


def test_a_household_is_offered_its_members_pickup_day(maple):
    pharmacy = maple.pharmacies[0]
    with tenant_scope(maple.organization):
        home = Household.objects.create(name="Lee household")
    first = make_patient(pharmacy, due_dates=[D(2026, 3, 12)], household=home)
    second = make_patient(pharmacy, due_dates=[D(2026, 3, 8), D(2026, 3, 25)], household=home)
    enroll(pharmacy, first, anchor=D(2026, 3, 12))
    with tenant_scope(maple.organization):
        options = selectors.anchor_options(
            patient=second.patient, prescriptions=second.prescriptions, cycle_days=30
        )
    assert options.household_proposal is not None
    assert options.household_proposal.anchor_date == D(2026, 3, 12)
    assert [m.pk for m in options.household_members] == [first.patient.pk]


def test_changing_the_prep_and_prefill_days_moves_scheduled_cycles(maple):
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 20)])
    enroll(pharmacy, synced, anchor=D(2026, 3, 20))
    with tenant_scope(maple.organization):
        services.sync_settings_update(
            pharmacy=pharmacy,
            actor=maple.owner,
            prep_days=5,
            prefill_days=2,
            closed_weekdays=[6],
            missed_after_days=1,
            rts_warning_days=3,
        )
        cycle = SyncCycle.objects.get()
        # 3/20 - 5 = Sun 3/15 (closed): the call moves to Sat 3/14.
        assert (cycle.prep_due_on, cycle.prefill_due_on) == (D(2026, 3, 14), D(2026, 3, 18))
        assert cycle.items.get().queue_from == D(2026, 3, 18)
        with pytest.raises(SchedulingError) as refused:
            services.sync_settings_update(
                pharmacy=pharmacy,
                actor=maple.owner,
                prep_days=2,
                prefill_days=4,
                closed_weekdays=list(range(7)),
                missed_after_days=1,
                rts_warning_days=3,
            )
        assert set(refused.value.fields) == {"prefill_days", "closed_weekdays"}
        assert SyncSettings.objects.get().prep_days == 5


def test_a_discontinued_prescription_is_left_out_of_the_next_cycle(maple):
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 12), D(2026, 3, 12)])
    enroll(pharmacy, synced, anchor=D(2026, 3, 12))
    with tenant_scope(maple.organization):
        stopped = synced.prescriptions[1]
        stopped.status = PrescriptionStatus.DISCONTINUED
        stopped.save()
    with later(2026, 3, 13), tenant_scope(maple.organization):
        sweeps.cycles_ensure_upcoming()
        cycle = SyncCycle.objects.get(anchor_date=D(2026, 4, 11))
        assert list(cycle.items.values_list("prescription_id", flat=True)) == [
            synced.prescriptions[0].pk
        ]


def test_a_second_coverage_does_not_confuse_pricing(maple):
    """Prescriptions bill to their own coverage: a second plan on file changes nothing."""
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[D(2026, 3, 5), D(2026, 3, 20)])
    CoverageFactory(patient=synced.patient, priority=2, copay_amount=Decimal("99.00"))
    enroll(pharmacy, synced, anchor=D(2026, 3, 20))
    short = items_by_rx(maple.organization)[(synced.prescriptions[0].pk, D(2026, 3, 5))]
    assert short.patient_pay == Decimal("5.00")
