"""The four PQA medication synchronization measures: pure functions, no ORM, dataclasses in
and out (DOMAIN.md section 6, PQA's own wording condensed there).

Every measure returns a `MeasureResult`: the patients in the denominator, those in the
numerator, those excluded with the reason, and the rate (numerator / denominator, None when
the denominator is empty). Patients are keyed by whatever the caller passes (`key`), so the
page can list the patients behind each number.

1. **Program acceptance and initial sync rate**: denominator = patients who met the
   pharmacy's criteria and were contacted (offered the program) during the period; no
   exclusions; numerator = those who agreed within 30 days of that contact (agreement day -
   contact day <= 30) and whose medicines were then initially synchronized (a first aligned
   cycle on or after the agreement, whenever it came).
2. **Completeness**: denominator = patients enrolled at any time in the period; excluded:
   long-term-care patients and patients with an inpatient stay in the period; numerator =
   those with **all** their chronic (maintenance) medicines in the sync over the period.
3. **Continuation** (two rates): denominator = patients enrolled on the first day of the
   measure period; numerator = those still synchronized 6 months (and 12 months) later.
4. **Patient contact rate**: denominator = patients 18 or older in the program with an
   appointment (anchor date) in the 90-day evaluation period; numerator = those contacted
   before every such appointment (within `CONTACT_LEAD_DAYS` days before it, not on the day).

Exclusions for continuation and contact rate (DOMAIN 6): died, transferred to another
pharmacy, taking only one medicine, or a hospitalization that kept sync from happening at
regular times.

Decisions where DOMAIN.md is silent:

- *Enrolled on day D* means enrolled on or before D and not disenrolled before D (leaving on
  D itself still counts as enrolled that day).
- *Still synchronized after N months*: still enrolled on the day N calendar months after the
  period start (`add_months`, the 31st clamped to the month's last day). A checkpoint later
  than the evaluation day is **pending**: the rate is None and the patients are listed as
  denominator only, never counted as failures.
- A death or transfer counts as an exclusion for a continuation rate only when it happened
  on or before that rate's checkpoint (a patient who died after staying 12 months synced
  is a success); for the contact rate, when it happened in the evaluation period.
- *A hospitalization that kept sync from happening*: an inpatient stay overlapping the
  measure period (continuation: start to the 12-month checkpoint; contact: the 90 days).
- Contact rate: a contact counts when it is 1 to `CONTACT_LEAD_DAYS` (14) days before the
  appointment (PQA: usually 5-7 days prior; a prep call made two weeks ahead still counts,
  one made on the pickup day does not). Age is taken on the first day of the period.
- Initial sync: the agreement must be on or after the contact (an agreement dated before
  the recorded contact is counted as agreeing on the contact day).
"""

from __future__ import annotations

import calendar
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

ACCEPTANCE_DAYS = 30
CONTACT_LEAD_DAYS = 14
CONTACT_PERIOD_DAYS = 90
ADULT_AGE = 18

INITIAL_SYNC = "initial_sync"
COMPLETENESS = "completeness"
CONTINUATION_6 = "continuation_6"
CONTINUATION_12 = "continuation_12"
CONTACT_RATE = "contact_rate"

MEASURE_LABELS = {
    INITIAL_SYNC: "Program acceptance and initial sync rate",
    COMPLETENESS: "Completeness (all chronic medicines synchronized)",
    CONTINUATION_6: "Continuation at 6 months",
    CONTINUATION_12: "Continuation at 12 months",
    CONTACT_RATE: "Patient contact rate (90 days)",
}

# exclusion codes
EXCLUDED_LTC = "long_term_care"
EXCLUDED_INPATIENT = "inpatient_stay"
EXCLUDED_DIED = "died"
EXCLUDED_TRANSFERRED = "transferred"
EXCLUDED_ONE_MEDICINE = "one_medicine"
EXCLUDED_HOSPITALIZED = "hospitalization"

