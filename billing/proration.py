"""Proration engine: what a patient pays for a fill, short fills included (DOMAIN.md section 4).

Pure: plain dataclasses in and out, no ORM, Decimal money rounded half up to cents.

Rules encoded here:

- Medicare Part D (42 CFR 423.153(b)(4), daily cost-sharing rate defined in 423.100): a network
  fill of less than a month's supply of a **solid oral** drug pays a daily cost-sharing rate.
  Exempt: solid oral antibiotics and solids dispensed in the original container.
- Commercial plans prorate as their policy says: ``daily_rate`` (the states whose laws mandate
  proration of sync short fills), ``none`` (a full copay per fill), or ``cap`` (Colorado: the
  charge is capped at the normal copay).
- Copay plans pay ``copay x days / 30`` (the rounding of the daily rate is a plan setting,
  default exact with cents half up); a short fill never costs more than a month's copay.
- Coinsurance plans pay the percentage of the (smaller) claim: no extra proration is needed.
- The dispensing fee is paid in full per prescription and never prorated: the claim keeps the
  ingredient cost (which scales with the quantity) apart from the fee (which does not).
- Some plans prorate only below a threshold (e.g. fewer than 28 days) and exclude eye drops,
  topicals and insulin from proration: ``ProrationRules`` carries both.
- The patient never pays more than the claim itself (the usual "lesser of" rule) when the claim
  cost is known.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from uuid import UUID

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class ProrationError(ValueError):
    """Inputs the proration engine cannot price (negative days, a bad percentage...)."""


class ProrationPolicy(StrEnum):
    DAILY_RATE = "daily_rate"  # copay x days / 30 for a short fill
    NONE = "none"  # a full copay per fill, whatever its days
    CAP = "cap"  # Colorado: never more than the normal copay


class DailyRateRounding(StrEnum):
    """How a plan rounds the daily cost-sharing rate (42 CFR 423.100 lets it choose)."""

    EXACT = "exact"  # copay x days / month_days, then cents half up (the product default)
    DAILY_CENTS_DOWN = "daily_cents_down"  # daily rate down to cents, x days
    # Daily rate down to a whole dollar ("the nearest lower dollar amount, if any"); a daily
    # rate under $1 has no lower dollar amount and is rounded down to cents instead.
    DAILY_DOLLAR_DOWN = "daily_dollar_down"

    # Rounding the daily rate UP is not offered: 42 CFR 423.100 forbids a rate that makes a
    # month cost the enrollee more than the copay (e.g. $47 / 30 = 1.5667 -> 1.57 x 30 = $47.10).


class ProrationExclusion(StrEnum):
    """Dosage-form groups a plan may keep out of proration (e.g. the Quartz plan notice)."""

    EYE_DROPS = "eye_drops"
    TOPICALS = "topicals"
    INSULIN = "insulin"


class PlanKind(StrEnum):
    """Same values as patients.models.PlanType (kept here so the engine needs no Django)."""

    COMMERCIAL = "commercial"
    MEDICARE_PART_D = "medicare_part_d"
    MEDICAID = "medicaid"
    CASH = "cash"


class PayMethod(StrEnum):
    """Which rule priced a fill (shown to the pharmacist next to the amount)."""

    DAILY_RATE = "daily_rate"  # prorated copay
    FULL_COPAY = "full_copay"  # one copay (or one per month of supply)
    COPAY_CAPPED = "copay_capped"  # cap policy: never more than the normal copay
    COINSURANCE = "coinsurance"  # percent of the claim
    CLAIM_COST = "claim_cost"  # the claim cost less than the copay: the patient pays the claim
    CASH = "cash"  # no coverage: the patient pays the claim
    UNKNOWN = "unknown"  # coinsurance or cash without a known claim cost


@dataclass(frozen=True)
class ProrationRules:
    """A plan's proration settings (from a billing.PlanRule or the state defaults)."""

    policy: ProrationPolicy = ProrationPolicy.NONE
    rounding: DailyRateRounding = DailyRateRounding.EXACT
    # Days in "a month's supply" for the daily rate (42 CFR 423.100 allows 30 or 31).
    month_days: int = 30
    # Prorate only fills of fewer than this many days (None: any fill shorter than a month).
    prorate_below_days: int | None = None
    exclusions: frozenset[ProrationExclusion] = frozenset()
    # Part D: the daily rate applies to solid oral drugs only (antibiotics and solids in their
    # original container exempt).
    solid_oral_only: bool = False
    # A copay buys up to this many days; longer fills pay one copay per such block (60 days: 2).
    max_days_per_copay: int = 34

    def __post_init__(self) -> None:
        if self.month_days not in (30, 31):
            raise ProrationError("A month's supply is 30 or 31 days for the daily rate.")
        if self.prorate_below_days is not None and self.prorate_below_days < 1:
            raise ProrationError("The proration threshold must be at least 1 day.")
        if self.max_days_per_copay < self.month_days:
            raise ProrationError("A copay must buy at least a month's supply.")


