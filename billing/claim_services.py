"""Claim writes: submit (B1), resubmit a reject, reverse (B2), rebill (B3), secondary billing.

Re-exported by billing.services (callers import ``billing.services.claim_submit``).

Billing may not import scheduling, so the caller describes the fill it bills with a
``ClaimSubject`` built from its cycle item::

    from billing.services import ClaimSubject, claim_submit

    claim = claim_submit(
        subject=ClaimSubject(
            pharmacy=item.cycle.pharmacy, patient=item.cycle.patient,
            prescription=item.prescription, coverage=item.prescription.coverage,  # None: primary
            cycle_item_id=item.pk, date_of_service=item.fill_date, quantity=item.quantity,
            days_supply=item.days_supply, fill_number=n, scc_codes=tuple(item.scc_codes),
        ),
        actor=request.user,
        scc_codes=None, pa_number=None, quantity=None, days_supply=None,  # corrections
    )
    claim.status  # "paid" or "rejected" (claim.rejects: [{"code", "meaning", "fix"}])

``claims_submit_many(subjects=[...], actor=...)`` bills many fills with a fixed number of
queries per batch (the pre-fill queue, the benchmark). A fill with a paid claim raises
``ClaimError`` (code ``already_paid``; the database's partial unique index decides a race).
A reject 41 bills the other coverage first and then this one as secondary; a paid primary
with a secondary coverage bills the secondary with the other payer amount.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import ncpdp
from billing.claim_models import (
    Claim,
    ClaimStatus,
    ClaimStatusChange,
    ClaimTransaction,
    PlanProductRule,
)
from billing.gateway import gateway as get_gateway
from billing.proration import CostSharing, DrugTraits, PlanRules
from billing.selectors import plan_rules_for_many
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
from medsync.models import Pharmacy, User
from medsync.services import AuditEntry, audit_record_many
from patients.models import (
    Coverage,
    DosageForm,
    Fill,
    Patient,
    PlanType,
    Prescription,
    PriceListEntry,
    TherapeuticClass,
)

TOPICAL_FORMS = {DosageForm.CREAM, DosageForm.PATCH}
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
class _Billing:
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


def drug_traits(drug) -> DrugTraits:
    classes = set(drug.therapeutic_classes or [])
    return DrugTraits(
        solid_oral=drug.is_solid_oral,
        unit_of_use=drug.unit_of_use,
        antibiotic=drug.is_antibiotic or TherapeuticClass.ANTIBIOTIC in classes,
        eye_drops=drug.dosage_form == DosageForm.EYE_DROPS,
        topical=drug.dosage_form in TOPICAL_FORMS,
        insulin=TherapeuticClass.INSULIN in classes,
    )


def _active(coverage: Coverage, day: dt.date) -> bool:
    return coverage.effective_from <= day and (
        coverage.effective_to is None or coverage.effective_to >= day
    )


class _Context:
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
        for coverage in self.coverages.get(subject.patient.pk, []):
            if _active(coverage, subject.date_of_service):
                return coverage
        return None

    def others(self, coverage: Coverage, day: dt.date) -> list[Coverage]:
        return [
            c
            for c in self.coverages.get(coverage.patient_id, [])
            if c.pk != coverage.pk and c.plan_type != PlanType.CASH and _active(c, day)
        ]

    def pays_before(self, coverage: Coverage, day: dt.date) -> Coverage | None:
        """The coverage that must be billed before this one (reject 41), if any."""
        for other in self.others(coverage, day):
            if other.priority < coverage.priority or (
                coverage.plan_type == PlanType.MEDICAID and other.plan_type != PlanType.MEDICAID
            ):
                return other
        return None

    def secondary(self, coverage: Coverage, day: dt.date) -> Coverage | None:
        for other in self.others(coverage, day):
            if other.priority > coverage.priority:
                return other
        return None

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


def _request(b: _Billing, ctx: _Context) -> tuple[ClaimRequest, PlanData]:
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


def _claim_row(b: _Billing, request: ClaimRequest, response: ClaimResponse, *, actor, now):
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


def _history_rows(claim: Claim, *, actor, now) -> list[ClaimStatusChange]:
    note = ", ".join(claim.reject_codes) if claim.reject_codes else claim.authorization_number
    return [
        ClaimStatusChange(
            organization_id=claim.organization_id, claim=claim, from_status="",
            to_status=ClaimStatus.PENDING, changed_at=now, actor=actor,
            note=f"{claim.transaction} sent to {claim.gateway}",
        ),
        ClaimStatusChange(
            organization_id=claim.organization_id, claim=claim, from_status=ClaimStatus.PENDING,
            to_status=claim.status, changed_at=now, actor=None, note=note[:300],
        ),
    ]  # fmt: skip


def _audit(claim: Claim, action: str, **extra) -> AuditEntry:
    return AuditEntry(
        action,
        claim,
        "",
        "",
        {
            "transaction": claim.transaction,
            "status": claim.status,
            "reject_codes": list(claim.reject_codes),
            "cycle_item_id": claim.cycle_item_id,
            "patient": str(claim.patient.public_id),
            "coordination": claim.coordination,
            **extra,
        },
    )


def _adjudicate(batch: list[_Billing], ctx: _Context, *, actor, now) -> None:
    gw = get_gateway()
    for b in batch:
        request, plan = _request(b, ctx)
        history = ctx.prior_fills(b.subject)
        if b.transaction == Transaction.REBILL:
            b.response = gw.rebill(request, plan=plan, history=history)
        else:
            b.response = gw.submit(request, plan=plan, history=history)
        b.claim = _claim_row(b, request, b.response, actor=actor, now=now)


def _store(batch: list[_Billing], *, actor, now) -> None:
    claims = [b.claim for b in batch]
    try:
        with transaction.atomic():
            Claim.objects.bulk_create(claims)
    except IntegrityError as exc:
        raise ClaimError(
            "This fill already has a paid claim with this payer: rebill or reverse it instead.",
            code="already_paid",
        ) from exc
    ClaimStatusChange.objects.bulk_create(
        [row for claim in claims for row in _history_rows(claim, actor=actor, now=now)]
    )


def _run(batch: list[_Billing], ctx: _Context, *, actor, now) -> list[_Billing]:
    """Bill a batch, then the follow-ups it calls for (41: the other payer first, then this
    one as secondary; a paid primary with a secondary coverage: the secondary)."""
    done: list[_Billing] = []
    while batch:
        paid_items = set(
            Claim.objects.filter(
                cycle_item_id__in={b.subject.cycle_item_id for b in batch}, status=ClaimStatus.PAID
            )
            .exclude(pk__in=[b.original.pk for b in batch if b.original])
            .values_list("cycle_item_id", "coordination")
        )
        for b in batch:
            if (b.subject.cycle_item_id, b.coordination) in paid_items:
                raise ClaimError(
                    "This fill already has a paid claim with this payer: rebill or reverse it.",
                    code="already_paid",
                )
        _adjudicate(batch, ctx, actor=actor, now=now)
        _store(batch, actor=actor, now=now)
        done += batch
        follow = []
        for b in batch:
            day = b.subject.date_of_service
            if b.claim.status == ClaimStatus.REJECTED and b.claim.reject_codes == ["41"]:
                first = ctx.pays_before(b.coverage, day)
                if first is not None:
                    follow.append(_Billing(b.subject, first, extra={"then": b.coverage}))
            elif b.claim.status == ClaimStatus.PAID and b.coordination == 1:
                second = b.extra.get("then") or ctx.secondary(b.coverage, day)
                if second is not None and b.claim.patient_pay and b.claim.patient_pay > 0:
                    follow.append(_Billing(b.subject, second, coordination=2, primary=b.claim))
        batch = follow
    return done


def _subject_with(subject: ClaimSubject, **changes) -> ClaimSubject:
    values = {k: v for k, v in changes.items() if v is not None}
    if "scc_codes" in values:
        values["scc_codes"] = tuple(int(c) for c in values["scc_codes"])
    return replace(subject, **values)


def _validate(subject: ClaimSubject) -> None:
    fields = {}
    if subject.quantity is None or Decimal(subject.quantity) <= 0:
        fields["quantity"] = ["Must be above zero."]
    if subject.days_supply is None or not 1 <= int(subject.days_supply) <= 365:
        fields["days_supply"] = ["Between 1 and 365 days."]
    if any(not 0 <= int(c) <= 99 for c in subject.scc_codes):
        fields["scc_codes"] = ["Codes are 0 to 99."]
    if len(subject.scc_codes) > 3:
        fields["scc_codes"] = ["At most 3 codes."]
    if len(subject.prior_auth_number) > 20:
        fields["pa_number"] = ["At most 20 characters."]
    if fields:
        raise ClaimError("The claim has invalid fields.", code="invalid", fields=fields)


def _first_billings(subjects: list[ClaimSubject], ctx: _Context) -> list[_Billing]:
    batch = []
    for s in subjects:
        _validate(s)
        coverage = ctx.primary_coverage(s)
        if coverage is None or coverage.plan_type == PlanType.CASH:
            raise ClaimError(
                "The patient has no insurance coverage on the date of service: a cash sale, "
                "nothing to bill.",
                code="no_coverage",
                fields={"coverage": ["No coverage to bill."]},
            )
        batch.append(_Billing(s, coverage))
    return batch


@transaction.atomic
def claims_submit_many(
    *, subjects: list[ClaimSubject], actor: User | None, now: dt.datetime | None = None
) -> list[Claim]:
    """Bill many fills (B1) through the gateway; returns every claim written (secondaries
    and 41 follow-ups included), audited in one statement."""
    now = now or timezone.now()
    if not subjects:
        return []
    ctx = _Context(subjects)
    done = _run(_first_billings(subjects, ctx), ctx, actor=actor, now=now)
    audit_record_many([_audit(b.claim, "billing.claim.submitted") for b in done], actor=actor)
    return [b.claim for b in done]


@transaction.atomic
def claim_submit(
    *,
    subject: ClaimSubject,
    actor: User | None,
    scc_codes: list[int] | tuple[int, ...] | None = None,
    pa_number: str | None = None,
    quantity: Decimal | None = None,
    days_supply: int | None = None,
    now: dt.datetime | None = None,
) -> Claim:
    """Bill one fill (B1). The keyword corrections replace the subject's values (a resubmit
    with SCC 47, a PA number, a quantity cut to a whole package). Returns the claim the fill
    stands on with its first payer (paid or rejected)."""
    subject = _subject_with(
        subject,
        scc_codes=scc_codes,
        prior_auth_number=pa_number.strip() if pa_number is not None else None,
        quantity=quantity,
        days_supply=days_supply,
    )
    claims = claims_submit_many(subjects=[subject], actor=actor, now=now)
    primary = [c for c in claims if c.coordination == 1]
    return next((c for c in primary if c.status == ClaimStatus.PAID), primary[-1])


def subject_of(claim: Claim) -> ClaimSubject:
    """The fill a stored claim billed, for a resubmit or a rebill."""
    return ClaimSubject(
        pharmacy=claim.pharmacy,
        patient=claim.patient,
        prescription=claim.prescription,
        coverage=claim.coverage,
        cycle_item_id=claim.cycle_item_id,
        date_of_service=claim.date_of_service,
        quantity=claim.quantity,
        days_supply=claim.days_supply,
        fill_number=claim.fill_number,
        scc_codes=tuple(claim.scc_codes),
        prior_auth_number=claim.prior_auth_number,
    )


@transaction.atomic
def claim_resubmit(
    claim: Claim,
    *,
    actor: User | None,
    scc_codes: list[int] | None = None,
    pa_number: str | None = None,
    quantity: Decimal | None = None,
    days_supply: int | None = None,
    now: dt.datetime | None = None,
) -> Claim:
    """Work a reject in one action: a new B1 for the same fill with the corrections."""
    if claim.status != ClaimStatus.REJECTED or claim.transaction == ClaimTransaction.REVERSE:
        raise ClaimError("Only a rejected bill is resubmitted.", code="not_rejected")
    subject = subject_of(claim)
    if claim.coordination == 2 and claim.coverage_id:
        subject = replace(subject, coverage=None)  # bill the primary again, then this one
    return claim_submit(
        subject=subject,
        actor=actor,
        scc_codes=scc_codes,
        pa_number=pa_number,
        quantity=quantity,
        days_supply=days_supply,
        now=now,
    )


def _mark_reversed(claim: Claim, *, actor, now, reason: str) -> None:
    Claim.objects.filter(pk=claim.pk).update(
        status=ClaimStatus.REVERSED, reversed_at=now, reversal_reason=reason[:200]
    )
    ClaimStatusChange.objects.create(
        organization_id=claim.organization_id, claim=claim, from_status=ClaimStatus.PAID,
        to_status=ClaimStatus.REVERSED, changed_at=now, actor=actor, note=reason[:300],
    )  # fmt: skip
    claim.status, claim.reversed_at, claim.reversal_reason = ClaimStatus.REVERSED, now, reason


def _locked_paid(claim: Claim) -> Claim:
    locked = (
        Claim.objects.select_for_update()
        .select_related("pharmacy", "patient", "prescription__drug", "coverage")
        .get(pk=claim.pk)
    )
    if locked.status != ClaimStatus.PAID:
        raise ClaimError(
            f"Only a paid claim can be reversed or rebilled (this one is {locked.status}).",
            code="not_paid",
        )
    return locked


@transaction.atomic
def claim_reverse(
    claim: Claim, *, actor: User | None, reason: str, now: dt.datetime | None = None
) -> Claim:
    """Reverse a paid claim (B2): a paid secondary of the same fill is reversed first. Returns
    the B2 record; the original becomes "reversed"."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ClaimError("Say why the claim is reversed.", fields={"reason": ["Required."]})
    original = _locked_paid(claim)
    if original.coordination == 1:
        for secondary in Claim.objects.filter(
            primary_claim=original, status=ClaimStatus.PAID
        ).select_related("pharmacy", "patient", "prescription__drug", "coverage"):
            claim_reverse(secondary, actor=actor, reason=reason, now=now)
    ctx = _Context([subject_of(original)])
    b = _Billing(
        subject_of(original), original.coverage, Transaction.REVERSE, original.coordination,
        original=original,
    )  # fmt: skip
    request, _ = _request(b, ctx) if original.coverage else (None, None)
    if request is None:
        raise ClaimError("The claim's coverage was deleted.", code="no_coverage")
    response = get_gateway().reverse(request, paid=True)
    b.response = response
    record = _claim_row(b, request, response, actor=actor, now=now)
    record.reversal_reason = reason[:200]
    record.save()
    ClaimStatusChange.objects.bulk_create(_history_rows(record, actor=actor, now=now))
    if record.status == ClaimStatus.ACCEPTED:
        _mark_reversed(original, actor=actor, now=now, reason=reason)
    audit_record_many(
        [_audit(record, "billing.claim.reversed", reason=reason[:200],
                original=str(original.public_id))],
        actor=actor,
    )  # fmt: skip
    return record


