"""Benchmark the sync sweeps: `python manage.py bench_sync --patients N`.

Builds a throwaway organization with N enrolled patients of about six prescriptions each
(one in ten with an inhaler that drifts off the anchor), all due for their next anchor in
two days, then times the three sweeps a pharmacy's morning runs: make the cycles (a), open
the prep calls (b), open the pre-fill (c). Prints patients per second and SQL queries per
patient and per batch. The sweeps commit batch by batch as in production; afterwards the
throwaway rows are deleted (unless --keep) and the inactive organization stays.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from medsync.management.base import bench_factories
from medsync.models import Organization, Pharmacy
from medsync.tenancy import tenant_scope
from scheduling import sweeps
from scheduling.dates import local_today
from scheduling.models import (
    ContactChannel,
    EnrollmentStatus,
    FillKind,
    PlanReason,
    SyncEnrollment,
    SyncPlan,
    SyncPlanItem,
)
from scheduling.sweeps import runner

RX_PER_PATIENT = 6
INHALER_EVERY = 10  # one patient in ten also uses a whole-package inhaler
CHUNK = 5000
TOUCHED_TABLES = (
    "scheduling_cycleevent",
    "scheduling_messagerequest",
    "scheduling_followuptask",
    "scheduling_prepcontact",
    "scheduling_cycleitem",
    "scheduling_synccycle",
    "scheduling_replanproposal",
    "scheduling_syncplanitem",
    "scheduling_syncplan",
    "scheduling_syncenrollment",
    "scheduling_syncsettings",
    "patients_fill",
    "patients_prescription",
    "patients_coverage",
    "patients_patient",
)


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _sweep_in_worker(organization_pk, sweep_name, index, partitions, batch_size):
    """One worker's share of a sweep: (its result, the SQL statements it sent)."""
    organization = Organization.objects.get(pk=organization_pk)
    counter = QueryCounter()
    kwargs = {"limit": batch_size} if batch_size else {}
    if partitions > 1:
        kwargs.update(partition=index, partitions=partitions)
    with tenant_scope(organization), connection.execute_wrapper(counter):
        result = getattr(sweeps, sweep_name)(**kwargs)
    return result, counter.count


