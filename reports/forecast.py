"""The inventory forecast (pure: no Django): per NDC, what the sync calendar will take off the
shelf each day, and what to order on each wholesaler order day.

Contract:

- `due` on a day = the quantity of the planned fills of that NDC dated that day minus the
  quantity of those already filled (never below zero). A filled fill is already off the
  shelf (in its bag), so it no longer draws on the stock counted on hand.
- Stock starts at the on-hand count (none counted: zero) and each day's due is taken from it.
- An order placed on an order day arrives the next day. It covers what is due from its
  arrival up to the day before the next order's arrival (the last order: to the end of the
  window), less the stock projected for its arrival morning; rounded up to whole packages
  (a partial bottle cannot be ordered), plus any shortfall before it (those fills wait for
  the delivery). No order when the stock covers the period.
- `short_on` is the first day the stock would run out before any order can arrive.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal("0")
ORDER_LEAD_DAYS = 1  # the wholesaler delivers the day after the order


@dataclass(frozen=True)
class NdcDemand:
    ndc: str
    name: str
    package_size: Decimal
    planned: Mapping[dt.date, Decimal] = field(default_factory=dict)
    filled: Mapping[dt.date, Decimal] = field(default_factory=dict)
    on_hand: Decimal | None = None


@dataclass(frozen=True)
class ForecastDay:
    day: dt.date
    planned: Decimal
    filled: Decimal
    due: Decimal
    arriving: Decimal
    stock_after: Decimal


@dataclass(frozen=True)
class OrderSuggestion:
    order_day: dt.date
    arrives: dt.date
    covers_to: dt.date
    due_in_period: Decimal
    quantity: Decimal
    packages: int


@dataclass(frozen=True)
class NdcForecast:
    ndc: str
    name: str
    package_size: Decimal
    on_hand: Decimal | None
    days: tuple[ForecastDay, ...]
    orders: tuple[OrderSuggestion, ...]
    short_on: dt.date | None

    @property
    def total_due(self) -> Decimal:
        return sum((d.due for d in self.days), ZERO)

    @property
    def total_to_order(self) -> Decimal:
        return sum((o.quantity for o in self.orders), ZERO)


def order_days(start: dt.date, days: int, weekdays: Iterable[int]) -> list[dt.date]:
    """The order days from `start` whose delivery arrives inside the window."""
    wanted = set(weekdays)
    return [
        day
        for n in range(days - ORDER_LEAD_DAYS)
        if (day := start + dt.timedelta(days=n)).weekday() in wanted
    ]


def forecast_ndc(
    demand: NdcDemand, *, start: dt.date, days: int, order_weekdays: Iterable[int]
) -> NdcForecast:
    if days < 1:
        raise ValueError("A forecast covers at least one day.")
    window = [start + dt.timedelta(days=n) for n in range(days)]
    due = {d: max(ZERO, demand.planned.get(d, ZERO) - demand.filled.get(d, ZERO)) for d in window}
    orders_on = order_days(start, days, order_weekdays)
    arrivals = [d + dt.timedelta(days=ORDER_LEAD_DAYS) for d in orders_on]
    package = demand.package_size if demand.package_size > 0 else Decimal("1")
    stock = demand.on_hand if demand.on_hand is not None else ZERO
    arriving: dict[dt.date, Decimal] = {}
    orders: list[OrderSuggestion] = []
    short_on = None
    rows = []
    arrival_index = {day: n for n, day in enumerate(arrivals)}
    position = {d: n for n, d in enumerate(window)}
    running = [ZERO]  # running[n] = due over the first n days of the window
    for d in window:
        running.append(running[-1] + due[d])
    first_arrival = arrivals[0] if arrivals else None
    for day in window:
        if day in arrival_index:
            index = arrival_index[day]
            until = arrivals[index + 1] if index + 1 < len(arrivals) else window[-1]
            if index + 1 < len(arrivals):
                until -= dt.timedelta(days=1)
            period_due = running[position[until] + 1] - running[position[day]]
            needed = max(ZERO, period_due - stock)  # a shortfall so far is owed too
            packages = math.ceil(needed / package) if needed > 0 else 0
            quantity = package * packages
            if packages:
                orders.append(
                    OrderSuggestion(orders_on[index], day, until, period_due, quantity, packages)
                )
                arriving[day] = quantity
                stock += quantity
        stock -= due[day]
        if stock < 0 and short_on is None and (first_arrival is None or day < first_arrival):
            short_on = day
        rows.append(
            ForecastDay(
                day,
                demand.planned.get(day, ZERO),
                demand.filled.get(day, ZERO),
                due[day],
                arriving.get(day, ZERO),
                stock,
            )
        )
    return NdcForecast(
        demand.ndc,
        demand.name,
        demand.package_size,
        demand.on_hand,
        tuple(rows),
        tuple(orders),
        short_on,
    )