# States whose law lets a pharmacist dispense up to a 90-day supply from remaining refills in one
# fill ("refill consolidation", DOMAIN 2: NY Educ. Law 6810(14), CA B&P 4064.5, TX Occ. Code
# 562.0545).
REFILL_CONSOLIDATION_STATES = frozenset({"NY", "CA", "TX"})
REFILL_CONSOLIDATION_MAX_DAYS = 90


@dataclass(frozen=True)
class PlanRules:
    """Everything a plan decides for sync: proration, refill-too-soon, return to stock, codes.

    Built by billing.selectors.plan_rules_for(coverage) from the most specific PlanRule, or by
    default_plan_rules(state=..., plan_kind=...) from the state table below.
    """

    plan_kind: PlanKind = PlanKind.COMMERCIAL
    proration: ProrationRules = field(default_factory=ProrationRules)
    # A refill is allowed once this percent of the previous supply is used (NCPDP reject 79).
    # None: no refill-too-soon edit (cash).
    refill_too_soon_percent: int | None = 75
    # Some Part D plans allow eye drops earlier (70%); None: the general percent applies.
    refill_too_soon_percent_eye_drops: int | None = None
    return_to_stock_days: int = 10
    # Does the plan accept SCC 47/48 to override a refill-too-soon reject for a sync fill?
    sync_codes_allowed: bool = True
    # Sync short fills the plan covers per prescription per year (PA PACE: 3); None: no limit
    # known. (OK and MN guarantee at least one a year per patient: a floor, not a limit.)
    short_fills_per_year: int | None = None
    # Plan limits that reject with 76 (DOMAIN 5); None: none known.
    max_days_supply_per_fill: int | None = None
    max_quantity_per_fill: Decimal | None = None
    quantity_per_period: Decimal | None = None  # at most this much ...
    quantity_period_days: int | None = None  # ... in any window of this many days
    # Does the plan pay one fill that uses several refills (up to 90 days)? Only where the state
    # allows it too (REFILL_CONSOLIDATION_STATES).
    refill_consolidation_allowed: bool = False
    # What the plan pays per fill on top of the ingredient cost (the claim's dispensing fee).
    dispensing_fee: Decimal = ZERO
    # Where these rules came from, in plain words ("plan rule 'Acme Part D'", "NY default").
    source: str = ""
    plan_rule_id: UUID | None = None

    def __post_init__(self) -> None:
        for name in ("refill_too_soon_percent", "refill_too_soon_percent_eye_drops"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= 100:
                raise ProrationError(f"{name} must be between 1 and 100, got {value}.")
        if self.return_to_stock_days < 1:
            raise ProrationError("return_to_stock_days must be at least 1.")
        for name in ("max_days_supply_per_fill", "quantity_period_days"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ProrationError(f"{name} must be at least 1, got {value}.")
        for name in ("max_quantity_per_fill", "quantity_per_period"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ProrationError(f"{name} must be above zero, got {value}.")
        if (self.quantity_per_period is None) != (self.quantity_period_days is None):
            raise ProrationError("quantity_per_period and quantity_period_days go together.")

    def consolidation_allowed(self, state: str) -> bool:
        """May a fill use several refills at once here (DOMAIN 2: the plan and the state)?"""
        return self.refill_consolidation_allowed and state.upper() in REFILL_CONSOLIDATION_STATES

    def refill_too_soon_percent_for(self, drug: DrugTraits) -> int | None:
        """The refill-too-soon percent for this drug (eye drops may have their own)."""
        if drug.eye_drops and self.refill_too_soon_percent_eye_drops is not None:
            return self.refill_too_soon_percent_eye_drops
        return self.refill_too_soon_percent


@dataclass(frozen=True)
class DrugTraits:
    """What proration needs to know about the dispensed product."""

    solid_oral: bool = True
    unit_of_use: bool = False  # dispensed in the original container
    antibiotic: bool = False
    eye_drops: bool = False
    topical: bool = False
    insulin: bool = False


@dataclass(frozen=True)
class CostSharing:
    """The patient's cost sharing for a month's supply: a copay, a coinsurance, or neither (cash).

    ``coinsurance_minimum`` / ``coinsurance_maximum`` bound a coinsurance charge when the plan
    has them.
    """

    copay: Decimal | None = None
    coinsurance_percent: Decimal | None = None
    coinsurance_minimum: Decimal | None = None
    coinsurance_maximum: Decimal | None = None

    def __post_init__(self) -> None:
        if self.copay is not None and self.coinsurance_percent is not None:
            raise ProrationError("A plan has a copay or a coinsurance, not both.")
        if self.copay is not None and self.copay < 0:
            raise ProrationError("A copay cannot be negative.")
        if self.coinsurance_percent is not None and not 0 <= self.coinsurance_percent <= 100:
            raise ProrationError("A coinsurance is a percentage between 0 and 100.")

    @property
    def is_cash(self) -> bool:
        return self.copay is None and self.coinsurance_percent is None


@dataclass(frozen=True)
class ClaimCost:
    """A claim: ingredient cost and dispensing fee kept apart (the fee is never prorated)."""

    ingredient_cost: Decimal
    dispensing_fee: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.ingredient_cost < 0 or self.dispensing_fee < 0:
            raise ProrationError("Claim amounts cannot be negative.")

    @property
    def total(self) -> Decimal:
        return round_cents(self.ingredient_cost + self.dispensing_fee)


@dataclass(frozen=True)
class PatientPay:
    """The priced fill: the amount (None when it cannot be known) and why, in plain words."""

    amount: Decimal | None
    method: PayMethod
    prorated: bool
    explanation: str
    # What a full month of this drug costs the patient under the same plan (None if unknown).
    full_month_amount: Decimal | None = None
    claim: ClaimCost | None = None

    @property
    def plan_pays(self) -> Decimal | None:
        """The plan's share of the claim (ingredient + full dispensing fee - patient pay)."""
        if self.claim is None or self.amount is None:
            return None
        return max(ZERO, self.claim.total - self.amount)


def round_cents(amount: Decimal) -> Decimal:
    """Money to whole cents, half up (DOMAIN section 4)."""
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def claim_cost(*, unit_cost: Decimal, quantity: Decimal, dispensing_fee: Decimal) -> ClaimCost:
    """Price a claim: the ingredient cost scales with the quantity, the fee is paid in full."""
    if quantity < 0:
        raise ProrationError("A quantity cannot be negative.")
    return ClaimCost(
        ingredient_cost=round_cents(Decimal(unit_cost) * Decimal(quantity)),
        dispensing_fee=round_cents(Decimal(dispensing_fee)),
    )


def daily_rate(*, copay: Decimal, rules: ProrationRules) -> Decimal | None:
    """The plan's daily cost-sharing rate, or None when the plan prorates the exact fraction.

    With EXACT rounding there is no separate daily rate: the charge is copay x days / month_days
    rounded once. The other settings round the daily rate down first, so a month at the daily
    rate never costs more than the copay.
    """
    raw = Decimal(copay) / rules.month_days
    if rules.rounding == DailyRateRounding.EXACT:
        return None
    if rules.rounding == DailyRateRounding.DAILY_DOLLAR_DOWN and raw >= 1:
        return raw.quantize(Decimal("1"), rounding=ROUND_DOWN).quantize(CENT)
    return raw.quantize(CENT, rounding=ROUND_DOWN)


def proration_applies(
    *, days_supply: int, rules: ProrationRules, drug: DrugTraits
) -> tuple[bool, str]:
    """Does this fill pay a daily rate? Returns (yes/no, the reason in plain words)."""
    if rules.policy != ProrationPolicy.DAILY_RATE:
        return False, "the plan does not prorate"
    if days_supply >= rules.month_days:
        return False, f"{days_supply} days is a full month's supply"
    if rules.prorate_below_days is not None and days_supply >= rules.prorate_below_days:
        return False, f"the plan prorates only fills under {rules.prorate_below_days} days"
    if rules.solid_oral_only:
        if not drug.solid_oral:
            return False, "Part D prorates solid oral drugs only"
        if drug.antibiotic:
            return False, "solid oral antibiotics are exempt from Part D daily cost sharing"
        if drug.unit_of_use:
            return False, "solids dispensed in the original container are exempt"
    excluded = {
        ProrationExclusion.EYE_DROPS: drug.eye_drops,
        ProrationExclusion.TOPICALS: drug.topical,
        ProrationExclusion.INSULIN: drug.insulin,
    }
    for exclusion in rules.exclusions:
        if excluded[exclusion]:
            return False, f"the plan excludes {exclusion.value.replace('_', ' ')} from proration"
    return True, "prorated at the plan's daily rate"


def copays_for_days(*, days_supply: int, rules: ProrationRules) -> int:
    """How many copays a full-price fill of this many days costs (90 days: 3 with 34-day blocks)."""
    return max(1, math.ceil(days_supply / rules.max_days_per_copay))


def compute_patient_pay(
    *,
    days_supply: int,
    cost_sharing: CostSharing,
    rules: ProrationRules,
    drug: DrugTraits,
    claim: ClaimCost | None = None,
) -> PatientPay:
    """What the patient pays for one fill of ``days_supply`` days (see _patient_pay).

    Inputs and result are immutable, so identical fills (most patients share a few plans) are
    priced once: the sweeps price hundreds of thousands of fills.
    """
    return _patient_pay(days_supply, cost_sharing, rules, drug, claim)


@functools.lru_cache(maxsize=8192)
def _patient_pay(
    days_supply: int,
    cost_sharing: CostSharing,
    rules: ProrationRules,
    drug: DrugTraits,
    claim: ClaimCost | None,
) -> PatientPay:
    """What the patient pays for one fill of ``days_supply`` days.

    Copay plans: a prorated copay when ``proration_applies`` (copay x days / month_days, rounded
    as the plan says, never above one copay); otherwise one copay per ``max_days_per_copay``
    block (the cap policy charges at most one normal copay for a fill shorter than a month).
    Coinsurance plans: the percentage of the claim (a short fill's claim is already smaller; the
    dispensing fee is in the claim in full). Cash: the claim. The patient never pays more than the
    claim when it is known.
    """
    if days_supply < 1:
        raise ProrationError("A fill covers at least one day.")

    if cost_sharing.is_cash:
        if claim is None:
            return PatientPay(None, PayMethod.UNKNOWN, False, "cash price not known", claim=None)
        text = "no coverage: the patient pays the claim"
        return PatientPay(claim.total, PayMethod.CASH, False, text, None, claim)

    if cost_sharing.coinsurance_percent is not None:
        return _coinsurance_pay(days_supply, cost_sharing, claim)

    copay = round_cents(Decimal(cost_sharing.copay))
    applies, why = proration_applies(days_supply=days_supply, rules=rules, drug=drug)
    if applies:
        rate = daily_rate(copay=copay, rules=rules)
        if rate is None:
            amount = round_cents(copay * days_supply / rules.month_days)
            how = f"${copay} copay x {days_supply}/{rules.month_days} days"
        else:
            amount = round_cents(rate * days_supply)
            how = f"${rate} a day x {days_supply} days"
        amount = min(amount, copay)  # a short fill never costs more than a month's copay
        method, prorated = PayMethod.DAILY_RATE, True
        text = f"{how} = ${amount} ({why})"
    elif rules.policy == ProrationPolicy.CAP and days_supply < rules.month_days:
        amount, method, prorated = copay, PayMethod.COPAY_CAPPED, False
        text = f"capped at the normal ${copay} copay"
    else:
        copays = copays_for_days(days_supply=days_supply, rules=rules)
        amount, method, prorated = copay * copays, PayMethod.FULL_COPAY, False
        text = (
            f"{copays} copays of ${copay} for {days_supply} days"
            if copays > 1
            else f"full ${copay} copay ({why})"
        )
    full_month = copay
    if claim is not None and claim.total < amount:
        return PatientPay(
            claim.total,
            PayMethod.CLAIM_COST,
            prorated,
            f"the claim (${claim.total}) costs less than the copay: the patient pays the claim",
            full_month,
            claim,
        )
    return PatientPay(amount, method, prorated, text, full_month, claim)


def _coinsurance_pay(
    days_supply: int, cost_sharing: CostSharing, claim: ClaimCost | None
) -> PatientPay:
    percent = Decimal(cost_sharing.coinsurance_percent)
    if claim is None:
        return PatientPay(
            None,
            PayMethod.UNKNOWN,
            False,
            f"{percent}% coinsurance: the claim price is not known yet",
        )
    amount = round_cents(claim.total * percent / 100)
    text = f"{percent}% of the ${claim.total} claim for {days_supply} days = ${amount}"
    if cost_sharing.coinsurance_minimum is not None and amount < cost_sharing.coinsurance_minimum:
        amount = round_cents(min(cost_sharing.coinsurance_minimum, claim.total))
        text += f", raised to the plan's ${cost_sharing.coinsurance_minimum} minimum"
    if cost_sharing.coinsurance_maximum is not None and amount > cost_sharing.coinsurance_maximum:
        amount = round_cents(cost_sharing.coinsurance_maximum)
        text += f", lowered to the plan's ${cost_sharing.coinsurance_maximum} maximum"
    return PatientPay(amount, PayMethod.COINSURANCE, False, text, None, claim)


# --- Defaults by state ------------------------------------------------------------------------
#
# DOMAIN.md section 4. About 18 states required commercial plans to prorate sync short fills by
# 2020 (NY A9012 memo); the ones named there, with their statutes, are below. Colorado caps the
# charge at the normal copay instead. Any other state defaults to "none" until the pharmacy
# records a PlanRule for it (the product must let a pharmacy change every default).


@dataclass(frozen=True)
class StateProrationLaw:
    state: str
    policy: ProrationPolicy
    citation: str
    plan_kinds: frozenset[PlanKind] = frozenset({PlanKind.COMMERCIAL})


STATE_PRORATION_LAWS: dict[str, StateProrationLaw] = {
    law.state: law
    for law in (
        StateProrationLaw("NY", ProrationPolicy.DAILY_RATE, "NY Ins. Law 3224-d"),
        StateProrationLaw("PA", ProrationPolicy.DAILY_RATE, "72 P.S. 3761-515.1"),
        StateProrationLaw("ME", ProrationPolicy.DAILY_RATE, "24-A M.R.S. 2769"),
        StateProrationLaw("AZ", ProrationPolicy.DAILY_RATE, "A.R.S. 20-1057.15"),
        StateProrationLaw("OK", ProrationPolicy.DAILY_RATE, "36 O.S. 3634.5"),
        StateProrationLaw("MN", ProrationPolicy.DAILY_RATE, "Minn. Stat. 62W.10"),
        StateProrationLaw("NC", ProrationPolicy.DAILY_RATE, "N.C.G.S. 58-3-181"),
        StateProrationLaw("MD", ProrationPolicy.DAILY_RATE, "Md. Ins. 15-852"),
        StateProrationLaw(
            "NM",
            ProrationPolicy.DAILY_RATE,
            "New Mexico Medicaid",
            frozenset({PlanKind.MEDICAID}),
        ),
        StateProrationLaw("CO", ProrationPolicy.CAP, "Colorado: capped at the normal copay"),
    )
}

PART_D_PRORATION = ProrationRules(policy=ProrationPolicy.DAILY_RATE, solid_oral_only=True)


def default_proration_rules(*, state: str, plan_kind: PlanKind | str) -> tuple[ProrationRules, str]:
    """The proration rules the law gives a plan in a state, and where they come from."""
    plan_kind = PlanKind(plan_kind)
    state = (state or "").upper()
    if plan_kind == PlanKind.MEDICARE_PART_D:
        return PART_D_PRORATION, "Medicare Part D, 42 CFR 423.153(b)(4)"
    if plan_kind == PlanKind.CASH:
        return ProrationRules(policy=ProrationPolicy.NONE), "cash: no plan"
    law = STATE_PRORATION_LAWS.get(state)
    if law is not None and plan_kind in law.plan_kinds:
        return ProrationRules(policy=law.policy), f"{state} default ({law.citation})"
    return ProrationRules(policy=ProrationPolicy.NONE), f"{state or 'no state'} default: no mandate"


def default_plan_rules(*, state: str, plan_kind: PlanKind | str) -> PlanRules:
    """All plan rules defaulted from the state and plan type (product defaults: 75%, 10 days)."""
    plan_kind = PlanKind(plan_kind)
    proration, source = default_proration_rules(state=state, plan_kind=plan_kind)
    return PlanRules(
        plan_kind=plan_kind,
        proration=proration,
        refill_too_soon_percent=None if plan_kind == PlanKind.CASH else 75,
        source=source,
    )
