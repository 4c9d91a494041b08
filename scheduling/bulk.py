"""Set-based SQL for the sweeps: claim due cycles and write their consequences in a fixed
number of statements per batch, whatever its size.

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
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence

from django.db import connection
from psycopg2.extras import execute_values

from patients.models import Fill, Prescription
from scheduling.models import (
    CycleEvent,
    CycleItem,
    FollowUpTask,
    MessageRequest,
    SyncCycle,
    SyncEnrollment,
    SyncPlan,
    SyncPlanItem,
)

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


def _cursor():
    return connection.cursor()


# --- Claiming due cycles --------------------------------------------------------------------


def claim_cycles(
    *,
    organization_id: int,
    where: str,
    params: Sequence,
    set_sql: str,
    set_params: Sequence,
    limit: int,
) -> list[dict]:
    """Move up to `limit` due cycles to their next state: lock them (FOR UPDATE SKIP
    LOCKED, so a concurrent sweep takes others; no ORDER BY, so the scan of the sweep's
    partial index stops at `limit`), then update them by primary key. Returns each moved
    cycle with its state before the move."""
    select = f"""
        SELECT id, status, contact_outcome FROM {CYCLE}
        WHERE organization_id = %s AND {where}
        LIMIT %s
        FOR UPDATE SKIP LOCKED
    """  # noqa: S608 - table names are ours; values are parameters
    update = f"""
        UPDATE {CYCLE} SET {set_sql}
        WHERE organization_id = %s AND id IN (
            SELECT c.id FROM unnest(%s::bigint[]) AS x(id), LATERAL (
                SELECT id FROM {CYCLE} AS c WHERE c.id = x.id OFFSET 0
            ) AS c
        )
        RETURNING id, organization_id, patient_id, public_id, anchor_date, enrollment_id
    """  # noqa: S608
    with _cursor() as cursor:
        cursor.execute(select, [organization_id, *params, limit])
        before = {pk: (status, outcome) for pk, status, outcome in cursor.fetchall()}
        if not before:
            return []
        cursor.execute(update, [*set_params, organization_id, list(before)])
        names = ["pk", "organization_id", "patient_id", "public_id", "anchor_date"]
        rows = []
        for *values, enrollment_id in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            row["enrollment_id"] = enrollment_id
            row["old_status"], row["old_outcome"] = before[row["pk"]]
            rows.append(row)
        return sorted(rows, key=lambda r: r["pk"])


# --- Writing consequences for a set of cycles -------------------------------------------------


def insert_events(
    *,
    organization_id: int,
    cycle_ids: Sequence[int],
    kind: str,
    now: dt.datetime,
    metadata_sql: str = "'{}'::jsonb",
) -> int:
    if not cycle_ids:
        return 0
    sql = f"""
        INSERT INTO {EVENT}
            (organization_id, public_id, cycle_id, patient_id, kind, channel, occurred_at,
             metadata)
        SELECT c.organization_id, gen_random_uuid(), c.id, c.patient_id, %s, 'system', %s,
               {metadata_sql}
        FROM unnest(%s::bigint[]) AS x(id), LATERAL (
            SELECT * FROM {CYCLE} AS c WHERE c.id = x.id OFFSET 0
        ) AS c
        WHERE c.organization_id = %s
    """  # noqa: S608
    with _cursor() as cursor:
        cursor.execute(sql, [kind, now, list(cycle_ids), organization_id])
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
        SELECT c.organization_id, gen_random_uuid(), c.id, c.patient_id, %s,
               'cycle:' || c.public_id::text || ':' || %s,
               jsonb_build_object('anchor_date', to_char(c.anchor_date, 'YYYY-MM-DD'),
                                  'pharmacy_id', %s::text),
               'pending', %s, 0
        FROM unnest(%s::bigint[]) AS x(id), LATERAL (
            SELECT * FROM {CYCLE} AS c WHERE c.id = x.id OFFSET 0
        ) AS c
        WHERE c.organization_id = %s
          AND (SELECT e.contact_channel FROM {ENROLLMENT} AS e
               WHERE e.id = c.enrollment_id AND e.organization_id = c.organization_id) = 'sms'
        ON CONFLICT (organization_id, dedupe_key) DO NOTHING
        RETURNING cycle_id
    """  # noqa: S608
    with _cursor() as cursor:
        cursor.execute(sql, [kind, kind, pharmacy_public_id, now, list(cycle_ids), organization_id])
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
        SELECT c.organization_id, gen_random_uuid(), c.id, c.patient_id, %s, 'open', %s,
               replace(%s, '{{anchor}}', to_char(c.anchor_date, 'Mon FMDD')), %s, ''
        FROM unnest(%s::bigint[]) AS x(id), LATERAL (
            SELECT * FROM {CYCLE} AS c WHERE c.id = x.id OFFSET 0
        ) AS c
        WHERE c.organization_id = %s
        ON CONFLICT (organization_id, cycle_id, kind) DO NOTHING
    """  # noqa: S608
    with _cursor() as cursor:
        cursor.execute(sql, [kind, due_on, detail, now, list(cycle_ids), organization_id])
        return cursor.rowcount


# --- Who needs a cycle ---------------------------------------------------------------------------


def enrollments_needing_cycles(
    *,
    organization_id: int,
    pharmacy_id: int,
    today: dt.date,
    reopenable: Sequence[str],
    after_id: int,
    limit: int,
    partition: int = 0,
    partitions: int = 1,
) -> list[tuple]:
    """The next `limit` enrolled patients of a pharmacy (by id, after `after_id`) with no
    cycle on or after today (one closed by a pause or re-plan does not count): (enrollment,
    patient, anchor date, cycle days, and the ids and anchors of its cycles on or after today
    closed by a pause or re-plan, which may come back, or NULLs). The OFFSET 0 keeps the
    check a per-row index probe: as an anti-join over stale statistics it hashed every cycle
    written so far, each batch."""
    sql = f"""
        SELECT e.id, e.patient_id, e.anchor_date, e.cycle_days, closed.ids, closed.anchors
        FROM {ENROLLMENT} AS e
        LEFT JOIN LATERAL (
            SELECT array_agg(c.id) AS ids, array_agg(c.anchor_date) AS anchors
            FROM {CYCLE} AS c
            WHERE c.enrollment_id = e.id AND c.organization_id = e.organization_id
              AND c.anchor_date >= %s AND c.status = 'closed'
              AND c.close_reason = ANY(%s)
        ) AS closed ON true
        WHERE e.organization_id = %s AND e.pharmacy_id = %s AND e.status = 'enrolled'
          AND e.anchor_date IS NOT NULL AND e.id > %s AND e.id %% %s = %s
          AND NOT EXISTS (
              SELECT 1 FROM {CYCLE} AS c
              WHERE c.enrollment_id = e.id AND c.organization_id = e.organization_id
                AND c.anchor_date >= %s
                AND NOT (c.status = 'closed' AND c.close_reason = ANY(%s))
              OFFSET 0
          )
        ORDER BY e.id
        LIMIT %s
    """  # noqa: S608
    params = [today, list(reopenable), organization_id, pharmacy_id, after_id, partitions]
    with _cursor() as cursor:
        cursor.execute(sql, [*params, partition, today, list(reopenable), limit])
        return cursor.fetchall()


def reopen_cycles(
    *,
    organization_id: int,
    rows: Sequence[tuple[int, dt.date, dt.date, int]],
    reopenable: Sequence[str],
    now: dt.datetime,
) -> set[int]:
    """Cycles closed by a pause or a re-plan come back as scheduled, with today's timing and
    plan: rows of (cycle, prep day, pre-fill day, plan). Only cycles still closed that way
    are touched; returns their ids."""
    if not rows:
        return set()
    sql = f"""
        UPDATE {CYCLE} AS c
        SET status = 'scheduled', close_reason = '', closed_at = NULL, status_changed_at = %s,
            prep_open = false, contact_outcome = '', needs_renewal = false,
            prep_due_on = x.prep_due_on, prefill_due_on = x.prefill_due_on, plan_id = x.plan_id
        FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::bigint[])
             AS x(id, prep_due_on, prefill_due_on, plan_id)
        WHERE c.id = x.id AND c.organization_id = %s AND c.status = 'closed'
          AND c.close_reason = ANY(%s)
        RETURNING c.id
    """  # noqa: S608
    columns = [list(column) for column in zip(*rows, strict=True)]
    with _cursor() as cursor:
        cursor.execute(sql, [now, *columns, organization_id, list(reopenable)])
        return {row[0] for row in cursor.fetchall()}


# --- Creating cycles and their items -----------------------------------------------------------


def insert_cycles(rows: Iterable[tuple]) -> dict[tuple[int, dt.date], int]:
    """Insert new cycles, skipping any that exist; returns (enrollment, anchor) -> id of the
    ones inserted here. Row: (organization_id, enrollment_id, patient_id, pharmacy_id,
    plan_id, anchor_date, prep_due_on, prefill_due_on, needs_renewal, now)."""
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
    template = (
        "(%s, gen_random_uuid(), %s, %s, %s, %s, %s, %s, %s, 'scheduled', '', '', %s, false,"
        " %s, %s)"
    )
    values = [(*row, row[-1]) for row in rows]
    with _cursor() as cursor:
        returned = execute_values(
            cursor, sql, values, template=template, page_size=len(values), fetch=True
        )
    return {(enrollment_id, anchor): pk for pk, enrollment_id, anchor in returned}


def insert_items(rows: Iterable[tuple]) -> int:
    """Row: (organization_id, cycle_id, prescription_id, fill_date, queue_from, kind,
    quantity, days_supply, scc_codes, patient_pay, warnings, off_anchor)."""
    rows = [(*row[:8], list(row[8]), row[9], json.dumps(row[10]), row[11]) for row in rows]
    if not rows:
        return 0
    sql = f"""
        INSERT INTO {ITEM}
            (organization_id, public_id, cycle_id, prescription_id, fill_date, queue_from, kind,
             quantity, days_supply, scc_codes, patient_pay, warnings, off_anchor, state,
             flag_reason, flag_note)
        VALUES %s
        ON CONFLICT (organization_id, cycle_id, prescription_id, fill_date) DO NOTHING
    """  # noqa: S608
    template = (
        "(%s, gen_random_uuid(), %s, %s, %s, %s, %s, %s, %s, %s::smallint[], %s, %s::jsonb,"
        " %s, 'planned', '', '')"
    )
    with _cursor() as cursor:
        execute_values(cursor, sql, rows, template=template, page_size=5000)
        return len(rows)


def copy_items(rows: Iterable[tuple]) -> int:
    """Items of cycles inserted in this batch (no conflict is possible), streamed with COPY:
    the fastest way into PostgreSQL. public_id comes from the column's default
    (gen_random_uuid(), set by migration 0004). Row: as insert_items."""
    buffer = io.StringIO()
    count = 0
    for (
        organization_id,
        cycle_id,
        rx_id,
        fill_date,
        queue_from,
        kind,
        quantity,
        days,
        scc,
        pay,
        warnings,
        off_anchor,
    ) in rows:
        codes = "{" + ",".join(str(c) for c in scc) + "}"
        pay_text = "\\N" if pay is None else str(pay)
        warnings_text = json.dumps(warnings).replace("\\", "\\\\") if warnings else "[]"
        buffer.write(
            f"{organization_id}\t{cycle_id}\t{rx_id}\t{fill_date}\t{queue_from}\t{kind}"
            f"\t{quantity}\t{days}"
            f"\t{codes}\t{pay_text}\t{warnings_text}\t{'t' if off_anchor else 'f'}\tplanned\t\t\n"
        )
        count += 1
    if not count:
        return 0
    buffer.seek(0)
    with _cursor() as cursor:
        cursor.copy_expert(
            f"COPY {ITEM} (organization_id, cycle_id, prescription_id, fill_date, queue_from, kind,"
            " quantity, days_supply, scc_codes, patient_pay, warnings, off_anchor, state,"
            " flag_reason, flag_note) FROM STDIN",
            buffer,
        )
    COPY_STATEMENTS["count"] += 1
    return count


# A plan item PostgreSQL repeats on the anchor by itself: a splittable synced product whose
# planned fills (the aligning short fill, the first full fill) all lie before this cycle's
# window (on or before x.previous_anchor), its prescription active with refills to spare and
# not expiring before the next anchor. services.cycle_item_rows would give it exactly the
# recurring full fill with no warning; everything else goes through Python.
ROUTINE_PLAN_ITEM = """
    (NOT i.unit_of_use AND i.kind <> 'not_synced'
     AND NOT EXISTS (SELECT FROM jsonb_array_elements(i.fills) AS f
                     WHERE (f ->> 'fill_date')::date > x.previous_anchor))
