"""The sweeps' raw SQL, all of it in this module. Set-based: claim due cycles and write
their consequences in a fixed number of statements per batch, whatever its size.

The ORM builds one Python object per row; at 100,000 patients a morning that alone takes
minutes. These helpers filter every statement on the active tenant's organization_id
explicitly (raw SQL does not pass through django-scopes), so a sweep for one organization
can neither read nor write another's rows.

Each statement is driven by an array of primary keys walked row by row: `unnest(ids)` and a
LATERAL subquery fenced with OFFSET 0 that looks up by that key alone, so the planner can
neither turn it into a hash join over a whole table nor pick another index; the tenant and
state conditions are checked on the row found, outside the fence. Right after a morning's
batch the statistics of cycles and items are stale, and a lookup the planner misjudges (say,
scanning an organization's whole index for one id) turns a millisecond statement into seconds.

Values, status values included, travel as named query parameters built from the models'
TextChoices and the state table (scheduling/states.py), never as literals; the WHERE and
SET fragments of each claim live here beside the statements that use them. Every read comes
back as a named tuple. The cycle item's column list is written once (ITEM_COLUMNS).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from psycopg2.extras import execute_values

from patients.models import Fill, Prescription, PrescriptionStatus, SyncDecision
from scheduling.alignment import FillKind
from scheduling.models import (
    CloseReason,
    ContactChannel,
    CycleEvent,
    CycleItem,
    CycleStatus,
    EnrollmentStatus,
    EventChannel,
    FollowUpTask,
    ItemState,
    MessageRequest,
    MessageRequestStatus,
    SyncCycle,
    SyncEnrollment,
    SyncPlan,
    SyncPlanItem,
    TaskStatus,
)
from scheduling.states import CYCLE_TRANSITIONS, ITEM_TRANSITIONS, REOPENABLE, Transition

CYCLE = SyncCycle._meta.db_table
ITEM = CycleItem._meta.db_table
EVENT = CycleEvent._meta.db_table
TASK = FollowUpTask._meta.db_table
REQUEST = MessageRequest._meta.db_table
ENROLLMENT = SyncEnrollment._meta.db_table
PLAN = SyncPlan._meta.db_table
PLAN_ITEM = SyncPlanItem._meta.db_table
RX = Prescription._meta.db_table
FILL = Fill._meta.db_table

# COPY does not pass through Django's execute wrappers: counted here for the benchmark.
COPY_STATEMENTS = {"count": 0}


def _value(choice) -> str:
    """A TextChoices member as the plain string the database stores."""
    return str(getattr(choice, "value", choice))


def _values(choices) -> tuple[str, ...]:
    """Several, as a tuple: psycopg2 renders it as a parenthesised list for IN."""
    return tuple(_value(c) for c in choices)


# Status values every statement may name, as parameters.
STATES = {
    "scheduled": _value(CycleStatus.SCHEDULED),
    "closed": _value(CycleStatus.CLOSED),
    "enrolled": _value(EnrollmentStatus.ENROLLED),
    "planned": _value(ItemState.PLANNED),
    "full": _value(FillKind.FULL),
    "not_synced": _value(FillKind.NOT_SYNCED),
    "rx_active": _value(PrescriptionStatus.ACTIVE),
    "rx_synced": _value(SyncDecision.SYNCED),
    "sms": _value(ContactChannel.SMS),
    "system": _value(EventChannel.SYSTEM),
    "pending": _value(MessageRequestStatus.PENDING),
    "task_open": _value(TaskStatus.OPEN),
    "reopenable": [_value(r) for r in REOPENABLE],
}


def _run(sql: str, params: dict):
    """Execute one statement with named parameters; the cursor, for its results."""
    cursor = connection.cursor()
    cursor.execute(sql, {**STATES, **params})
    return cursor


# --- Rows read back ---------------------------------------------------------------------------


class ClaimedCycle(NamedTuple):
    """A cycle a claim moved, with its state before the move."""

    pk: int
    organization_id: int
    patient_id: int
    public_id: object
    anchor_date: dt.date
    enrollment_id: int
    old_status: str
    old_outcome: str


class EnrollmentRow(NamedTuple):
    """An enrolled patient with no cycle for the next anchor yet."""

    pk: int
    patient_id: int
    anchor_date: dt.date
    cycle_days: int
    closed_cycle_ids: list[int] | None  # closed by a pause or re-plan, on or after today
    closed_cycle_anchors: list[dt.date] | None


class PlanItemSQLRow(NamedTuple):
    """A current plan's item that needs Python, with what the cycle sweep needs of its Rx."""

    item_id: int
    plan_id: int
    enrollment_id: int
    cycle_days: int
    prescription_id: int
    patient_id: int
    kind: str
    fills: object  # jsonb, undecoded on a raw cursor
    unit_of_use: bool
    recurring_quantity: Decimal
    recurring_days_supply: int
    recurring_patient_pay: Decimal | None
    warnings: object  # jsonb, undecoded on a raw cursor
    refills_remaining: int
    refills_authorized: int
    expiration_date: dt.date
    ever_filled: bool  # only known when refills run low (the renewal check needs it)
    rx_status: str
    sync_decision: str


