"""What a fill is worth, for the program reports: the one place the reports price fills.

Until billing's claims are merged the value of a fill is computed as its claim would be
priced (DOMAIN 5): insured, the pharmacy's acquisition cost x quantity plus the plan's
dispensing fee; cash (no coverage), the usual-and-customary price x quantity. A fill whose
NDC has no price-list row is worth nothing here (counted, not priced). Two queries for any
number of fills: the price list rows and the plan rules.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from billing.proration import round_cents
from billing.selectors import plan_rules_for_many
from patients.models import Coverage, PriceListEntry

ZERO = Decimal("0")


@dataclass(frozen=True)
class FillToPrice:
    key: Hashable
    pharmacy_id: int
    ndc: str
    quantity: Decimal
    coverage: Coverage | None


def fill_values(fills: Iterable[FillToPrice]) -> dict[Hashable, Decimal]:
    fills = list(fills)
    if not fills:
        return {}
    prices = {
        (pharmacy_id, ndc): (acquisition, usual)
        for pharmacy_id, ndc, acquisition, usual in PriceListEntry.objects.filter(
            pharmacy_id__in={f.pharmacy_id for f in fills}, ndc__in={f.ndc for f in fills}
        ).values_list("pharmacy_id", "ndc", "acquisition_cost", "usual_and_customary")
    }
    coverages = {f.coverage.pk: f.coverage for f in fills if f.coverage is not None}
    rules = plan_rules_for_many(coverages.values()) if coverages else {}
    values = {}
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
