"""The fill queue's checks at pre-fill: fills a person must look at first, and flagging them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from scheduling.sql.base import (
    ITEM,
    RX,
    run,
    value_of,
    values_of,
)
from scheduling.states import ITEM_TRANSITIONS


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
    with run(sql, params) as cursor:
        return [AttentionRow(*row) for row in cursor.fetchall()]


def off_anchor_items_due(*, organization_id: int, today: dt.date) -> list[OffAnchorRow]:
    """Fills dated off their anchor (aligning short fills, drifting products), not started,
    in the queue by today (the small partial index)."""
    sql = f"""
        SELECT id, cycle_id, prescription_id, fill_date FROM {ITEM}
        WHERE organization_id = %(organization_id)s AND off_anchor
          AND queue_from <= %(today)s AND state = %(planned)s
    """  # noqa: S608
    with run(sql, {"organization_id": organization_id, "today": today}) as cursor:
        return [OffAnchorRow(*row) for row in cursor.fetchall()]


def flag_items(*, organization_id: int, item_ids: Sequence[int], reason: str, note: str) -> int:
    """Fills a person must look at first are flagged (only if not started yet)."""
    if not item_ids:
        return 0
    flag = ITEM_TRANSITIONS["flag_due"]
    sql = f"""
        UPDATE {ITEM} SET state = %(target)s, flag_reason = %(reason)s, flag_note = %(note)s,
            version = version + 1
        WHERE organization_id = %(organization_id)s AND id = ANY(%(ids)s)
          AND state IN %(sources)s
    """  # noqa: S608
    params = {
        "target": value_of(flag.target),
        "sources": values_of(flag.sources),
        "reason": value_of(reason),
        "note": note,
        "organization_id": organization_id,
        "ids": list(item_ids),
    }
    with run(sql, params) as cursor:
        return cursor.rowcount
