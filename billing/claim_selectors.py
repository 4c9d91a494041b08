"""Reads of claims that the fill queue, the claims pages, the API and the jobs share.

Re-exported by billing.selectors. Every read runs in the active tenant (django-scopes) and,
for a member, only over the pharmacies they may see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from billing.claim_models import Claim, ClaimStatus, ClaimStatusChange, ClaimTransaction
from medsync.models import Membership, Organization
from medsync.selectors import limit_to_visible_pharmacies

BILLS = (ClaimTransaction.BILL, ClaimTransaction.REBILL)
CLAIM_FILTER_STATUSES = tuple(s.value for s in ClaimStatus)


def latest_claims_for_items(
    organization: Organization, item_ids: Iterable[int]
) -> dict[int, Claim]:
    """The latest bill (B1/B3) to the first payer of each cycle item: paid, rejected or
    reversed. One query."""
    ids = list({int(i) for i in item_ids})
    if not ids:
        return {}
    rows = (
        Claim.objects.filter(
            organization=organization, cycle_item_id__in=ids, coordination=1, transaction__in=BILLS
        )
        .order_by("cycle_item_id", "-submitted_at", "-id")
        .distinct("cycle_item_id")
    )
    return {claim.cycle_item_id: claim for claim in rows}


def paid_claims_for_items(item_ids: Iterable[int]) -> dict[int, Claim]:
    """The standing (paid, not reversed) first-payer claim of each item. One query."""
    return {
        claim.cycle_item_id: claim
        for claim in Claim.objects.filter(
            cycle_item_id__in=list(item_ids), coordination=1, status=ClaimStatus.PAID
        ).select_related("coverage", "patient", "pharmacy", "prescription__drug")
    }


def claim_list(
    *,
    membership: Membership | None,
    status: str = "",
    reject_code: str = "",
    patient_public_id=None,
    transaction: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    plan: str = "",
) -> QuerySet[Claim]:
    """Claims newest first, filtered; joins what a list row shows (a fixed query count).
    `plan` matches the payer's name (part of it, any case) or the BIN exactly."""
    claims = Claim.objects.select_related("patient", "prescription__drug", "pharmacy")
    claims = limit_to_visible_pharmacies(claims, membership)
    if status:
        claims = claims.filter(status=status)
    if reject_code:
        claims = claims.filter(reject_codes__contains=[reject_code])
    if patient_public_id:
        claims = claims.filter(patient__public_id=patient_public_id)
    if transaction:
        claims = claims.filter(transaction=transaction)
    if date_from:
        claims = claims.filter(date_of_service__gte=date_from)
    if date_to:
        claims = claims.filter(date_of_service__lte=date_to)
    if plan:
        claims = claims.filter(Q(payer_name__icontains=plan) | Q(bin=plan))
    return claims.order_by("-submitted_at", "-id")


def claim_detail(*, membership: Membership | None, public_id) -> Claim:
    """One claim with its history (raises Claim.DoesNotExist when not visible)."""
    return (
        claim_list(membership=membership)
        .select_related("coverage", "original", "primary_claim", "submitted_by")
        .prefetch_related("history__actor")
        .get(public_id=public_id)
    )


def claim_history(claim: Claim) -> QuerySet[ClaimStatusChange]:
    return claim.history.select_related("actor").order_by("changed_at", "id")


def rejects_to_work(*, membership: Membership | None) -> QuerySet[Claim]:
    """Rejected first-payer bills that are still the latest bill of their fill (no later
    claim for the same item)."""
    later = Claim.objects.filter(
        cycle_item_id=OuterRef("cycle_item_id"),
        coordination=1,
        transaction__in=BILLS,
        submitted_at__gte=OuterRef("submitted_at"),
        id__gt=OuterRef("id"),
    )
    return (
        claim_list(membership=membership, status=ClaimStatus.REJECTED)
        .filter(coordination=1, transaction__in=BILLS)
        .exclude(Exists(later))
    )


def reject_counts(*, membership: Membership | None) -> dict[str, int]:
    """How many rejects to work, by code (a claim with two codes counts under each)."""
    counts: dict[str, int] = {}
    for codes in rejects_to_work(membership=membership).values_list("reject_codes", flat=True):
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    return counts