class AttentionRow(NamedTuple):
    """A fill in the queue by today that a person must look at first."""

    item_id: int
    cycle_id: int
    prescription_id: int
    fill_date: dt.date
    rx_status: str
    refills_remaining: int
    refills_authorized: int
    expiration_date: dt.date


class OffAnchorRow(NamedTuple):
    """A fill dated off its cycle's anchor, not started, in the queue by today."""

    item_id: int
    cycle_id: int
    prescription_id: int
    fill_date: dt.date


# --- Rows written -----------------------------------------------------------------------------


class CycleRow(NamedTuple):
    """A new cycle as the cycle sweep inserts it."""

    organization_id: int
    enrollment_id: int
    patient_id: int
    pharmacy_id: int
    plan_id: int
    anchor_date: dt.date
    prep_due_on: dt.date
    prefill_due_on: dt.date
    needs_renewal: bool
    now: dt.datetime


class ItemRow(NamedTuple):
    """A new cycle item as the cycle sweep inserts it (a new one is always planned)."""

    organization_id: int
    cycle_id: int
    prescription_id: int
    fill_date: object  # date or ISO string
    queue_from: dt.date
    kind: str
    quantity: object
    days_supply: int
    scc_codes: Sequence[int]
    patient_pay: object
    warnings: list
    off_anchor: bool


# Every column a new cycle item is written with (public_id comes first, from
# gen_random_uuid() or, under COPY, the column's default); the one list all three
# item INSERTs share.
ITEM_COLUMNS = (*ItemRow._fields, "state", "flag_reason", "flag_note")
_ITEM_COLUMNS_SQL = ", ".join(ITEM_COLUMNS)


# --- Claiming due cycles --------------------------------------------------------------------


class _Claim(NamedTuple):
    transition: Transition
    where: str  # on top of the tenant, the pharmacy and the transition's from-states
    assignments: str  # on top of the transition's to-state


_CLAIMS = {
    "open_prep": _Claim(
        CYCLE_TRANSITIONS["open_prep"],
        "prep_due_on <= %(today)s AND anchor_date >= %(today)s",
        "prep_opened_at = %(now)s, prep_open = true, status_changed_at = %(now)s",
    ),
    "open_prefill": _Claim(
        CYCLE_TRANSITIONS["open_prefill"],
        "prefill_due_on <= %(today)s",
        "filling_at = %(now)s, status_changed_at = %(now)s",
    ),
    "miss": _Claim(
        CYCLE_TRANSITIONS["miss"],
        "anchor_date <= %(missed_by)s",
        "missed_at = %(now)s, status_changed_at = %(now)s, prep_open = false",
    ),
    "close_picked_up": _Claim(
        CYCLE_TRANSITIONS["close_picked_up"],
        "anchor_date < %(today)s",
        "close_reason = %(completed)s, closed_at = %(now)s, status_changed_at = %(now)s",
    ),
}


