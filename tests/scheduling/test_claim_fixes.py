"""The plan-limit fix (scheduling/claim_fixes.py): cut to the smallest whole package that fits."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from scheduling.claim_fixes import cut_to_plan_limit

D = Decimal


def test_tablets_from_a_bulk_bottle_are_cut_to_the_days_limit():
    cut = cut_to_plan_limit(
        quantity=D(90), days_supply=90, daily_dose=D(1), package_size=D(1000),
        unit_of_use=False, max_days=34, max_quantity=None,
    )  # fmt: skip
    assert (cut.quantity, cut.days_supply) == (D(34), 34)
    assert "(76)" in cut.note


def test_an_inhaler_is_cut_to_whole_packages_never_below_one():
    two = cut_to_plan_limit(
        quantity=D(600), days_supply=75, daily_dose=D(8), package_size=D(200),
        unit_of_use=True, max_days=60, max_quantity=None,
    )  # fmt: skip
    assert (two.quantity, two.days_supply) == (D(400), 50)
    one = cut_to_plan_limit(
        quantity=D(400), days_supply=50, daily_dose=D(8), package_size=D(200),
        unit_of_use=True, max_days=10, max_quantity=None,
    )  # fmt: skip
    assert (one.quantity, one.days_supply) == (D(200), 10)  # one carton, billed at the max


def test_a_quantity_limit_and_nothing_to_cut():
    cut = cut_to_plan_limit(
        quantity=D(60), days_supply=30, daily_dose=D(2), package_size=D(100),
        unit_of_use=False, max_days=None, max_quantity=D(45),
    )  # fmt: skip
    assert (cut.quantity, cut.days_supply) == (D(45), 22)
    assert cut_to_plan_limit(
        quantity=D(30), days_supply=30, daily_dose=D(1), package_size=D(100),
        unit_of_use=False, max_days=30, max_quantity=None,
    ) is None  # fmt: skip


@given(
    st.integers(1, 400), st.integers(1, 4), st.integers(1, 300), st.booleans(),
    st.one_of(st.none(), st.integers(1, 120)), st.one_of(st.none(), st.integers(1, 500)),
)  # fmt: skip
def test_a_cut_never_grows_the_fill_and_fits_unless_one_package_is_too_big(
    quantity, dose, package, unit_of_use, max_days, max_quantity
):
    q = D(quantity)
    cut = cut_to_plan_limit(
        quantity=q, days_supply=max(1, quantity // dose), daily_dose=D(dose),
        package_size=D(package), unit_of_use=unit_of_use, max_days=max_days,
        max_quantity=D(max_quantity) if max_quantity else None,
    )  # fmt: skip
    if cut is None:
        return
    assert cut.quantity < q or (unit_of_use and cut.quantity == D(package))
    assert cut.days_supply >= 1
    if max_days:
        assert cut.days_supply <= max_days
    if unit_of_use:
        assert cut.quantity % D(package) == 0
        if cut.quantity > D(package):
            assert not max_quantity or cut.quantity <= max_quantity
    elif max_quantity:
        assert cut.quantity <= max_quantity
