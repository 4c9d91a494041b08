"""Workload hours from counts of sync tasks (pure: no Django).

Technician time = fills x minutes per fill + prep calls x minutes per call + pickups x
minutes per pickup; pharmacist time = verifications x minutes per verification + pickups x
minutes per pickup appointment. The minutes are pharmacy settings (reports.ReportSettings).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Minutes:
    tech_per_fill: int
    pharmacist_per_verification: int
    tech_per_prep_call: int
    tech_per_pickup: int
    pharmacist_per_pickup: int


@dataclass(frozen=True)
class DayLoad:
    day: dt.date
    fills: int = 0
    verifications: int = 0
    prep_calls: int = 0
    pickups: int = 0
    tech_minutes: int = 0
    pharmacist_minutes: int = 0

    @property
    def tech_hours(self) -> Decimal:
        return hours(self.tech_minutes)

    @property
    def pharmacist_hours(self) -> Decimal:
        return hours(self.pharmacist_minutes)


def hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def day_load(
    day: dt.date, *, fills: int, verifications: int, prep_calls: int, pickups: int, minutes: Minutes
) -> DayLoad:
    for name, value in (
        ("fills", fills),
        ("verifications", verifications),
        ("prep_calls", prep_calls),
        ("pickups", pickups),
    ):
        if value < 0:
            raise ValueError(f"{name} cannot be negative.")
    return DayLoad(
        day,
        fills,
        verifications,
        prep_calls,
        pickups,
        fills * minutes.tech_per_fill
        + prep_calls * minutes.tech_per_prep_call
        + pickups * minutes.tech_per_pickup,
        verifications * minutes.pharmacist_per_verification
        + pickups * minutes.pharmacist_per_pickup,
    )


def add(a: DayLoad, b: DayLoad) -> DayLoad:
    """Two pharmacies' loads of the same day, rolled up."""
    return DayLoad(
        a.day,
        a.fills + b.fills,
        a.verifications + b.verifications,
        a.prep_calls + b.prep_calls,
        a.pickups + b.pickups,
        a.tech_minutes + b.tech_minutes,
        a.pharmacist_minutes + b.pharmacist_minutes,
    )