"""
ROUTINE_RX = """
    (rx.status = 'active' AND rx.sync_decision = 'synced'
     AND rx.refills_remaining > 1 AND rx.expiration_date >= x.next_anchor)
"""
ROUTINE_ITEM = f"({ROUTINE_PLAN_ITEM} AND {ROUTINE_RX})"


def current_plans(*, organization_id: int, enrollment_ids: Sequence[int]) -> dict[int, int]:
    """enrollment -> its current plan, for the enrollments whose plan has any item."""
    if not enrollment_ids:
        return {}
    sql = f"""
        SELECT p.enrollment_id, p.id
        FROM unnest(%s::bigint[]) AS x(id),
        LATERAL (
            SELECT * FROM {PLAN} AS p WHERE p.enrollment_id = x.id AND p.is_current OFFSET 0
        ) AS p
        WHERE p.organization_id = %s
          AND EXISTS (SELECT 1 FROM {PLAN_ITEM} AS i WHERE i.plan_id = p.id)
    """  # noqa: S608
    with _cursor() as cursor:
        cursor.execute(sql, [list(enrollment_ids), organization_id])
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
        INSERT INTO {ITEM}
            (organization_id, public_id, cycle_id, prescription_id, fill_date, queue_from, kind,
             quantity, days_supply, scc_codes, patient_pay, warnings, off_anchor, state,
             flag_reason, flag_note)
        SELECT i.organization_id, gen_random_uuid(), x.cycle_id, i.prescription_id,
               x.anchor_date, x.queue_from, 'full', i.recurring_quantity,
               i.recurring_days_supply, '{{}}'::smallint[], i.recurring_patient_pay,
               '[]'::jsonb, false, 'planned', '', ''
        FROM unnest(%s::bigint[], %s::bigint[], %s::date[], %s::date[], %s::date[])
             AS x(cycle_id, plan_id, anchor_date, queue_from, previous_anchor),
        LATERAL (SELECT * FROM {PLAN_ITEM} AS i WHERE i.plan_id = x.plan_id OFFSET 0) AS i
        WHERE i.organization_id = %s AND {ROUTINE_PLAN_ITEM} AND i.id <> ALL(%s::bigint[])
        ON CONFLICT (organization_id, cycle_id, prescription_id, fill_date) DO NOTHING
    """  # noqa: S608
    columns = [list(column) for column in zip(*rows, strict=True)]
    with _cursor() as cursor:
        cursor.execute(sql, [*columns, organization_id, list(read_by_python)])
        return cursor.rowcount