def claim_cycles(
    claim: str, *, organization_id: int, pharmacy_id: int, limit: int, **values
) -> list[ClaimedCycle]:
    """Move up to `limit` due cycles of a pharmacy along the transition `claim` names (the
    keyword `values` fill its conditions): lock them (FOR UPDATE SKIP LOCKED, so a
    concurrent sweep takes others; no ORDER BY, so the scan of the sweep's partial index
    stops at `limit`), then update them by primary key. Returns each moved cycle with its
    state before the move."""
    spec = _CLAIMS[claim]
    select = f"""
        SELECT id, status, contact_outcome FROM {CYCLE}
        WHERE organization_id = %(organization_id)s AND pharmacy_id = %(pharmacy_id)s
          AND status IN %(sources)s AND {spec.where}
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    """  # noqa: S608 - table names are ours; values are parameters
    update = f"""
        UPDATE {CYCLE} SET status = %(target)s, {spec.assignments}
        WHERE organization_id = %(organization_id)s AND id IN (
            SELECT c.id FROM unnest(%(ids)s::bigint[]) AS x(id), LATERAL (
                SELECT id FROM {CYCLE} AS c WHERE c.id = x.id OFFSET 0
            ) AS c
        )
        RETURNING id, organization_id, patient_id, public_id, anchor_date, enrollment_id
    """  # noqa: S608
    params = {
        **values,
        "organization_id": organization_id,
        "pharmacy_id": pharmacy_id,
        "limit": limit,
        "sources": _values(spec.transition.sources),
        "target": _value(spec.transition.target),
        "completed": _value(CloseReason.COMPLETED),
    }
    with _run(select, params) as cursor:
        before = {pk: (status, outcome) for pk, status, outcome in cursor.fetchall()}
        if not before:
            return []
        cursor.execute(update, {**STATES, **params, "ids": list(before)})
        rows = [ClaimedCycle(*row, *before[row[0]]) for row in cursor.fetchall()]
    return sorted(rows, key=lambda r: r.pk)


# --- Writing consequences for a set of cycles -------------------------------------------------


def insert_events(
    *,
    organization_id: int,
    cycle_ids: Sequence[int],
    kind: str,
    now: dt.datetime,
    metadata: dict | None = None,
) -> int:
    """One event of `kind` per cycle."""
    if not cycle_ids:
        return 0
    sql = f"""
        INSERT INTO {EVENT}
            (organization_id, public_id, cycle_id, patient_id, kind, channel, occurred_at,
             metadata)
        SELECT c.organization_id, gen_random_uuid(), c.id, c.patient_id, %(kind)s, %(system)s,
               %(now)s, %(metadata)s::jsonb
        FROM unnest(%(ids)s::bigint[]) AS x(id), LATERAL (
            SELECT * FROM {CYCLE} AS c WHERE c.id = x.id OFFSET 0
        ) AS c
        WHERE c.organization_id = %(organization_id)s
    """  # noqa: S608
    params = {
        "kind": _value(kind),
        "now": now,
        "metadata": json.dumps(metadata or {}),
        "ids": list(cycle_ids),
        "organization_id": organization_id,
    }
    with _run(sql, params) as cursor:
        return cursor.rowcount


