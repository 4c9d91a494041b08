"""Benchmark PDC at scale: `python manage.py bench_reports --patients 100000`.

Builds a throwaway (inactive) organization with N patients, each on two or three chronic
drugs of the PQA classes with about 15 months of fills (30- and 90-day supplies, late and
early refills), 40% enrolled in sync within the last six months, 3% with a hospital stay,
1% in hospice; then prints, each beside the floor it cannot beat:

- floor: a plain aggregate over the same fills (count and sum of days supply per patient);
- PDC of every patient over the last 12 months, set-based SQL (`reports.pdc_sql`);
- the pure engine (`reports.pdc`) on a sample, its time per patient scaled to N, and whether
  the sample's results equal the SQL ones;
- the full refresh of the cached outcomes (before / since enrollment / not enrolled, stays by
  the engine, rows written with COPY), as the nightly job runs it;
- the adherence page's figures read from the cache.

The rows are deleted afterwards (unless --keep); the inactive organization stays.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from medsync.management.base import bench_factories
from medsync.models import Organization, Pharmacy
from medsync.tenancy import tenant_scope
from patients.models import Patient
from patients.models import TherapeuticClass as TC
from reports.adherence import adherence_figures, outcome_rows, stays_of
from reports.pdc_sql import (
    PARALLEL_MIN_WINDOWS,
    Window,
    engine_pdc,
    sql_pdc,
    sql_pdc_parallel,
)
from reports.selectors import _dispensed_fills, _pdc_inputs
from reports.services import outcomes_refresh
from scheduling.models import EnrollmentStatus, SyncEnrollment

CHUNK = 5000
SQL_CHUNK = 100_000  # windows per statement (one statement for the default N)
HISTORY_DAYS = 455  # about 15 months of fills: 12 measured, and some before enrollment
DRUGS = (
    ("Benchvastatin", [TC.STATIN]),
    ("Benchopril", [TC.RAS_ANTAGONIST]),
    ("Benchformin", [TC.DIABETES_NON_INSULIN]),
    ("Benchlodipine", [TC.CALCIUM_CHANNEL_BLOCKER]),
    ("Benchprolol", [TC.BETA_BLOCKER]),
)
TOUCHED_TABLES = (
    "reports_pdcsnapshot",
    "reports_pdcoutcome",
    "reports_outcomerefresh",
    "patients_inpatientstay",
    "scheduling_syncenrollment",
    "patients_fill",
    "patients_prescription",
    "patients_patient",
)


def _key(row):
    return (row.key, row.therapeutic_class)


def _timed(fn):
    began = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - began


class Command(BaseCommand):
    help = "Time PDC for N patients over 12 months of fills (SQL, engine, refresh, page)."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=100_000)
        parser.add_argument("--engine-sample", type=int, default=5_000)
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--keep", action="store_true", help="Keep the throwaway rows.")
        parser.add_argument(
            "--reuse",
            help="Measure again the rows a --keep run left (the organization's slug); no build.",
        )

    def handle(self, *args, **options):
        n = max(1, options["patients"])
        settings.DEBUG = False  # Django would keep every statement in memory
        if options["reuse"]:
            organization = Organization.objects.get(slug=options["reuse"], is_active=False)
            with tenant_scope(organization):
                self._measure(organization, timezone.localdate(), options)
            return
        organization = Organization.objects.create(
            name="Bench reports (throwaway)",
            slug=f"bench-reports-{uuid.uuid4().hex[:8]}",
            is_active=False,
        )
        self.stdout.write(f"Organization {organization.slug} (inactive).")
        try:
            self._run(organization, n, options)
        finally:
            if not options["keep"]:
                self._clean_up(organization)

    def _clean_up(self, organization) -> None:
        with connection.cursor() as cursor:
            for table in (*TOUCHED_TABLES, "medsync_pharmacy"):
                cursor.execute(
                    f"DELETE FROM {table} WHERE organization_id = %s",  # noqa: S608
                    [organization.pk],
                )
        self.stdout.write("Deleted the throwaway rows (the organization stays, inactive).")

    # --- building ---------------------------------------------------------------------------

    def _build(self, organization, pharmacy, n: int, today: dt.date, rng: random.Random) -> int:
        factories = bench_factories()
        build = factories.bulk_build_create
        drugs = [
            factories.DrugFactory(
                ndc=f"977770000{i:02d}",
                name=f"{name} 10 mg",
                generic_name=name,
                therapeutic_classes=classes,
            )
            for i, (name, classes) in enumerate(DRUGS)
        ]
        fills_total = 0
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            patients = build(
                factories.PatientFactory,
                (
                    {
                        "organization": organization,
                        "mrn": f"BR{start + i}",
                        "first_name": "Bench",
                        "last_name": f"Patient {start + i}",
                        "date_of_birth": dt.date(
                            1935 + rng.randrange(55), 1 + rng.randrange(12), 1
                        ),
                        "phone": "+16085550100",
                        "home_pharmacy": pharmacy,
                        "hospice": rng.random() < 0.01,
                    }
                    for i in range(size)
                ),
            )
            rx_rows = []
            for index, patient in enumerate(patients):
                for k, drug in enumerate(rng.sample(drugs, 2 + rng.randrange(2))):
                    rx_rows.append(
                        {
                            "patient": patient,
                            "pharmacy": pharmacy,
                            "rx_number": f"{(start + index) * 10 + k}",
                            "drug": drug,
                            "therapy_type": "maintenance",
                        }
                    )
            prescriptions = build(factories.PrescriptionFactory, rx_rows)
            fills_total += self._fills(organization, [rx.pk for rx in prescriptions], today)
            enrolled, stays = [], []
            for patient in patients:
                if rng.random() < 0.4:
                    at = timezone.now() - dt.timedelta(days=30 + rng.randrange(150))
                    enrolled.append(
                        SyncEnrollment(
                            organization_id=organization.pk,
                            patient=patient,
                            pharmacy=pharmacy,
                            status=EnrollmentStatus.ENROLLED,
                            consent_given_by="Bench",
                            consent_method="in_person",
                            consent_at=at,
                            invited_at=at,
                            enrolled_at=at,
                            anchor_date=at.date(),
                        )
                    )
                if rng.random() < 0.03:
                    admitted = today - dt.timedelta(days=rng.randrange(300))
                    stays.append(
                        {
                            "patient": patient,
                            "admitted_on": admitted,
                            "discharged_on": admitted + dt.timedelta(days=rng.randrange(1, 15)),
                        }
                    )
            SyncEnrollment.objects.bulk_create(enrolled)
            build(factories.InpatientStayFactory, stays)
        return fills_total

    @staticmethod
    def _fills(organization, prescription_ids, today: dt.date) -> int:
        """About 15 months of fills of each prescription, written by the database (2.7 million
        factory builds would take longer than everything measured here): a 30-day supply (a
        90-day one for a quarter of them), the first within one supply of the start, then each
        refill mostly on time, some early (-5, -2 days), some late (3, 8, 20, 45 days)."""
        sql = """
            WITH RECURSIVE walk(prescription_id, supply, fill_date, n) AS (
                SELECT p.id, s.supply, %(first)s::date + (random() * s.supply)::int, 0
                FROM patients_prescription p
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN random() < 0.25 + 0 * p.id THEN 90 ELSE 30 END AS supply
                ) s
                WHERE p.id = ANY(%(ids)s)
              UNION ALL
                SELECT prescription_id, supply,
                       fill_date + supply
                       + (ARRAY[-5, -2, 0, 0, 0, 3, 8, 20, 45])[1 + floor(random() * 9)::int],
                       n + 1
                FROM walk WHERE fill_date <= %(today)s
            )
            INSERT INTO patients_fill (organization_id, public_id, prescription_id, fill_date,
                quantity, days_supply, fill_number, scc_codes, patient_pay, created_at)
            SELECT %(org)s, gen_random_uuid(), prescription_id, fill_date, supply, supply, n,
                   '{}', 0, now()
            FROM walk WHERE fill_date <= %(today)s
        """
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                {
                    "org": organization.pk,
                    "ids": list(prescription_ids),
                    "first": today - dt.timedelta(days=HISTORY_DAYS),
                    "today": today,
                },
            )
            return cursor.rowcount

    # --- measuring --------------------------------------------------------------------------

    def _run(self, organization, n: int, options) -> None:
        rng = random.Random(options["seed"])  # noqa: S311 - benchmark data, not secrets
        began = time.perf_counter()
        today = timezone.localdate()
        with tenant_scope(organization), transaction.atomic():
            pharmacy = Pharmacy.objects.create(
                name="Bench reports pharmacy", state="WI", time_zone="America/Chicago"
            )
            fills = self._build(organization, pharmacy, n, today, rng)
        # Clean tables and fresh statistics, as autovacuum keeps them in production.
        with connection.cursor() as cursor:
            for table in TOUCHED_TABLES:
                cursor.execute(f"VACUUM (ANALYZE) {table}")
        self.stdout.write(
            f"Built {n:,} patients, {fills:,} fills over {HISTORY_DAYS} days "
            f"in {time.perf_counter() - began:.1f} s."
        )
        with tenant_scope(organization):
            self._measure(organization, today, options)

    def _measure(self, organization, today: dt.date, options) -> None:
        start = today - dt.timedelta(days=364)
        patient_ids = list(Patient.objects.order_by("pk").values_list("pk", "hospice", "esrd"))
        windows = [Window(pk, pk, start, today, hospice, esrd) for pk, hospice, esrd in patient_ids]

        def floor():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*), sum(s) FROM (SELECT p.patient_id, sum(f.days_supply) AS s"
                    " FROM patients_fill f JOIN patients_prescription p ON p.id = f.prescription_id"
                    " WHERE f.organization_id = %s AND f.fill_date BETWEEN %s AND %s"
                    " GROUP BY p.patient_id) t",
                    [organization.pk, start, today],
                )
                return cursor.fetchone()

        (patients_seen, _supply), floor_s = _timed(floor)

        def sql_one():
            rows = []
            for k in range(0, len(windows), SQL_CHUNK):
                rows.extend(sql_pdc(organization.pk, windows[k : k + SQL_CHUNK]))
            return rows

        sql_rows, sql_s = _timed(lambda: sql_pdc_parallel(organization, windows, workers=2))
        one_rows, one_s = _timed(sql_one)
        same = "equal" if sorted(sql_rows, key=_key) == sorted(one_rows, key=_key) else "DIFFERENT"
        self.stdout.write(
            f"floor: aggregate of the same fills per patient  {floor_s:7.2f} s  "
            f"({patients_seen:,} patients)"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"PDC, set-based SQL on {2 if len(windows) >= PARALLEL_MIN_WINDOWS else 1} "
                f"connection(s), {len(windows):,} patients x 12 months  "
                f"{sql_s:7.2f} s  ({len(windows) / sql_s:,.0f} patients/s, {len(sql_rows):,} "
                f"class results, {sql_s / max(floor_s, 1e-9):.1f}x the floor; target < 30 s)"
            )
        )
        self.stdout.write(f"PDC, set-based SQL on 1 connection  {one_s:7.2f} s  (results {same})")

        sample = windows[: options["engine_sample"]]
        ids = [w.patient_id for w in sample]

        def engine():
            fills_by, drug_classes = _pdc_inputs(_dispensed_fills(ids, start, today))
            return engine_pdc(sample, fills_by, drug_classes, {})

        engine_rows, engine_s = _timed(engine)
        in_sample = {w.key for w in sample}
        sql_sample = sorted(
            (r for r in sql_rows if r.key in in_sample), key=lambda r: (r.key, r.therapeutic_class)
        )
        engine_rows.sort(key=lambda r: (r.key, r.therapeutic_class))
        agree = "equal" if sql_sample == engine_rows else "DIFFERENT"
        self.stdout.write(
            f"pure engine (Python), {len(sample):,} patients  {engine_s:7.2f} s  "
            f"(scaled to {len(windows):,}: {engine_s * len(windows) / max(1, len(sample)):.0f} s); "
            f"its {len(engine_rows):,} results are {agree} to the SQL ones"
        )
        stays = stays_of(None, start, today)
        self.stdout.write(
            f"patients with a stay in the year (measured by the engine): {len(stays):,}"
        )

        refresh, refresh_s = _timed(lambda: outcomes_refresh(as_of=today))
        self.stdout.write(
            self.style.SUCCESS(
                f"refresh of the cached outcomes (before/since/not enrolled)  {refresh_s:7.2f} s  "
                f"({refresh.windows_total:,} periods, {refresh.rows_written:,} rows written)"
            )
        )
        again, again_s = _timed(lambda: outcomes_refresh(as_of=today))
        self.stdout.write(
            f"refresh again (idempotent)  {again_s:7.2f} s  ({again.rows_written:,} rows)"
        )
        figures, page_s = _timed(lambda: adherence_figures(outcome_rows(None)))
        self.stdout.write(
            f"adherence page figures from the cache  {page_s:7.2f} s  ({len(figures)} classes)"
        )