EXCLUSION_LABELS = {
    EXCLUDED_LTC: "Long-term-care patient",
    EXCLUDED_INPATIENT: "Inpatient stay in the period",
    EXCLUDED_DIED: "Died",
    EXCLUDED_TRANSFERRED: "Transferred to another pharmacy",
    EXCLUDED_ONE_MEDICINE: "Takes only one medicine",
    EXCLUDED_HOSPITALIZED: "Hospitalization kept sync from regular times",
}

_RATE_PLACES = Decimal("0.0001")

Key = Hashable
Span = tuple[date, date]  # both days included


@dataclass(frozen=True)
class MeasureResult:
    measure: str
    period_start: date
    period_end: date
    denominator: tuple[Key, ...]
    numerator: tuple[Key, ...]
    excluded: tuple[tuple[Key, str], ...] = ()
    pending: bool = False  # the checkpoint is after the evaluation day: no rate yet

    @property
    def rate(self) -> Decimal | None:
        if self.pending or not self.denominator:
            return None
        return (Decimal(len(self.numerator)) / Decimal(len(self.denominator))).quantize(
            _RATE_PLACES, ROUND_HALF_UP
        )

    @property
    def rate_percent(self) -> Decimal | None:
        rate = self.rate
        return None if rate is None else (rate * 100).quantize(Decimal("0.1"))

    @property
    def label(self) -> str:
        return MEASURE_LABELS[self.measure]


@dataclass(frozen=True)
class Offer:
    """A patient who met the criteria and was contacted about the program."""

    key: Key
    contacted_on: date
    agreed_on: date | None = None
    first_synced_on: date | None = None  # the first aligned cycle (all meds on one day)


@dataclass(frozen=True)
class Member:
    """One patient's time in the program and what the measures need to know about it."""

    key: Key
    enrolled_on: date
    ended_on: date | None = None  # disenrolled (the day); None: still enrolled
    ended_reason: str = ""  # EXCLUDED_DIED / EXCLUDED_TRANSFERRED or "" (other reasons)
    birth_date: date | None = None
    long_term_care: bool = False
    stays: tuple[Span, ...] = ()
    chronic_medicines: int = 0
    synced_medicines: int = 0
    appointments: tuple[date, ...] = ()
    contacts: tuple[date, ...] = ()

    def enrolled_on_day(self, day: date) -> bool:
        return self.enrolled_on <= day and (self.ended_on is None or self.ended_on >= day)

    def enrolled_during(self, start: date, end: date) -> bool:
        return self.enrolled_on <= end and (self.ended_on is None or self.ended_on >= start)

    def stay_overlaps(self, start: date, end: date) -> bool:
        return any(a <= end and b >= start for a, b in self.stays)


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _check(start: date, end: date) -> None:
    if start > end:
        raise ValueError(f"period start {start} is after period end {end}")


def _keys(items: Iterable) -> tuple:
    return tuple(item.key for item in items)


# --------------------------------------------------------------------------- 1. initial sync


def initial_sync_rate(offers: Iterable[Offer], start: date, end: date) -> MeasureResult:
    """Offers made in [start, end]; agreed within 30 days and synchronized after agreeing.

    A patient offered twice in the period counts once, on the first offer."""
    _check(start, end)
    first: dict[Key, Offer] = {}
    for offer in sorted(offers, key=lambda o: o.contacted_on):
        if start <= offer.contacted_on <= end:
            first.setdefault(offer.key, offer)
    numerator = []
    for offer in first.values():
        if offer.agreed_on is None or offer.first_synced_on is None:
            continue
        agreed = max(offer.agreed_on, offer.contacted_on)
        if (agreed - offer.contacted_on).days <= ACCEPTANCE_DAYS and (
            offer.first_synced_on >= agreed
        ):
            numerator.append(offer)
    return MeasureResult(INITIAL_SYNC, start, end, tuple(first), _keys(numerator))


# --------------------------------------------------------------------------- 2. completeness