def insert_message_requests(
    *,
    organization_id: int,
    cycle_ids: Sequence[int],
    kind: str,
    now: dt.datetime,
    pharmacy_public_id: str,
) -> list[int]:
    """One request per cycle of a patient who takes texts; the dedupe key makes it once.
    Returns the cycles that got a new request."""
    if not cycle_ids:
        return []
    sql = f"""
        INSERT INTO {REQUEST}
            (organization_id, public_id, cycle_id, patient_id, kind, dedupe_key, context,
             status, requested_at, attempts)
        SELECT c.organization_id, gen_random_uuid(), c.id, c.patient_id, %(kind)s,
               'cycle:' || c.public_id::text || ':' || %(kind)s,
               jsonb_build_object('anchor_date', to_char(c.anchor_date, 'YYYY-MM-DD'),
                                  'pharmacy_id', %(pharmacy)s::text),
               %(pending)s, %(now)s, 0
        FROM unnest(%(ids)s::bigint[]) AS x(id), LATERAL (
            SELECT * FROM {CYCLE} AS c WHERE c.id = x.id OFFSET 0
        ) AS c
        WHERE c.organization_id = %(organization_id)s
          AND (SELECT e.contact_channel FROM {ENROLLMENT} AS e
               WHERE e.id = c.enrollment_id AND e.organization_id = c.organization_id)
              = %(sms)s
        ON CONFLICT (organization_id, dedupe_key) DO NOTHING
        RETURNING cycle_id
    """  # noqa: S608
    params = {
        "kind": kind,
        "pharmacy": pharmacy_public_id,
        "now": now,
        "ids": list(cycle_ids),
        "organization_id": organization_id,
    }
    with _run(sql, params) as cursor:
        return [row[0] for row in cursor.fetchall()]


def insert_tasks(
    *,
    organization_id: int,
    cycle_ids: Sequence[int],
    kind: str,
    due_on: dt.date,
    detail: str,
    now: dt.datetime,
) -> int:
    """One follow-up per cycle and kind (the unique constraint makes it once). `{anchor}` in
    the detail becomes the cycle's anchor date."""
    if not cycle_ids:
        return 0
    sql = f"""
        INSERT INTO {TASK}
            (organization_id, public_id, cycle_id, patient_id, kind, status, due_on, detail,
             created_at, resolution_note)
        SELECT c.organization_id, gen_random_uuid(), c.id, c.patient_id, %(kind)s,
               %(task_open)s, %(due_on)s,
               replace(%(detail)s, '{{anchor}}', to_char(c.anchor_date, 'Mon FMDD')), %(now)s, ''
        FROM unnest(%(ids)s::bigint[]) AS x(id), LATERAL (
            SELECT * FROM {CYCLE} AS c WHERE c.id = x.id OFFSET 0
        ) AS c
        WHERE c.organization_id = %(organization_id)s
        ON CONFLICT (organization_id, cycle_id, kind) DO NOTHING
    """  # noqa: S608
    params = {
        "kind": _value(kind),
        "due_on": due_on,
        "detail": detail,
        "now": now,
        "ids": list(cycle_ids),
        "organization_id": organization_id,
    }
    with _run(sql, params) as cursor:
        return cursor.rowcount


# --- Who needs a cycle ---------------------------------------------------------------------------


def enrollments_needing_cycles(
    *,
    organization_id: int,
    pharmacy_id: int,
    today: dt.date,
    after_id: int,
    limit: int,
    partition: int = 0,
    partitions: int = 1,
) -> list[EnrollmentRow]:
    """The next `limit` enrolled patients of a pharmacy (by id, after `after_id`) with no
    cycle on or after today (one closed by a pause or re-plan does not count), with the ids
    and anchors of its cycles on or after today closed by a pause or re-plan, which may
    come back (or NULLs). The OFFSET 0 keeps the check a per-row index probe: as an
    anti-join over stale statistics it hashed every cycle written so far, each batch."""
    sql = f"""
        SELECT e.id, e.patient_id, e.anchor_date, e.cycle_days, closed.ids, closed.anchors
        FROM {ENROLLMENT} AS e
        LEFT JOIN LATERAL (
            SELECT array_agg(c.id) AS ids, array_agg(c.anchor_date) AS anchors
            FROM {CYCLE} AS c
            WHERE c.enrollment_id = e.id AND c.organization_id = e.organization_id
              AND c.anchor_date >= %(today)s AND c.status = %(closed)s
              AND c.close_reason = ANY(%(reopenable)s)
        ) AS closed ON true
        WHERE e.organization_id = %(organization_id)s AND e.pharmacy_id = %(pharmacy_id)s
          AND e.status = %(enrolled)s
          AND e.anchor_date IS NOT NULL AND e.id > %(after_id)s
          AND e.id %% %(partitions)s = %(partition)s
          AND NOT EXISTS (
              SELECT 1 FROM {CYCLE} AS c
              WHERE c.enrollment_id = e.id AND c.organization_id = e.organization_id
                AND c.anchor_date >= %(today)s
                AND NOT (c.status = %(closed)s AND c.close_reason = ANY(%(reopenable)s))
              OFFSET 0
          )
        ORDER BY e.id
        LIMIT %(limit)s
    """  # noqa: S608
    params = {
        "today": today,
        "organization_id": organization_id,
        "pharmacy_id": pharmacy_id,
        "after_id": after_id,
        "partitions": partitions,
        "partition": partition,
        "limit": limit,
    }
    with _run(sql, params) as cursor:
        return [EnrollmentRow(*row) for row in cursor.fetchall()]


