"""The claim simulator: a payer's adjudication of one NCPDP D.0 claim, as a pure engine.

Pure: plain dataclasses in and out, no Django, no ORM (checked by import-linter). The
adjudication gateway (billing.gateway) runs it for development, demos and tests; a switch
adapter would send the same ``ClaimRequest`` to a real processor instead.

Rules (DOMAIN.md sections 3-5), each rejecting with its NCPDP code (billing.rejects):

- ``E7`` / ``19``: the quantity or the days supply is missing or not positive.
- ``65``: the coverage is not in force on the date of service.
- ``41``: this plan pays after another coverage that was not billed first (a secondary billed
  without the other payer's amounts, or Medicaid, the payer of last resort, billed first).
- ``70``: the plan excludes the product (plan data: ``ProductRule.excluded``).
- ``75``: the plan requires a prior authorization for the product and no PA number was sent.
- ``76``: a plan limit: days supply per fill, quantity per fill, quantity per period, the age
  range of the product rule, or the sync short fills the plan covers per year.
- ``79``: refill too soon: the last fill of the prescription has not yet used the plan's
  percentage (75% by default; eye drops may differ) of its days supply, unless the plan accepts
  sync codes and the claim carries SCC 47 (a shortened fill), or SCC 48 right after an SCC 47.

A paid claim is priced (DOMAIN 5): the plan allows the lesser of the usual and customary price
(426-DQ) and its contract (a reference price per unit x quantity, else the ingredient cost
submitted, plus the plan's dispensing fee, which is never prorated). Paid at U&C, the fee paid
is zero (basis of reimbursement 04). The patient pays the cost sharing from
billing.proration (the daily rate for short fills where the plan prorates), the whole claim in
the deductible, nothing in the catastrophic phase, and never more than the claim. A secondary
payer (coordination 2) pays what the primary left to the patient less its own cost sharing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from billing.proration import (
    ZERO,
    ClaimCost,
    CostSharing,
    DrugTraits,
    PlanKind,
    PlanRules,
    compute_patient_pay,
    round_cents,
)

SCC_SHORT_FILL = 47  # Shortened Days Supply Fill
SCC_AFTER_SHORT_FILL = 48  # Fill Subsequent to a Shortened Days Supply Fill
MAX_REJECTS = 5  # NCPDP 510-FA: up to five reject codes per response


class Transaction(StrEnum):
    BILL = "B1"
    REVERSE = "B2"
    REBILL = "B3"


class ResponseStatus(StrEnum):
    """NCPDP 112-AN transaction response status."""

    PAID = "P"
    REJECTED = "R"
    ACCEPTED = "A"  # a reversal accepted


class Basis(StrEnum):
    """NCPDP 522-FM basis of reimbursement determination."""

    INGREDIENT_COST = "01"
    USUAL_AND_CUSTOMARY = "04"


class BenefitPhase(StrEnum):
    """Same values as patients.models.BenefitPhase."""

    DEDUCTIBLE = "deductible"
    INITIAL = "initial"
    CATASTROPHIC = "catastrophic"


@dataclass(frozen=True)
class PriorFill:
    """A dispensing the payer already knows of for the same prescription."""

    date_of_service: dt.date
    days_supply: int
    quantity: Decimal
    scc_codes: tuple[int, ...] = ()


@dataclass(frozen=True)
class ProductRule:
    """What a plan says about one product (plan data: its formulary exclusions, PA list,
    contract price and age edits). The default: covered, no PA, paid at the cost submitted."""

    excluded: bool = False
    prior_auth_required: bool = False
    reference_unit_price: Decimal | None = None
    min_age: int | None = None
    max_age: int | None = None


@dataclass(frozen=True)
class PlanData:
    """What the simulated payer knows of the plan and the member (a real switch knows this
    itself: the adapter ignores it)."""

    rules: PlanRules
    cost_sharing: CostSharing
    effective_from: dt.date
    effective_to: dt.date | None = None
    benefit_phase: BenefitPhase = BenefitPhase.INITIAL
    product: ProductRule = field(default_factory=ProductRule)
    # Another coverage of the patient must be billed before this one (41).
    other_payer_first: bool = False


@dataclass(frozen=True)
class ClaimRequest:
    """One claim as sent to the processor (the fields of the D.0 request we model)."""

    transaction: Transaction
    bin: str
    pcn: str
    group: str
    member_id: str
    date_of_service: dt.date
    rx_number: str
    ndc: str
    quantity: Decimal
    days_supply: int
    fill_number: int
    ingredient_cost_submitted: Decimal
    usual_and_customary: Decimal
    dispensing_fee_submitted: Decimal
    drug: DrugTraits = field(default_factory=DrugTraits)
    patient_date_of_birth: dt.date | None = None
    patient_sex: str = "U"
    pharmacy_npi: str = ""
    prescriber_npi: str = ""
    date_written: dt.date | None = None
    refills_authorized: int = 0
    scc_codes: tuple[int, ...] = ()
    prior_auth_number: str = ""
    coordination: int = 1  # 1 = primary, 2 = secondary
    other_payer_amount_paid: Decimal | None = None
    other_payer_patient_responsibility: Decimal | None = None

    @property
    def gross_amount_due(self) -> Decimal:
        """430-DU: ingredient cost plus dispensing fee, never above the U&C price."""
        return min(
            round_cents(self.ingredient_cost_submitted + self.dispensing_fee_submitted),
            round_cents(self.usual_and_customary),
        )


@dataclass(frozen=True)
class ClaimResponse:
    """The processor's answer (the fields of the D.0 response we model)."""

    status: ResponseStatus
    reject_codes: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    ingredient_cost_paid: Decimal = ZERO
    dispensing_fee_paid: Decimal = ZERO
    patient_pay: Decimal = ZERO
    plan_pay: Decimal = ZERO
    basis: Basis | None = None
    dur_warnings: tuple[dict, ...] = ()
    pay_explanation: str = ""
    authorization_number: str = ""

    @property
    def paid(self) -> bool:
        return self.status == ResponseStatus.PAID


