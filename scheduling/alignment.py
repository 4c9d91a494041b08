"""Alignment engine: short fills that bring every synced prescription onto one anchor date.

Pure: plain dataclasses in and out, no ORM (DOMAIN.md sections 2, 3 and 5).

For a synced prescription with next due date N, anchor A and cycle C (anchors A, A+C, A+2C...):

- N == an anchor: it is already aligned; a full fill of C days on that anchor.
- N < A: a **short fill** of A - N days (SCC 47), then a full fill of C days on A (SCC 48).
  The short fill may be dispensed on any day from the earliest day the plan allows a refill up
  to N (the days supply still counts from N), so short fills due close together share one trip.
- N > A (supply past the anchor): a short fill on the last anchor A_k before N for
  A_k + C - N days (SCC 47), then the full fill of C days on A_k + C (SCC 48). With k = 0 this
  is DOMAIN's "filled on A for (A + cycle - N) days".
- Quantities are days x daily dose rounded UP to a whole dispensable unit.
- Unit-of-use products (inhalers, pens, drops, creams, blister packs) are never split: whole
  packages, as many as cover the days needed, so they drift off the anchor (a warning says by
  how many days). They join an anchor visit when the refill is not too soon, else their due day.
- Not-synced prescriptions are filled on their own due date for their usual days supply.
- Every fill uses a refill and part of the authorized quantity; a fill is never planned past
  what is authorized (it is cut to what is left, and flagged), and a prescription whose refills
  or expiry run out before the next anchor is flagged for renewal.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from billing.proration import CostSharing, DrugTraits, PatientPay, PlanRules

SCC_SHORT_FILL = 47  # NCPDP 420-DK: Shortened Days Supply Fill
SCC_AFTER_SHORT_FILL = 48  # NCPDP 420-DK: Fill Subsequent to a Shortened Days Supply Fill


class AlignmentError(ValueError):
    """Inputs the engine cannot plan with (anchor in the past, zero dose...)."""


class FillKind(StrEnum):
    SHORT = "short"
    FULL = "full"
    NOT_SYNCED = "not_synced"


class WarningCode(StrEnum):
    REFILL_TOO_SOON = "refill_too_soon"
    RENEWAL_NEEDED = "renewal_needed"
    UNIT_OF_USE_DRIFT = "unit_of_use_drift"
    EXCEEDS_AUTHORIZED_QUANTITY = "exceeds_authorized_quantity"
    SHORT_FILL_LIMIT = "short_fill_limit"


@dataclass(frozen=True)
class PlanWarning:
    """One thing the pharmacist must act on, with the numbers behind it."""

    code: WarningCode
    message: str
    # refill_too_soon: the first day the plan pays without an override.
    earliest_allowed: date | None = None
    # refill_too_soon: True when the plan accepts SCC 47/48 as the override (a soft warning).
    override_with_scc: bool | None = None
    # renewal_needed: the day a new prescription is needed by.
    needed_by: date | None = None
    # unit_of_use_drift: days between the anchor and the day the supply runs out (+ = after).
    drift_days: int | None = None
    # exceeds_authorized_quantity: what the plan needs vs what is still authorized.
    quantity_needed: Decimal | None = None
    quantity_authorized: Decimal | None = None

    def as_dict(self) -> dict:
        data = {"code": self.code.value, "message": self.message}
        for name in (
            "earliest_allowed",
            "override_with_scc",
            "needed_by",
            "drift_days",
            "quantity_needed",
            "quantity_authorized",
        ):
            value = getattr(self, name)
            if value is not None:
                data[name] = value.isoformat() if isinstance(value, date) else value
        return data


@dataclass(frozen=True)
class RxInput:
    """One prescription as the engine sees it (the caller maps models to this).

    ``fills_remaining`` counts dispensings still allowed: the refills remaining, plus one for a
    new prescription whose original fill has not happened yet. ``quantity_remaining`` is the
    authorized quantity not yet dispensed (in the same units as ``daily_dose``).
    """

    rx_id: Hashable
    next_due_date: date
    daily_dose: Decimal  # dispensing units a day, from the sig
    package_size: Decimal  # units in one package (one inhaler = 200 puffs: 200, or 1 if "EA")
    fills_remaining: int
    quantity_remaining: Decimal
    expiration_date: date
    unit_of_use: bool = False
    synced: bool = True
    # Smallest quantity that can be dispensed (1 tablet, 1 mL...).
    dispensable_unit: Decimal = Decimal("1")
    # The most one fill may carry by the prescription (None: only the total limits it).
    max_quantity_per_fill: Decimal | None = None
    # Days an opened container may be used (eye drops, insulin pens); caps each package's days.
    beyond_use_days: int | None = None
    # The last fill, for the refill-too-soon edit (None: not known, no check).
    last_fill_date: date | None = None
    last_days_supply: int | None = None
    # Was the last fill a sync short fill (SCC 47)? Then the next full fill carries SCC 48.
    last_fill_short: bool = False
    # Sync short fills of this Rx this calendar year (against PlanRules.short_fills_per_year).
    short_fills_this_year: int = 0
    # Days supply of a not-synced fill (None: the cycle length).
    usual_days_supply: int | None = None
    # Pricing (for the estimated patient pay): plan rules, cost sharing, drug traits, unit cost.
    plan: PlanRules = field(default_factory=PlanRules)
    cost_sharing: CostSharing = field(default_factory=CostSharing)
    drug: DrugTraits = field(default_factory=DrugTraits)
    unit_cost: Decimal | None = None  # ingredient cost per dispensing unit
    dispensing_fee: Decimal = Decimal("0")
    label: str = ""  # for messages ("atorvastatin 20 mg"); never shown outside the pharmacy


@dataclass(frozen=True)
class PlannedFill:
    fill_date: date
    quantity: Decimal
    days_supply: int
    kind: FillKind
    scc_codes: tuple[int, ...]
    patient_pay: Decimal | None
    pay: PatientPay | None  # how the amount was priced (None when nothing is dispensed)
    fill_number_offset: int = 0  # 0 = the first fill this plan makes of the Rx, 1 = the next

    @property
    def supply_end(self) -> date:
        """The next due date after this fill (fill date + days supply for a fill made on time)."""
        raise NotImplementedError


@dataclass(frozen=True)
class RxPlan:
    """The plan for one prescription: its fills up to and including its first full anchor fill.

    The top-level fields describe the first fill (the one the wizard and the API show).
    """

    rx_id: Hashable
    fills: tuple[PlannedFill, ...]
    warnings: tuple[PlanWarning, ...]
    # The day the prescription needs its next fill after the plan's fills (an anchor if synced
    # and splittable).
    next_due_after_plan: date

    @property
    def first(self) -> PlannedFill:
        return self.fills[0]

    @property
    def fill_date(self) -> date:
        return self.first.fill_date

    @property
    def quantity(self) -> Decimal:
        return self.first.quantity

    @property
    def days_supply(self) -> int:
        return self.first.days_supply

    @property
    def kind(self) -> FillKind:
        return self.first.kind

    @property
    def scc_codes(self) -> tuple[int, ...]:
        return self.first.scc_codes

    @property
    def patient_pay(self) -> Decimal | None:
        return self.first.patient_pay

    def has_warning(self, code: WarningCode) -> bool:
        return any(w.code == code for w in self.warnings)


@dataclass(frozen=True)
class AlignmentPlan:
    today: date
    anchor_date: date
    cycle_days: int
    items: tuple[RxPlan, ...]

    @property
    def next_anchor_date(self) -> date:
        raise NotImplementedError

    @property
    def trip_dates(self) -> tuple[date, ...]:
        """Days before the anchor the patient must come in for a synced fill (extra trips)."""
        raise NotImplementedError

    @property
    def short_fill_count(self) -> int:
        raise NotImplementedError

    @property
    def short_fill_cost(self) -> Decimal | None:
        """What the short fills cost the patient in total (None if any price is unknown)."""
        raise NotImplementedError

    @property
    def warnings(self) -> tuple[tuple[Hashable, PlanWarning], ...]:
        raise NotImplementedError


def anchors_from(anchor_date: date, cycle_days: int, count: int) -> list[date]:
    """The anchor and the ``count - 1`` that follow it."""
    raise NotImplementedError


def align(
    *,
    today: date,
    anchor_date: date,
    cycle_days: int,
    prescriptions: Sequence[RxInput],
    batch_short_fills: bool = True,
) -> AlignmentPlan:
    """Plan every prescription onto ``anchor_date`` (see the module docstring for the rules).

    Raises AlignmentError for an anchor before today, a cycle under 1 day, a zero dose or
    package size, or duplicate prescription ids.
    """
    raise NotImplementedError
