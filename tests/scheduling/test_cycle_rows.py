"""The pure row builders of scheduling/cycle_rows.py: worked examples, and invariants with
hypothesis. No database: plain objects stand in for prescriptions and plan items."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from scheduling.alignment import FillKind, PlannedFill
from scheduling.cycle_rows import (
    cycle_item_rows,
    fill_as_dict,
    jsonable,
    needs_renewal,
    plan_fill_rows,
    recurring_fill,
    renewal_warnings,
    replan_fingerprint,
    round_up,
    with_renewal,
)

D = Decimal
MARCH_12, APRIL_11, MAY_11 = dt.date(2026, 3, 12), dt.date(2026, 4, 11), dt.date(2026, 5, 11)


def planned(day: dt.date, quantity="30", days=30, kind=FillKind.FULL, scc=(), pay="10.00"):
    return PlannedFill(
        fill_date=day,
        quantity=D(quantity),
        days_supply=days,
        kind=kind,
        scc_codes=tuple(scc),
        patient_pay=None if pay is None else D(pay),
        pay=None,
    )


def rx(dose="1", unit_of_use=False, package="1", remaining=5, authorized=5, expires=None):
    return SimpleNamespace(
        daily_dose=D(dose),
        drug=SimpleNamespace(unit_of_use=unit_of_use, package_size=D(package)),
        refills_remaining=remaining,
        refills_authorized=authorized,
        expiration_date=expires or dt.date(2027, 1, 1),
    )


@dataclass
class PlanItem:
    kind: str = FillKind.FULL
    fills: list = field(default_factory=list)
    unit_of_use: bool = False
    recurring_quantity: Decimal = field(default_factory=lambda: D("30.000"))
    recurring_days_supply: int = 30
    recurring_patient_pay: Decimal | None = field(default_factory=lambda: D("10.00"))


# --- Small helpers ---


def test_round_up_rounds_to_whole_units_and_packages():
    assert round_up(D("29.2")) == D("30")
    assert round_up(D("30")) == D("30")
    assert round_up(D("31"), D("30")) == D("60")


@given(st.decimals(min_value=0, max_value=10_000, places=3), st.sampled_from(["1", "7", "30"]))
def test_round_up_never_rounds_down_and_lands_on_a_whole_unit(quantity, unit):
    result = round_up(quantity, D(unit))
    assert result >= quantity
    assert result - quantity < D(unit)
    assert result % D(unit) == 0


def test_jsonable_turns_dates_and_decimals_into_strings_all_the_way_down():
    assert jsonable({"a": [dt.date(2026, 3, 12), D("1.50")], "b": (1, "x")}) == {
        "a": ["2026-03-12", "1.50"],
        "b": [1, "x"],
    }


def test_a_fill_is_stored_with_iso_dates_and_decimal_strings():
    fill = planned(MARCH_12, quantity="8", days=8, kind=FillKind.SHORT, scc=(48,), pay=None)
    assert fill_as_dict(fill) == {
        "fill_date": "2026-03-12",
        "quantity": "8",
        "days_supply": 8,
        "kind": "short",
        "scc_codes": [48],
        "patient_pay": None,
    }


# --- The plan's rows ---


def test_a_fill_nothing_authorizes_keeps_its_planned_size_and_is_marked_blocked():
    rx_plan = SimpleNamespace(
        fills=[
            PlannedFill(MARCH_12, D("0"), 0, FillKind.SHORT, (), None, None),
            PlannedFill(dt.date(2026, 3, 20), D("0"), 0, FillKind.FULL, (48,), None, None),
        ]
    )
    short, full = plan_fill_rows(rx_plan, rx(dose="2"), 30)
    # The short fill lasts until the next planned fill: 8 days of 2 a day.
    assert (short["quantity"], short["days_supply"], short["blocked"]) == ("16", 8, True)
    # The full fill is a whole cycle.
    assert (full["quantity"], full["days_supply"], full["blocked"]) == ("60", 30, True)


def test_a_blocked_unit_of_use_fill_is_rounded_up_to_whole_packages():
    rx_plan = SimpleNamespace(
        fills=[PlannedFill(MARCH_12, D("0"), 0, FillKind.FULL, (), None, None)]
    )
    [row] = plan_fill_rows(rx_plan, rx(dose="1", unit_of_use=True, package="28"), 30)
    assert row["quantity"] == "56"


def test_authorized_fills_are_stored_as_planned():
    rx_plan = SimpleNamespace(fills=[planned(MARCH_12)])
    assert plan_fill_rows(rx_plan, rx(), 30) == [fill_as_dict(planned(MARCH_12))]


def test_a_later_cycle_repeats_the_plans_last_full_fill_without_its_scc():
    fills = [planned(MARCH_12, "8", 8, FillKind.SHORT, (48,)), planned(APRIL_11, "30", 30)]
    assert recurring_fill(rx(), fills, 30) == (D("30"), 30, D("10.00"))


def test_without_a_full_fill_a_later_cycle_fills_a_whole_cycle_unpriced():
    assert recurring_fill(rx(dose="1.5"), [], 30) == (D("45"), 30, None)


# --- A cycle's rows ---


def item_with_plan_fills():
    """The aligning short fill on 3/12 and the first full fill (SCC 48) on 4/11."""
    return PlanItem(
        fills=[
            fill_as_dict(planned(MARCH_12, "8", 8, FillKind.SHORT, (48,))),
            fill_as_dict(planned(APRIL_11, "30", 30, FillKind.FULL, (48,))),
        ]
    )


def test_the_plans_own_fills_land_in_the_cycle_whose_window_holds_them():
    item = item_with_plan_fills()
    first = cycle_item_rows(item, anchor=MARCH_12, previous_anchor=None)
    assert [r["fill_date"] for r in first] == ["2026-03-12"]
    second = cycle_item_rows(item, anchor=APRIL_11, previous_anchor=MARCH_12)
    assert [(r["fill_date"], r["scc_codes"]) for r in second] == [("2026-04-11", [48])]


def test_after_its_planned_fills_a_splittable_rx_fills_a_full_cycle_on_each_anchor():
    rows = cycle_item_rows(item_with_plan_fills(), anchor=MAY_11, previous_anchor=APRIL_11)
    assert rows == [
        {
            "fill_date": "2026-05-11",
            "quantity": "30.000",
            "days_supply": 30,
            "kind": "full",
            "scc_codes": [],
            "patient_pay": "10.00",
        }
    ]


def test_a_window_the_plan_covers_with_a_later_fill_takes_nothing():
    item = PlanItem(fills=[fill_as_dict(planned(APRIL_11))])
    assert cycle_item_rows(item, anchor=MARCH_12, previous_anchor=None) == []


def test_a_unit_of_use_product_past_its_plan_is_left_to_the_alignment_engine():
    item = PlanItem(fills=[fill_as_dict(planned(MARCH_12))], unit_of_use=True)
    assert cycle_item_rows(item, anchor=APRIL_11, previous_anchor=MARCH_12) is None


def test_a_prescription_kept_out_of_sync_takes_no_fill():
    item = PlanItem(kind=FillKind.NOT_SYNCED, fills=[fill_as_dict(planned(MARCH_12))])
    assert cycle_item_rows(item, anchor=MARCH_12, previous_anchor=None) == []


@given(st.integers(min_value=0, max_value=12))
def test_each_planned_fill_lands_in_exactly_one_cycle(cycles_later):
    """Walking the anchors one cycle at a time, every planned fill comes out once."""
    item = item_with_plan_fills()
    anchors = [MARCH_12 + dt.timedelta(days=30 * k) for k in range(cycles_later + 2)]
    seen = []
    previous = None
    for anchor in anchors:
        for row in cycle_item_rows(item, anchor=anchor, previous_anchor=previous) or []:
            if row in item.fills:
                seen.append(row["fill_date"])
        previous = anchor
    assert sorted(seen) == sorted(f["fill_date"] for f in item.fills)


# --- Renewals ---


def check(prescription, fill_date=APRIL_11, next_anchor=MAY_11, ever_filled=True):
    return renewal_warnings(
        prescription, fill_date=fill_date, next_anchor=next_anchor, ever_filled=ever_filled
    )


def test_an_expired_prescription_needs_a_new_one_by_the_fill():
    [warning] = check(rx(expires=dt.date(2026, 4, 1)))
    assert warning == {
        "code": "renewal_needed",
        "message": "Expired Apr 1: request a new prescription.",
        "needed_by": "2026-04-11",
    }


def test_no_refills_left_needs_a_renewal_by_the_fill():
    [warning] = check(rx(remaining=0, authorized=5))
    assert warning["needed_by"] == "2026-04-11"
    assert warning["message"].startswith("No refills left")


def test_an_unfilled_original_still_counts_as_a_fill_left():
    # Never filled and nothing used: the original is still there, so one fill is left.
    [warning] = check(rx(remaining=0, authorized=0), ever_filled=False)
    assert warning["message"].startswith("Last refill")
    assert warning["needed_by"] == "2026-05-11"


def test_expiring_before_the_next_anchor_needs_a_renewal_by_that_anchor():
    [warning] = check(rx(expires=dt.date(2026, 5, 1)))
    assert warning["message"] == "Expires May 1, before the next anchor (May 11)."


def test_plenty_of_refills_and_time_needs_nothing():
    assert check(rx()) == []


def test_the_plans_own_renewal_warning_is_not_repeated():
    plan_warning = {"code": "renewal_needed", "message": "From the plan.", "needed_by": "x"}
    kept = with_renewal(
        [plan_warning], rx(remaining=0), fill_date=APRIL_11, next_anchor=MAY_11, ever_filled=True
    )
    assert kept == [plan_warning]


def test_other_plan_warnings_get_todays_renewal_check_on_top():
    other = {"code": "refill_too_soon", "message": "Too soon."}
    warnings = with_renewal(
        [other], rx(remaining=0), fill_date=APRIL_11, next_anchor=MAY_11, ever_filled=True
    )
    assert warnings[0] == other
    assert needs_renewal(warnings)
    assert not needs_renewal([other])


@given(
    remaining=st.integers(min_value=0, max_value=12),
    authorized=st.integers(min_value=0, max_value=12),
    ever_filled=st.booleans(),
    expires_in=st.integers(min_value=-30, max_value=120),
)
def test_at_most_one_renewal_warning_and_never_needed_before_the_fill(
    remaining, authorized, ever_filled, expires_in
):
    prescription = rx(
        remaining=remaining, authorized=authorized, expires=APRIL_11 + dt.timedelta(expires_in)
    )
    warnings = check(prescription, ever_filled=ever_filled)
    assert len(warnings) <= 1
    for warning in warnings:
        assert warning["needed_by"] in ("2026-04-11", "2026-05-11")
    if remaining > 1 and expires_in >= 30:
        assert warnings == []


# --- Re-plan fingerprints ---


def test_a_change_is_recognised_whatever_the_order_of_its_reasons_and_details():
    one = replan_fingerprint(["new_rx", "dose_change"], ["b", "a"])
    assert one == replan_fingerprint(["dose_change", "new_rx"], ["a", "b"])
    assert one != replan_fingerprint(["new_rx"], ["a", "b"])
    assert one != replan_fingerprint(["new_rx", "dose_change"], ["a", "b"], extra="call 2")
