"""Supply on hand: when each fill's supply is used, the next due date, and how many days a
quantity covers for each dosage form. Pure: no Django, no ORM (DOMAIN.md section 2).

One place for "supply carried forward": planning, the sweeps, re-plans, eligibility and PDC all
walk fills through `carry_forward`, never "last fill date + days supply".

- A fill on F with D days covers F .. F+D-1; a fill picked up before the previous supply of the
  same drug runs out starts the day after it ends (its `start`); a fill whose start was recorded
  (a plan handed it out early, `supply_start`) starts no earlier than that.
- The next due date is the day after the last span ends.
- Days a quantity covers: quantity / daily dose, rounded DOWN to whole days (a half-tablet dose
  rounded up to whole tablets covers the extra day: 4 tablets at 0.5 a day = 8 days).
- Insulin pens and vials (DOMAIN 2): each container is used until empty or until its in-use
  limit, whichever comes first, and each injection wastes a priming dose (pens: 2 units):
  per-container days = min(units / (daily units + priming x injections), in-use days); a
  package's days = containers x per-container days, rounded down once for the package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

# Manufacturers' priming ("safety test") dose of an insulin pen, per injection (DOMAIN 2).
PEN_PRIMING_UNITS = Decimal("2")


@dataclass(frozen=True)
class SupplyFill:
    """One dispensing as the walk sees it."""

    fill_date: date
    days_supply: int
    supply_start: date | None = None  # recorded start (None: the fill date)


@dataclass(frozen=True)
class SupplySpan:
    fill_date: date
    start: date  # first day this fill's supply is used
    end: date  # last day it lasts (inclusive)
    days_supply: int

    @property
    def next_due(self) -> date:
        return self.end + timedelta(days=1)


def carry_forward(fills: Iterable[SupplyFill]) -> list[SupplySpan]:
    """The fills of ONE drug in dispensing order, each starting when the supply before it ends
    (or its recorded start, or its fill date, whichever is latest)."""
    spans: list[SupplySpan] = []
    last_end: date | None = None
    ordered = sorted(fills, key=lambda f: (f.fill_date, f.supply_start or f.fill_date))
    for fill in ordered:
        if fill.days_supply < 1:
            continue
        start = max(fill.fill_date, fill.supply_start or fill.fill_date)
        if last_end is not None and start <= last_end:
            start = last_end + timedelta(days=1)
        end = start + timedelta(days=fill.days_supply - 1)
        spans.append(SupplySpan(fill.fill_date, start, end, fill.days_supply))
        last_end = end
    return spans


def next_due_date(fills: Iterable[SupplyFill]) -> date | None:
    """The day the patient needs the next fill (None: no history)."""
    spans = carry_forward(fills)
    return spans[-1].next_due if spans else None


def days_covered(quantity: Decimal, daily_dose: Decimal) -> int:
    """Whole days a quantity lasts at a daily dose (rounded down: a claim never states more)."""
    if daily_dose <= 0:
        raise ValueError("The daily dose must be above zero.")
    return int((Decimal(quantity) / Decimal(daily_dose)).to_integral_value(rounding=ROUND_FLOOR))


# --- insulin pens and vials -----------------------------------------------------------------

_PENS = re.compile(r"(\d+)\s*x\s*(\d+(?:\.\d+)?)\s*m[lL]\s*pens?", re.IGNORECASE)
_CONCENTRATION = re.compile(r"(\d+)\s*units?\s*/\s*m[lL]", re.IGNORECASE)
_INJECTIONS = (
    (re.compile(r"\b(qid|four times)\b", re.I), 4),
    (re.compile(r"\b(tid|three times|with (each )?meals?|before meals)\b", re.I), 3),
    (re.compile(r"\b(bid|twice|two times|every 12 hours)\b", re.I), 2),
)


@dataclass(frozen=True)
class Containers:
    """How an insulin package is used: `count` containers of `units_each`, each opened one
    lasting at most `in_use_days`, each injection wasting `priming_units`."""

    count: int
    units_each: Decimal
    in_use_days: int | None
    priming_units: Decimal


def insulin_containers(
    *,
    dosage_form: str,
    strength: str,
    package_size: Decimal,
    package_unit: str,
    in_use_days: int | None,
) -> Containers | None:
    """The containers in a catalog row measured in insulin units (None for anything else).

    Pens: "100 units/mL, 5 x 3 mL pens" = 5 pens of 300 units, priming 2 units an injection.
    Vials: one vial of the package's units (10 mL of U-100 = 1000), no priming dose (a syringe
    is not primed). The in-use limit is the catalog's beyond-use days, per container.
    """
    if package_unit.upper() != "UN" or dosage_form not in ("pen", "vial"):
        return None
    count = 1
    if dosage_form == "pen":
        match = _PENS.search(strength or "")
        concentration = _CONCENTRATION.search(strength or "")
        if match and concentration:
            count = int(match.group(1))
            units = Decimal(match.group(2)) * Decimal(concentration.group(1))
            if count * units != Decimal(package_size):
                count = 1  # the text disagrees with the package: trust the package
    priming = PEN_PRIMING_UNITS if dosage_form == "pen" else Decimal("0")
    return Containers(count, Decimal(package_size) / count, in_use_days, priming)


def injections_per_day(sig: str) -> int:
    """Injections a day from an insulin sig (default once: basal insulin)."""
    for pattern, count in _INJECTIONS:
        if pattern.search(sig or ""):
            return count
    return 1


def container_days(
    *,
    units_each: Decimal,
    daily_units: Decimal,
    priming_per_day: Decimal = Decimal("0"),
    in_use_days: int | None = None,
) -> Fraction:
    """Days one opened container lasts: min(units / (dose + priming), in-use limit), exact."""
    used = Fraction(Decimal(daily_units) + Decimal(priming_per_day))
    if used <= 0:
        raise ValueError("The daily dose must be above zero.")
    days = Fraction(Decimal(units_each)) / used
    if in_use_days is not None:
        days = min(days, Fraction(in_use_days))
    return days


def package_days(
    *,
    packages: int,
    containers_per_package: int,
    units_each: Decimal,
    daily_units: Decimal,
    priming_per_day: Decimal = Decimal("0"),
    in_use_days: int | None = None,
) -> int:
    """Days ``packages`` whole packages last: containers x per-container days, rounded down
    once (Lantus SoloStar, 5 x 300 units at 20 + 2 a day: 5 x 13.64 = 68.2 -> 68 days)."""
    per = container_days(
        units_each=units_each,
        daily_units=daily_units,
        priming_per_day=priming_per_day,
        in_use_days=in_use_days,
    )
    return int(per * packages * containers_per_package)
