"""Building a claim: the fill (ClaimSubject), the batch's loaded context (coverages, plan rules,
plan product rules, prices, the payer's view of earlier fills), the D.0 request and the stored
row. Used by billing.claim_services; no writes here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from billing import ncpdp
from billing.claim_models import Claim, ClaimStatus, PlanProductRule
from billing.gateway import gateway as get_gateway
from billing.proration import CostSharing, PlanRules
from billing.selectors import drug_traits, plan_rules_for_many
from billing.simulator import (
    BenefitPhase,
    ClaimRequest,
    ClaimResponse,
    PlanData,
    PriorFill,
    ProductRule,
    ResponseStatus,
    Transaction,
    submitted_amounts,
)
from medsync.exceptions import MedSyncError
from medsync.models import Pharmacy
from patients.models import (
    Coverage,
    Fill,
    Patient,
    PlanType,
    Prescription,
    PriceListEntry,
)

STATUS_OF = {
    ResponseStatus.PAID: ClaimStatus.PAID,
    ResponseStatus.REJECTED: ClaimStatus.REJECTED,
    ResponseStatus.ACCEPTED: ClaimStatus.ACCEPTED,
}


class ClaimError(MedSyncError):
    """A claim that cannot be sent (nothing written)."""

    CONFLICTS = frozenset({"already_paid", "not_paid", "not_rejected"})

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message, code=code, fields=fields)
        if code in self.CONFLICTS:
            self.http_status = 409


@dataclass(frozen=True)
class ClaimSubject:
    """The fill a claim bills, described by the caller (scheduling's cycle item)."""

    pharmacy: Pharmacy
    patient: Patient
    prescription: Prescription
    cycle_item_id: int
    date_of_service: dt.date
    quantity: Decimal
    days_supply: int
    fill_number: int
    coverage: Coverage | None = None  # None: the patient's primary coverage on that day
    scc_codes: tuple[int, ...] = ()
    prior_auth_number: str = ""


@dataclass
class Billing:
    """One claim to send: the subject, the coverage and the payer's position."""

    subject: ClaimSubject
    coverage: Coverage
    transaction: Transaction = Transaction.BILL
    coordination: int = 1
    primary: Claim | None = None
    original: Claim | None = None
    claim: Claim | None = None
    response: ClaimResponse | None = None
    extra: dict = field(default_factory=dict)


def _order(coverage: Coverage) -> tuple[bool, int, int]:
    return (coverage.plan_type == PlanType.MEDICAID, coverage.priority, coverage.pk)


def _active(coverage: Coverage, day: dt.date) -> bool:
    return coverage.effective_from <= day and (
        coverage.effective_to is None or coverage.effective_to >= day
    )


class BatchContext:
    """Everything the batch needs, loaded with a fixed number of queries."""

    def __init__(self, subjects: list[ClaimSubject]):
        patient_ids = {s.patient.pk for s in subjects}
        self.coverages: dict[int, list[Coverage]] = {}
        for coverage in Coverage.objects.filter(patient_id__in=patient_ids).order_by(
            "priority", "-effective_from", "pk"
        ):
            self.coverages.setdefault(coverage.patient_id, []).append(coverage)
        all_coverages = [c for cs in self.coverages.values() for c in cs]
        self.rules: dict[int, PlanRules] = plan_rules_for_many(all_coverages)
        rule_ids = {r.plan_rule_id for r in self.rules.values() if r.plan_rule_id}
        self.products: dict = {}
        if rule_ids:
            for row in PlanProductRule.objects.filter(plan_rule__public_id__in=rule_ids).values(
                "plan_rule__public_id", "ndc", "generic_name", "excluded",
                "prior_auth_required", "reference_unit_price", "min_age", "max_age",
            ):  # fmt: skip
                key = (row.pop("plan_rule__public_id"), row.pop("ndc"), row.pop("generic_name"))
                self.products[key] = ProductRule(**row)
        ndcs = {s.prescription.drug.ndc for s in subjects}
        self.prices = {
            (p.pharmacy_id, p.ndc): p
            for p in PriceListEntry.objects.filter(
                pharmacy_id__in={s.pharmacy.pk for s in subjects}, ndc__in=ndcs
            )
        }
        rx_ids = {s.prescription.pk for s in subjects}
        self.history: dict[int, dict] = {}
        for fill in Fill.objects.filter(
            prescription_id__in=rx_ids, returned_to_stock_at__isnull=True
        ).values("prescription_id", "fill_date", "days_supply", "quantity", "scc_codes"):
            self.history.setdefault(fill["prescription_id"], {})[(fill["fill_date"], 0)] = (
                PriorFill(
                    fill["fill_date"], fill["days_supply"], fill["quantity"],
                    tuple(fill["scc_codes"]),
                )
            )  # fmt: skip
        for row in Claim.objects.filter(
            prescription_id__in=rx_ids, status=ClaimStatus.PAID, coordination=1
        ).values(
            "prescription_id", "cycle_item_id", "date_of_service", "days_supply", "quantity",
            "scc_codes",
        ):  # fmt: skip
            fills = self.history.setdefault(row["prescription_id"], {})
            fills.pop((row["date_of_service"], 0), None)  # the same dispensing, known twice
            fills[(row["date_of_service"], row["cycle_item_id"])] = PriorFill(
                row["date_of_service"], row["days_supply"], row["quantity"],
                tuple(row["scc_codes"]),
            )  # fmt: skip

    def primary_coverage(self, subject: ClaimSubject) -> Coverage | None:
        if subject.coverage is not None:
            return subject.coverage
        active = [
            c
            for c in self.coverages.get(subject.patient.pk, [])
            if _active(c, subject.date_of_service)
        ]
        return min(active, key=_order) if active else None

    def others(self, coverage: Coverage, day: dt.date) -> list[Coverage]:
        return [
            c
            for c in self.coverages.get(coverage.patient_id, [])
            if c.pk != coverage.pk and c.plan_type != PlanType.CASH and _active(c, day)
        ]

    def pays_before(self, coverage: Coverage, day: dt.date) -> Coverage | None:
        """The coverage that must be billed before this one (reject 41), if any: a lower
        priority number, and Medicaid (the payer of last resort) after any other plan."""
        return next((o for o in self.others(coverage, day) if _order(o) < _order(coverage)), None)

    def secondary(self, coverage: Coverage, day: dt.date) -> Coverage | None:
        later = [o for o in self.others(coverage, day) if _order(o) > _order(coverage)]
        return min(later, key=_order) if later else None

    def product(self, rules: PlanRules, drug) -> ProductRule:
        rule_id = rules.plan_rule_id
        return (
            self.products.get((rule_id, drug.ndc, ""))
            or self.products.get((rule_id, "", drug.generic_name))
            or ProductRule()
        )

    def prior_fills(self, subject: ClaimSubject) -> tuple[PriorFill, ...]:
        fills = self.history.get(subject.prescription.pk, {})
        return tuple(
            fill
            for (day, item_id), fill in fills.items()
            if item_id != subject.cycle_item_id and day <= subject.date_of_service
        )


def build_request(b: Billing, ctx: BatchContext) -> tuple[ClaimRequest, PlanData]:
    s, coverage = b.subject, b.coverage
    rx, drug = s.prescription, s.prescription.drug
    rules = ctx.rules.get(coverage.pk) or plan_rules_for_many([coverage])[coverage.pk]
    price = ctx.prices.get((s.pharmacy.pk, drug.ndc))
    if price is None:
        raise ClaimError(
            f"NDC {drug.ndc} is not on {s.pharmacy.name}'s price list: add its price first.",
            code="price_unknown",
            fields={"ndc": ["Not on the price list."]},
        )
    ingredient, usual, fee = submitted_amounts(
        unit_cost=price.acquisition_cost,
        unit_usual_and_customary=price.usual_and_customary,
        quantity=s.quantity,
        fee=rules.dispensing_fee,
    )
    primary = b.primary
    request = ClaimRequest(
        transaction=b.transaction,
        bin=coverage.bin,
        pcn=coverage.pcn,
        group=coverage.group,
        member_id=coverage.member_id,
        date_of_service=s.date_of_service,
        rx_number=rx.rx_number,
        ndc=drug.ndc,
        quantity=s.quantity,
        days_supply=s.days_supply,
        fill_number=s.fill_number,
        ingredient_cost_submitted=ingredient,
        usual_and_customary=usual,
        dispensing_fee_submitted=fee,
        drug=drug_traits(drug),
        patient_date_of_birth=s.patient.date_of_birth,
        patient_sex=s.patient.sex,
        pharmacy_npi=s.pharmacy.npi or "",
        prescriber_npi=rx.prescriber.npi if rx.prescriber_id else "",
        date_written=rx.written_date,
        refills_authorized=rx.refills_authorized,
        scc_codes=tuple(s.scc_codes),
        prior_auth_number=s.prior_auth_number,
        coordination=b.coordination,
        other_payer_amount_paid=primary.plan_pay if primary else None,
        other_payer_patient_responsibility=primary.patient_pay if primary else None,
    )
    plan = PlanData(
        rules=rules,
        cost_sharing=CostSharing(
            copay=coverage.copay_amount,
            coinsurance_percent=coverage.coinsurance_percent,
            coinsurance_minimum=coverage.coinsurance_minimum,
            coinsurance_maximum=coverage.coinsurance_maximum,
        ),
        effective_from=coverage.effective_from,
        effective_to=coverage.effective_to,
        benefit_phase=BenefitPhase(coverage.benefit_phase),
        product=ctx.product(rules, drug),
        other_payer_first=b.coordination == 1
        and ctx.pays_before(coverage, s.date_of_service) is not None,
    )
    return request, plan


def claim_row(b: Billing, request: ClaimRequest, response: ClaimResponse, *, actor, now):
    s, coverage = b.subject, b.coverage
    return Claim(
        organization_id=s.patient.organization_id,
        pharmacy=s.pharmacy,
        patient=s.patient,
        prescription=s.prescription,
        coverage=coverage,
        cycle_item_id=s.cycle_item_id,
        transaction=str(b.transaction),
        coordination=b.coordination,
        original=b.original,
        primary_claim=b.primary,
        payer_name=coverage.payer_name,
        bin=coverage.bin,
        pcn=coverage.pcn,
        group=coverage.group,
        member_id=coverage.member_id,
        status=STATUS_OF[response.status],
        date_of_service=s.date_of_service,
        ndc=request.ndc,
        quantity=s.quantity,
        days_supply=s.days_supply,
        fill_number=s.fill_number,
        scc_codes=list(s.scc_codes),
        prior_auth_number=s.prior_auth_number,
        ingredient_cost_submitted=request.ingredient_cost_submitted,
        usual_and_customary=request.usual_and_customary,
        dispensing_fee_submitted=request.dispensing_fee_submitted,
        gross_amount_due=request.gross_amount_due,
        ingredient_cost_paid=response.ingredient_cost_paid if response.paid else None,
        dispensing_fee_paid=response.dispensing_fee_paid if response.paid else None,
        patient_pay=response.patient_pay if response.paid else None,
        plan_pay=response.plan_pay if response.paid else None,
        other_payer_amount_paid=request.other_payer_amount_paid,
        basis_of_reimbursement=str(response.basis or ""),
        pay_explanation=response.pay_explanation[:300],
        authorization_number=response.authorization_number,
        reject_codes=list(response.reject_codes),
        reject_messages=[m[:300] for m in response.messages],
        dur_warnings=list(response.dur_warnings),
        request_record=ncpdp.request_record(request),
        response_record=ncpdp.response_record(response),
        gateway=get_gateway().name,
        submitted_by=actor,
        submitted_at=now,
        adjudicated_at=now,
    )
