"""Quantities, days and limits of one fill: whole units and packages (with the per-container
rule for pens and vials), the prescription's per-fill cap and refill consolidation, and the
plan's limits (reject 76). Pure: no ORM (DOMAIN.md sections 2, 3 and 5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from billing.proration import REFILL_CONSOLIDATION_MAX_DAYS
from patients.supply import container_days, days_covered, package_days
from scheduling.alignment.shapes import PlannedFill, PlanWarning, RxInput, WarningCode

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def fmt(day: date) -> str:
    """'Fri 3/20': how a pharmacist writes a date on the sync calendar."""
    return f"{_WEEKDAYS[day.weekday()]} {day.month}/{day.day}"


def num(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")


def ceil_to(quantity: Decimal, unit: Decimal) -> Decimal:
    units = (quantity / unit).to_integral_value(rounding=ROUND_CEILING)
    return units * unit


def floor_to(quantity: Decimal, unit: Decimal) -> Decimal:
    units = (quantity / unit).to_integral_value(rounding=ROUND_FLOOR)
    return units * unit


def package_days_of(rx: RxInput, packages: int) -> int:
    """Days ``packages`` whole packages last: each container (a pen, a vial, an inhaler) until
    empty or its beyond-use limit, priming included, rounded down once (DOMAIN 2)."""
    return package_days(
        packages=packages,
        containers_per_package=rx.containers_per_package,
        units_each=rx.package_size / rx.containers_per_package,
        daily_units=rx.daily_dose,
        priming_per_day=rx.priming_per_day,
        in_use_days=rx.beyond_use_days,
    )


def packages_for(rx: RxInput, days: int) -> int:
    """The fewest whole packages that last at least ``days`` days (at least one)."""
    per_package = rx.containers_per_package * container_days(
        units_each=rx.package_size / rx.containers_per_package,
        daily_units=rx.daily_dose,
        priming_per_day=rx.priming_per_day,
        in_use_days=rx.beyond_use_days,
    )
    packages = max(1, math.ceil(days / per_package))
    while packages > 1 and package_days_of(rx, packages - 1) >= days:
        packages -= 1
    while package_days_of(rx, packages) < days:  # guard against rounding at the boundary
        packages += 1
    return packages


def days_for(rx: RxInput, quantity: Decimal, *, packaged: bool) -> int:
    """The days a claim states for this quantity: whole packages by the container rule,
    anything else quantity / daily dose rounded down (4 tablets at 0.5 a day: 8 days)."""
    if packaged:
        return package_days_of(rx, int(quantity / rx.package_size))
    return days_covered(quantity, rx.daily_dose)


def per_fill_cap(rx: RxInput) -> Decimal | None:
    """The most one fill may carry by the prescription: its written quantity, or up to a
    90-day supply where the plan and state allow refill consolidation (DOMAIN 2)."""
    if rx.written_quantity is None:
        return None
    if not rx.refill_consolidation:
        return rx.written_quantity
    if rx.unit_of_use:
        packages = 1
        while packages < 1000 and package_days_of(rx, packages + 1) <= (
            REFILL_CONSOLIDATION_MAX_DAYS
        ):
            packages += 1
        return max(rx.written_quantity, packages * rx.package_size)
    ninety = floor_to(REFILL_CONSOLIDATION_MAX_DAYS * rx.daily_dose, rx.dispensable_unit)
    return max(rx.written_quantity, ninety)


def refills_used(rx: RxInput, quantity: Decimal) -> int:
    """A fill uses one refill; a consolidated fill uses one per written quantity it holds."""
    written = rx.written_quantity
    if written is None or quantity <= written:
        return 1
    return int((quantity / written).to_integral_value(rounding=ROUND_CEILING))


def within_plan_limits(
    rx: RxInput, *, packages: int | None, needed: Decimal, fill_date: date, name: str
) -> tuple[Decimal, int | None, PlanWarning | None]:
    """Cut a fill to the plan's maximum days supply and quantity per fill (reject 76): the
    largest whole package, or whole units, within the limit, with the reason. Returns the
    quantity, the packages (None: not packaged) and the warning (None: within the limits)."""
    plan = rx.plan
    max_days, max_qty = plan.max_days_supply_per_fill, plan.max_quantity_per_fill
    if max_days is None and max_qty is None:
        return needed, packages, None

    def over(count: int) -> bool:
        return (max_days is not None and package_days_of(rx, count) > max_days) or (
            max_qty is not None and count * rx.package_size > max_qty
        )

    if packages is not None:
        kept = packages
        while kept > 1 and over(kept):
            kept -= 1
        if kept == packages and not over(kept):
            return needed, packages, None
        limit = kept * rx.package_size
        note = (
            "even one package is over the plan's limit: ask the plan for an override "
            "(reject 76) or a smaller package"
            if over(kept)
            else f"cut to {kept} whole package(s), {package_days_of(rx, kept)} days"
        )
        packages = kept
    else:
        limit = needed
        if max_days is not None:
            limit = min(limit, floor_to(max_days * rx.daily_dose, rx.dispensable_unit))
        if max_qty is not None:
            limit = min(limit, floor_to(max_qty, rx.dispensable_unit))
        if limit >= needed:
            return needed, None, None
        note = f"cut to {num(limit)}, {days_covered(limit, rx.daily_dose)} days"
    words = []
    if max_days is not None:
        words.append(f"{max_days} days")
    if max_qty is not None:
        words.append(f"{num(max_qty)} units")
    warning = PlanWarning(
        WarningCode.PLAN_LIMIT,
        f"{name}: the plan pays at most {' and '.join(words)} a fill (reject 76); the fill on "
        f"{fmt(fill_date)} needs {num(needed)}: {note}.",
        quantity_needed=needed,
        quantity_authorized=limit,
    )
    return limit, packages, warning


def quantity_per_period_warning(
    rx: RxInput, planned: Sequence[PlannedFill], name: str
) -> PlanWarning | None:
    """The plan's quantity per period (e.g. 30 per 30 days) against the planned fills."""
    plan = rx.plan
    if plan.quantity_per_period is None or plan.quantity_period_days is None:
        return None
    period = timedelta(days=plan.quantity_period_days)
    for fill in planned:
        window = [f for f in planned if fill.fill_date - period < f.fill_date <= fill.fill_date]
        total = sum((f.quantity for f in window), Decimal("0"))
        if total > plan.quantity_per_period:
            return PlanWarning(
                WarningCode.PLAN_LIMIT,
                f"{name}: {num(total)} dispensed in {plan.quantity_period_days} days by "
                f"{fmt(fill.fill_date)}, over the plan's {num(plan.quantity_per_period)} per "
                f"{plan.quantity_period_days} days (reject 76): ask the plan for an override "
                "or move the fill.",
                quantity_needed=total,
                quantity_authorized=plan.quantity_per_period,
            )
    return None
