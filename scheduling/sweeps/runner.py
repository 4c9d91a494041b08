"""What every sweep shares: one batch in its own transaction (commit not waiting for the
disk), the claim-a-batch loop, the per-pharmacy loop in each pharmacy's time zone, the
counts a sweep reports, its audit entry, and queueing the messaging hand-over.

A sweep asks, per pharmacy and in its own time zone, "what is due and not yet done?",
claims those rows with a conditional UPDATE (under FOR UPDATE SKIP LOCKED; scheduling/sql.py)
and writes the consequences in bulk. Running one twice leaves the same rows; missing a run
is repaired by the next. Work goes in batches whose query count does not depend on their size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

from django.conf import settings
from django.db import connection, transaction

from medsync.models import Pharmacy
from medsync.services import audit_record
from scheduling import enqueue, selectors
from scheduling.dates import local_today
from scheduling.models import SyncSettings


@contextmanager
def sweep_batch():
    """One batch of a sweep, in its own transaction. Its commit does not wait for the WAL
    to reach the disk (synchronous_commit off, this transaction only): a crash can lose
    the last batches acknowledged, never corrupt them, and the next run redoes them."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def batch_size() -> int:
    """Rows a sweep claims per batch (SCHEDULING_SWEEP_BATCH_SIZE, 1000 by default)."""
    return getattr(settings, "SCHEDULING_SWEEP_BATCH_SIZE", 1000)


@dataclass
class SweepResult:
    """What a sweep did: rows written by kind, and the batches it took."""

    cycles: int = 0
    items: int = 0
    events: int = 0
    messages: int = 0
    tasks: int = 0
    proposals: int = 0
    batches: int = 0
    pharmacies: list[str] = field(default_factory=list)

    def add(self, other: SweepResult) -> None:
        for f in fields(self):
            if f.name != "pharmacies":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def changed(self) -> bool:
        return any(
            getattr(self, name) for name in ("cycles", "items", "messages", "tasks", "proposals")
        )

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "pharmacies"}


def audit_sweep(name: str, result: SweepResult, pharmacy: Pharmacy, today: dt.date) -> None:
    """One audit entry per pharmacy a sweep changed anything for."""
    if result.changed:
        audit_record(
            action=f"scheduling.sweep.{name}",
            target=pharmacy,
            metadata={"local_date": today.isoformat(), **result.as_dict()},
        )


def hand_over_later(result: SweepResult) -> None:
    """New text requests go to messaging by their own job, after this commit."""
    if result.messages:
        enqueue.enqueue_after_commit(enqueue.HAND_OVER_MESSAGE_REQUESTS)


PharmacyStep = Callable[[Pharmacy, SyncSettings, dt.date, SweepResult], None]


def for_each_pharmacy(audit_name: str, now: dt.datetime, step: PharmacyStep) -> SweepResult:
    """Run `step` for every active pharmacy of the tenant on its own local date, audit what
    it did under `audit_name`, and return the total."""
    total = SweepResult()
    for pharmacy, settings_row in selectors.pharmacies_with_settings():
        today = local_today(pharmacy.time_zone, now)
        result = SweepResult()
        step(pharmacy, settings_row, today, result)
        audit_sweep(audit_name, result, pharmacy, today)
        total.add(result)
    return total


def claim_batches(result: SweepResult, claim: Callable[[], list], handle: Callable) -> None:
    """The claim-a-batch loop: each batch in its own transaction claims due rows (`claim`)
    and writes their consequences (`handle(rows)`), until nothing is left."""
    while True:
        with sweep_batch():
            rows = claim()
            if not rows:
                break
            handle(rows)
            result.batches += 1