def reopen_cycles(
    *,
    organization_id: int,
    rows: Sequence[tuple[int, dt.date, dt.date, int]],
    now: dt.datetime,
) -> set[int]:
    """Cycles closed by a pause or a re-plan come back as scheduled, with today's timing and
    plan: rows of (cycle, prep day, pre-fill day, plan). Only cycles still closed that way
    are touched; returns their ids."""
    if not rows:
        return set()
    reopen = CYCLE_TRANSITIONS["reopen"]
    sql = f"""
        UPDATE {CYCLE} AS c
        SET status = %(target)s, close_reason = '', closed_at = NULL,
            status_changed_at = %(now)s, prep_open = false, contact_outcome = '',
            needs_renewal = false, prep_due_on = x.prep_due_on,
            prefill_due_on = x.prefill_due_on, plan_id = x.plan_id
        FROM unnest(%(ids)s::bigint[], %(prep)s::date[], %(prefill)s::date[], %(plans)s::bigint[])
             AS x(id, prep_due_on, prefill_due_on, plan_id)
        WHERE c.id = x.id AND c.organization_id = %(organization_id)s
          AND c.status IN %(sources)s AND c.close_reason = ANY(%(reopenable)s)
        RETURNING c.id
    """  # noqa: S608
    ids, prep, prefill, plans = [list(column) for column in zip(*rows, strict=True)]
    params = {
        "target": _value(reopen.target),
        "sources": _values(reopen.sources),
        "now": now,
        "ids": ids,
        "prep": prep,
        "prefill": prefill,
        "plans": plans,
        "organization_id": organization_id,
    }
    with _run(sql, params) as cursor:
        return {row[0] for row in cursor.fetchall()}


# --- Creating cycles and their items -----------------------------------------------------------


def insert_cycles(rows: Iterable[CycleRow]) -> dict[tuple[int, dt.date], int]:
    """Insert new cycles, skipping any that exist; returns (enrollment, anchor) -> id of the
    ones inserted here."""
    rows = list(rows)
    if not rows:
        return {}
    sql = f"""
        INSERT INTO {CYCLE}
            (organization_id, public_id, enrollment_id, patient_id, pharmacy_id, plan_id,
             anchor_date, prep_due_on, prefill_due_on, status, contact_outcome, close_reason,
             needs_renewal, prep_open, status_changed_at, created_at)
        VALUES %s
        ON CONFLICT (organization_id, enrollment_id, anchor_date) DO NOTHING
        RETURNING id, enrollment_id, anchor_date
    """  # noqa: S608
    template = "(%s, gen_random_uuid(), %s, %s, %s, %s, %s, %s, %s, %s, '', '', %s, false, %s, %s)"
    scheduled = STATES["scheduled"]
    values = [(*row[:8], scheduled, row.needs_renewal, row.now, row.now) for row in rows]
    with connection.cursor() as cursor:
        returned = execute_values(
            cursor, sql, values, template=template, page_size=len(values), fetch=True
        )
    return {(enrollment_id, anchor): pk for pk, enrollment_id, anchor in returned}


