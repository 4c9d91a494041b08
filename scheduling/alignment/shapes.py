"""The alignment engine's inputs and outputs: plain dataclasses, codes and warnings.

Pure (no ORM): what a caller builds from its records and what `align()` returns.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from billing.proration import (
    CostSharing,
    DrugTraits,
    PatientPay,
    PlanRules,
)

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
    PLAN_LIMIT = "plan_limit"  # NCPDP reject 76: max days supply / quantity per fill or period
    # Added by planning (scheduling.planning.planning_notes), not the engine: inputs it assumed.
    COVERAGE_ASSUMED = "coverage_assumed"
    PRICE_UNKNOWN = "price_unknown"


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
    # refill_too_soon: the fill was moved to a day the plan pays (nothing left to override).
    resolved: bool = False

    def as_dict(self) -> dict:
        data = {"code": self.code.value, "message": self.message}
        for name in (
            "earliest_allowed",
            "override_with_scc",
            "needed_by",
            "drift_days",
            "quantity_needed",
            "quantity_authorized",
            "resolved",
        ):
            value = getattr(self, name)
            if isinstance(value, date):
                data[name] = value.isoformat()
            elif isinstance(value, Decimal):
                data[name] = str(value)
            elif value is not None and value is not False:
                data[name] = value
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
    # Insulin pens and vials (DOMAIN 2): containers in one package (a carton of 5 pens: 5),
    # each opened one capped by beyond_use_days, and priming units wasted a day (2 units x
    # injections a day for a pen).
    containers_per_package: int = 1
    priming_per_day: Decimal = Decimal("0")
    # The quantity the prescriber wrote for one fill: a whole-package fill of at least this much
    # is the normal fill, never a short one (a 28-day pack, a vial), whatever the cycle.
    written_quantity: Decimal | None = None
    # May one fill use several refills (up to 90 days) where the plan and state allow (NY, CA,
    # TX)? False: no fill carries more than the written quantity.
    refill_consolidation: bool = False
    label: str = ""  # for messages ("atorvastatin 20 mg"); never shown outside the pharmacy


@dataclass(frozen=True)
class PlannedFill:
    fill_date: date
    quantity: Decimal  # 0 when nothing is authorized (see the Rx's warnings)
    days_supply: int  # 0 when nothing is authorized
    kind: FillKind
    scc_codes: tuple[int, ...]
    patient_pay: Decimal | None  # None when the price is unknown or nothing is dispensed
    pay: PatientPay | None  # how the amount was priced
    # The first day this fill's supply is used (the previous supply runs out the day before).
    supply_start: date | None = None
    # The part of patient_pay above a prorated charge for the same days (a short fill on a
    # plan that charges a full copay costs the patient this much more than it should).
    extra_cost: Decimal = Decimal("0.00")

    @property
    def next_due_date(self) -> date:
        """The day the patient needs the next fill (supply start + days supply)."""
        return (self.supply_start or self.fill_date) + timedelta(days=self.days_supply)


@dataclass(frozen=True)
class RxPlan:
    """The plan for one prescription: its fills up to and including its first full anchor fill.

    The top-level properties describe the first fill (the one the wizard and the API show).
    """

    rx_id: Hashable
    fills: tuple[PlannedFill, ...]
    warnings: tuple[PlanWarning, ...]
    # The day the prescription needs its next fill after the plan's fills (an anchor if synced
    # and splittable and authorized).
    next_due_after_plan: date
    synced: bool = True
    unit_of_use: bool = False

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

    def warning(self, code: WarningCode) -> PlanWarning | None:
        return next((w for w in self.warnings if w.code == code), None)


@dataclass(frozen=True)
class AlignmentPlan:
    today: date
    anchor_date: date
    cycle_days: int
    items: tuple[RxPlan, ...]

    @property
    def next_anchor_date(self) -> date:
        return self.anchor_date + timedelta(days=self.cycle_days)

    def is_anchor(self, day: date) -> bool:
        """Is ``day`` the anchor or one of the anchors after it?"""
        offset = (day - self.anchor_date).days
        return offset >= 0 and offset % self.cycle_days == 0

    def item(self, rx_id: Hashable) -> RxPlan:
        return next(item for item in self.items if item.rx_id == rx_id)

    @property
    def synced_fills(self) -> tuple[PlannedFill, ...]:
        return tuple(f for item in self.items if item.synced for f in item.fills)

    @property
    def trip_dates(self) -> tuple[date, ...]:
        """Extra trips: days other than an anchor on which a synced prescription is filled."""
        return tuple(
            sorted({f.fill_date for f in self.synced_fills if not self.is_anchor(f.fill_date)})
        )

    @property
    def trip_dates_before_anchor(self) -> tuple[date, ...]:
        return tuple(d for d in self.trip_dates if d < self.anchor_date)

    @property
    def short_fills(self) -> tuple[PlannedFill, ...]:
        return tuple(f for f in self.synced_fills if f.kind == FillKind.SHORT)

    @property
    def short_fill_count(self) -> int:
        return len(self.short_fills)

    @property
    def short_fill_cost(self) -> Decimal | None:
        """What the short fills cost the patient in total (None if any price is unknown)."""
        total = Decimal("0.00")
        for fill in self.short_fills:
            if fill.quantity and fill.patient_pay is None:
                return None
            total += fill.patient_pay or Decimal("0.00")
        return total

    @property
    def short_fill_extra_cost(self) -> Decimal:
        """How much of short_fill_cost is above a prorated charge for the same days."""
        return sum((f.extra_cost for f in self.short_fills), Decimal("0.00"))

    @property
    def warnings(self) -> tuple[tuple[Hashable, PlanWarning], ...]:
        return tuple((item.rx_id, w) for item in self.items for w in item.warnings)
