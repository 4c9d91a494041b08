"""Benchmark: import N fill rows (default 50,000) into a throwaway organization."""

import datetime as dt
import io
import os
import random
import time
import uuid

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from medsync.management.base import bench_factories
from medsync.models import Organization, Pharmacy
from medsync.tenancy import tenant_scope
from patients.imports import ImportFileInput, run_import
from patients.models import Fill, Prescription


class Command(BaseCommand):
    help = (
        "Time a preview and an import of N fill rows, then a re-import, beside a plain COPY of "
        "the same rows (all in a rollback)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fills", type=int, default=50_000)
        parser.add_argument("--keep", action="store_true", help="Keep the throwaway data.")

    def handle(self, *args, **options):
        rng = random.Random(7)  # noqa: S311 - synthetic data, not security
        n_fills = options["fills"]
        n_rx = max(1, n_fills // 12)  # a year of monthly fills per prescription
        with transaction.atomic():
            organization = Organization.objects.create(
                name="Bench import", slug=f"bench-import-{int(time.time())}"
            )
            with tenant_scope(organization):
                pharmacy = Pharmacy.objects.create(
                    name="Bench", ncpdp_id=f"{rng.randrange(10**6, 10**7)}", state="WI"
                )
                factories = bench_factories()
                drug = factories.DrugFactory(
                    ndc="99999000001", name="Benchstatin", generic_name="benchstatin"
                )
                patients = factories.bulk_build_create(
                    factories.PatientFactory,
                    (
                        {
                            "organization": organization,
                            "mrn": f"B{i}",
                            "first_name": "Bench",
                            "last_name": f"P{i}",
                            "date_of_birth": dt.date(1950, 1, 1),
                            "phone": "+16085550100",
                        }
                        for i in range(max(1, n_rx // 4))
                    ),
                )
                factories.bulk_build_create(
                    factories.PrescriptionFactory,
                    (
                        {
                            "patient": patients[i % len(patients)],
                            "pharmacy": pharmacy,
                            "rx_number": str(10**6 + i),
                            "drug": drug,
                            "sig_text": "daily",
                            "written_date": dt.date(2025, 1, 1),
                            "expiration_date": dt.date(2026, 1, 1),
                        }
                        for i in range(n_rx)
                    ),
                )
                out = io.StringIO()
                out.write("rx_number,fill_date,quantity,days_supply,fill_number,patient_pay\n")
                start = dt.date(2025, 1, 2)
                for i in range(n_fills):
                    rx = 10**6 + i % n_rx
                    day = start + dt.timedelta(days=30 * (i // n_rx) + rng.randrange(0, 4))
                    out.write(f"{rx},{day.isoformat()},30,30,{i // n_rx},10.00\n")
                upload = [ImportFileInput("fills.csv", out.getvalue())]
                floor = self._copy_floor(organization, pharmacy, out.getvalue())

                timings = {}
                for label, apply in (("preview", False), ("import", True), ("re-import", True)):
                    with CaptureQueriesContext(connection) as queries:
                        began = time.perf_counter()
                        [result] = run_import(organization, upload, apply=apply)
                        timings[label] = (time.perf_counter() - began, len(queries), result)
            for label, (seconds, query_count, result) in timings.items():
                self.stdout.write(
                    f"{label:>9}: {result.rows_total} rows in {seconds:.2f} s "
                    f"({result.rows_total / seconds:,.0f} rows/s), {query_count} queries; "
                    f"created {result.created}, updated {result.updated}, "
                    f"unchanged {result.unchanged}, rejected {result.rejected}"
                )
            together = timings["preview"][0] + timings["import"][0]
            self.stdout.write(
                f"preview + import: {together:.2f} s; plain COPY of the same rows: {floor:.2f} s; "
                f"ratio {together / floor:.1f}x (load average {os.getloadavg()[0]:.1f} "
                f"on {os.cpu_count()} cores)"
            )
            if not options["keep"]:
                transaction.set_rollback(True)

    @staticmethod
    def _copy_floor(organization, pharmacy, text: str) -> float:
        """Seconds for a plain COPY of the file's rows into the fills table (no checks), the
        floor an import is measured against; rolled back (a savepoint) before the real run."""
        ids = dict(Prescription.objects.filter(pharmacy=pharmacy).values_list("rx_number", "id"))
        rows = io.StringIO()
        for line in text.splitlines()[1:]:
            rx, day, quantity, days, number, pay = line.split(",")
            rows.write(
                f"{uuid.uuid4()}\t{organization.pk}\t{ids[rx]}\t{day}\t{quantity}\t{days}"
                f"\t{number}\t{{}}\t{pay}\tnow()\n"
            )
        rows.seek(0)
        columns = (
            "public_id, organization_id, prescription_id, fill_date, quantity, days_supply, "
            "fill_number, scc_codes, patient_pay, created_at"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            began = time.perf_counter()
            cursor.copy_expert(f"COPY {Fill._meta.db_table} ({columns}) FROM STDIN", rows)
            seconds = time.perf_counter() - began
            transaction.set_rollback(True)
        return seconds
