"""Claiming due cycles (a conditional move along the state table, under SKIP LOCKED) and
writing the consequences for a set of cycles: events, text requests, follow-up tasks."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import NamedTuple

from scheduling.models import (
    CloseReason,
)
from scheduling.sql.base import (
    CYCLE,
    ENROLLMENT,
    EVENT,
    REQUEST,
    STATES,
    TASK,
    run,
    value_of,
    values_of,
)
from scheduling.states import CYCLE_TRANSITIONS, Transition


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
        "sources": values_of(spec.transition.sources),
        "target": value_of(spec.transition.target),
        "completed": value_of(CloseReason.COMPLETED),
    }
    with run(select, params) as cursor:
        before = {pk: (status, outcome) for pk, status, outcome in cursor.fetchall()}
        if not before:
            return []
        cursor.execute(update, {**STATES, **params, "ids": list(before)})
        rows = [ClaimedCycle(*row, *before[row[0]]) for row in cursor.fetchall()]
    return sorted(rows, key=lambda r: r.pk)


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
        "kind": value_of(kind),
        "now": now,
        "metadata": json.dumps(metadata or {}),
        "ids": list(cycle_ids),
        "organization_id": organization_id,
    }
    with run(sql, params) as cursor:
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
    with run(sql, params) as cursor:
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
        "kind": value_of(kind),
        "due_on": due_on,
        "detail": detail,
        "now": now,
        "ids": list(cycle_ids),
        "organization_id": organization_id,
    }
    with run(sql, params) as cursor:
        return cursor.rowcount
