"""Anchor optimizer: score every candidate anchor date in the next cycle, best few first.

Pure: plain dataclasses in and out, no ORM. It runs scheduling.alignment.align() for each
candidate and weighs, in this order of importance by default: a refill-too-soon conflict the plan
will not override, extra trips before the anchor, short fills, what the short fills cost the
patient (and how much of it is more than a prorated charge), the patient's preferred weekday or
day of month, future anchors falling on days the pharmacy is closed, unit-of-use drift, and how
many pickups the pharmacy already has that day (to spread anchors across the month).
Each proposal explains itself in words a pharmacist reads in the enrollment wizard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from scheduling.alignment import AlignmentPlan, RxInput

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class PatientPreferences:
    preferred_weekday: int | None = None  # 0 = Monday .. 6 = Sunday
    preferred_day_of_month: int | None = None  # 1..31 (a short month uses its last day)


@dataclass(frozen=True)
class PharmacyCalendar:
    closed_weekdays: frozenset[int] = frozenset()  # 0 = Monday .. 6 = Sunday
    closed_dates: frozenset[date] = frozenset()  # holidays
    # Patients already due to pick up on a date (other enrollments' anchors), for load spreading.
    load_by_date: Mapping[date, int] = field(default_factory=dict)

    def is_closed(self, day: date) -> bool:
        return day.weekday() in self.closed_weekdays or day in self.closed_dates


@dataclass(frozen=True)
class AnchorWeights:
    """Penalty points (lower total = better). A pharmacy may tune them; defaults below."""

    hard_refill_too_soon: Decimal = Decimal("100")  # plan rejects 79 and takes no sync code
    soft_refill_too_soon: Decimal = Decimal("3")  # needs SCC 47 on the claim
    extra_trip: Decimal = Decimal("10")
    short_fill: Decimal = Decimal("2")
    patient_cost_per_dollar: Decimal = Decimal("0.2")
    extra_cost_per_dollar: Decimal = Decimal("1")  # what exceeds a prorated charge
    preference_miss: Decimal = Decimal("6")
    closed_future_anchor: Decimal = Decimal("4")  # each of the next anchors on a closed day
    drift_item: Decimal = Decimal("1")  # each unit-of-use item that does not land on the anchor
    renewal_needed: Decimal = Decimal("0")  # renewals are needed whatever the anchor
    load_per_patient: Decimal = Decimal("0.5")  # above the average load of the candidate days


@dataclass(frozen=True)
class AnchorProposal:
    anchor_date: date
    score: Decimal  # penalty points; lower is better
    plan: AlignmentPlan
    extra_trips: int
    trip_dates: tuple[date, ...]
    short_fills: int
    patient_cost: Decimal | None  # what the short fills cost the patient (None: a price unknown)
    extra_cost: Decimal  # the part of it above a prorated charge
    refill_too_soon: int  # prescriptions whose fill comes before the plan allows
    hard_conflicts: int  # ... of which the plan takes no sync code to override
    matches_preference: bool | None  # None when the patient has no preference
    pharmacy_load: int  # patients already picking up on this date
    closed_future_anchors: tuple[date, ...]
    reasons: tuple[str, ...]  # why this date is good, in plain words
    cautions: tuple[str, ...]  # what to watch for with this date

    @property
    def summary(self) -> str:
        """One line for the wizard: 'Thu 12 Mar: 1 extra trip, 2 short fills, $8.40.'"""
        raise NotImplementedError


def score_anchor(
    *,
    today: date,
    anchor_date: date,
    cycle_days: int,
    prescriptions: Sequence[RxInput],
    preferences: PatientPreferences | None = None,
    calendar: PharmacyCalendar | None = None,
    weights: AnchorWeights | None = None,
    average_load: Decimal | None = None,
) -> AnchorProposal:
    """Score one candidate date (the wizard also uses it for a date the pharmacist types)."""
    raise NotImplementedError


def propose_anchors(
    *,
    today: date,
    cycle_days: int,
    prescriptions: Sequence[RxInput],
    preferences: PatientPreferences | None = None,
    calendar: PharmacyCalendar | None = None,
    weights: AnchorWeights | None = None,
    limit: int = 3,
    first_candidate: date | None = None,
) -> list[AnchorProposal]:
    """Score every open day from ``first_candidate`` (default: tomorrow) for one cycle.

    Days the pharmacy is closed are never proposed. Returns the ``limit`` best, best first; ties
    go to the earlier date. Pass all members' prescriptions to find a household's shared anchor.
    """
    raise NotImplementedError
