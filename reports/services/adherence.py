"""Refreshing the cached adherence outcomes (`reports.models.PdcOutcome`).

`outcomes_refresh` measures every period of every patient of the tenant (see
`reports.adherence`) and replaces the tenant's cached rows in one transaction: run twice, the
second run writes the same rows (idempotent), and a reader never sees half a refresh. Windows
without an inpatient stay are measured set-based in SQL (`reports.pdc_sql`), the few with a
stay by the pure engine; the rows are written a batch at a time (INSERT ... SELECT FROM
unnest). Progress is saved on the `OutcomeRefresh` row between chunks, in its own short
transactions, so the page can show it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from medsync.jobs import enqueue_for_organization
from medsync.services import audit_record
from medsync.tenancy import current_organization
from reports.adherence import OutcomeWindow, outcome_facts, outcome_windows, stays_of
from reports.models import OutcomeRefresh, PdcOutcome, PdcSnapshot, RefreshStatus
from reports.pdc_sql import ClassPdc, engine_pdc, sql_pdc_parallel
from reports.selectors import _dispensed_fills, _pdc_inputs

logger = logging.getLogger(__name__)

CHUNK = 50_000  # windows per round of SQL (progress is saved between them)
SQL_WORKERS = 1  # connections measuring at once (bench_reports: 2 were no faster here)
REFRESH_TASK = "reports.refresh_outcomes"


def outcomes_refresh_request(*, actor) -> tuple[OutcomeRefresh, bool]:
    """Queue a refresh (the page's button); one already queued or running (for less than an
    hour) is returned instead of a second one. Returns (the refresh, whether it is new)."""
    with transaction.atomic():
        unfinished = OutcomeRefresh.objects.select_for_update().filter(
            status__in=(RefreshStatus.QUEUED, RefreshStatus.RUNNING)
        )
        # One left unfinished for an hour died with its worker: failed, and no longer blocks.
        unfinished.filter(requested_at__lt=timezone.now() - STALE_AFTER).update(
            status=RefreshStatus.FAILED, finished_at=timezone.now()
        )
        running = unfinished.filter(requested_at__gte=timezone.now() - STALE_AFTER).first()
        if running is not None:
            return running, False
        refresh = OutcomeRefresh.objects.create(requested_by=actor)
        audit_record(action="reports.outcomes.refresh_requested", actor=actor, target=refresh)
        enqueue_for_organization(
            REFRESH_TASK, current_organization(), refresh_id=str(refresh.public_id)
        )
    return refresh, True


def _claim(refresh: OutcomeRefresh | None, as_of: dt.date) -> OutcomeRefresh | None:
    """Move a queued refresh to running (conditional UPDATE: a duplicate task finds none)."""
    now = timezone.now()
    if refresh is None:
        return OutcomeRefresh.objects.create(
            status=RefreshStatus.RUNNING, started_at=now, as_of=as_of
        )
    claimed = OutcomeRefresh.objects.filter(pk=refresh.pk, status=RefreshStatus.QUEUED).update(
        status=RefreshStatus.RUNNING, started_at=now, as_of=as_of
    )
    if not claimed:
        return None
    refresh.refresh_from_db()
    return refresh


def _measure(windows: list[OutcomeWindow], organization, refresh: OutcomeRefresh):
    """ClassPdc rows of every window: SQL for those without a stay, the engine for the rest."""
    if not windows:
        return []
    first = min(w.window.start for w in windows)
    last = max(w.window.end for w in windows)
    stays = stays_of(None, first, last)

    def has_stay(w: OutcomeWindow) -> bool:
        return any(
            a <= w.window.end and b >= w.window.start for a, b in stays.get(w.window.patient_id, ())
        )

    with_stay = [w for w in windows if has_stay(w)]
    plain = [w for w in windows if not has_stay(w)]
    results: list[ClassPdc] = []
    for begin in range(0, len(plain), CHUNK):
        chunk = [w.window for w in plain[begin : begin + CHUNK]]
        results.extend(sql_pdc_parallel(organization, chunk, workers=SQL_WORKERS))
        _progress(refresh, begin + len(chunk))
    if with_stay:
        ids = sorted({w.window.patient_id for w in with_stay})
        fills, drug_classes = _pdc_inputs(_dispensed_fills(ids, first, last))
        results.extend(engine_pdc([w.window for w in with_stay], fills, drug_classes, stays))
    _progress(refresh, len(windows))
    return results


def _progress(refresh: OutcomeRefresh, done: int) -> None:
    OutcomeRefresh.objects.filter(pk=refresh.pk).update(windows_done=done)


INSERT_BATCH = 50_000
STALE_AFTER = dt.timedelta(hours=1)
_TYPES = {
    "patient_id": "bigint",
    "pharmacy_id": "bigint",
    "period": "text",
    "therapeutic_class": "text",
    "age_band": "text",
    "enrolled_on": "date",
    "period_start": "date",
    "period_end": "date",
    "index_date": "date",
    "days_in_period": "int",
    "days_covered": "int",
    "measurable": "bool",
    "adherent": "bool",
    "reason_code": "text",
}


def _literal(values) -> str:
    """A PostgreSQL array literal of plain values (ids, dates, codes: nothing to escape but
    NULL)."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def _insert_rows(organization_id: int, windows: list[OutcomeWindow], results, as_of) -> int:
    """INSERT ... SELECT FROM unnest(arrays), a batch at a time: as fast as COPY here, and
    allowed under row-level security (COPY FROM is not, for the app role)."""
    by_key = {w.window.key: w for w in windows}
    rows = []
    for r in results:
        if r.days_in_period <= 0:
            continue  # every day of the period spent in a stay: nothing to measure
        w = by_key[r.key]
        rows.append(
            (
                r.patient_id,
                w.pharmacy_id,
                w.period,
                r.therapeutic_class,
                w.age_band,
                w.enrolled_on,
                w.window.start,
                r.period_end,
                r.index_date,
                r.days_in_period,
                r.days_covered,
                r.measurable,
                r.adherent,
                r.reason_code or '""',
            )
        )
    columns = list(_TYPES)
    arrays = ", ".join(f"%s::{t}[]" for t in _TYPES.values())
    sql = (
        f"INSERT INTO {PdcOutcome._meta.db_table} "  # noqa: S608 - names from the model
        f"(organization_id, public_id, as_of, {', '.join(columns)}) "
        f"SELECT %s, gen_random_uuid(), %s, * FROM unnest({arrays})"
    )
    with connection.cursor() as cursor:
        for begin in range(0, len(rows), INSERT_BATCH):
            batch = rows[begin : begin + INSERT_BATCH]
            cursor.execute(
                sql, [organization_id, as_of, *(_literal(col) for col in zip(*batch, strict=True))]
            )
    return len(rows)


