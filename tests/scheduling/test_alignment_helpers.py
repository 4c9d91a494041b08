"""Builders shared by the alignment, anchor and proration-in-plan tests (no tests here)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from billing.proration import (
    PART_D_PRORATION,
    CostSharing,
    DrugTraits,
    PlanKind,
    PlanRules,
    ProrationPolicy,
    ProrationRules,
)
from scheduling.alignment import RxInput

D = Decimal
TODAY = date(2026, 3, 2)  # a Monday
ANCHOR = date(2026, 3, 20)  # a Friday
CYCLE = 30

PART_D = PlanRules(plan_kind=PlanKind.MEDICARE_PART_D, proration=PART_D_PRORATION)
NY_COMMERCIAL = PlanRules(proration=ProrationRules(policy=ProrationPolicy.DAILY_RATE))
CO_COMMERCIAL = PlanRules(proration=ProrationRules(policy=ProrationPolicy.CAP))
NO_PRORATION = PlanRules(proration=ProrationRules(policy=ProrationPolicy.NONE))
TEN_DOLLAR_COPAY = CostSharing(copay=D("10.00"))


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def tablet(
    rx_id: str,
    *,
    last_fill: date,
    days: int = 30,
    dose: str = "1",
    plan: PlanRules = PART_D,
    cost_sharing: CostSharing = TEN_DOLLAR_COPAY,
    **kwargs,
) -> RxInput:
    """A splittable tablet with plenty authorized, last filled on ``last_fill`` for ``days``."""
    values = {
        "rx_id": rx_id,
        "next_due_date": last_fill + timedelta(days=days),
        "daily_dose": D(dose),
        "package_size": D("1"),
        "fills_remaining": 11,
        "quantity_remaining": D("1000"),
        "expiration_date": d(1, 5, 2027),
        "last_fill_date": last_fill,
        "last_days_supply": days,
        "plan": plan,
        "cost_sharing": cost_sharing,
        "drug": DrugTraits(solid_oral=True),
        "label": rx_id,
    }
    values.update(kwargs)
    return RxInput(**values)


def inhaler(rx_id: str, *, last_fill: date, puffs: str = "120", per_day: str = "4", **kwargs):
    """A unit-of-use inhaler: ``puffs`` per device, ``per_day`` puffs a day."""
    days = int(D(puffs) / D(per_day))
    base = tablet(rx_id, last_fill=last_fill, days=days, dose=per_day, **kwargs)
    return replace(
        base,
        package_size=D(puffs),
        unit_of_use=True,
        drug=DrugTraits(solid_oral=False, unit_of_use=True),
    )


def fills_of(plan, rx_id):
    """(date, quantity, days, kind, codes, pay) for each fill of one prescription."""
    return [
        (f.fill_date, f.quantity, f.days_supply, f.kind.value, f.scc_codes, f.patient_pay)
        for f in plan.item(rx_id).fills
    ]
