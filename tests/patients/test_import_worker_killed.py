"""A worker SIGKILLed in the middle of an import: nothing half-imported, and the recovery
sweep has a new worker finish it exactly once."""

from __future__ import annotations

import datetime as dt

import psycopg2
import pytest
from django.conf import settings
from django_scopes import scopes_disabled

from medsync.tenancy import tenant_scope
from medsync.worker_process import database_url, start_worker
from patients import services, tasks
from patients.models import Fill, ImportBatch, ImportStatus, Patient
from tests.factories import DrugFactory, PatientFactory, PrescriptionFactory
from tests.worker import wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

PATIENTS = "mrn,first_name,last_name,date_of_birth,phone\nM2,Grace,Hopper,1950-12-09,6085550102\n"


def fills_csv(ncpdp: str) -> str:
    rows = [
        f"{rx},2026-{month:02d}-01,30,30,{month},10.00,{ncpdp}"
        for rx in ("1000001", "1000002")
        for month in range(2, 11)
    ]
    return (
        "\n".join(
            [
                "rx_number,fill_date,quantity,days_supply,fill_number,patient_pay,pharmacy_ncpdp",
                *rows,
            ]
        )
        + "\n"
    )


def blocked_by(cursor, holder_pid: int) -> bool:
    """True while a backend waits for the fills-table lock this test holds (the worker's
    import, at its first write of fills, inside its transaction)."""
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE %s = ANY(pg_blocking_pids(pid)) AND query LIKE '%%patients_fill%%'",
        [holder_pid],
    )
    return cursor.fetchone()[0] == 1


def counts(organization):
    with tenant_scope(organization):
        return Patient.objects.filter(mrn="M2").count(), Fill.objects.count()


def test_a_killed_import_writes_nothing_and_the_sweep_has_another_worker_finish_it_once(maple):
    pharmacy = maple.pharmacies[0]
    with tenant_scope(maple.organization):
        drug = DrugFactory(ndc="00093715598")
        patient = PatientFactory(organization=maple.organization, mrn="M1")
        for number in ("1000001", "1000002"):
            PrescriptionFactory(
                organization=maple.organization,
                patient=patient,
                pharmacy=pharmacy,
                drug=drug,
                rx_number=number,
                written_date=dt.date(2026, 1, 5),
                expiration_date=dt.date(2027, 1, 5),
            )
        batch = services.import_batch_create(
            files=[("patients.csv", PATIENTS), ("fills.csv", fills_csv(pharmacy.ncpdp_id))],
            source="api",
            actor=maple.pharmacist,
        )
        services.import_batch_preview(batch=batch)
        ImportBatch.objects.filter(pk=batch.pk).update(apply_requested_at=dt.datetime.now(dt.UTC))
    assert counts(maple.organization) == (0, 0)

    # The kill point is fixed, not timed: this session holds the fills table in SHARE mode,
    # so the worker's import stops at its first write of fills, after writing the patient and
    # claiming the batch inside its transaction. Then the whole worker is SIGKILLed.
    holder = psycopg2.connect(database_url())
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-import-kill"
    first = start_worker(queue)
    try:
        lock = holder.cursor()
        lock.execute("LOCK TABLE patients_fill IN SHARE MODE")
        tasks.import_apply.apply_async(
            kwargs={
                "organization_id": str(maple.organization.public_id),
                "batch_id": str(batch.public_id),
            },
            queue=queue,
        )
        watcher = psycopg2.connect(database_url())
        watcher.autocommit = True
        holder_pid = holder.get_backend_pid()
        wait_until(lambda: blocked_by(watcher.cursor(), holder_pid), timeout=120)
        first.kill_group()
    finally:
        first.stop()
        holder.rollback()  # the orphaned import goes on, finds its client gone and rolls back
        holder.close()
    with scopes_disabled():
        batch.refresh_from_db()
    assert batch.status == ImportStatus.PREVIEWED  # the claim rolled back with the import
    assert counts(maple.organization) == (0, 0)  # nothing half-imported

    # Once the orphaned transaction is gone, the sweep queues the batch again and a new
    # worker (on the queue the sweep uses) imports it, once.
    def swept() -> bool:
        with tenant_scope(maple.organization):
            return services.import_batches_recover(stale_after=dt.timedelta(0)) == 1

    wait_until(swept, timeout=60, interval=0.5)
    second = start_worker(settings.CELERY_TASK_DEFAULT_QUEUE)
    try:

        def applied() -> bool:
            with scopes_disabled():
                return ImportBatch.objects.get(pk=batch.pk).status == ImportStatus.APPLIED

        wait_until(applied, timeout=120)
    finally:
        second.stop()
        watcher.close()
    assert counts(maple.organization) == (1, 18)
    with tenant_scope(maple.organization):
        batch.refresh_from_db()
        assert batch.recoveries == 1
        assert [f.created for f in batch.files.order_by("kind")] == [18, 1]
        # A second sweep finds nothing left to do.
        assert services.import_batches_recover(stale_after=dt.timedelta(0)) == 0
