"""The inventory forecast and workload engines on worked examples and invariants."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.forecast import NdcDemand, forecast_ndc, order_days
from reports.workload import Minutes, day_load, hours

MON = dt.date(2026, 3, 2)
D = Decimal


def day(n: int) -> dt.date:
    return MON + dt.timedelta(days=n)


def test_due_is_planned_minus_filled_and_orders_round_up_to_packages():
    demand = NdcDemand(
        "00093715598",
        "Atorvastatin 20 mg",
        D("90"),
        planned={day(1): D("60"), day(3): D("30"), day(8): D("100")},
        filled={day(1): D("30")},
        on_hand=D("40"),
    )
    # Orders Monday and Thursday, delivered Tuesday (day 1) and Friday (day 4), then the
    # following Tuesday (day 8) ...
    result = forecast_ndc(demand, start=MON, days=10, order_weekdays=[0, 3])
    assert [d.due for d in result.days[:4]] == [0, 30, 0, 30]
    # Tuesday's delivery covers days 1-3: 60 due, 40 on hand -> 20 -> one bottle of 90.
    first = result.orders[0]
    assert (first.order_day, first.arrives, first.covers_to) == (MON, day(1), day(3))
    assert (first.due_in_period, first.packages, first.quantity) == (D("60"), 1, D("90"))
    # Stock: 40 + 90 - 30 (day 1) - 30 (day 3) = 70 by Friday; Friday's order covers days
    # 4-7 (nothing due): none. Tuesday day 8 covers 100 - 70 -> one bottle.
    assert [o.order_day for o in result.orders] == [MON, day(7)]
    assert result.days[-1].stock_after == D("60")
    assert result.short_on is None
    assert result.total_due == D("160")


def test_a_shelf_that_runs_out_before_the_first_delivery_is_flagged():
    demand = NdcDemand("1" * 11, "X", D("30"), planned={MON: D("10")}, on_hand=None)
    result = forecast_ndc(demand, start=MON, days=5, order_weekdays=[2])
    assert result.short_on == MON
    assert order_days(MON, 5, [2]) == [day(2)]


def test_no_order_days_means_no_orders():
    demand = NdcDemand("1" * 11, "X", D("30"), planned={day(2): D("10")}, on_hand=D("0"))
    assert forecast_ndc(demand, start=MON, days=5, order_weekdays=[]).orders == ()
    with pytest.raises(ValueError):
        forecast_ndc(demand, start=MON, days=0, order_weekdays=[])


quantities = st.dictionaries(
    st.integers(0, 20).map(day), st.integers(0, 500).map(Decimal), max_size=10
)


@given(
    planned=quantities,
    on_hand=st.integers(0, 300).map(Decimal),
    weekdays=st.sets(st.integers(0, 6), min_size=1),
    package=st.integers(1, 120).map(Decimal),
)
def test_orders_keep_the_shelf_stocked_after_the_first_delivery(
    planned, on_hand, weekdays, package
):
    demand = NdcDemand("1" * 11, "X", package, planned=planned, on_hand=on_hand)
    result = forecast_ndc(demand, start=MON, days=21, order_weekdays=weekdays)
    first_arrival = min((o.arrives for o in result.orders), default=None)
    arrivals = [d + dt.timedelta(days=1) for d in order_days(MON, 21, weekdays)]
    for row in result.days:
        if arrivals and row.day >= arrivals[0]:
            assert row.stock_after >= 0
    for order in result.orders:
        assert order.quantity == order.packages * package and order.packages > 0
    assert sum(d.due for d in result.days) == sum(planned.values())
    assert first_arrival is None or first_arrival >= arrivals[0]


def test_workload_minutes_and_hours():
    minutes = Minutes(4, 2, 5, 3, 5)
    load = day_load(MON, fills=10, verifications=12, prep_calls=6, pickups=5, minutes=minutes)
    assert load.tech_minutes == 10 * 4 + 6 * 5 + 5 * 3
    assert load.pharmacist_minutes == 12 * 2 + 5 * 5
    assert load.tech_hours == Decimal("1.4") and load.pharmacist_hours == Decimal("0.8")
    assert hours(90) == Decimal("1.5")
    with pytest.raises(ValueError):
        day_load(MON, fills=-1, verifications=0, prep_calls=0, pickups=0, minutes=minutes)