def submitted_amounts(
    *, unit_cost: Decimal, unit_usual_and_customary: Decimal, quantity: Decimal, fee: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """(409-D9 ingredient cost, 426-DQ U&C, 412-DC fee) for a quantity, from per-unit prices.
    The fee is per prescription: the same for a 10-day and a 30-day fill."""
    return (
        round_cents(Decimal(unit_cost) * quantity),
        round_cents(Decimal(unit_usual_and_customary) * quantity),
        round_cents(Decimal(fee)),
    )


def _num(value: Decimal) -> str:
    """A quantity in plain digits (90, 22.5), never in exponent form."""
    return format(Decimal(value).normalize(), "f")


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def earliest_refill(prior: PriorFill, percent: int) -> dt.date:
    """The first day the plan pays the next fill: `percent` of the last supply used."""
    return prior.date_of_service + dt.timedelta(days=math.ceil(prior.days_supply * percent / 100))


def _basic_rejects(request: ClaimRequest) -> list[tuple[str, str]]:
    rejects = []
    if request.quantity is None or request.quantity <= 0:
        rejects.append(("E7", "The quantity dispensed must be above zero."))
    if request.days_supply is None or not 1 <= request.days_supply <= 365:
        rejects.append(("19", "The days supply must be between 1 and 365."))
    return rejects


def _coverage_rejects(request: ClaimRequest, plan: PlanData) -> list[tuple[str, str]]:
    dos = request.date_of_service
    if dos < plan.effective_from or (plan.effective_to is not None and dos > plan.effective_to):
        until = f" to {plan.effective_to}" if plan.effective_to else ""
        return [("65", f"Coverage in force {plan.effective_from}{until}, not on {dos}.")]
    if plan.other_payer_first and request.other_payer_amount_paid is None:
        return [("41", "Another coverage pays first: bill it, then send its amounts here.")]
    return []


def _product_rejects(request: ClaimRequest, plan: PlanData) -> list[tuple[str, str]]:
    product, rejects = plan.product, []
    if product.excluded:
        rejects.append(("70", f"NDC {request.ndc} is excluded from the plan's formulary."))
    if product.prior_auth_required and not request.prior_auth_number.strip():
        rejects.append(("75", f"NDC {request.ndc} needs a prior authorization number."))
    return rejects


def _limit_rejects(
    request: ClaimRequest, plan: PlanData, history: tuple[PriorFill, ...]
) -> list[tuple[str, str]]:
    rules, product, rejects = plan.rules, plan.product, []
    if rules.max_days_supply_per_fill is not None and (
        request.days_supply > rules.max_days_supply_per_fill
    ):
        rejects.append(
            (
                "76",
                f"{request.days_supply} days exceeds the "
                f"{rules.max_days_supply_per_fill}-day limit.",
            )
        )
    if rules.max_quantity_per_fill is not None and request.quantity > rules.max_quantity_per_fill:
        limit = _num(rules.max_quantity_per_fill)
        rejects.append(("76", f"Quantity {_num(request.quantity)} exceeds {limit} per fill."))
    if rules.quantity_per_period is not None and rules.quantity_period_days is not None:
        since = request.date_of_service - dt.timedelta(days=rules.quantity_period_days - 1)
        used = sum((p.quantity for p in history if p.date_of_service >= since), ZERO)
        if used + request.quantity > rules.quantity_per_period:
            rejects.append(
                (
                    "76",
                    f"{_num(used + request.quantity)} units in "
                    f"{rules.quantity_period_days} days exceeds "
                    f"{_num(rules.quantity_per_period)}.",
                )
            )
    if request.patient_date_of_birth is not None:
        age = age_on(request.patient_date_of_birth, request.date_of_service)
        if product.min_age is not None and age < product.min_age:
            rejects.append(("76", f"Age {age} is under the plan's minimum of {product.min_age}."))
        if product.max_age is not None and age > product.max_age:
            rejects.append(("76", f"Age {age} is over the plan's maximum of {product.max_age}."))
    if rules.short_fills_per_year is not None and SCC_SHORT_FILL in request.scc_codes:
        year = request.date_of_service.year
        done = sum(
            1 for p in history if SCC_SHORT_FILL in p.scc_codes and p.date_of_service.year == year
        )
        if done >= rules.short_fills_per_year:
            rejects.append(
                ("76", f"The plan covers {rules.short_fills_per_year} sync short fills a year.")
            )
    return rejects


def _refill_too_soon(
    request: ClaimRequest, plan: PlanData, history: tuple[PriorFill, ...]
) -> tuple[list[tuple[str, str]], list[dict]]:
    """(rejects, DUR warnings) of the refill-too-soon edit."""
    percent = plan.rules.refill_too_soon_percent_for(request.drug)
    earlier = [p for p in history if p.date_of_service < request.date_of_service]
    if percent is None or not earlier:
        return [], []
    last = max(earlier, key=lambda p: p.date_of_service)
    allowed = max(earliest_refill(p, percent) for p in earlier)
    if request.date_of_service >= allowed:
        return [], []
    codes = set(request.scc_codes)
    if plan.rules.sync_codes_allowed:
        if SCC_SHORT_FILL in codes or (
            SCC_AFTER_SHORT_FILL in codes and SCC_SHORT_FILL in last.scc_codes
        ):
            code = SCC_SHORT_FILL if SCC_SHORT_FILL in codes else SCC_AFTER_SHORT_FILL
            warning = {
                "code": "ER",
                "message": f"Early refill (allowed from {allowed}) paid for sync with SCC {code}.",
            }
            return [], [warning]
        if SCC_AFTER_SHORT_FILL in codes:
            message = (
                f"SCC 48 follows an SCC 47 fill; the last fill ({last.date_of_service}) "
                "was not one."
            )
            return [("79", message)], []
    hint = " (the plan accepts SCC 47/48)" if plan.rules.sync_codes_allowed else ""
    return [("79", f"Next fill allowed on {allowed}{hint}.")], []


def _price(request: ClaimRequest, plan: PlanData) -> ClaimResponse:
    fee = round_cents(plan.rules.dispensing_fee)
    reference = plan.product.reference_unit_price
    contract_ingredient = (
        round_cents(reference * request.quantity)
        if reference is not None
        else round_cents(request.ingredient_cost_submitted)
    )
    usual = round_cents(request.usual_and_customary)
    if usual < contract_ingredient + fee:
        ingredient, fee_paid, basis = usual, ZERO, Basis.USUAL_AND_CUSTOMARY
    else:
        ingredient, fee_paid, basis = contract_ingredient, fee, Basis.INGREDIENT_COST
    claim = ClaimCost(ingredient_cost=ingredient, dispensing_fee=fee_paid)
    total = claim.total
    if plan.benefit_phase == BenefitPhase.DEDUCTIBLE or plan.rules.plan_kind == PlanKind.CASH:
        patient, why = total, "in the deductible: the patient pays the claim"
    elif plan.benefit_phase == BenefitPhase.CATASTROPHIC:
        patient, why = ZERO, "catastrophic phase: no cost sharing"
    else:
        pay = compute_patient_pay(
            days_supply=request.days_supply,
            cost_sharing=plan.cost_sharing,
            rules=plan.rules.proration,
            drug=request.drug,
            claim=claim,
        )
        patient, why = (total if pay.amount is None else pay.amount), pay.explanation
    patient = min(patient, total)
    plan_pay = total - patient
    if request.coordination > 1 and request.other_payer_amount_paid is not None:
        # Secondary: it covers what the primary left to the patient, less its own share.
        left = request.other_payer_patient_responsibility
        left = max(ZERO, total - request.other_payer_amount_paid) if left is None else left
        own_share = min(patient, left)
        plan_pay = max(ZERO, min(left - own_share, total - request.other_payer_amount_paid))
        patient = left - plan_pay
        why = f"secondary: ${left} left by the other payer, patient pays ${patient}"
    return ClaimResponse(
        status=ResponseStatus.PAID,
        ingredient_cost_paid=ingredient,
        dispensing_fee_paid=fee_paid,
        patient_pay=round_cents(patient),
        plan_pay=round_cents(plan_pay),
        basis=basis,
        pay_explanation=why,
    )


def adjudicate(
    request: ClaimRequest, plan: PlanData, history: tuple[PriorFill, ...] = ()
) -> ClaimResponse:
    """Adjudicate a B1 or B3 claim against the plan; ``history`` holds the paid fills of the
    same prescription the payer knows (never the claim being rebilled)."""
    rejects = _basic_rejects(request)
    if not rejects:
        rejects = _coverage_rejects(request, plan)
    if not rejects:
        rejects = _product_rejects(request, plan) + _limit_rejects(request, plan, history)
    warnings: list[dict] = []
    if not rejects or all(code == "76" for code, _ in rejects):
        too_soon, warnings = _refill_too_soon(request, plan, history)
        rejects += too_soon
    if rejects:
        codes = tuple(dict.fromkeys(code for code, _ in rejects))[:MAX_REJECTS]
        return ClaimResponse(
            status=ResponseStatus.REJECTED,
            reject_codes=codes,
            messages=tuple(message for _, message in rejects),
        )
    priced = _price(request, plan)
    return ClaimResponse(
        status=priced.status,
        ingredient_cost_paid=priced.ingredient_cost_paid,
        dispensing_fee_paid=priced.dispensing_fee_paid,
        patient_pay=priced.patient_pay,
        plan_pay=priced.plan_pay,
        basis=priced.basis,
        pay_explanation=priced.pay_explanation,
        dur_warnings=tuple(warnings),
    )


def reverse(request: ClaimRequest, *, paid: bool) -> ClaimResponse:
    """A B2: accepted when the claim is paid, else rejected 87 (reversal not processed)."""
    if not paid:
        return ClaimResponse(
            status=ResponseStatus.REJECTED,
            reject_codes=("87",),
            messages=("The claim is not paid: nothing to reverse.",),
        )
    return ClaimResponse(status=ResponseStatus.ACCEPTED)