def current_plan_items(
    *, organization_id: int, plans: Sequence[tuple[int, dt.date, dt.date]]
) -> list[tuple]:
    """The items of these (plan, previous anchor, next anchor) that need Python (not
    ROUTINE_ITEM), with what the cycle sweep needs of their prescriptions: (item, plan,
    enrollment, cycle days, prescription, patient, kind, fills, unit of use, recurring
    quantity, days and pay, warnings, refills remaining and authorized, expiry, whether it
    was ever filled (asked only when its refills run low), Rx status, sync decision)."""
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
        FROM unnest(%s::bigint[], %s::date[], %s::date[]) AS x(id, previous_anchor, next_anchor),
        LATERAL (SELECT * FROM {PLAN} AS p WHERE p.id = x.id OFFSET 0) AS p,
        LATERAL (SELECT * FROM {PLAN_ITEM} AS i WHERE i.plan_id = p.id OFFSET 0) AS i,
        LATERAL (SELECT * FROM {RX} AS rx WHERE rx.id = i.prescription_id OFFSET 0) AS rx
        WHERE p.organization_id = %s AND i.organization_id = p.organization_id
          AND rx.organization_id = p.organization_id AND NOT {ROUTINE_ITEM}
        ORDER BY p.id, i.id
    """  # noqa: S608
    columns = [list(column) for column in zip(*plans, strict=True)]
    with _cursor() as cursor:
        cursor.execute(sql, [*columns, organization_id])
        return cursor.fetchall()


# --- The fill queue ---------------------------------------------------------------------------


ATTENTION = """
    (rx.status <> 'active' OR rx.expiration_date < i.fill_date OR rx.refills_remaining = 0
     OR i.cycle_id = ANY(%s))
