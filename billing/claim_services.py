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
from dataclasses import replace
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.claim_models import (
    Claim,
    ClaimStatus,
    ClaimStatusChange,
    ClaimTransaction,
    PlanProductRule,
)
from billing.claim_requests import (
    BatchContext,
    Billing,
    ClaimError,
    ClaimSubject,
    build_request,
    claim_row,
)
from billing.gateway import gateway as get_gateway
from billing.simulator import Transaction
from medsync.models import User
from medsync.services import AuditEntry, audit_record_many
from patients.models import PlanType

__all__ = ["ClaimError", "ClaimSubject"]


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


def _adjudicate(batch: list[Billing], ctx: BatchContext, *, actor, now) -> None:
    gw = get_gateway()
    for b in batch:
        request, plan = build_request(b, ctx)
        history = ctx.prior_fills(b.subject)
        if b.transaction == Transaction.REBILL:
            b.response = gw.rebill(request, plan=plan, history=history)
        else:
            b.response = gw.submit(request, plan=plan, history=history)
        b.claim = claim_row(b, request, b.response, actor=actor, now=now)


def _store(batch: list[Billing], *, actor, now) -> None:
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


def _run(batch: list[Billing], ctx: BatchContext, *, actor, now) -> list[Billing]:
    """Bill a batch, then the follow-ups it calls for (41: the other payer first, then this
    one as secondary; a paid primary with a secondary coverage: the secondary)."""
    done: list[Billing] = []
    for _round in range(3):  # the bill, the other payer first (41), the secondary
        if not batch:
            break
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
                    follow.append(Billing(b.subject, first, extra={"then": b.coverage}))
            elif b.claim.status == ClaimStatus.PAID and b.coordination == 1:
                second = b.extra.get("then") or ctx.secondary(b.coverage, day)
                if second is not None and b.claim.patient_pay and b.claim.patient_pay > 0:
                    follow.append(Billing(b.subject, second, coordination=2, primary=b.claim))
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


def _first_billings(subjects: list[ClaimSubject], ctx: BatchContext) -> list[Billing]:
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
        batch.append(Billing(s, coverage))
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
    ctx = BatchContext(subjects)
    done = _run(_first_billings(subjects, ctx), ctx, actor=actor, now=now)
    audit_record_many([_audit(b.claim, "billing.claim.submitted") for b in done], actor=actor)
    return [b.claim for b in done]


@transaction.atomic
def claim_submit(
    *,
    subject: ClaimSubject | None = None,
    actor: User | None,
    scc_codes: list[int] | tuple[int, ...] | None = None,
    pa_number: str | None = None,
    quantity: Decimal | None = None,
    days_supply: int | None = None,
    now: dt.datetime | None = None,
    fill_ref: ClaimSubject | None = None,
) -> Claim:
    """Bill one fill (B1). The keyword corrections replace the subject's values (a resubmit
    with SCC 47, a PA number, a quantity cut to a whole package). Returns the claim the fill
    stands on with its first payer (paid or rejected)."""
    subject = subject or fill_ref  # `fill_ref` is the name the fill-queue brief used
    if subject is None:
        raise ClaimError("Say which fill to bill.", fields={"subject": ["Required."]})
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
    if claim.coordination == 2:
        # A secondary's reject: bill the secondary again after the primary that stands.
        subject = _subject_with(
            subject,
            scc_codes=scc_codes,
            prior_auth_number=pa_number.strip() if pa_number is not None else None,
            quantity=quantity,
            days_supply=days_supply,
        )
        _validate(subject)
        now = now or timezone.now()
        ctx = BatchContext([subject])
        second = Billing(subject, claim.coverage, coordination=2, primary=claim.primary_claim)
        _run([second], ctx, actor=actor, now=now)
        audit_record_many([_audit(second.claim, "billing.claim.submitted")], actor=actor)
        return second.claim
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
        Claim.objects.select_for_update(of=("self",))
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
    ctx = BatchContext([subject_of(original)])
    b = Billing(
        subject_of(original), original.coverage, Transaction.REVERSE, original.coordination,
        original=original,
    )  # fmt: skip
    request, _ = build_request(b, ctx) if original.coverage else (None, None)
    if request is None:
        raise ClaimError("The claim's coverage was deleted.", code="no_coverage")
    response = get_gateway().reverse(request, paid=True)
    b.response = response
    record = claim_row(b, request, response, actor=actor, now=now)
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
    ctx = BatchContext([subject])
    primary = original.primary_claim
    b = Billing(
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


@transaction.atomic
def plan_product_rule_create(
    *,
    plan_rule,
    actor: User | None,
    ndc: str = "",
    generic_name: str = "",
    excluded: bool = False,
    prior_auth_required: bool = False,
    reference_unit_price: Decimal | None = None,
    min_age: int | None = None,
    max_age: int | None = None,
) -> PlanProductRule:
    """Record what a plan says about a product (formulary exclusion, PA list, contract price,
    age range). Raises ValidationError field by field; audited."""
    rule = PlanProductRule(
        plan_rule=plan_rule,
        ndc=(ndc or "").strip(),
        generic_name=(generic_name or "").strip(),
        excluded=excluded,
        prior_auth_required=prior_auth_required,
        reference_unit_price=reference_unit_price,
        min_age=min_age,
        max_age=max_age,
    )
    rule.full_clean(exclude=["organization"])
    rule.save()
    audit_record_many(
        [
            AuditEntry(
                "billing.plan_product_rule.created",
                rule,
                "",
                "",
                {
                    "plan_rule": str(plan_rule.public_id),
                    "ndc": rule.ndc,
                    "generic_name": rule.generic_name,
                    "excluded": excluded,
                    "prior_auth_required": prior_auth_required,
                },
            )
        ],
        actor=actor,
    )
    return rule
