"""Sending with real Celery worker processes: on-commit enqueue, the beat sweep, and a worker
killed with SIGKILL in the middle of a batch."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.db.models import Count

from medsync.tenancy import tenant_scope
from medsync.worker_process import start_worker
from messaging import services, tasks
from messaging.models import ConsoleOutbox, Message, MessageStatus
from messaging.services import dispatcher
from tests.worker import wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def statuses(tenant):
    with tenant_scope(tenant.organization):
        return dict(
            Message.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        )


def outbox_rows(tenant):
    with tenant_scope(tenant.organization):
        return list(ConsoleOutbox.objects.values_list("message_public_id", flat=True))


def test_a_reminder_is_sent_by_the_worker_after_commit(
    celery_worker_process, sms_maple, make_patient, any_hour
):
    patient = any_hour(sms_maple, make_patient(sms_maple))
    with tenant_scope(sms_maple.organization), transaction.atomic():
        message = services.automated_message_request(
            patient=patient, kind="prep_reminder", dedupe_key="cycle:w:prep", context={}
        )
    with tenant_scope(sms_maple.organization):

        def sent():
            message.refresh_from_db()
            return message.status == MessageStatus.SENT

        wait_until(sent, timeout=30)
        assert ConsoleOutbox.objects.get().message_public_id == message.public_id


def test_a_request_rolled_back_queues_and_sends_nothing(
    celery_worker_process, sms_maple, make_patient, any_hour
):
    patient = any_hour(sms_maple, make_patient(sms_maple))

    class Abort(Exception):
        pass

    with pytest.raises(Abort), tenant_scope(sms_maple.organization), transaction.atomic():
        services.automated_message_request(
            patient=patient, kind="prep_reminder", dedupe_key="ghost", context={}
        )
        raise Abort
    # A later text goes through the same worker; the ghost never existed.
    with tenant_scope(sms_maple.organization), transaction.atomic():
        later = services.automated_message_request(
            patient=patient, kind="ready_for_pickup", dedupe_key="later", context={}
        )
    with tenant_scope(sms_maple.organization):
        wait_until(lambda: Message.objects.filter(pk=later.pk, status="sent").exists(), timeout=30)
        assert not Message.objects.filter(dedupe_key="ghost").exists()
        assert ConsoleOutbox.objects.count() == 1


def test_the_beat_sweep_run_twice_sends_each_text_once(
    celery_worker_process, sms_maple, sms_birch, make_patient, any_hour, monkeypatch
):
    monkeypatch.setattr(dispatcher, "dispatcher_enqueue", lambda organization: None)  # beat only
    for tenant in (sms_maple, sms_birch):
        for n in range(3):
            patient = any_hour(tenant, make_patient(tenant))
            with tenant_scope(tenant.organization):
                services.automated_message_request(
                    patient=patient, kind="prep_reminder", dedupe_key=f"k{n}", context={}
                )
    assert tasks.sweep_due() == 2  # one dispatcher per active organization
    wait_until(lambda: statuses(sms_maple) == {"sent": 3} and statuses(sms_birch) == {"sent": 3})
    with tenant_scope(sms_maple.organization):
        before = list(Message.objects.order_by("pk").values_list("pk", "status", "provider_sid"))
    tasks.sweep_due()
    time.sleep(2)  # the second sweep's dispatchers find nothing left to do
    with tenant_scope(sms_maple.organization):
        after = list(Message.objects.order_by("pk").values_list("pk", "status", "provider_sid"))
    assert after == before
    assert sorted(outbox_rows(sms_maple)) == sorted(set(outbox_rows(sms_maple)))
    assert len(outbox_rows(sms_birch)) == 3


def test_killing_a_worker_mid_batch_then_starting_another_sends_every_text_exactly_once(
    sms_maple, make_patient, any_hour, monkeypatch, settings
):
    """SIGKILL the whole worker (parent and child) in the middle of a batch, at the worst
    moment: the provider has taken a text but its answer never came back. A new worker,
    driven by the beat sweep, finishes the batch: every due text goes out exactly once.

    The kill point is fixed, not timed: the first worker's console gateway holds the 11th
    text's send forever (after storing it), so the test waits for that state and kills.
    """
    monkeypatch.setattr(dispatcher, "dispatcher_enqueue", lambda organization: None)
    total, held = 40, 10
    patients = [any_hour(sms_maple, make_patient(sms_maple)) for _ in range(total)]
    with tenant_scope(sms_maple.organization):
        for n, patient in enumerate(patients):
            services.automated_message_request(
                patient=patient, kind="prep_reminder", dedupe_key=f"cycle:{n}:prep", context={}
            )
        held_message = Message.objects.order_by("due_at", "id")[held]
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-sigkill"
    worker_env = {"MESSAGING_CLAIM_TIMEOUT_SECONDS": "2", "MESSAGING_SENDER_RATE": "0"}
    organization_id = str(sms_maple.organization.public_id)

    def sweep():  # what the beat does every minute, aimed at this test's queue
        tasks.dispatch_due.apply_async(kwargs={"organization_id": organization_id}, queue=queue)

    def stuck_on_the_held_text():
        return statuses(sms_maple) == {"sent": held, "sending": 1, "queued": total - held - 1} and (
            held_message.public_id in outbox_rows(sms_maple)
        )

    first = start_worker(
        queue, env={**worker_env, "MESSAGING_CONSOLE_HOLD_NUMBER": held_message.to_number}
    )
    try:
        sweep()
        wait_until(stuck_on_the_held_text, timeout=120)
        first.kill_group()
    finally:
        first.stop()
    assert stuck_on_the_held_text()  # nothing moved after the kill

    second = start_worker(queue, env=worker_env)
    try:
        # A deadline on progress, not on the whole drain: fail only if nothing moves for 60 s.
        progress, last_change = statuses(sms_maple), time.monotonic()
        while statuses(sms_maple) != {"sent": total}:
            sweep()
            time.sleep(1)
            now_statuses = statuses(sms_maple)
            if now_statuses != progress:
                progress, last_change = now_statuses, time.monotonic()
            assert time.monotonic() - last_change < 60, progress
    finally:
        second.stop()

    rows = outbox_rows(sms_maple)
    assert len(rows) == total
    assert len(set(rows)) == total  # the held text reached the gateway once, not twice
    with tenant_scope(sms_maple.organization):
        by_message = dict(ConsoleOutbox.objects.values_list("message_public_id", "provider_sid"))
        for message in Message.objects.all():
            assert message.status == MessageStatus.SENT
            assert by_message[message.public_id] == message.provider_sid