def insert_items(rows: Iterable[ItemRow]) -> int:
    """New items, skipping any that exist (a reopened cycle may keep some)."""
    planned = STATES["planned"]
    values = [
        (
            *row[:8],
            list(row.scc_codes),
            row.patient_pay,
            json.dumps(row.warnings),
            row.off_anchor,
            planned,
        )
        for row in rows
    ]
    if not values:
        return 0
    sql = f"""
        INSERT INTO {ITEM} (public_id, {_ITEM_COLUMNS_SQL})
        VALUES %s
        ON CONFLICT (organization_id, cycle_id, prescription_id, fill_date) DO NOTHING
    """  # noqa: S608
    template = (
        "(gen_random_uuid(), %s, %s, %s, %s, %s, %s, %s, %s, %s::smallint[], %s, %s::jsonb,"
        " %s, %s, '', '')"
    )
    with connection.cursor() as cursor:
        execute_values(cursor, sql, values, template=template, page_size=5000)
        return len(values)


def copy_items(rows: Iterable[ItemRow]) -> int:
    """Items of cycles inserted in this batch (no conflict is possible), streamed with COPY:
    the fastest way into PostgreSQL. public_id comes from the column's default
    (gen_random_uuid(), set by migration 0004)."""
    buffer = io.StringIO()
    count = 0
    planned = STATES["planned"]
    for row in rows:
        codes = "{" + ",".join(str(c) for c in row.scc_codes) + "}"
        pay = "\\N" if row.patient_pay is None else str(row.patient_pay)
        warnings = json.dumps(row.warnings).replace("\\", "\\\\") if row.warnings else "[]"
        buffer.write(
            f"{row.organization_id}\t{row.cycle_id}\t{row.prescription_id}\t{row.fill_date}"
            f"\t{row.queue_from}\t{row.kind}\t{row.quantity}\t{row.days_supply}"
            f"\t{codes}\t{pay}\t{warnings}\t{'t' if row.off_anchor else 'f'}\t{planned}\t\t\n"
        )
        count += 1
    if not count:
        return 0
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {ITEM} ({_ITEM_COLUMNS_SQL}) FROM STDIN", buffer)
    COPY_STATEMENTS["count"] += 1
    return count


# A plan item PostgreSQL repeats on the anchor by itself: a splittable synced product whose
# planned fills (the aligning short fill, the first full fill) all lie before this cycle's
# window (on or before x.previous_anchor), its prescription active with refills to spare and
# not expiring before the next anchor. cycle_rows.cycle_item_rows would give it exactly the
# recurring full fill with no warning; everything else goes through Python.
ROUTINE_PLAN_ITEM = """
    (NOT i.unit_of_use AND i.kind <> %(not_synced)s
     AND NOT EXISTS (SELECT FROM jsonb_array_elements(i.fills) AS f
                     WHERE (f ->> 'fill_date')::date > x.previous_anchor))
"""
ROUTINE_RX = """
    (rx.status = %(rx_active)s AND rx.sync_decision = %(rx_synced)s
     AND rx.refills_remaining > 1 AND rx.expiration_date >= x.next_anchor)
"""
ROUTINE_ITEM = f"({ROUTINE_PLAN_ITEM} AND {ROUTINE_RX})"


def current_plans(*, organization_id: int, enrollment_ids: Sequence[int]) -> dict[int, int]:
    """enrollment -> its current plan, for the enrollments whose plan has any item."""
    if not enrollment_ids:
        return {}
    sql = f"""
        SELECT p.enrollment_id, p.id
        FROM unnest(%(ids)s::bigint[]) AS x(id),
        LATERAL (
            SELECT * FROM {PLAN} AS p WHERE p.enrollment_id = x.id AND p.is_current OFFSET 0
        ) AS p
        WHERE p.organization_id = %(organization_id)s
          AND EXISTS (SELECT 1 FROM {PLAN_ITEM} AS i WHERE i.plan_id = p.id)
    """  # noqa: S608
    params = {"ids": list(enrollment_ids), "organization_id": organization_id}
    with _run(sql, params) as cursor:
        return dict(cursor.fetchall())