def completeness(members: Iterable[Member], start: date, end: date) -> MeasureResult:
    _check(start, end)
    denominator, numerator, excluded = [], [], []
    for member in members:
        if not member.enrolled_during(start, end):
            continue
        if member.long_term_care:
            excluded.append((member.key, EXCLUDED_LTC))
            continue
        if member.stay_overlaps(start, end):
            excluded.append((member.key, EXCLUDED_INPATIENT))
            continue
        denominator.append(member)
        if member.chronic_medicines > 0 and member.synced_medicines >= member.chronic_medicines:
            numerator.append(member)
    return MeasureResult(
        COMPLETENESS, start, end, _keys(denominator), _keys(numerator), tuple(excluded)
    )


# --------------------------------------------------------------------------- shared exclusions


def _exclusion(member: Member, start: date, end: date) -> str:
    """Death/transfer by `end`, one medicine, or a stay in [start, end] (DOMAIN 6)."""
    if member.ended_on is not None and member.ended_on <= end and member.ended_reason:
        return member.ended_reason
    if member.chronic_medicines == 1:
        return EXCLUDED_ONE_MEDICINE
    if member.stay_overlaps(start, end):
        return EXCLUDED_HOSPITALIZED
    return ""


# --------------------------------------------------------------------------- 3. continuation


def continuation(
    members: Iterable[Member], start: date, *, months: int, evaluated_on: date
) -> MeasureResult:
    """Enrolled on `start`; still enrolled `months` months later (pending if that is after
    `evaluated_on`)."""
    if months not in (6, 12):
        raise ValueError("continuation is measured at 6 or 12 months")
    checkpoint = add_months(start, months)
    measure = CONTINUATION_6 if months == 6 else CONTINUATION_12
    denominator, numerator, excluded = [], [], []
    for member in members:
        if not member.enrolled_on_day(start):
            continue
        reason = _exclusion(member, start, checkpoint)
        if reason:
            excluded.append((member.key, reason))
            continue
        denominator.append(member)
        if member.enrolled_on_day(checkpoint):
            numerator.append(member)
    pending = checkpoint > evaluated_on
    return MeasureResult(
        measure,
        start,
        checkpoint,
        _keys(denominator),
        () if pending else _keys(numerator),
        tuple(excluded),
        pending=pending,
    )


# --------------------------------------------------------------------------- 4. contact rate


def _contacted_before(appointment: date, contacts: Sequence[date]) -> bool:
    return any(1 <= (appointment - c).days <= CONTACT_LEAD_DAYS for c in contacts)


def contact_rate(members: Iterable[Member], start: date) -> MeasureResult:
    """Adults with an appointment in the 90 days from `start`, contacted before each one."""
    end = start + timedelta(days=CONTACT_PERIOD_DAYS - 1)
    denominator, numerator, excluded = [], [], []
    for member in members:
        due = [a for a in member.appointments if start <= a <= end and member.enrolled_on_day(a)]
        if not due:
            continue
        if member.birth_date is not None and age_on(member.birth_date, start) < ADULT_AGE:
            continue
        reason = _exclusion(member, start, end)
        if reason:
            excluded.append((member.key, reason))
            continue
        denominator.append(member)
        if all(_contacted_before(a, member.contacts) for a in due):
            numerator.append(member)
    return MeasureResult(
        CONTACT_RATE, start, end, _keys(denominator), _keys(numerator), tuple(excluded)
    )


@dataclass(frozen=True)
class PqaReport:
    measures: tuple[MeasureResult, ...] = field(default=())

    def by_name(self) -> dict[str, MeasureResult]:
        return {m.measure: m for m in self.measures}


def pqa_report(
    offers: Iterable[Offer], members: Iterable[Member], start: date, end: date
) -> PqaReport:
    """All four measures over [start, end]: continuation from `start` (evaluated on `end`),
    the contact rate over the 90 days ending on `end`."""
    _check(start, end)
    members = list(members)
    contact_start = max(start, end - timedelta(days=CONTACT_PERIOD_DAYS - 1))
    return PqaReport(
        (
            initial_sync_rate(offers, start, end),
            completeness(members, start, end),
            continuation(members, start, months=6, evaluated_on=end),
            continuation(members, start, months=12, evaluated_on=end),
            contact_rate(members, contact_start),
        )
    )
