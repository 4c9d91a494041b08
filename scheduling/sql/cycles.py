"""Who needs a cycle, reopening closed slots, and writing new cycles and their items (the
routine ones by PostgreSQL alone)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from psycopg2.extras import execute_values

from scheduling.sql.base import (
    CYCLE,
    ENROLLMENT,
    FILL,
    ITEM,
    PLAN,
    PLAN_ITEM,
    RX,
    STATES,
    run,
    value_of,
    values_of,
)
from scheduling.states import CYCLE_TRANSITIONS


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
    supply_start: object = None  # date or ISO string; None: the fill date


ITEM_COLUMNS = (*ItemRow._fields, "state", "flag_reason", "flag_note")


_ITEM_COLUMNS_SQL = ", ".join(ITEM_COLUMNS)


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
    with run(sql, params) as cursor:
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
        "target": value_of(reopen.target),
        "sources": values_of(reopen.sources),
        "now": now,
        "ids": ids,
        "prep": prep,
        "prefill": prefill,
        "plans": plans,
        "organization_id": organization_id,
    }
    with run(sql, params) as cursor:
        return {row[0] for row in cursor.fetchall()}


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
            row.supply_start,
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
        " %s, %s, %s, '', '')"
    )
    with connection.cursor() as cursor:
        execute_values(cursor, sql, values, template=template, page_size=5000)
        return len(values)


def insert_new_items(rows: Iterable[ItemRow]) -> int:
    """Items of cycles inserted in this batch (no conflict is possible): ONE statement that
    unnests a typed array per column, public ids from the column's default (migration 0004).

    COPY FROM would stream faster, but PostgreSQL refuses it on a table under row-level
    security for a role that does not bypass it, and the sweeps run as the app role.
    """
    rows = list(rows)
    if not rows:
        return 0
    columns = [
        [row.organization_id for row in rows],
        [row.cycle_id for row in rows],
        [row.prescription_id for row in rows],
        [row.fill_date for row in rows],
        [row.queue_from for row in rows],
        [row.kind for row in rows],
        [row.quantity for row in rows],
        [row.days_supply for row in rows],
        ["{" + ",".join(str(code) for code in row.scc_codes) + "}" for row in rows],
        [row.patient_pay for row in rows],
        [json.dumps(row.warnings) if row.warnings else "[]" for row in rows],
        [row.off_anchor for row in rows],
        [row.supply_start for row in rows],
    ]
    sql = f"""
        INSERT INTO {ITEM} ({_ITEM_COLUMNS_SQL})
        SELECT t.organization_id, t.cycle_id, t.prescription_id, t.fill_date, t.queue_from,
               t.kind, t.quantity, t.days_supply, t.scc_codes::smallint[], t.patient_pay,
               t.warnings::jsonb, t.off_anchor, t.supply_start, %s, '', ''
        FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::date[], %s::date[],
                    %s::text[], %s::numeric[], %s::integer[], %s::text[], %s::numeric[],
                    %s::text[], %s::boolean[], %s::date[])
          AS t(organization_id, cycle_id, prescription_id, fill_date, queue_from, kind,
               quantity, days_supply, scc_codes, patient_pay, warnings, off_anchor,
               supply_start)
    """  # noqa: S608 - table and column names are ours; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, [STATES["planned"], *columns])
    return len(rows)


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
    with run(sql, params) as cursor:
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
               '[]'::jsonb, false, NULL, %(planned)s, '', ''
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
    with run(sql, params) as cursor:
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
    with run(sql, params) as cursor:
        return [PlanItemSQLRow(*row) for row in cursor.fetchall()]
