"""Date arithmetic of the sync calendar, in each pharmacy's own time zone. Pure: no ORM.

Whole calendar days in the pharmacy's zone (DOMAIN 2). The beat runs in UTC; a
sweep asks `local_today(zone)` and compares dates, so a daylight-saving change
(a 23- or 25-hour day) neither skips nor repeats a day's work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone


def local_now(zone: str, now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()).astimezone(ZoneInfo(zone))


def local_today(zone: str, now: dt.datetime | None = None) -> dt.date:
    """Today's date at the pharmacy."""
    return local_now(zone, now).date()


def next_anchor_on_or_after(anchor_date: dt.date, cycle_days: int, day: dt.date) -> dt.date:
    """The first date of the schedule anchor_date + k * cycle_days (k >= 0) that is >= day."""
    if cycle_days < 1:
        raise ValueError("A cycle is at least one day.")
    if day <= anchor_date:
        return anchor_date
    behind = (day - anchor_date).days
    cycles = -(-behind // cycle_days)  # ceiling division
    return anchor_date + dt.timedelta(days=cycles * cycle_days)


def open_day_on_or_before(day: dt.date, closed_weekdays: Iterable[int]) -> dt.date:
    """The day itself, or the last earlier day the pharmacy is open."""
    closed = set(closed_weekdays)
    if len(closed) >= 7:
        raise ValueError("A pharmacy must be open at least one day a week.")
    while day.weekday() in closed:
        day -= dt.timedelta(days=1)
    return day


@dataclass(frozen=True)
class CycleTiming:
    prep_days: int
    prefill_days: int
    closed_weekdays: tuple[int, ...] = ()

    def prep_due_on(self, anchor: dt.date) -> dt.date:
        return open_day_on_or_before(anchor - dt.timedelta(days=self.prep_days), self.closed)

    def prefill_due_on(self, anchor: dt.date) -> dt.date:
        return open_day_on_or_before(anchor - dt.timedelta(days=self.prefill_days), self.closed)

    @property
    def closed(self) -> tuple[int, ...]:
        return self.closed_weekdays
