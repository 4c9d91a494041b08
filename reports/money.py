"""What a fill is worth, for the program reports: the one place the reports price fills.

A fill billed through MedSync (a cycle item with a claim) is worth what its latest primary
bill (B1/B3) was paid: plan pay + patient pay, the whole reimbursement (a secondary pays out
of the primary's patient pay); a claim since reversed keeps the amount that was reversed.
Any other fill (history, or no claim yet) is priced as its claim would be (DOMAIN 5):
insured, the pharmacy's acquisition cost x quantity plus the plan's dispensing fee; cash
(no coverage), the usual-and-customary price x quantity; an NDC without a price-list row is
worth nothing here (counted, not priced). Queries: the claims, the price list rows, and the
plan rules unless the caller has them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from billing.claim_models import Claim, ClaimStatus, ClaimTransaction
from billing.proration import PlanRules, round_cents
from billing.selectors import plan_rules_for_many
from patients.models import Coverage, PriceListEntry
from scheduling.models import CycleItem

ZERO = Decimal("0")


@dataclass(frozen=True)
class FillToPrice:
    key: Hashable
    pharmacy_id: int
    ndc: str
    quantity: Decimal
    coverage: Coverage | None
    cycle_item_id: int | None = None


def claim_amounts(item_ids: Iterable[int]) -> dict[int, Decimal]:
    """Per cycle item, plan pay + patient pay of its latest primary bill that was paid
    (still paid, or reversed since). One query."""
    ids = sorted({int(i) for i in item_ids if i is not None})
    if not ids:
        return {}
    rows = (
        Claim.objects.filter(
            cycle_item_id__in=ids,
            coordination=1,
            transaction__in=[ClaimTransaction.BILL, ClaimTransaction.REBILL],
            status__in=[ClaimStatus.PAID, ClaimStatus.REVERSED],
        )
        .order_by("cycle_item_id", "-submitted_at", "-id")
        .distinct("cycle_item_id")
        .values_list("cycle_item_id", "plan_pay", "patient_pay")
    )
    return {item: (plan or ZERO) + (patient or ZERO) for item, plan, patient in rows}


def _claim_total():
    """The latest paid (or since reversed) primary bill's plan + patient pay of the cycle
    item in the outer query (served by the claims' per-item index)."""
    latest = (
        Claim.objects.filter(
            cycle_item_id=OuterRef("pk"),
            coordination=1,
            transaction__in=[ClaimTransaction.BILL, ClaimTransaction.REBILL],
            status__in=[ClaimStatus.PAID, ClaimStatus.REVERSED],
        )
        .order_by("-submitted_at", "-id")
        .annotate(total=Coalesce("plan_pay", ZERO) + Coalesce("patient_pay", ZERO))
        .values("total")[:1]
    )
    return Subquery(latest)


def claims_of_fills(
    fill_ids: Iterable[int], item_ids: Iterable[int] = ()
) -> tuple[dict[int, int], dict[int, Decimal]]:
    """(fill id -> the cycle item that made it, cycle item -> its claim amount) for these
    fills and these cycle items, in one query."""
    fill_ids, item_ids = list(fill_ids), list(item_ids)
    if not fill_ids and not item_ids:
        return {}, {}
    rows = (
        CycleItem.objects.filter(Q(fill_id__in=fill_ids) | Q(pk__in=item_ids))
        .annotate(claim_total=_claim_total())
        .order_by()
        .values_list("pk", "fill_id", "claim_total")
    )
    item_of_fill, amounts = {}, {}
    for item_id, fill_id, total in rows:
        if fill_id is not None:
            item_of_fill[fill_id] = item_id
        if total is not None:
            amounts[item_id] = total
    return item_of_fill, amounts


def fill_values(
    fills: Iterable[FillToPrice],
    *,
    rules: dict[int, PlanRules] | None = None,
    claimed: dict[int, Decimal] | None = None,
) -> dict[Hashable, Decimal]:
    """Each fill's value, keyed by its `key` (see the module docstring). `claimed` (cycle
    item -> claim amount, from claims_of_fills) saves the claims query."""
    fills = list(fills)
    if not fills:
        return {}
    if claimed is None:
        claimed = claim_amounts(f.cycle_item_id for f in fills)
    values: dict[Hashable, Decimal] = {}
    for fill in fills:
        if fill.cycle_item_id in claimed:
            values[fill.key] = claimed[fill.cycle_item_id]
    fills = [f for f in fills if f.key not in values]
    if not fills:
        return values
    prices = {
        (pharmacy_id, ndc): (acquisition, usual)
        for pharmacy_id, ndc, acquisition, usual in PriceListEntry.objects.filter(
            pharmacy_id__in={f.pharmacy_id for f in fills}, ndc__in={f.ndc for f in fills}
        ).values_list("pharmacy_id", "ndc", "acquisition_cost", "usual_and_customary")
    }
    if rules is None:
        coverages = {f.coverage.pk: f.coverage for f in fills if f.coverage is not None}
        rules = plan_rules_for_many(coverages.values()) if coverages else {}
    for fill in fills:
        price = prices.get((fill.pharmacy_id, fill.ndc))
        if price is None:
            values[fill.key] = ZERO
            continue
        acquisition, usual = price
        if fill.coverage is None or fill.coverage.plan_type == "cash":
            values[fill.key] = round_cents(usual * fill.quantity)
        else:
            fee = rules[fill.coverage.pk].dispensing_fee
            values[fill.key] = round_cents(acquisition * fill.quantity) + round_cents(fee)
    return values
