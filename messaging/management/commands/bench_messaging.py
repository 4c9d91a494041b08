"""Benchmark: queue a prep reminder for N patients due at once, drain with one real worker.

    python manage.py bench_messaging --patients 10000

Uses its own organization ("bench-messaging", created once, reused), the console gateway
and a `celery worker` subprocess on a private queue. The per-sender limit is off by default
(--sender-rate 0): with it on, the run would measure only the limit (10,000 texts at 1 a
second is 2.8 hours). Reports requests/s, texts/s and the duplicate count (must be 0).
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from medsync.management.base import bench_factories
from medsync.models import Organization, Pharmacy
from medsync.tenancy import tenant_scope
from medsync.worker_process import start_worker
from messaging import services, tasks
from messaging.models import (
    ConsentEvent,
    ConsoleOutbox,
    Conversation,
    Message,
    MessageStatus,
    SenderClock,
    SmsConsent,
    SmsNumber,
    StatusCallback,
)
from messaging.services import dispatcher
from patients.models import Patient

SLUG = "bench-messaging"
SENDER = "+16085550199"
# Daytime somewhere: the run happens at the current moment, inside the texting window.
ZONES = [
    "America/Chicago",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Berlin",
    "America/Sao_Paulo",
]


class Command(BaseCommand):
    help = "Queue N prep reminders due at once and drain them with one worker."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=10_000)
        parser.add_argument(
            "--sender-rate", type=float, default=0.0, help="Texts/s per number; 0 = off."
        )
        parser.add_argument("--timeout", type=int, default=1800, help="Seconds to wait.")

    def handle(self, *args, **options):
        count = options["patients"]
        if count <= 0:
            raise CommandError("--patients must be above 0.")
        settings.DEBUG = False  # no query log in this process: measure the code, not the log
        organization, pharmacy = self._tenant()
        with tenant_scope(organization):
            self._patients(organization, pharmacy, count)
            self._clear()
            requested = self._request(count)
        self.stdout.write(
            f"Queued {count} prep reminders in {requested:.1f} s "
            f"({count / requested:.0f} requests/s)."
        )
        drained, worker_log = self._drain(organization, count, options)
        with tenant_scope(organization):
            sent = Message.objects.filter(status=MessageStatus.SENT).count()
            duplicates = (
                ConsoleOutbox.objects.values("message_public_id")
                .annotate(n=Count("id"))
                .filter(n__gt=1)
                .count()
            )
            outbox = ConsoleOutbox.objects.count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Drained {sent} of {count} texts with one worker in {drained:.1f} s: "
                f"{sent / drained:.0f} texts/s; gateway calls {outbox}; duplicates {duplicates}."
            )
        )
        self.stdout.write(f"Worker log: {worker_log}")
        if sent != count or duplicates:
            raise CommandError("Not every text went out exactly once.")

    def _tenant(self) -> tuple[Organization, Pharmacy]:
        organization, _ = Organization.objects.get_or_create(
            slug=SLUG, defaults={"name": "Benchmark Messaging"}
        )
        now = timezone.now()
        zone = next(
            (z for z in ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour < 19), "America/Chicago"
        )
        with tenant_scope(organization):
            pharmacy = Pharmacy.objects.filter(sms_number=SENDER).first() or Pharmacy(
                sms_number=SENDER
            )
            pharmacy.name = "Bench Pharmacy"
            pharmacy.state = "WI"
            pharmacy.time_zone = zone
            pharmacy.phone = "+16085550134"
            pharmacy.save()
        self.stdout.write(
            f"Pharmacy time zone {zone} (local time {now.astimezone(ZoneInfo(zone)):%H:%M})."
        )
        return organization, pharmacy

    def _patients(self, organization, pharmacy, count: int) -> None:
        existing = Patient.objects.count()
        if existing < count:
            factories = bench_factories()
            factories.bulk_build_create(
                factories.PatientFactory,
                (
                    {
                        "organization": organization,
                        "mrn": f"BENCH{n:07d}",
                        "first_name": f"Pat{n}",
                        "last_name": "Bench",
                        "date_of_birth": date(1950, 1, 1),
                        "phone": f"+1608{3000000 + n:07d}",
                        "home_pharmacy": pharmacy,
                    }
                    for n in range(existing, count)
                ),
            )
        consented = set(SmsConsent.objects.values_list("patient_id", flat=True))
        now = timezone.now()
        SmsConsent.objects.bulk_create(
            [
                SmsConsent(
                    organization=organization,
                    patient=patient,
                    granted=True,
                    phone=patient.phone,
                    method="import",
                    granted_at=now,
                )
                for patient in Patient.objects.exclude(pk__in=consented).only("pk", "phone")
            ],
            batch_size=2000,
        )

    def _clear(self) -> None:
        for model in (ConsoleOutbox, StatusCallback, SenderClock, SmsNumber):
            model.objects.all().delete()
        ConsentEvent.objects.filter(message__isnull=False).update(message=None)
        Message.objects.all().delete()
        Conversation.objects.all().delete()

    def _request(self, count: int) -> float:
        started = time.perf_counter()
        patients = list(Patient.objects.select_related("home_pharmacy").order_by("mrn")[:count])
        anchor = timezone.localdate() + timedelta(days=7)
        original = dispatcher.dispatcher_enqueue
        dispatcher.dispatcher_enqueue = lambda organization: None  # one dispatch, below
        try:
            for start in range(0, count, 500):
                with transaction.atomic():
                    for patient in patients[start : start + 500]:
                        services.automated_message_request(
                            patient=patient,
                            kind="prep_reminder",
                            dedupe_key=f"bench:{patient.mrn}:{anchor}",
                            context={"anchor_date": anchor},
                        )
        finally:
            dispatcher.dispatcher_enqueue = original
        queued = Message.objects.filter(status=MessageStatus.QUEUED).count()
        if queued != count:
            raise CommandError(f"Only {queued} of {count} reminders were queued (quiet hours?).")
        return time.perf_counter() - started

    def _drain(self, organization, count: int, options) -> tuple[float, Path]:
        queue = f"bench-messaging-{os.getpid()}"
        worker = start_worker(
            queue,
            env={
                "MESSAGING_GATEWAY": "console",
                "MESSAGING_SENDER_RATE": str(options["sender_rate"]),
                "SECRET_KEY": settings.SECRET_KEY,
                "LOG_LEVEL": "WARNING",
            },
            loglevel="WARNING",
            log_name="bench-messaging-worker",
        )
        try:  # the worker answers a ping before the clock starts
            started = time.perf_counter()
            tasks.dispatch_due.apply_async(
                kwargs={"organization_id": str(organization.public_id)}, queue=queue
            )
            deadline = started + options["timeout"]
            with tenant_scope(organization):
                while True:
                    left = Message.objects.filter(
                        status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]
                    ).count()
                    if left == 0:
                        break
                    if time.perf_counter() > deadline or not worker.alive():
                        raise CommandError(f"{left} texts still unsent; see {worker.log_path}.")
                    time.sleep(0.2)
            elapsed = time.perf_counter() - started
        finally:
            worker.stop()
        return elapsed, worker.log_path