def insert_recurring_items(
    *,
    organization_id: int,
    rows: Sequence[tuple[int, int, dt.date, dt.date, dt.date]],
    read_by_python: Sequence[int],
) -> int:
    """The routine items, written by PostgreSQL alone: for each (cycle, plan, anchor, pre-fill
    day, previous anchor), every item of the plan that current_plan_items did not hand to
    Python (`read_by_python`) becomes its full fill on the anchor, queued from the pre-fill
    day, with no warning. Excluding by id, not re-testing the prescription, means a refill
    used between the two statements cannot drop an item from both. The cycle's dates come
    from the caller: its rows were inserted a moment ago, so no statistics could guide a
    lookup."""
    if not rows:
        return 0
    sql = f"""
        INSERT INTO {ITEM} (public_id, {_ITEM_COLUMNS_SQL})
        SELECT gen_random_uuid(), i.organization_id, x.cycle_id, i.prescription_id,
               x.anchor_date, x.queue_from, %(full)s, i.recurring_quantity,
               i.recurring_days_supply, '{{}}'::smallint[], i.recurring_patient_pay,
               '[]'::jsonb, false, %(planned)s, '', ''
        FROM unnest(%(cycles)s::bigint[], %(plans)s::bigint[], %(anchors)s::date[],
                    %(queue_from)s::date[], %(previous)s::date[])
             AS x(cycle_id, plan_id, anchor_date, queue_from, previous_anchor),
        LATERAL (SELECT * FROM {PLAN_ITEM} AS i WHERE i.plan_id = x.plan_id OFFSET 0) AS i
        WHERE i.organization_id = %(organization_id)s AND {ROUTINE_PLAN_ITEM}
          AND i.id <> ALL(%(read_by_python)s::bigint[])
        ON CONFLICT (organization_id, cycle_id, prescription_id, fill_date) DO NOTHING
    """  # noqa: S608
    cycles, plans, anchors, queue_from, previous = (
        list(column) for column in zip(*rows, strict=True)
    )
    params = {
        "cycles": cycles,
        "plans": plans,
        "anchors": anchors,
        "queue_from": queue_from,
        "previous": previous,
        "organization_id": organization_id,
        "read_by_python": list(read_by_python),
    }
    with _run(sql, params) as cursor:
        return cursor.rowcount


def current_plan_items(
    *, organization_id: int, plans: Sequence[tuple[int, dt.date, dt.date]]
) -> list[PlanItemSQLRow]:
    """The items of these (plan, previous anchor, next anchor) that need Python (not
    ROUTINE_ITEM), with what the cycle sweep needs of their prescriptions; whether it was
    ever filled is asked only when its refills run low."""
    if not plans:
        return []
    sql = f"""
        SELECT i.id, p.id, p.enrollment_id, p.cycle_days, i.prescription_id, rx.patient_id, i.kind,
               i.fills, i.unit_of_use, i.recurring_quantity, i.recurring_days_supply,
               i.recurring_patient_pay, i.warnings, rx.refills_remaining,
               rx.refills_authorized, rx.expiration_date,
               rx.refills_remaining <= 1
                 AND EXISTS (SELECT FROM {FILL} AS f WHERE f.prescription_id = rx.id
                             AND f.organization_id = rx.organization_id),
               rx.status, rx.sync_decision
        FROM unnest(%(plans)s::bigint[], %(previous)s::date[], %(next)s::date[])
             AS x(id, previous_anchor, next_anchor),
        LATERAL (SELECT * FROM {PLAN} AS p WHERE p.id = x.id OFFSET 0) AS p,
        LATERAL (SELECT * FROM {PLAN_ITEM} AS i WHERE i.plan_id = p.id OFFSET 0) AS i,
        LATERAL (SELECT * FROM {RX} AS rx WHERE rx.id = i.prescription_id OFFSET 0) AS rx
        WHERE p.organization_id = %(organization_id)s AND i.organization_id = p.organization_id
          AND rx.organization_id = p.organization_id AND NOT {ROUTINE_ITEM}
        ORDER BY p.id, i.id
    """  # noqa: S608
    plan_ids, previous, following = (list(column) for column in zip(*plans, strict=True))
    params = {
        "plans": plan_ids,
        "previous": previous,
        "next": following,
        "organization_id": organization_id,
    }
    with _run(sql, params) as cursor:
        return [PlanItemSQLRow(*row) for row in cursor.fetchall()]


