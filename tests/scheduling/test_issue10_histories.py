"""Issue 10: hypothesis strategies that generate INCONSISTENT fill histories (early pickups,
overlapping fills, late fills and gaps, unit-of-use packages, insulin pens) and check, after the
history is walked with supply carried forward (patients.supply) and the engine plans from it:

- no plan leaves a day without supply (from today through the anchor);
- none dispenses a supply already on hand (a fill's supply never starts before the history's
  supply runs out, and never before the previous planned fill's);
- no claim's quantity and days supply disagree (quantity / daily dose rounded down for
  splittable products; the per-container rule for whole packages, DOMAIN 2).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.proration import DrugTraits
from patients.supply import SupplyFill, carry_forward, days_covered, next_due_date
from scheduling.alignment import FillKind, RxInput, align
from scheduling.alignment.quantities import package_days_of
from tests.scheduling.test_alignment_helpers import PART_D, TODAY, D

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories(draw) -> list[SupplyFill]:
    """Fills of one drug, dated anywhere from 200 days ago to today: picked up early (overlaps),
    late (gaps), twice close together, some with a recorded supply start."""
    count = draw(st.integers(min_value=1, max_value=6))
    fills = []
    for _ in range(count):
        fill_date = TODAY - timedelta(days=draw(st.integers(min_value=0, max_value=200)))
        days = draw(st.sampled_from([7, 14, 25, 28, 30, 34, 50, 68, 90]))
        start = None
        if draw(st.booleans()):
            start = fill_date + timedelta(days=draw(st.integers(min_value=0, max_value=20)))
        fills.append(SupplyFill(fill_date, days, start))
    # one fill a day per prescription (the database's rule)
    return list({f.fill_date: f for f in fills}.values())


products = st.sampled_from(["tablet", "half_tablet", "liquid", "inhaler", "pen", "vial", "pack"])


def rx_for(product: str, history: list[SupplyFill], rx_id: int, plan) -> RxInput:
    last = max(history, key=lambda f: f.fill_date)
    due = next_due_date(history)
    common = {
        "rx_id": rx_id,
        "next_due_date": due,
        "fills_remaining": 12,
        "quantity_remaining": Decimal("100000"),
        "expiration_date": date(2027, 12, 31),
        "last_fill_date": last.fill_date,
        "last_days_supply": last.days_supply,
        "plan": plan,
        "label": product,
    }
    if product in ("tablet", "half_tablet", "liquid"):
        dose = {"tablet": "2", "half_tablet": "0.5", "liquid": "7.5"}[product]
        unit = "5" if product == "liquid" else "1"
        return RxInput(
            daily_dose=D(dose),
            package_size=D("1"),
            dispensable_unit=D(unit),
            drug=DrugTraits(solid_oral=product != "liquid"),
            **common,
        )
    shapes = {
        # package size, daily dose, containers, priming a day, in-use days
        "inhaler": ("200", "4", 1, "0", None),
        "pen": ("1500", "20", 5, "2", 28),
        "vial": ("1000", "35", 1, "0", 28),
        "pack": ("28", "1", 1, "0", None),
    }
    size, dose, containers, priming, in_use = shapes[product]
    return RxInput(
        daily_dose=D(dose),
        package_size=D(size),
        unit_of_use=True,
        containers_per_package=containers,
        priming_per_day=D(priming),
        beyond_use_days=in_use,
        drug=DrugTraits(solid_oral=False, unit_of_use=True, insulin=product in ("pen", "vial")),
        **common,
    )


@st.composite
def patients(draw):
    cycle = draw(st.sampled_from([28, 30, 60, 90]))
    anchor = TODAY + timedelta(days=draw(st.integers(min_value=0, max_value=cycle)))
    plan = draw(st.sampled_from([PART_D, replace(PART_D, sync_codes_allowed=False)]))
    rxs = []
    histories_by_rx = {}
    for rx_id in range(draw(st.integers(min_value=1, max_value=5))):
        history = draw(histories())
        rx = rx_for(draw(products), history, rx_id, plan)
        rxs.append(rx)
        histories_by_rx[rx_id] = history
    return anchor, cycle, rxs, histories_by_rx


@SETTINGS
@given(histories())
def test_the_walk_never_overlaps_and_never_starts_before_a_fill_or_its_recorded_start(history):
    spans = carry_forward(history)
    for before, after in pairwise(spans):
        assert after.start > before.end  # no day counted twice
    for span in spans:
        assert span.start >= span.fill_date
        assert (span.end - span.start).days + 1 == span.days_supply
    ordered = sorted(history, key=lambda f: f.fill_date)
    for fill, span in zip(ordered, spans, strict=True):
        assert span.start >= (fill.supply_start or fill.fill_date)


@SETTINGS
@given(patients())
def test_plans_from_inconsistent_histories_keep_supply_and_agree_with_their_claims(patient):
    anchor, cycle, rxs, history = patient
    plan = align(today=TODAY, anchor_date=anchor, cycle_days=cycle, prescriptions=rxs)
    for rx, item in zip(rxs, plan.items, strict=True):
        on_hand_until = next_due_date(history[rx.rx_id])  # the day the supply at home runs out
        covered_until = max(on_hand_until, TODAY)
        for fill in item.fills:
            if fill.quantity == 0:
                continue
            # never a supply already on hand: the fill's supply starts when the last one ends
            assert fill.supply_start >= on_hand_until, (rx, item)
            assert fill.supply_start >= fill.fill_date
            # no day without supply: it starts no later than the day the supply runs out
            assert fill.supply_start <= covered_until, (rx, item)
            covered_until = fill.next_due_date
            # quantity and days supply agree
            if rx.unit_of_use:
                assert fill.quantity % rx.package_size == 0
                packages = int(fill.quantity / rx.package_size)
                assert fill.days_supply == package_days_of(rx, packages)
            else:
                assert fill.days_supply == days_covered(fill.quantity, rx.daily_dose)
            if fill.kind == FillKind.SHORT:
                assert 47 in fill.scc_codes
        # covered through the anchor at least
        assert covered_until > anchor or item.fills[-1].quantity == 0
