"""Appointment reminders: the day before (pharmacy local date), one text per appointment
through messaging's automated texts; consent is messaging's rule; tenants stay apart."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scopes_disabled

from medsync.jobs import enqueue_for_organization
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from messaging.models import Message, MessageStatus, SkipReason
from scheduling import sweeps
from scheduling.dates import local_today
from scheduling.models import Appointment, AppointmentStatus
from tests.factories.service_billing import AppointmentFactory
from tests.messaging import conftest as messaging_fixtures
from tests.worker import wait_until
from tests.worker_tasks import record_visible_pharmacies

# The messaging fixtures: SMS numbers on the pharmacies, consenting patients, console gateway.
_messaging_defaults = messaging_fixtures._messaging_defaults
sms_maple = messaging_fixtures.sms_maple
sms_birch = messaging_fixtures.sms_birch
make_patient = messaging_fixtures.make_patient
any_hour = messaging_fixtures.any_hour

CHICAGO = ZoneInfo("America/Chicago")
# Tuesday 2026-03-03, 10:00 in Madison (16:00 UTC).
TUESDAY_10AM = dt.datetime(2026, 3, 3, 16, 0, tzinfo=dt.UTC)


def book(tenant, patient, starts_at, **fields):
    with tenant_scope(tenant.organization):
        return AppointmentFactory(
            pharmacy=tenant.pharmacies[0],
            patient=patient,
            pharmacist=tenant.pharmacist,
            starts_at=starts_at,
            **fields,
        )


def remind(tenant):
    with tenant_scope(tenant.organization):
        return sweeps.appointments_remind()


def reminders(tenant):
    with tenant_scope(tenant.organization):
        return list(Message.objects.filter(kind="appointment_reminder").order_by("pk"))


@pytest.mark.django_db
@time_machine.travel(TUESDAY_10AM, tick=False)
def test_tomorrows_appointment_gets_one_reminder_even_when_the_sweep_runs_twice(
    sms_maple, make_patient
):
    patient = make_patient(sms_maple, first_name="Ana")
    # Wednesday 23:30 in Madison is Thursday 05:30 UTC: still "tomorrow" locally.
    late = book(sms_maple, patient, dt.datetime(2026, 3, 4, 23, 30, tzinfo=CHICAGO))
    book(sms_maple, patient, dt.datetime(2026, 3, 5, 9, 0, tzinfo=CHICAGO))  # the day after
    book(
        sms_maple,
        patient,
        dt.datetime(2026, 3, 4, 9, 0, tzinfo=CHICAGO),
        status=AppointmentStatus.CANCELLED,
    )

    assert remind(sms_maple).messages == 1
    assert remind(sms_maple).messages == 0

    [message] = reminders(sms_maple)
    assert message.dedupe_key == f"appointment:{late.public_id}:reminder"
    assert message.status == MessageStatus.QUEUED
    assert message.body == (
        "Maple Main St: Ana, your appointment is Wed 3/4 11:30 PM. Call "
        f"{message.body.split('Call ')[1].split(' to change')[0]} to change. STOP to end"
    )
    assert "CMR" not in message.body and "review" not in message.body.lower()
    assert len(message.body) <= 160
    with tenant_scope(sms_maple.organization):
        late.refresh_from_db()
        assert late.reminder_requested_at == TUESDAY_10AM
        assert AuditEvent.objects.filter(action="scheduling.sweep.appointment_reminders").exists()


@pytest.mark.django_db
@time_machine.travel(TUESDAY_10AM, tick=False)
def test_a_spanish_speaker_gets_the_spanish_wording(sms_maple, make_patient):
    patient = make_patient(sms_maple, first_name="Luis", preferred_language="es")
    book(sms_maple, patient, dt.datetime(2026, 3, 4, 14, 5, tzinfo=CHICAGO))
    remind(sms_maple)
    [message] = reminders(sms_maple)
    assert message.body.startswith("Maple Main St: Luis, su cita es el mie 4/3 14:05.")


@pytest.mark.django_db
@time_machine.travel(TUESDAY_10AM, tick=False)
def test_a_patient_without_sms_consent_gets_no_text(sms_maple, make_patient):
    patient = make_patient(sms_maple, consent=False)
    book(sms_maple, patient, dt.datetime(2026, 3, 4, 10, 0, tzinfo=CHICAGO))
    remind(sms_maple)
    remind(sms_maple)
    [row] = reminders(sms_maple)
    assert row.status == MessageStatus.SKIPPED
    assert row.skip_reason == SkipReason.NO_CONSENT
    with tenant_scope(sms_maple.organization):
        assert not Message.objects.exclude(status=MessageStatus.SKIPPED).exists()


@pytest.mark.django_db
@time_machine.travel(TUESDAY_10AM, tick=False)
def test_each_organizations_sweep_touches_only_its_own_appointments(
    sms_maple, sms_birch, make_patient
):
    ana = make_patient(sms_maple)
    bo = make_patient(sms_birch)
    maple_visit = book(sms_maple, ana, dt.datetime(2026, 3, 4, 10, 0, tzinfo=CHICAGO))
    birch_visit = book(
        sms_birch, bo, dt.datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    )

    assert remind(sms_birch).messages == 1
    assert reminders(sms_maple) == []
    with scopes_disabled():
        assert Appointment.objects.get(pk=maple_visit.pk).reminder_requested_at is None
        assert Appointment.objects.get(pk=birch_visit.pk).reminder_requested_at is not None
    [birch_text] = reminders(sms_birch)
    assert birch_text.patient_id == bo.pk

    assert remind(sms_maple).messages == 1
    [maple_text] = reminders(sms_maple)
    assert maple_text.patient_id == ana.pk
    assert reminders(sms_birch) == [birch_text]


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_job_in_a_real_worker_run_twice_makes_one_text(
    celery_worker_process, sms_maple, make_patient, any_hour
):
    pharmacy = sms_maple.pharmacies[0]
    tomorrow = local_today(pharmacy.time_zone) + dt.timedelta(days=1)
    patient = any_hour(sms_maple, make_patient(sms_maple))
    visit = book(
        sms_maple,
        patient,
        dt.datetime.combine(tomorrow, dt.time(12), tzinfo=ZoneInfo(pharmacy.time_zone)),
    )

    def requested():
        with scopes_disabled():
            return Appointment.objects.get(pk=visit.pk).reminder_requested_at

    enqueue_for_organization("scheduling.tasks.remind_appointments", sms_maple.organization)
    first = wait_until(requested, timeout=60)
    enqueue_for_organization("scheduling.tasks.remind_appointments", sms_maple.organization)
    enqueue_for_organization(record_visible_pharmacies, sms_maple.organization, label="reminded")
    with scopes_disabled():
        wait_until(
            lambda: AuditEvent.objects.filter(metadata__label="reminded").exists(), timeout=60
        )
    assert requested() == first
    assert [m.dedupe_key for m in reminders(sms_maple)] == [
        f"appointment:{visit.public_id}:reminder"
    ]


@pytest.mark.django_db
def test_consent_given_later_revives_a_reminder_only_before_the_appointment(
    sms_maple, make_patient
):
    from messaging import services as messaging_services

    soon = make_patient(sms_maple, consent=False, first_name="Soon")
    gone = make_patient(sms_maple, consent=False, first_name="Gone")
    with time_machine.travel(TUESDAY_10AM, tick=False):
        book(sms_maple, soon, dt.datetime(2026, 3, 4, 16, 0, tzinfo=CHICAGO))
        book(sms_maple, gone, dt.datetime(2026, 3, 4, 8, 0, tzinfo=CHICAGO))
        remind(sms_maple)
    # Wednesday noon in Madison: Gone's appointment has begun, Soon's has not.
    wednesday_noon = dt.datetime(2026, 3, 4, 18, 0, tzinfo=dt.UTC)
    with (
        time_machine.travel(wednesday_noon, tick=False),
        tenant_scope(sms_maple.organization),
    ):
        for patient in (soon, gone):
            messaging_services.sms_consent_grant(
                patient=patient, method="verbal", actor=sms_maple.pharmacist
            )
    statuses = {m.patient_id: m.status for m in reminders(sms_maple)}
    assert statuses == {soon.pk: MessageStatus.QUEUED, gone.pk: MessageStatus.SKIPPED}
