"""The fix for a plan-limit reject (76): the fill cut to what the plan allows. Pure (no Django).

DOMAIN 5: on a days-supply or quantity limit, cut to the smallest unbreakable package that
fits and document it. A product dispensed in its original container (an inhaler, an insulin
carton, eye drops) is cut to the most whole packages under the limit, never fewer than one
(one package over the limit is billed at the plan's maximum days, documented); a product
counted out of a bulk bottle is cut to the whole units the limit allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Cut:
    quantity: Decimal
    days_supply: int
    note: str


def cut_to_plan_limit(
    *,
    quantity: Decimal,
    days_supply: int,
    daily_dose: Decimal,
    package_size: Decimal,
    unit_of_use: bool,
    max_days: int | None,
    max_quantity: Decimal | None,
) -> Cut | None:
    """The fill cut to fit the plan's limits, or None when it already fits (or no limit is
    known, so there is nothing to cut to)."""
    limit = quantity
    if max_days:
        limit = min(limit, Decimal(max_days) * daily_dose)
    if max_quantity:
        limit = min(limit, max_quantity)
    if limit >= quantity:
        return None
    if unit_of_use:
        packages = max(1, math.floor(limit / package_size))
        cut = Decimal(packages) * package_size
        what = f"{packages} whole package{'s' if packages != 1 else ''} of {package_size:g}"
    else:
        cut = Decimal(math.floor(limit))
        what = f"{cut:g} units"
    if cut <= 0:
        return None
    days = max(1, math.floor(cut / daily_dose))
    if max_days:
        days = min(days, max_days)
    return Cut(
        quantity=cut,
        days_supply=days,
        note=f"Cut from {quantity:g} to {what} for {days} days to fit the plan's limit (76).",
    )
