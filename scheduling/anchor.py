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

import calendar as _calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from scheduling.alignment import AlignmentPlan, RxInput, WarningCode, align, anchors_from

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
    # What the short fills cost is mostly medicine the patient needs anyway (with a daily rate an
    # earlier anchor only looks cheaper because it buys fewer days), so by default only the part
    # above a prorated charge counts; raise this to favour paying less up front.
    patient_cost_per_dollar: Decimal = Decimal("0")
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
    drifting_items: int  # unit-of-use prescriptions that do not land on the anchor
    renewals_needed: int
    reasons: tuple[str, ...]  # why this date is good, in plain words
    cautions: tuple[str, ...]  # what to watch for with this date
    # The next anchors (WEEKDAY_CYCLES_CHECKED of them) that miss the preferred weekday, and the
    # cycle length that would keep it (28 days), when the cycle is not whole weeks.
    off_weekday_anchors: tuple[date, ...] = ()
    suggested_cycle_days: int | None = None

    @property
    def summary(self) -> str:
        """One line for the wizard: 'Thu 3/12: 1 extra trip, 2 short fills, $8.40.'"""
        cost = "price unknown" if self.patient_cost is None else f"${self.patient_cost}"
        return (
            f"{_day(self.anchor_date)}: {_plural(self.extra_trips, 'extra trip')}, "
            f"{_plural(self.short_fills, 'short fill')}, {cost}"
        )


# --- scoring ------------------------------------------------------------------------------------

FUTURE_ANCHORS_CHECKED = 3  # the anchors after the first that must not fall on closed days
WEEKDAY_CYCLES_CHECKED = 6  # the anchors after the first checked against a preferred weekday
WEEKDAY_CYCLE_DAYS = 28  # the program's cycle length made of whole weeks


def weekday_drift(
    anchor_date: date, cycle_days: int, weekday: int, count: int = WEEKDAY_CYCLES_CHECKED
) -> tuple[date, ...]:
    """The next ``count`` anchors after ``anchor_date`` that do not fall on ``weekday``
    (a 30-day cycle from a Tuesday: Thu, Sat, Mon, Wed, Fri, Sun)."""
    later = anchors_from(anchor_date, cycle_days, count + 1)[1:]
    return tuple(day for day in later if day.weekday() != weekday)


def _day(day: date) -> str:
    return f"{day:%a} {day.month}/{day.day}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _matches_preference(day: date, preferences: PatientPreferences) -> bool | None:
    results = []
    if preferences.preferred_weekday is not None:
        results.append(day.weekday() == preferences.preferred_weekday)
    if preferences.preferred_day_of_month is not None:
        last = _calendar.monthrange(day.year, day.month)[1]
        results.append(day.day == min(preferences.preferred_day_of_month, last))
    if not results:
        return None
    return any(results)