# --- The fill queue ---------------------------------------------------------------------------


def items_needing_attention(
    *,
    organization_id: int,
    today: dt.date,
    cycle_ids: Sequence[int] = (),
    item_ids: Sequence[int] = (),
    waiting_cycle_ids: Sequence[int] = (),
) -> list[AttentionRow]:
    """Fills in the queue by today (of these cycles, or these items) that a person must look
    at before filling: the prescription stopped, expired, out of refills, or a re-plan is
    waiting for the cycle. Only those rows come back."""
    if cycle_ids:
        by, ids = "i.cycle_id", list(cycle_ids)
    elif item_ids:
        by, ids = "i.id", list(item_ids)
    else:
        return []
    sql = f"""
        SELECT i.id, i.cycle_id, i.prescription_id, i.fill_date, rx.status,
               rx.refills_remaining, rx.refills_authorized, rx.expiration_date
        FROM unnest(%(ids)s::bigint[]) AS x(id),
        LATERAL (SELECT * FROM {ITEM} AS i WHERE {by} = x.id OFFSET 0) AS i,
        LATERAL (SELECT * FROM {RX} AS rx WHERE rx.id = i.prescription_id OFFSET 0) AS rx
        WHERE i.organization_id = %(organization_id)s AND i.state = %(planned)s
          AND i.queue_from <= %(today)s AND rx.organization_id = %(organization_id)s
          AND (rx.status <> %(rx_active)s OR rx.expiration_date < i.fill_date
               OR rx.refills_remaining = 0 OR i.cycle_id = ANY(%(waiting)s))
    """  # noqa: S608
    params = {
        "ids": ids,
        "organization_id": organization_id,
        "today": today,
        "waiting": list(waiting_cycle_ids),
    }
    with _run(sql, params) as cursor:
        return [AttentionRow(*row) for row in cursor.fetchall()]


def off_anchor_items_due(*, organization_id: int, today: dt.date) -> list[OffAnchorRow]:
    """Fills dated off their anchor (aligning short fills, drifting products), not started,
    in the queue by today (the small partial index)."""
    sql = f"""
        SELECT id, cycle_id, prescription_id, fill_date FROM {ITEM}
        WHERE organization_id = %(organization_id)s AND off_anchor
          AND queue_from <= %(today)s AND state = %(planned)s
    """  # noqa: S608
    with _run(sql, {"organization_id": organization_id, "today": today}) as cursor:
        return [OffAnchorRow(*row) for row in cursor.fetchall()]


def flag_items(*, organization_id: int, item_ids: Sequence[int], reason: str, note: str) -> int:
    """Fills a person must look at first are flagged (only if not started yet)."""
    if not item_ids:
        return 0
    flag = ITEM_TRANSITIONS["flag_due"]
    sql = f"""
        UPDATE {ITEM} SET state = %(target)s, flag_reason = %(reason)s, flag_note = %(note)s
        WHERE organization_id = %(organization_id)s AND id = ANY(%(ids)s)
          AND state IN %(sources)s
    """  # noqa: S608
    params = {
        "target": _value(flag.target),
        "sources": _values(flag.sources),
        "reason": _value(reason),
        "note": note,
        "organization_id": organization_id,
        "ids": list(item_ids),
    }
    with _run(sql, params) as cursor:
        return cursor.rowcount
