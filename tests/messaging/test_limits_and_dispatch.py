"""Quiet hours, the 1/day 3/week limits (frozen time, DST included), consent checks at send
time, the per-sender rate limit, and recovery of claims lost with a worker."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.db.models import Count

from medsync.tenancy import tenant_scope
from messaging import gateways, services
from messaging.models import (
    ConsoleOutbox,
    DeferReason,
    Message,
    MessageStatus,
    SenderClock,
    SkipReason,
)
from messaging.services import delivery

pytestmark = pytest.mark.django_db

CHICAGO_TUESDAY_10AM = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 10:00 CST


def ask(patient, key, kind="prep_reminder", **context):
    context.setdefault("anchor_date", date(2026, 3, 12))
    return services.automated_message_request(
        patient=patient, kind=kind, dedupe_key=key, context=context
    )


MIDDAY = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)  # noon in America/Chicago


class SpyGateway(gateways.ConsoleGateway):
    calls: list = []

    def send(self, text):
        SpyGateway.calls.append(text)
        return super().send(text)


@pytest.fixture
def spy(monkeypatch):
    SpyGateway.calls = []
    monkeypatch.setattr(delivery, "gateway_for", lambda **kwargs: SpyGateway())
    return SpyGateway


# --- Quiet hours ------------------------------------------------------------------------------


@time_machine.travel(datetime(2026, 3, 4, 3, 30, tzinfo=UTC), tick=False)  # 21:30 CST
def test_a_request_after_nine_pm_is_deferred_to_eight_am_local(sms_maple, make_patient, spy):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        message = ask(patient, "k1")
        assert message.status == MessageStatus.QUEUED
        assert message.defer_reason == DeferReason.QUIET_HOURS
        assert message.due_at == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)  # 08:00 CST
        assert message.slot_date == date(2026, 3, 4)
        assert services.messages_dispatch_due(time_budget=2).sent == 0
    assert spy.calls == []


def test_on_the_spring_forward_day_the_deferred_text_goes_at_eight_cdt(
    sms_maple, make_patient, spy
):
    patient = make_patient(sms_maple)
    # Saturday 3/7 22:00 CST; clocks spring forward at 02:00 on Sunday 3/8.
    with (
        time_machine.travel(datetime(2026, 3, 8, 4, 0, tzinfo=UTC), tick=False) as clock,
        tenant_scope(sms_maple.organization),
    ):
        message = ask(patient, "k1")
        assert message.due_at == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 08:00 CDT
        clock.move_to(datetime(2026, 3, 8, 12, 59, tzinfo=UTC))  # 07:59 CDT
        assert services.messages_dispatch_due(time_budget=2).sent == 0
        clock.move_to(datetime(2026, 3, 8, 13, 0, tzinfo=UTC))
        assert services.messages_dispatch_due(time_budget=2).sent == 1
        assert services.messages_dispatch_due(time_budget=2).sent == 0
    assert len(spy.calls) == 1


def test_on_the_fall_back_day_nothing_is_sent_twice_or_early(sms_maple, make_patient, spy):
    patient = make_patient(sms_maple)
    # Sat 10/31 23:00 CDT = 11/1 04:00 UTC. Sunday 11/1 at 01:00-02:00 happens twice.
    with (
        time_machine.travel(datetime(2026, 11, 1, 4, 0, tzinfo=UTC), tick=False) as clock,
        tenant_scope(sms_maple.organization),
    ):
        message = ask(patient, "k1")
        assert message.due_at == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # 08:00 CST
        for hour in range(5, 14):  # each hour through the doubled 1 a.m.
            clock.move_to(datetime(2026, 11, 1, hour, 30, tzinfo=UTC))
            assert services.messages_dispatch_due(time_budget=2).sent == 0
        clock.move_to(datetime(2026, 11, 1, 14, 0, tzinfo=UTC))
        assert services.messages_dispatch_due(time_budget=2).sent == 1
    assert len(spy.calls) == 1


def test_a_patients_own_window_and_time_zone_apply(sms_birch, make_patient):
    # Birch is in America/New_York: 10:00 UTC = 05:00 EST, before the window.
    patient = make_patient(sms_birch)
    with (
        time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), tick=False),
        tenant_scope(sms_birch.organization),
    ):
        services.sms_preferences_update(
            patient=patient,
            actor=sms_birch.pharmacist,
            language="",
            quiet_start=time(10),
            quiet_end=time(18),
        )
        message = ask(patient, "k1")
        assert message.due_at == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # 10:00 EST


# --- 1 a day, 3 a week ------------------------------------------------------------------------


@time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False)
def test_a_second_automated_text_the_same_day_waits_for_tomorrow(sms_maple, make_patient):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        first = ask(patient, "prep")
        second = ask(patient, "ready", kind="ready_for_pickup")
        assert first.due_at == CHICAGO_TUESDAY_10AM
        assert second.defer_reason == DeferReason.DAILY_LIMIT
        assert second.slot_date == date(2026, 3, 4)
        assert second.due_at == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)


def test_a_fourth_text_in_seven_days_is_deferred_not_dropped(sms_maple, make_patient, spy):
    patient = make_patient(sms_maple)
    with (
        time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False) as clock,
        tenant_scope(sms_maple.organization),
    ):
        for day, key in enumerate(["a", "b", "c"]):
            clock.move_to(CHICAGO_TUESDAY_10AM + timedelta(days=day))
            ask(patient, key)
            assert services.messages_dispatch_due(time_budget=2).sent == 1
        clock.move_to(CHICAGO_TUESDAY_10AM + timedelta(days=3))  # Friday
        fourth = ask(patient, "d")
        assert fourth.status == MessageStatus.QUEUED
        assert fourth.defer_reason == DeferReason.WEEKLY_LIMIT
        assert fourth.slot_date == date(2026, 3, 10)  # Tue 3/3 left the window
        assert services.messages_dispatch_due(time_budget=2).sent == 0
        clock.move_to(datetime(2026, 3, 10, 13, 0, tzinfo=UTC))  # 08:00 CDT (DST began)
        assert services.messages_dispatch_due(time_budget=2).sent == 1
        sent_days = [m.sent_at.date() for m in Message.objects.order_by("sent_at")]
    assert len(spy.calls) == 4
    assert sent_days == [date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5), date(2026, 3, 10)]


def test_replies_and_staff_texts_do_not_count_toward_the_limits(sms_maple, make_patient):
    patient = make_patient(sms_maple)
    with (
        time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False),
        tenant_scope(sms_maple.organization),
    ):
        conversation = services.conversation_get_or_create(phone=patient.phone, patient=patient)
        services.manual_message_send(
            conversation=conversation, body="See you soon", actor=sms_maple.pharmacist
        )
        services.messages_dispatch_due(time_budget=2)
        reminder = ask(patient, "prep")
        assert reminder.due_at == CHICAGO_TUESDAY_10AM
        assert reminder.defer_reason == ""


def test_the_send_time_guard_holds_a_late_text_behind_the_days_limit(sms_maple, make_patient, spy):
    """Two texts planned on different days; an outage delays the first into the second's
    day: only one goes that day, the other waits (limits hold on what is actually sent)."""
    patient = make_patient(sms_maple)
    with (
        time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False) as clock,
        tenant_scope(sms_maple.organization),
    ):
        first = ask(patient, "a")
        second = ask(patient, "b")
        assert second.slot_date == date(2026, 3, 4)
        clock.move_to(datetime(2026, 3, 4, 15, 0, tzinfo=UTC))  # Wed 09:00, both due
        result = services.messages_dispatch_due(time_budget=2)
        assert result.sent == 1
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.status == MessageStatus.SENT
        assert second.status == MessageStatus.QUEUED
        assert second.slot_date == date(2026, 3, 5)
        assert second.defer_reason == DeferReason.DAILY_LIMIT
    assert len(spy.calls) == 1


# --- Consent checked again at send time -------------------------------------------------------


@time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False)
def test_withdrawn_consent_skips_the_queued_text_without_calling_the_gateway(
    sms_maple, make_patient, spy
):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        message = ask(patient, "k1")
        services.sms_consent_withdraw(patient=patient, actor=sms_maple.pharmacist)
        services.messages_dispatch_due(time_budget=2)
        message.refresh_from_db()
        assert message.status == MessageStatus.SKIPPED
        assert message.skip_reason == SkipReason.NO_CONSENT
    assert spy.calls == []


@time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False)
def test_a_changed_phone_needs_consent_for_the_new_number(sms_maple, make_patient, spy):
    patient = make_patient(sms_maple, phone="+16085551111")
    with tenant_scope(sms_maple.organization):
        queued = ask(patient, "k1")
        patient.phone = "+16085552222"
        patient.save()
        services.messages_dispatch_due(time_budget=2)
        queued.refresh_from_db()
        assert queued.status == MessageStatus.SKIPPED
        assert queued.skip_reason == SkipReason.CONSENT_FOR_OTHER_NUMBER
        assert ask(patient, "k2") is None
    assert spy.calls == []


@time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False)
def test_a_deceased_patient_is_never_texted(sms_maple, make_patient, spy):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        patient.status = "deceased"
        patient.save()
        assert ask(patient, "k1") is None
        assert Message.objects.get(dedupe_key="k1").skip_reason == SkipReason.PATIENT_INACTIVE
    assert spy.calls == []


# --- Per-sender rate limit --------------------------------------------------------------------


def test_one_sender_sends_at_most_its_rate(sms_maple, make_patient, settings, spy):
    settings.MESSAGING_SENDER_RATE = 1  # per second per number
    patients = [make_patient(sms_maple) for _ in range(3)]
    # Midday in Madison, ticking: the sender really waits, inside the texting window.
    with time_machine.travel(MIDDAY, tick=True), tenant_scope(sms_maple.organization):
        for n, patient in enumerate(patients):
            ask(patient, f"k{n}")
        started = datetime.now(UTC)
        result = services.messages_dispatch_due(time_budget=10)
        elapsed = (datetime.now(UTC) - started).total_seconds()
        assert result.sent == 3
        assert elapsed >= 1.9  # three texts from one number: two one-second gaps
        # Each send slot is reserved at the claim: claims one number apart are a full
        # second apart (sent_at adds the gateway's own latency, so it is not the measure).
        claim_times = sorted(
            Message.objects.filter(status=MessageStatus.SENT).values_list("claimed_at", flat=True)
        )
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(claim_times)]
        assert len(gaps) == 2 and all(gap >= 1.0 for gap in gaps), gaps
        assert SenderClock.objects.filter(sender="+16085550100").exists()


def test_two_senders_do_not_wait_for_each_other(sms_maple, make_patient, settings, spy):
    settings.MESSAGING_SENDER_RATE = 1
    main_st, elm = sms_maple.pharmacies
    a = make_patient(sms_maple, home_pharmacy=main_st)
    b = make_patient(sms_maple, home_pharmacy=elm)
    with time_machine.travel(MIDDAY, tick=True), tenant_scope(sms_maple.organization):
        ask(a, "a")
        ask(b, "b")
        started = datetime.now(UTC)
        assert services.messages_dispatch_due(time_budget=10).sent == 2
        assert (datetime.now(UTC) - started).total_seconds() < 0.9
    assert {call.from_number for call in spy.calls} == {"+16085550100", "+16085550101"}


# --- Lost claims and idempotent sweeps --------------------------------------------------------


def test_a_claim_lost_after_the_provider_took_it_is_marked_sent_not_resent(
    sms_maple, make_patient, settings, spy
):
    settings.MESSAGING_CLAIM_TIMEOUT_SECONDS = 60
    patient = make_patient(sms_maple)
    with (
        time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False) as clock,
        tenant_scope(sms_maple.organization),
    ):
        message = ask(patient, "k1")
        # A worker claimed it, the gateway took it, then the worker died before recording.
        outcome, claimed, _ = services.message_claim_next(now=CHICAGO_TUESDAY_10AM, busy=set())
        assert outcome == "claimed"
        services.message_gateway(claimed).send(services.message_outgoing(claimed))
        message.refresh_from_db()
        assert message.status == MessageStatus.SENDING
        clock.shift(61)
        result = services.messages_dispatch_due(time_budget=2)
        message.refresh_from_db()
        [outbox] = ConsoleOutbox.objects.all()
    assert result.recovered == 1
    assert message.status == MessageStatus.SENT
    assert message.provider_sid == outbox.provider_sid


def test_a_claim_lost_before_the_provider_took_it_is_sent_once(
    sms_maple, make_patient, settings, spy
):
    settings.MESSAGING_CLAIM_TIMEOUT_SECONDS = 60
    patient = make_patient(sms_maple)
    with (
        time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False) as clock,
        tenant_scope(sms_maple.organization),
    ):
        message = ask(patient, "k1")
        services.message_claim_next(now=CHICAGO_TUESDAY_10AM, busy=set())  # then the worker died
        assert services.messages_dispatch_due(time_budget=2).sent == 0  # still fresh
        clock.shift(61)
        result = services.messages_dispatch_due(time_budget=2)
        message.refresh_from_db()
        assert ConsoleOutbox.objects.count() == 1
    assert result.recovered == 1
    assert result.sent == 1
    assert message.status == MessageStatus.SENT


@time_machine.travel(CHICAGO_TUESDAY_10AM, tick=False)
def test_dispatching_twice_sends_each_due_text_once(sms_maple, make_patient):
    patients = [make_patient(sms_maple) for _ in range(5)]
    with tenant_scope(sms_maple.organization):
        for n, patient in enumerate(patients):
            ask(patient, f"k{n}")
        first = services.messages_dispatch_due(time_budget=5)
        rows_after_first = list(Message.objects.values_list("pk", "status", "provider_sid"))
        second = services.messages_dispatch_due(time_budget=5)
        assert first.sent == 5
        assert second.sent == 0
        assert list(Message.objects.values_list("pk", "status", "provider_sid")) == (
            rows_after_first
        )
        duplicates = (
            ConsoleOutbox.objects.values("message_public_id")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        )
        assert not duplicates.exists()