def _preference_words(preferences: PatientPreferences) -> str:
    words = []
    if preferences.preferred_weekday is not None:
        words.append(f"a {WEEKDAY_NAMES[preferences.preferred_weekday]}")
    if preferences.preferred_day_of_month is not None:
        words.append(f"the {_ordinal(preferences.preferred_day_of_month)} of the month")
    return " or ".join(words)


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
    """Score one candidate date (the wizard also uses it for a date the pharmacist types).

    ``average_load`` is the mean pickups a day over the candidate days (propose_anchors passes
    it); a day is penalized only for the load above it.
    """
    preferences = preferences or PatientPreferences()
    calendar = calendar or PharmacyCalendar()
    weights = weights or AnchorWeights()
    plan = align(
        today=today, anchor_date=anchor_date, cycle_days=cycle_days, prescriptions=prescriptions
    )
    reasons: list[str] = []
    cautions: list[str] = []
    score = Decimal("0")

    # Refill-too-soon conflicts.
    rts = [(item, item.warning(WarningCode.REFILL_TOO_SOON)) for item in plan.items]
    # A fill the engine moved to a day the plan pays is no conflict (its extra trip is counted
    # below): counting it here too was a double penalty (issue 10 defect 5).
    rts = [(item, w) for item, w in rts if w is not None and not w.resolved]
    hard = [w for _, w in rts if not w.override_with_scc]
    soft = [w for _, w in rts if w.override_with_scc]
    score += weights.hard_refill_too_soon * len(hard) + weights.soft_refill_too_soon * len(soft)
    if not rts:
        reasons.append("No refill-too-soon conflict: every plan pays these fills.")
    for warning in hard + soft:
        cautions.append(warning.message)

    # Trips.
    trips = plan.trip_dates
    score += weights.extra_trip * len(trips)
    if not trips:
        reasons.append("No extra trips: everything is picked up together on the anchor.")
    else:
        when = ", ".join(_day(d) for d in trips)
        cautions.append(f"{_plural(len(trips), 'extra trip')} before everything lines up ({when}).")

    # Short fills and their cost.
    shorts = plan.short_fill_count
    score += weights.short_fill * shorts
    cost = plan.short_fill_cost
    extra = plan.short_fill_extra_cost
    if cost is not None:
        score += weights.patient_cost_per_dollar * cost
    score += weights.extra_cost_per_dollar * extra
    if shorts == 0:
        reasons.append("No short fills are needed.")
    elif cost is None:
        cautions.append(
            f"{_plural(shorts, 'short fill')}; some prices are not known yet (coinsurance "
            "or cash without a price)."
        )
    elif extra == 0:
        reasons.append(
            f"{_plural(shorts, 'short fill')} costing the patient ${cost} in all, "
            "prorated to the days (no more than a normal month)."
        )
    else:
        cautions.append(
            f"{_plural(shorts, 'short fill')} cost the patient ${cost}, ${extra} more than a "
            "prorated charge (the plan does not prorate some of them)."
        )

    # The patient's preference.
    matches = _matches_preference(anchor_date, preferences)
    if matches is True:
        reasons.append(f"{_day(anchor_date)} is the patient's preferred day.")
    elif matches is False:
        score += weights.preference_miss
        cautions.append(f"Not the patient's preferred day ({_preference_words(preferences)}).")

    # A preferred weekday is kept only by a cycle of whole weeks: check the next anchors too.
    off_weekday: tuple[date, ...] = ()
    suggestion = None
    if preferences.preferred_weekday is not None:
        off_weekday = weekday_drift(anchor_date, cycle_days, preferences.preferred_weekday)
        if off_weekday:
            suggestion = WEEKDAY_CYCLE_DAYS
            name = WEEKDAY_NAMES[preferences.preferred_weekday]
            cautions.append(
                f"A {cycle_days}-day cycle does not stay on a {name}: the next anchors fall on "
                + ", ".join(_day(d) for d in off_weekday)
                + f"; a {WEEKDAY_CYCLE_DAYS}-day cycle keeps every anchor on a {name}."
            )

    # A typed date may fall on a closed day (proposals never do).
    if calendar.is_closed(anchor_date):
        score += weights.closed_future_anchor
        cautions.append(f"The pharmacy is closed on {_day(anchor_date)}.")

    # Closed days among the next anchors.
    future = anchors_from(anchor_date, cycle_days, FUTURE_ANCHORS_CHECKED + 1)[1:]
    closed = tuple(d for d in future if calendar.is_closed(d))
    score += weights.closed_future_anchor * len(closed)
    for day in closed:
        cautions.append(f"A later anchor, {_day(day)}, falls on a day the pharmacy is closed.")

    # Unit-of-use drift and renewals.
    drifting = sum(1 for item in plan.items if item.has_warning(WarningCode.UNIT_OF_USE_DRIFT))
    unit_of_use = sum(1 for item in plan.items if item.unit_of_use and item.synced)
    score += weights.drift_item * drifting
    if unit_of_use and not drifting:
        reasons.append("Whole-package items (inhalers, pens, drops) land on the anchor too.")
    for item in plan.items:
        drift = item.warning(WarningCode.UNIT_OF_USE_DRIFT)
        if drift is not None:
            cautions.append(drift.message)
    renewals = [w for _, w in plan.warnings if w.code == WarningCode.RENEWAL_NEEDED]
    score += weights.renewal_needed * len(renewals)
    for warning in renewals:
        cautions.append(warning.message)

    # Pharmacy load.
    load = int(calendar.load_by_date.get(anchor_date, 0))
    if average_load is not None and calendar.load_by_date:
        above = max(Decimal("0"), load - average_load)
        score += weights.load_per_patient * above
        if load <= average_load:
            reasons.append(
                f"A quieter day at the pharmacy: {_plural(load, 'other pickup')} "
                f"(about {average_load:.0f} on an average day)."
            )
        else:
            cautions.append(
                f"A busier day at the pharmacy: {_plural(load, 'other pickup')} "
                f"(about {average_load:.0f} on an average day)."
            )

    return AnchorProposal(
        anchor_date=anchor_date,
        score=score.quantize(Decimal("0.01")),
        plan=plan,
        extra_trips=len(trips),
        trip_dates=trips,
        short_fills=shorts,
        patient_cost=cost,
        extra_cost=extra,
        refill_too_soon=len(rts),
        hard_conflicts=len(hard),
        matches_preference=matches,
        pharmacy_load=load,
        closed_future_anchors=closed,
        drifting_items=drifting,
        renewals_needed=len(renewals),
        reasons=tuple(reasons),
        cautions=tuple(cautions),
        off_weekday_anchors=off_weekday,
        suggested_cycle_days=suggestion,
    )


def candidate_dates(
    *, today: date, cycle_days: int, calendar: PharmacyCalendar, first_candidate: date | None
) -> list[date]:
    """One cycle of open days starting at ``first_candidate`` (default: tomorrow)."""
    first = first_candidate or today + timedelta(days=1)
    if first < today:
        first = today
    days = [first + timedelta(days=i) for i in range(cycle_days)]
    return [d for d in days if not calendar.is_closed(d)]


def average_load_over(calendar: PharmacyCalendar, days: Sequence[date]) -> Decimal | None:
    """The mean pickups a day over these days: what a day's load is compared with."""
    if not days:
        return None
    return Decimal(sum(int(calendar.load_by_date.get(d, 0)) for d in days)) / len(days)


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
    if limit < 1:
        return []
    calendar = calendar or PharmacyCalendar()
    days = candidate_dates(
        today=today, cycle_days=cycle_days, calendar=calendar, first_candidate=first_candidate
    )
    if not days:
        return []
    average = average_load_over(calendar, days)
    proposals = [
        score_anchor(
            today=today,
            anchor_date=day,
            cycle_days=cycle_days,
            prescriptions=prescriptions,
            preferences=preferences,
            calendar=calendar,
            weights=weights,
            average_load=average,
        )
        for day in days
    ]
    proposals.sort(key=lambda p: (p.score, p.anchor_date))
    return proposals[:limit]