"""


def items_needing_attention(
    *,
    organization_id: int,
    today: dt.date,
    cycle_ids: Sequence[int] = (),
    item_ids: Sequence[int] = (),
    waiting_cycle_ids: Sequence[int] = (),
) -> list[tuple]:
    """Fills in the queue by today (of these cycles, or these items) that a person must look
    at before filling: the prescription stopped, expired, out of refills, or a re-plan is
    waiting for the cycle. Only those rows come back: (item, cycle, prescription, fill date,
    Rx status, refills remaining, refills authorized, expiry)."""
    if cycle_ids:
        by, ids = "i.cycle_id", list(cycle_ids)
    elif item_ids:
        by, ids = "i.id", list(item_ids)
    else:
        return []
    sql = f"""
        SELECT i.id, i.cycle_id, i.prescription_id, i.fill_date, rx.status,
               rx.refills_remaining, rx.refills_authorized, rx.expiration_date
        FROM unnest(%s::bigint[]) AS x(id),
        LATERAL (SELECT * FROM {ITEM} AS i WHERE {by} = x.id OFFSET 0) AS i,
        LATERAL (SELECT * FROM {RX} AS rx WHERE rx.id = i.prescription_id OFFSET 0) AS rx
        WHERE i.organization_id = %s AND i.state = 'planned' AND i.queue_from <= %s
          AND rx.organization_id = %s AND {ATTENTION}
    """  # noqa: S608
    with _cursor() as cursor:
        cursor.execute(sql, [ids, organization_id, today, organization_id, list(waiting_cycle_ids)])
        return cursor.fetchall()


def off_anchor_items_due(*, organization_id: int, today: dt.date) -> list[tuple]:
    """Fills dated off their anchor (aligning short fills, drifting products), not started,
    in the queue by today (the small partial index): (item, cycle, prescription, date)."""
    sql = f"""
        SELECT id, cycle_id, prescription_id, fill_date FROM {ITEM}
        WHERE organization_id = %s AND off_anchor AND queue_from <= %s AND state = 'planned'
    """  # noqa: S608
    with _cursor() as cursor:
        cursor.execute(sql, [organization_id, today])
        return cursor.fetchall()


def flag_items(*, organization_id: int, item_ids: Sequence[int], reason: str, note: str) -> int:
    """Fills a person must look at first are flagged (only if not started yet)."""
    if not item_ids:
        return 0
    sql = f"""
        UPDATE {ITEM} SET state = 'flagged', flag_reason = %s, flag_note = %s
        WHERE organization_id = %s AND id = ANY(%s) AND state = 'planned'
    """  # noqa: S608
    with _cursor() as cursor:
        cursor.execute(sql, [reason, note, organization_id, list(item_ids)])
        return cursor.rowcount
