"""Appointment reminders: the day before an appointment (the pharmacy's local date), one
text through messaging's automated texts (consent, quiet hours and limits apply there).

Idempotent twice over: an appointment is marked when its reminder is asked for, and the
request carries the dedupe key appointment:<public id>:reminder (one text per key).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from messaging.models import MessageKind
from messaging.services import automated_message_request
from scheduling.models import Appointment, AppointmentStatus
from scheduling.sweeps import runner
from scheduling.sweeps.runner import SweepResult


def reminder_dedupe_key(appointment: Appointment) -> str:
    return f"appointment:{appointment.public_id}:reminder"


def appointments_remind(*, now: dt.datetime | None = None) -> SweepResult:
    """Ask messaging for a reminder of every booked appointment on the pharmacy's local
    tomorrow that has none yet."""
    now = now or timezone.now()

    def step(pharmacy, _settings_row, today, result):
        zone = ZoneInfo(pharmacy.time_zone)
        tomorrow = today + dt.timedelta(days=1)
        start = dt.datetime.combine(tomorrow, dt.time(0), tzinfo=zone)
        end = dt.datetime.combine(tomorrow + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        due = (
            Appointment.objects.filter(
                pharmacy=pharmacy,
                status=AppointmentStatus.BOOKED,
                starts_at__gte=start,
                starts_at__lt=end,
                reminder_requested_at__isnull=True,
            )
            .select_related("patient")
            .order_by("starts_at", "pk")
        )
        for appointment in due:
            with transaction.atomic():
                claimed = Appointment.objects.filter(
                    pk=appointment.pk, reminder_requested_at__isnull=True
                ).update(reminder_requested_at=now)
                if not claimed:
                    continue  # another run took it
                automated_message_request(
                    patient=appointment.patient,
                    kind=MessageKind.APPOINTMENT_REMINDER,
                    dedupe_key=reminder_dedupe_key(appointment),
                    context={"pharmacy_id": pharmacy.pk, "appointment_time": appointment.starts_at},
                )
            result.messages += 1

    return runner.for_each_pharmacy("appointment_reminders", now, step)