class Command(BaseCommand):
    help = "Time the cycle, prep and pre-fill sweeps over N enrolled patients."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=10_000)
        parser.add_argument("--batch-size", type=int, default=None, help="Rows per sweep batch.")
        parser.add_argument("--keep", action="store_true", help="Keep the throwaway rows.")
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Run each sweep in this many workers at once (the cycle sweep split by "
            "enrollment id, the others sharing rows through SKIP LOCKED), as Celery would "
            "with SCHEDULING_SWEEP_PARTITIONS.",
        )

    def handle(self, *args, **options):
        n = max(1, options["patients"])
        # As in production: with DEBUG on, Django would keep every statement in memory.
        settings.DEBUG = False
        # An inactive organization: no beat fan-out or worker ever runs its jobs.
        organization = Organization.objects.create(
            name="Bench sync (throwaway)",
            slug=f"bench-sync-{uuid.uuid4().hex[:8]}",
            is_active=False,
        )
        try:
            self._run(organization, n, options["batch_size"], max(1, options["workers"]))
        finally:
            if not options["keep"]:
                self._clean_up(organization)

    def _clean_up(self, organization) -> None:
        """Delete the throwaway rows (its few audit events stay: the log is append-only)."""
        tables = [*TOUCHED_TABLES, "medsync_pharmacy"]
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(
                    f"DELETE FROM {table} WHERE organization_id = %s",  # noqa: S608
                    [organization.pk],
                )
                # Dead rows gone before the parents' foreign-key checks scan this table.
                if table != "medsync_pharmacy":
                    cursor.execute(f"VACUUM {table}")
        self.stdout.write("Deleted the throwaway rows (the organization stays, inactive).")

    @staticmethod
    def _in_workers(organization, sweep, split: bool, workers: int, batch_size):
        """Run one sweep in `workers` processes at once, each with its own database
        connection, as Celery's prefork workers would (threads would share one GIL)."""
        arguments = [
            (organization.pk, sweep.__name__, index, workers if split else 1, batch_size)
            for index in range(workers)
        ]
        if workers == 1:
            return [_sweep_in_worker(*arguments[0])]
        connection.close()  # each forked worker opens its own
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.starmap(_sweep_in_worker, arguments)

    def _vacuum(self, *, analyze: bool) -> None:
        with connection.cursor() as cursor:
            for table in TOUCHED_TABLES:
                cursor.execute(f"VACUUM {'(ANALYZE) ' if analyze else ''}{table}")

    # --- building the program --------------------------------------------------------------

    def _run(self, organization, n: int, batch_size: int | None, workers: int) -> None:
        started = time.perf_counter()
        with tenant_scope(organization), transaction.atomic():
            pharmacy = Pharmacy.objects.create(
                name="Bench sync pharmacy", state="WI", time_zone="America/Chicago"
            )
            today = local_today(pharmacy.time_zone)
            anchor = today + dt.timedelta(days=2)  # prep and pre-fill are both due today
            self._build(organization, pharmacy, n, today, anchor)
        # Clean tables and fresh statistics, as autovacuum keeps them in production (it may
        # be off on a development server).
        self._vacuum(analyze=True)
        self.stdout.write(
            f"Built {n:,} enrolled patients x {RX_PER_PATIENT} prescriptions "
            f"in {time.perf_counter() - started:.1f} s."
        )
        # The messaging hand-over is messaging's work; it runs as its own task.
        runner.hand_over_later = lambda result: None
        totals = {"seconds": 0.0, "queries": 0}
        for label, sweep, split in (
            ("cycles (a)", sweeps.cycles_ensure_upcoming, True),
            ("prep (b)", sweeps.cycles_open_prep, False),
            ("pre-fill (c)", sweeps.cycles_open_prefill, False),
        ):
            # Statistics as autovacuum keeps them between jobs (it may be off here).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE scheduling_synccycle")
                cursor.execute("ANALYZE scheduling_cycleitem")
            began = time.perf_counter()
            runs = self._in_workers(organization, sweep, split, workers, batch_size)
            seconds = time.perf_counter() - began
            queries = sum(c for _, c in runs)
            result = runs[0][0]
            for other, _ in runs[1:]:
                result.add(other)
            totals["seconds"] += seconds
            totals["queries"] += queries
            batches = max(1, result.batches)
            self.stdout.write(
                f"{label:<13} {seconds:7.2f} s  {n / seconds:9,.0f} patients/s  "
                f"{queries:6,} queries ({queries / n:.3f}/patient, "
                f"{queries / batches:.1f}/batch over {result.batches} batches)  "
                f"cycles {result.cycles:,}  items {result.items:,}  "
                f"messages {result.messages:,}  tasks {result.tasks:,}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"All three sweeps: {totals['seconds']:.2f} s for {n:,} patients "
                f"({n / totals['seconds']:,.0f} patients/s), {totals['queries']:,} queries "
                f"({totals['queries'] / n:.3f} per patient)."
            )
        )
        # The next hourly run: every patient is looked at again, nothing is due twice.
        began = time.perf_counter()
        changed = 0
        for sweep, split in (
            (sweeps.cycles_ensure_upcoming, True),
            (sweeps.cycles_open_prep, False),
            (sweeps.cycles_open_prefill, False),
        ):
            for result, _queries in self._in_workers(
                organization, sweep, split, workers, batch_size
            ):
                changed += result.cycles + result.items + result.messages + result.tasks
        self.stdout.write(
            f"Run again (the next hour): {time.perf_counter() - began:.2f} s, "
            f"{changed} rows changed."
        )

    def _build(self, organization, pharmacy, n, today, anchor):
        factories = bench_factories()
        drugs = [
            factories.SyncDrugFactory(
                ndc=f"9988800000{i}", name=f"Benchopril {i}", generic_name=f"benchopril {i}"
            )
            for i in range(RX_PER_PATIENT)
        ]
        inhaler = factories.InhalerFactory(
            ndc="99888000099", name="Benchair HFA", generic_name="benchair", strength="90 mcg"
        )
        build = factories.bulk_build_create
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            patients = build(
                factories.PatientFactory,
                (
                    {
                        "organization": organization,
                        "mrn": f"BS{start + i}",
                        "first_name": "Bench",
                        "last_name": f"Patient {start + i}",
                        "date_of_birth": dt.date(1950, 1, 1),
                        "phone": "+16085550100",
                        "home_pharmacy": pharmacy,
                    }
                    for i in range(size)
                ),
            )
            coverages = build(
                factories.CoverageFactory,
                (
                    {"patient": p, "payer_name": "Bench Part D", "member_id": f"BM{p.pk}"}
                    for p in patients
                ),
            )
            rows = []
            for index, (patient, coverage) in enumerate(zip(patients, coverages, strict=True)):
                chosen = list(drugs)
                if (start + index) % INHALER_EVERY == 0:
                    chosen[-1] = inhaler
                for k, drug in enumerate(chosen):
                    rows.append(
                        {
                            "patient": patient,
                            "pharmacy": pharmacy,
                            "rx_number": f"{(start + index) * 10 + k}",
                            "drug": drug,
                            "coverage": coverage,
                            "sig_text": "Once daily",
                            "daily_dose": Decimal("8") if drug.unit_of_use else Decimal("1"),
                            "quantity_per_fill": (
                                Decimal("200") if drug.unit_of_use else Decimal("30")
                            ),
                            "days_supply": 25 if drug.unit_of_use else 30,
                            "refills_remaining": 6 if k else 1,  # one Rx near its last refill
                            "written_date": today - dt.timedelta(days=180),
                            "expiration_date": today + dt.timedelta(days=185),
                        }
                    )
            prescriptions = build(factories.SyncPrescriptionFactory, rows)
            build(
                factories.FillFactory,
                (
                    {
                        "prescription": rx,
                        "fill_date": today - dt.timedelta(days=20),
                        "quantity": Decimal("200"),
                        "days_supply": 25,
                        "fill_number": 5,
                    }
                    for rx in prescriptions
                    if rx.drug_id == inhaler.pk
                ),
            )
            org = organization.pk
            enrollments = SyncEnrollment.objects.bulk_create(
                [
                    SyncEnrollment(
                        organization_id=org,
                        patient=p,
                        pharmacy=pharmacy,
                        status=EnrollmentStatus.ENROLLED,
                        consent_given_by="Bench",
                        consent_method="in_person",
                        consent_at=organization.created_at,
                        cycle_days=30,
                        anchor_date=anchor - dt.timedelta(days=30),
                        contact_channel=(
                            ContactChannel.SMS if (start + i) % 2 else ContactChannel.PHONE
                        ),
                    )
                    for i, p in enumerate(patients)
                ]
            )
            plans = SyncPlan.objects.bulk_create(
                [
                    SyncPlan(
                        organization_id=org,
                        enrollment=e,
                        anchor_date=anchor - dt.timedelta(days=30),
                        cycle_days=30,
                        reason=PlanReason.ENROLLMENT,
                        approved_at=organization.created_at,
                    )
                    for e in enrollments
                ]
            )
            plan_of = {plan.enrollment.patient_id: plan for plan in plans}
            SyncPlanItem.objects.bulk_create(
                [
                    SyncPlanItem(
                        organization_id=org,
                        plan=plan_of[rx.patient_id],
                        prescription=rx,
                        kind=FillKind.FULL,
                        fill_date=anchor - dt.timedelta(days=30),
                        quantity=rx.quantity_per_fill,
                        days_supply=rx.days_supply,
                        fills=self._enrollment_fills(rx, first_anchor=anchor - dt.timedelta(30)),
                        daily_dose=rx.daily_dose,
                        unit_of_use=rx.drug_id == inhaler.pk,
                        recurring_quantity=rx.quantity_per_fill,
                        recurring_days_supply=rx.days_supply,
                        recurring_patient_pay=Decimal("10.00"),
                    )
                    for rx in prescriptions
                ]
            )

    @staticmethod
    def _enrollment_fills(rx, *, first_anchor: dt.date) -> list[dict]:
        """The fills an enrollment a cycle ago planned, as services.plan_store keeps them:
        a short fill (SCC 47) up to the first anchor, then the full fill on it (SCC 48)."""
        if rx.days_supply != 30:  # the inhaler: one whole package, no short fill
            return [
                {
                    "fill_date": (first_anchor - dt.timedelta(days=4)).isoformat(),
                    "quantity": str(rx.quantity_per_fill),
                    "days_supply": rx.days_supply,
                    "kind": FillKind.FULL.value,
                    "scc_codes": [],
                    "patient_pay": "10.00",
                }
            ]
        short_days = 9
        return [
            {
                "fill_date": (first_anchor - dt.timedelta(days=short_days)).isoformat(),
                "quantity": str(rx.daily_dose * short_days),
                "days_supply": short_days,
                "kind": FillKind.SHORT.value,
                "scc_codes": [47],
                "patient_pay": "3.00",
            },
            {
                "fill_date": first_anchor.isoformat(),
                "quantity": str(rx.quantity_per_fill),
                "days_supply": rx.days_supply,
                "kind": FillKind.FULL.value,
                "scc_codes": [48],
                "patient_pay": "10.00",
            },
        ]
