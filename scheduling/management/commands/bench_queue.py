"""Benchmark the fill queue page: `python manage.py bench_queue --items 500`.

Builds a throwaway organization whose pharmacy has `--items` fills in today's queue (with
tests/factories, five fills to a patient), signs a pharmacist in through the real login and
second factor, then requests the queue page and a hello-world view `--requests` times each
through the same Django stack (every middleware: sessions, sign-in, the second factor, tenant
scope, CSP) in this process, and prints the median and 90th-percentile server time of both,
their ratio (goal: the queue within 3x of hello world) and the SQL queries one queue page
runs (a test holds it at 15 or fewer). Everything it wrote is rolled back at the end.
"""

from __future__ import annotations

import statistics
import time
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from medsync.management.base import bench_factories
from medsync.roles import Role
from medsync.tenancy import tenant_scope
from scheduling.dates import local_today


def hello(request):
    """The floor: a view that does nothing, behind the same middleware as the queue."""
    return HttpResponse("Hello, world", content_type="text/plain")


# This module is the URL conf while the benchmark runs: the site's URLs plus hello world.
urlpatterns = [path("bench/hello/", hello), path("", include(settings.ROOT_URLCONF))]


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Time the fill queue page with N fills beside a hello-world view."

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=500)
        parser.add_argument("--requests", type=int, default=30)

    def handle(self, *args, **options):
        items, requests = options["items"], max(3, options["requests"])
        if items < 1:
            raise CommandError("--items must be at least 1.")
        settings.DEBUG = False  # as in production: no statement log kept in memory
        try:
            with (
                transaction.atomic(),
                override_settings(
                    ROOT_URLCONF=__name__, ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]
                ),
            ):
                self._run(items, requests)
                raise _Rollback
        except _Rollback:
            self.stdout.write("Rolled back: nothing of the benchmark is left in the database.")

    def _run(self, items: int, requests: int) -> None:
        factories = bench_factories()
        from tests.medsync.totp import enroll_totp, totp_now  # a test helper, like factories

        tag = uuid.uuid4().hex[:8]
        organization = factories.OrganizationFactory(name=f"Bench queue {tag}")
        pharmacy = factories.PharmacyFactory(organization=organization)
        user = factories.UserFactory(email=f"bench-queue-{tag}@example.test")
        factories.MembershipFactory(organization=organization, user=user, role=Role.PHARMACIST)
        today = local_today(pharmacy.time_zone)
        began = time.perf_counter()
        with tenant_scope(organization):
            factories.build_fill_queue(pharmacy, items=items, today=today, prefix=f"B{tag}")
        self.stdout.write(
            f"Built {items} fills in today's queue of one pharmacy "
            f"in {time.perf_counter() - began:.2f} s."
        )
        # Planner statistics that know these rows, as a live database's would (ANALYZE counts
        # this transaction's own rows; its statistics roll back with everything else).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(self._queue_tables()))
        client = Client(secure=True)
        device = enroll_totp(user)
        client.post(
            "/accounts/login/", {"username": user.email, "password": factories.TEST_PASSWORD}
        )
        client.post("/accounts/mfa/verify/", {"code": totp_now(device)})
        for url in ("/fill-queue/", "/bench/hello/"):
            response = client.get(url)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}: not signed in?")
        queries: list[str] = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            page = client.get("/fill-queue/").content.decode()
        shown = page.count('data-testid="queue-item"')
        queue = self._time(client, "/fill-queue/", requests)
        floor = self._time(client, "/bench/hello/", requests)
        self.stdout.write(
            f"Queue page ({items} fills, {shown} on its first page, "
            f"{len(queries)} SQL statements): "
            f"median {queue[0]:.1f} ms, p90 {queue[1]:.1f} ms"
        )
        self.stdout.write(
            f"Hello world (same stack): median {floor[0]:.1f} ms, p90 {floor[1]:.1f} ms"
        )
        ratio = queue[0] / floor[0] if floor[0] else float("inf")
        verdict = "within" if ratio <= 3 else "NOT within"
        self.stdout.write(f"Ratio: {ratio:.2f}x the floor ({verdict} the 3x goal)")

    @staticmethod
    def _queue_tables() -> list[str]:
        from billing.claim_models import Claim
        from medsync.models import AuditEvent, User
        from patients.models import Coverage, Drug, Patient, Prescription
        from scheduling.models import CycleItem, SatelliteDue, SyncCycle

        models = (CycleItem, SyncCycle, Patient, Prescription, Drug, Coverage, Claim, User)
        return [m._meta.db_table for m in (*models, SatelliteDue, AuditEvent)]

    @staticmethod
    def _time(client: Client, url: str, requests: int) -> tuple[float, float]:
        times = []
        for _ in range(requests):
            began = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}.")
        times.sort()
        return statistics.median(times), times[int(0.9 * (len(times) - 1))]