@transaction.atomic
def claim_rebill(
    claim: Claim,
    *,
    actor: User | None,
    scc_codes: list[int] | None = None,
    pa_number: str | None = None,
    quantity: Decimal | None = None,
    days_supply: int | None = None,
    now: dt.datetime | None = None,
) -> Claim:
    """Rebill a paid claim (B3) with corrections: paid, it replaces the original (reversed);
    rejected, the original stays paid. Returns the B3 record."""
    now = now or timezone.now()
    original = _locked_paid(claim)
    subject = _subject_with(
        subject_of(original),
        scc_codes=scc_codes,
        prior_auth_number=pa_number.strip() if pa_number is not None else None,
        quantity=quantity,
        days_supply=days_supply,
    )
    _validate(subject)
    ctx = _Context([subject])
    primary = original.primary_claim
    b = _Billing(
        subject, original.coverage, Transaction.REBILL, original.coordination,
        primary=primary, original=original,
    )  # fmt: skip
    _adjudicate([b], ctx, actor=actor, now=now)
    if b.claim.status == ClaimStatus.PAID:
        _mark_reversed(original, actor=actor, now=now, reason="Rebilled (B3)")
    _store([b], actor=actor, now=now)
    audit_record_many(
        [_audit(b.claim, "billing.claim.rebilled", original=str(original.public_id))],
        actor=actor,
    )
    return b.claim
