"""automated_message_request: the contract with the sync engine."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from messaging import services
from messaging.exceptions import MessagingError
from messaging.models import ConsoleOutbox, Message, MessageStatus, SkipReason

pytestmark = pytest.mark.django_db

# 2026-03-03 is a Tuesday; 16:00 UTC = 10:00 in Madison (America/Chicago, CST).
TUESDAY_10AM = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)


def request(patient, kind="prep_reminder", key="cycle:1:prep_reminder", **context):
    context.setdefault("anchor_date", date(2026, 3, 12))
    return services.automated_message_request(
        patient=patient, kind=kind, dedupe_key=key, context=context
    )


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_a_prep_reminder_is_queued_now_with_the_pharmacy_wording(sms_maple, make_patient):
    patient = make_patient(sms_maple, first_name="Ana")
    with tenant_scope(sms_maple.organization):
        message = request(patient)
        assert message.status == MessageStatus.QUEUED
        assert message.due_at == TUESDAY_10AM
        assert message.defer_reason == ""
        assert message.to_number == patient.phone
        assert message.from_number == "+16085550100"
        assert message.body.startswith("Maple Main St: Ana, refills are due Thu 3/12.")
        assert "STOP" in message.body
        assert len(message.body) <= 160
        assert message.slot_date == date(2026, 3, 3)
        assert AuditEvent.objects.filter(
            action="messaging.message.queued", object_id=str(message.public_id)
        ).exists()


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_the_same_dedupe_key_twice_makes_one_message(sms_maple, make_patient):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        first = request(patient)
        second = request(patient)
        assert first.pk == second.pk
        assert Message.objects.filter(dedupe_key="cycle:1:prep_reminder").count() == 1


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_a_patient_without_consent_gets_none_and_the_reason_is_kept(sms_maple, make_patient):
    patient = make_patient(sms_maple, consent=False)
    with tenant_scope(sms_maple.organization):
        assert request(patient) is None
        row = Message.objects.get(dedupe_key="cycle:1:prep_reminder")
        assert row.status == MessageStatus.SKIPPED
        assert row.skip_reason == SkipReason.NO_CONSENT
        # Consent arrives: asking again (or granting) queues the same row, once.
        services.sms_consent_grant(patient=patient, method="written", actor=sms_maple.pharmacist)
        row.refresh_from_db()
        assert row.status == MessageStatus.QUEUED
        assert request(patient).pk == row.pk


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_dispatch_sends_due_messages_through_the_console_gateway(sms_maple, make_patient):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        message = request(patient)
        result = services.messages_dispatch_due(time_budget=5)
        message.refresh_from_db()
        assert result.sent == 1
        assert message.status == MessageStatus.SENT
        [outbox] = ConsoleOutbox.objects.all()
        assert outbox.provider_sid == message.provider_sid
        assert outbox.to_number == patient.phone
        assert outbox.body == message.body
        # Nothing left: a second run sends nothing more.
        assert services.messages_dispatch_due(time_budget=5).sent == 0
        assert ConsoleOutbox.objects.count() == 1


def test_an_unknown_kind_or_empty_key_is_refused(sms_maple, make_patient):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        with pytest.raises(MessagingError) as bad_kind:
            request(patient, kind="marketing")
        assert bad_kind.value.fields["kind"]
        with pytest.raises(MessagingError):
            request(patient, key="  ")
        assert not Message.objects.exists()


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_sending_is_queued_on_commit_once_per_burst(
    sms_maple, make_patient, monkeypatch, django_capture_on_commit_callbacks
):
    from messaging import tasks

    queued = []
    monkeypatch.setattr(tasks.dispatch_due, "delay", lambda **kwargs: queued.append(kwargs))
    patients = [make_patient(sms_maple) for _ in range(3)]
    with tenant_scope(sms_maple.organization):
        with django_capture_on_commit_callbacks(execute=True):
            for n, patient in enumerate(patients):
                request(patient, key=f"k{n}")
        assert queued == [{"organization_id": str(sms_maple.organization.public_id)}]
        # The dispatcher clears the marker when it starts: the next text queues it again.
        services.messages_dispatch_due(time_budget=1)
        with django_capture_on_commit_callbacks(execute=True):
            request(make_patient(sms_maple), key="later")
        assert len(queued) == 2


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_a_broker_outage_does_not_fail_the_request(
    sms_maple, make_patient, monkeypatch, django_capture_on_commit_callbacks
):
    from messaging import tasks

    def down(**kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.dispatch_due, "delay", down)
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        with django_capture_on_commit_callbacks(execute=True):
            message = request(patient)
        message.refresh_from_db()
        assert message.status == MessageStatus.QUEUED  # the beat sweep will send it
