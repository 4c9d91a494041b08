"""scheduling.alignment invariants, proven with hypothesis over random patients.

1. Every synced splittable prescription's next due date lands on an anchor.
2. Between today and the anchor no synced prescription has a day without supply.
3. Quantities are whole dispensable units (whole packages for unit of use: never split), cover
   the days claimed, and never exceed what is authorized.
4. Codes: SCC 47 exactly on short fills, SCC 48 on the full fill right after one.
5. Nothing is dispensed before today or after the patient ran out; a fill earlier than the plan
   pays always carries a refill_too_soon warning.
6. Batching never adds trips.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.proration import (
    PART_D_PRORATION,
    CostSharing,
    DrugTraits,
    PlanRules,
    ProrationPolicy,
    ProrationRules,
)
from patients.supply import days_covered
from scheduling.alignment import (
    SCC_AFTER_SHORT_FILL,
    SCC_SHORT_FILL,
    FillKind,
    RxInput,
    WarningCode,
    align,
    earliest_refill_date,
)

TODAY = date(2026, 3, 2)
AMPLE_FILLS = 50
AMPLE_QUANTITY = Decimal("10000000")
FAR = date(2030, 1, 1)

doses = st.sampled_from(["0.5", "1", "1.5", "2", "3", "4", "0.25", "7.5", "10", "40"]).map(Decimal)
units = st.sampled_from(["1", "0.5", "5", "0.25"]).map(Decimal)
package_sizes = st.sampled_from(["1", "2.5", "5", "10", "30", "60", "120", "200", "1000"])

plan_rules = st.builds(
    PlanRules,
    proration=st.sampled_from(
        [
            PART_D_PRORATION,
            ProrationRules(policy=ProrationPolicy.DAILY_RATE),
            ProrationRules(policy=ProrationPolicy.CAP),
            ProrationRules(policy=ProrationPolicy.NONE),
        ]
    ),
    refill_too_soon_percent=st.none() | st.sampled_from([70, 75, 80, 90, 100]),
    sync_codes_allowed=st.booleans(),
)
cost_sharings = st.sampled_from(
    [
        CostSharing(copay=Decimal("10")),
        CostSharing(copay=Decimal("47")),
        CostSharing(coinsurance_percent=Decimal("20")),
        CostSharing(),
    ]
)


@st.composite
def prescriptions(draw, rx_id: int, *, ample: bool) -> RxInput:
    unit_of_use = draw(st.booleans())
    dose = draw(doses)
    last_days = draw(st.integers(min_value=1, max_value=90))
    due_offset = draw(st.integers(min_value=-20, max_value=200))
    next_due = TODAY + timedelta(days=due_offset)
    history = draw(st.sampled_from(["known", "days_only", "unknown"]))
    package = Decimal(draw(package_sizes)) if unit_of_use else Decimal("1")
    if ample:
        fills, quantity, expires, per_fill = AMPLE_FILLS, AMPLE_QUANTITY, FAR, None
    else:
        fills = draw(st.integers(min_value=0, max_value=3))
        quantity = Decimal(draw(st.integers(min_value=0, max_value=400)))
        expires = TODAY + timedelta(days=draw(st.integers(min_value=-5, max_value=200)))
        per_fill = draw(st.none() | st.integers(min_value=1, max_value=200).map(Decimal))
    return RxInput(
        rx_id=rx_id,
        next_due_date=next_due,
        daily_dose=dose,
        package_size=package,
        fills_remaining=fills,
        quantity_remaining=quantity,
        expiration_date=expires,
        unit_of_use=unit_of_use,
        synced=draw(st.booleans()) if not ample else draw(st.sampled_from([True, True, False])),
        dispensable_unit=draw(units),
        max_quantity_per_fill=per_fill,
        beyond_use_days=draw(st.none() | st.integers(min_value=7, max_value=60))
        if unit_of_use
        else None,
        last_fill_date=next_due - timedelta(days=last_days) if history == "known" else None,
        last_days_supply=last_days if history != "unknown" else None,
        last_fill_short=draw(st.booleans()),
        usual_days_supply=draw(st.none() | st.integers(min_value=1, max_value=90)),
        plan=draw(plan_rules),
        cost_sharing=draw(cost_sharings),
        drug=DrugTraits(solid_oral=not unit_of_use, unit_of_use=unit_of_use),
        unit_cost=draw(st.none() | st.sampled_from([Decimal("0.10"), Decimal("2.5")])),
        dispensing_fee=Decimal("1.75"),
    )


@st.composite
def scenarios(draw, *, ample: bool = True):
    cycle = draw(st.sampled_from([28, 30, 60, 90]) | st.integers(min_value=1, max_value=120))
    anchor = TODAY + timedelta(days=draw(st.integers(min_value=0, max_value=cycle + 10)))
    count = draw(st.integers(min_value=1, max_value=7))
    rxs = [draw(prescriptions(i, ample=ample)) for i in range(count)]
    return anchor, cycle, rxs


def lands_near_anchor(day: date, anchor: date, cycle: int, slack: Decimal) -> bool:
    offset = (day - anchor).days
    return offset >= 0 and (offset % cycle == 0 or offset % cycle < slack)


def is_anchor(day: date, anchor: date, cycle: int) -> bool:
    offset = (day - anchor).days
    return offset >= 0 and offset % cycle == 0


def run(anchor, cycle, rxs, **kwargs):
    return align(today=TODAY, anchor_date=anchor, cycle_days=cycle, prescriptions=rxs, **kwargs)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenarios())
def test_every_synced_splittable_prescription_lands_on_an_anchor(scenario):
    anchor, cycle, rxs = scenario
    plan = run(anchor, cycle, rxs)
    for rx, item in zip(rxs, plan.items, strict=True):
        if rx.synced and not rx.unit_of_use:
            # On an anchor, or after it by less than the whole-unit rounding of its fills can
            # leave on hand (4 tablets at 0.5 a day cover 8 days, not 7: DOMAIN 2).
            slack = len(item.fills) * rx.dispensable_unit / rx.daily_dose
            assert lands_near_anchor(item.next_due_after_plan, anchor, cycle, slack), (rx, item)
            # ... and its last planned fill is at least a full cycle on an anchor.
            last = item.fills[-1]
            assert last.kind == FillKind.FULL
            assert is_anchor(last.fill_date, anchor, cycle)
            assert last.days_supply == days_covered(last.quantity, rx.daily_dose) >= cycle


@SETTINGS
@given(scenarios())
def test_no_day_without_supply_between_today_and_the_anchor(scenario):
    anchor, cycle, rxs = scenario
    plan = run(anchor, cycle, rxs)
    for rx, item in zip(rxs, plan.items, strict=True):
        if not rx.synced:
            continue
        covered_until = max(rx.next_due_date, TODAY)  # supply on hand runs to this day
        for fill in item.fills:
            assert fill.fill_date <= fill.supply_start <= covered_until, (rx, item)
            covered_until = max(covered_until, fill.next_due_date)
        # Covered through the anchor day at least (the anchor fill covers the anchor itself).
        assert covered_until > anchor, (rx, item)
        assert covered_until == item.next_due_after_plan


@SETTINGS
@given(scenarios(ample=False))
def test_quantities_are_whole_units_and_never_exceed_what_is_authorized(scenario):
    anchor, cycle, rxs = scenario
    plan = run(anchor, cycle, rxs)
    for rx, item in zip(rxs, plan.items, strict=True):
        dispensed = [f for f in item.fills if f.quantity > 0]
        assert sum((f.quantity for f in item.fills), Decimal("0")) <= rx.quantity_remaining
        assert len(dispensed) <= rx.fills_remaining
        for fill in item.fills:
            assert fill.quantity >= 0 and fill.days_supply >= 0
            assert (fill.quantity == 0) == (fill.days_supply == 0)
            if rx.max_quantity_per_fill is not None:
                assert fill.quantity <= rx.max_quantity_per_fill
            if fill.quantity > 0:
                assert fill.fill_date <= rx.expiration_date
                assert fill.quantity >= fill.days_supply * rx.daily_dose  # enough for the days
                assert fill.patient_pay is None or fill.patient_pay >= 0
            step = rx.package_size if rx.unit_of_use else rx.dispensable_unit
            assert fill.quantity % step == 0, "a package was split or a unit cut"
        if len(dispensed) < len(item.fills):
            assert item.has_warning(WarningCode.RENEWAL_NEEDED)
            assert item.has_warning(WarningCode.EXCEEDS_AUTHORIZED_QUANTITY)


@SETTINGS
@given(scenarios())
def test_splittable_fills_are_exact_and_unit_of_use_fills_are_whole_packages(scenario):
    anchor, cycle, rxs = scenario
    plan = run(anchor, cycle, rxs)
    for rx, item in zip(rxs, plan.items, strict=True):
        for fill in item.fills:
            if rx.unit_of_use:
                assert fill.quantity % rx.package_size == 0
                assert fill.quantity >= rx.package_size  # never less than one package
            elif fill.quantity > 0:
                # quantity and days supply agree: the days the quantity covers (DOMAIN 2)
                assert fill.days_supply == days_covered(fill.quantity, rx.daily_dose)


@SETTINGS
@given(scenarios())
def test_scc_47_on_short_fills_and_48_on_the_fill_after_one(scenario):
    anchor, cycle, rxs = scenario
    plan = run(anchor, cycle, rxs)
    for rx, item in zip(rxs, plan.items, strict=True):
        previous_short = rx.last_fill_short
        for fill in item.fills:
            assert (SCC_SHORT_FILL in fill.scc_codes) == (fill.kind == FillKind.SHORT)
            if fill.kind == FillKind.FULL:
                assert (SCC_AFTER_SHORT_FILL in fill.scc_codes) == previous_short
            if fill.kind == FillKind.NOT_SYNCED:
                assert fill.scc_codes == ()
            previous_short = fill.kind == FillKind.SHORT


@SETTINGS
@given(scenarios())
def test_dates_are_possible_and_early_fills_are_flagged(scenario):
    anchor, cycle, rxs = scenario
    plan = run(anchor, cycle, rxs)
    for rx, item in zip(rxs, plan.items, strict=True):
        earliest = earliest_refill_date(rx)
        for fill in item.fills:
            assert fill.fill_date >= TODAY
        first = item.first
        if earliest is not None and first.fill_date < earliest:
            warning = item.warning(WarningCode.REFILL_TOO_SOON)
            assert warning is not None and warning.earliest_allowed == earliest
        if item.has_warning(WarningCode.REFILL_TOO_SOON):
            warning = item.warning(WarningCode.REFILL_TOO_SOON)
            # a plan that takes no sync code never gets a fill it will reject: it is moved
            if not rx.plan.sync_codes_allowed and not rx.unit_of_use:
                assert warning.override_with_scc is False
                assert first.fill_date >= min(warning.earliest_allowed, first.supply_start)


@SETTINGS
@given(scenarios())
def test_unit_of_use_drift_is_reported_when_a_package_misses_the_anchor(scenario):
    anchor, cycle, rxs = scenario
    plan = run(anchor, cycle, rxs)
    for rx, item in zip(rxs, plan.items, strict=True):
        if rx.unit_of_use and rx.synced:
            lands = is_anchor(item.next_due_after_plan, anchor, cycle)
            assert item.has_warning(WarningCode.UNIT_OF_USE_DRIFT) == (not lands)


@SETTINGS
@given(scenarios())
def test_batching_never_adds_trips_and_keeps_days(scenario):
    anchor, cycle, rxs = scenario
    batched = run(anchor, cycle, rxs)
    separate = run(anchor, cycle, rxs, batch_short_fills=False)
    assert len(batched.trip_dates) <= len(separate.trip_dates)
    for a, b in zip(batched.items, separate.items, strict=True):
        assert [f.days_supply for f in a.fills] == [f.days_supply for f in b.fills]
        assert a.next_due_after_plan == b.next_due_after_plan


@SETTINGS
@given(scenarios())
def test_short_fills_are_priced_no_higher_than_a_months_copay(scenario):
    anchor, cycle, rxs = scenario
    plan = run(anchor, cycle, rxs)
    for rx, item in zip(rxs, plan.items, strict=True):
        copay = rx.cost_sharing.copay
        for fill in item.fills:
            if fill.kind == FillKind.SHORT and copay is not None and fill.days_supply < 30:
                assert fill.patient_pay <= copay
            assert fill.extra_cost >= 0


@SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_order_of_prescriptions_does_not_change_the_plan(scenario, random):
    anchor, cycle, rxs = scenario
    shuffled = list(rxs)
    random.shuffle(shuffled)
    a = {i.rx_id: i for i in run(anchor, cycle, rxs).items}
    b = {i.rx_id: i for i in run(anchor, cycle, shuffled).items}
    assert a == b


def test_the_engine_is_pure():
    rx = replace(
        RxInput(
            rx_id=1,
            next_due_date=TODAY,
            daily_dose=Decimal("1"),
            package_size=Decimal("1"),
            fills_remaining=1,
            quantity_remaining=Decimal("30"),
            expiration_date=FAR,
        )
    )
    first = run(TODAY + timedelta(days=5), 30, [rx])
    assert run(TODAY + timedelta(days=5), 30, [rx]) == first