def _snapshot(organization, as_of: dt.date) -> None:
    """This month's figures per pharmacy, period and class (the trend): replaced by each
    refresh of the month, so the last one of a month stays."""
    month = as_of.replace(day=1)
    PdcSnapshot.objects.filter(month=month).delete()
    groups = (
        PdcOutcome.objects.order_by()
        .values("pharmacy_id", "period", "therapeutic_class")
        .annotate(
            measured=Count("pk", filter=Q(measurable=True)),
            adherent=Count("pk", filter=Q(adherent=True)),
        )
    )
    PdcSnapshot.objects.bulk_create(
        PdcSnapshot(organization=organization, month=month, **group) for group in groups
    )


def outcomes_refresh(
    *, refresh: OutcomeRefresh | None = None, as_of: dt.date | None = None
) -> OutcomeRefresh | None:
    """Measure every patient and replace the tenant's cached outcomes (idempotent).

    `refresh` is a queued request (None: the nightly job makes its own row). Returns the
    finished refresh, or None when someone else already claimed that request."""
    organization = current_organization()
    as_of = as_of or timezone.localdate()
    refresh = _claim(refresh, as_of)
    if refresh is None:
        return None
    began = time.perf_counter()
    try:
        windows = outcome_windows(outcome_facts(), as_of)
        OutcomeRefresh.objects.filter(pk=refresh.pk).update(windows_total=len(windows))
        results = _measure(windows, organization, refresh)
        with transaction.atomic():
            PdcOutcome.objects.all().delete()
            written = _insert_rows(organization.pk, windows, results, as_of)
            _snapshot(organization, as_of)
            OutcomeRefresh.objects.filter(pk=refresh.pk).update(
                status=RefreshStatus.DONE,
                finished_at=timezone.now(),
                windows_total=len(windows),
                windows_done=len(windows),
                rows_written=written,
                seconds=round(time.perf_counter() - began, 3),
            )
        with connection.cursor() as cursor:
            # fresh statistics for the report queries (the table was just replaced)
            cursor.execute(f"ANALYZE {PdcOutcome._meta.db_table}")
    except Exception:
        OutcomeRefresh.objects.filter(pk=refresh.pk).update(
            status=RefreshStatus.FAILED, finished_at=timezone.now()
        )
        logger.exception("Refreshing the adherence outcomes failed")
        raise
    refresh.refresh_from_db()
    return refresh
