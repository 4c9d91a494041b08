"""Issue 10, the engine's defects 3, 4, 5, 8 and 9: worked examples with numbers by hand.

Today Mon 3/2/2026, Part D $10 copay, refill allowed after 75% unless a test says otherwise.
Each test failed on the code before this change (the old figure is in its comment).
"""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date

from billing.proration import DrugTraits
from patients.catalog import CATALOG_PATH
from patients.supply import (
    SupplyFill,
    carry_forward,
    days_covered,
    injections_per_day,
    insulin_containers,
    next_due_date,
    package_days,
)
from scheduling.alignment import FillKind, WarningCode, align
from scheduling.anchor import PatientPreferences, score_anchor, weekday_drift
from tests.scheduling.test_alignment_helpers import PART_D, TODAY, D, d, fills_of, inhaler, tablet


def plan_for(*rxs, today=TODAY, anchor, cycle=30):
    return align(today=today, anchor_date=anchor, cycle_days=cycle, prescriptions=rxs)


# --- defect 3: supply carries forward ----------------------------------------------------------


def test_the_inhaler_handed_out_early_records_its_supply_start_and_is_not_dispensed_again_early():
    # 200 puffs at 4 a day = 50 days; last filled 1/29 -> due 3/20; the plan pays a refill from
    # 1/29 + ceil(0.75 x 50) = 1/29 + 38 = 3/8. Anchor Thu 3/5: the inhaler is handed out 3/8
    # (the first day the plan pays) with its supply from 3/20, so it runs out 5/8: next due 5/9.
    rx = inhaler("inhaler", last_fill=d(1, 29), puffs="200", per_day="4")
    assert rx.next_due_date == d(3, 20)
    plan = plan_for(rx, anchor=d(3, 5))
    fill = plan.item("inhaler").first
    assert (fill.fill_date, fill.supply_start, fill.quantity, fill.days_supply) == (
        d(3, 8),
        d(3, 20),
        D("200"),
        50,
    )
    assert plan.item("inhaler").next_due_after_plan == d(5, 9)

    # The history walked with supply carried forward says 5/9 too (it said 3/8 + 50 = 4/27).
    history = [SupplyFill(d(1, 29), 50), SupplyFill(d(3, 8), 50)]
    assert next_due_date(history) == d(5, 9)
    # ... and with the recorded start the walk agrees whatever came before it.
    assert next_due_date([SupplyFill(d(3, 8), 50, supply_start=d(3, 20))]) == d(5, 9)

    # The next cycle (anchor 4/4, planned 4/3) does not dispense another inhaler early: it joins
    # the anchor 5/4 (5 days before 5/9, paid from 3/8 + 38 = 4/15) with supply from 5/9. With
    # the old due date 4/27 it went out on 4/15, 24 days before the first one ran out.
    later = replace(rx, next_due_date=d(5, 9), last_fill_date=d(3, 8), last_days_supply=50)
    again = plan_for(later, today=d(4, 3), anchor=d(4, 4)).item("inhaler").first
    assert (again.fill_date, again.supply_start) == (d(5, 4), d(5, 9))


def test_a_short_fill_on_the_anchor_whose_supply_starts_later_is_not_planned_again():
    # Amlodipine last filled 2/26 for 30 days (due 3/28). Anchor 3/20: filled on 3/20 for
    # 20 + 30 - 28 = 22 days with supply from 3/28 -> due 4/19, the next anchor.
    plan = plan_for(tablet("amlodipine", last_fill=d(2, 26)), anchor=d(3, 20))
    short = plan.item("amlodipine").first
    assert (short.fill_date, short.supply_start, short.days_supply) == (d(3, 20), d(3, 28), 22)
    # A re-plan the next day walks the history: 2/26 covers to 3/27, the 3/20 fill from 3/28
    # to 4/18, so the next fill is due 4/19 (the anchor); the old last fill + days supply said
    # 3/20 + 22 = 4/11 and planned a second short fill of 8 days.
    history = [SupplyFill(d(2, 26), 30), SupplyFill(d(3, 20), 22)]
    assert next_due_date(history) == d(4, 19)
    spans = carry_forward(history)
    assert [(s.start, s.end) for s in spans] == [(d(2, 26), d(3, 27)), (d(3, 28), d(4, 18))]
    replan = plan_for(
        tablet("amlodipine", last_fill=d(3, 20), days=22, next_due_date=d(4, 19)),
        today=d(3, 21),
        anchor=d(4, 19),
    )
    assert fills_of(replan, "amlodipine") == [(d(4, 19), D("30"), 30, "full", (), D("10.00"))]


# --- defect 4: insulin pens and vials ------------------------------------------------------------

LANTUS_SOLOSTAR = "100 units/mL, 5 x 3 mL pens"


def lantus(rx_id="lantus", *, strength=LANTUS_SOLOSTAR, in_use=28, units="20", **kwargs):
    containers = insulin_containers(
        dosage_form="pen",
        strength=strength,
        package_size=D("1500"),
        package_unit="UN",
        in_use_days=in_use,
    )
    base = inhaler(rx_id, last_fill=d(2, 18), puffs="1500", per_day=units, **kwargs)
    return replace(
        base,
        quantity_remaining=D("15000"),
        next_due_date=d(3, 20),
        last_fill_date=None,
        last_days_supply=None,
        beyond_use_days=in_use,
        containers_per_package=containers.count,
        priming_per_day=containers.priming_units * injections_per_day("Inject 20 units daily"),
        drug=DrugTraits(solid_oral=False, unit_of_use=True, insulin=True),
    )


def test_the_pen_in_use_limit_applies_per_pen_not_to_the_carton():
    # 5 pens x 300 units; 20 units + 2 priming a day = 22: each pen lasts 300/22 = 13.64 days
    # (inside its 28 days), the carton 5 x 13.64 = 68.18 -> 68 days, rounded down once for the
    # carton (a claim never states more days than the insulin lasts). The old engine capped
    # the carton at 28 days and planned 2 cartons, 56 days, two copays.
    containers = insulin_containers(
        dosage_form="pen",
        strength=LANTUS_SOLOSTAR,
        package_size=D("1500"),
        package_unit="UN",
        in_use_days=28,
    )
    assert (containers.count, containers.units_each, containers.priming_units) == (5, 300, 2)
    assert (
        package_days(
            packages=1,
            containers_per_package=5,
            units_each=D("300"),
            daily_units=D("20"),
            priming_per_day=D("2"),
            in_use_days=28,
        )
        == 68
    )
    plan = plan_for(lantus(), anchor=d(3, 20))
    fill = plan.item("lantus").first
    assert (fill.fill_date, fill.quantity, fill.days_supply, fill.kind) == (
        d(3, 20),
        D("1500"),
        68,
        FillKind.FULL,
    )
    # 68 days is two of the plan's 34-day copay blocks: $20 for 1 carton (the old plan billed
    # 2 cartons, 3,000 units, for 56 days).
    assert fill.patient_pay == D("20.00")


def test_70_30_pens_with_a_14_day_in_use_limit():
    # NovoLog Mix 70/30: 14 days in use. At 20 units: 300/22 = 13.64 < 14 -> 68 days, 1 carton.
    assert plan_for(lantus(in_use=14), anchor=d(3, 20)).item("lantus").first.days_supply == 68
    # At 10 units: 300/12 = 25 days, cut to 14 per pen -> 5 x 14 = 70 days, still 1 carton.
    # The old engine took min(1500/10, 14) = 14 days for the whole carton: 3 cartons.
    low = plan_for(lantus(in_use=14, units="10"), anchor=d(3, 20)).item("lantus").first
    assert (low.quantity, low.days_supply) == (D("1500"), 70)


def test_a_vial_has_its_own_in_use_limit_and_no_priming():
    vial = insulin_containers(
        dosage_form="vial",
        strength="100 units/mL, 10 mL vial",
        package_size=D("1000"),
        package_unit="UN",
        in_use_days=28,
    )
    assert (vial.count, vial.units_each, vial.priming_units) == (1, 1000, 0)
    # 1000 units at 20 a day = 50 days, but a vial is discarded 28 days after opening.
    assert (
        package_days(
            packages=1,
            containers_per_package=1,
            units_each=D("1000"),
            daily_units=D("20"),
            in_use_days=28,
        )
        == 28
    )
    assert injections_per_day("Inject 10 units three times daily with meals") == 3
    # Ozempic (mL, not insulin units) is not an insulin container.
    assert (
        insulin_containers(
            dosage_form="pen",
            strength="2 mg/1.5 mL pen",
            package_size=D("1.5"),
            package_unit="ML",
            in_use_days=56,
        )
        is None
    )


# --- defect 9: half tablets, refills in quantity, whole packages, plan limits ------------------


def test_a_half_tablet_dose_claims_the_days_its_quantity_covers():
    # 0.5 a day, due 3/13, anchor 3/20: 7 days need 3.5 tablets -> 4 tablets, which cover 8
    # days (the old plan claimed 7). The anchor fill's supply starts 3/21 (carried forward).
    plan = plan_for(tablet("half", last_fill=d(2, 11), dose="0.5"), anchor=d(3, 20))
    short, full = plan.item("half").fills
    assert (short.quantity, short.days_supply, short.kind) == (D("4"), 8, FillKind.SHORT)
    assert (full.fill_date, full.supply_start, full.quantity, full.days_supply) == (
        d(3, 20),
        d(3, 21),
        D("15"),
        30,
    )
    assert days_covered(D("4"), D("0.5")) == 8


def test_a_28_day_pack_that_is_the_normal_fill_is_not_a_short_fill():
    # A blister pack of 28 tablets (unit of use), 1 a day, written for 28; due 3/10, anchor 3/20.
    # 10 days to the anchor need one whole pack (28 days): that is the normal fill, not a
    # shortened supply, so no SCC 47 (the old plan called it short).
    pack = replace(
        inhaler("pack", last_fill=d(2, 10), puffs="28", per_day="1"),
        written_quantity=D("28"),
    )
    fill = plan_for(pack, anchor=d(3, 20)).item("pack").first
    assert (fill.quantity, fill.days_supply, fill.kind, fill.scc_codes) == (
        D("28"),
        28,
        FillKind.FULL,
        (),
    )


def test_plan_limits_cut_to_the_largest_whole_package_with_the_reason():
    # A 28-tablet pack due on the anchor on a 30-day cycle: 2 packs (56 days) would reject 76 on
    # a plan paying at most 34 days a fill: cut to 1 pack, 28 days, with the reason.
    plan_34 = replace(PART_D, max_days_supply_per_fill=34)
    pack = inhaler("pack", last_fill=d(2, 18), puffs="28", per_day="1", plan=plan_34)
    pack = replace(pack, next_due_date=d(3, 20))
    item = plan_for(pack, anchor=d(3, 20)).item("pack")
    assert (item.first.quantity, item.first.days_supply) == (D("28"), 28)
    limit = item.warning(WarningCode.PLAN_LIMIT)
    assert (
        "at most 34 days a fill" in limit.message and "cut to 1 whole package(s)" in limit.message
    )
    # A splittable tablet on a 90-day cycle under the same plan: 34 tablets, 34 days.
    tab = tablet("tab", last_fill=d(2, 18), plan=plan_34, next_due_date=d(3, 20))
    fill = plan_for(tab, anchor=d(3, 20), cycle=90).item("tab").first
    assert (fill.quantity, fill.days_supply) == (D("34"), 34)


def test_refills_are_counted_in_quantity_and_consolidated_where_allowed():
    # Written for 30 a fill, 90 left. A 90-day cycle: without consolidation a fill carries at
    # most the written 30 (30 days, flagged); where plan and state allow it (NY, CA, TX) one
    # fill of 90 uses three refills' quantity.
    base = tablet("rx", last_fill=d(2, 18), next_due_date=d(3, 20))
    base = replace(base, written_quantity=D("30"), quantity_remaining=D("90"), fills_remaining=3)
    plain = plan_for(base, anchor=d(3, 20), cycle=90).item("rx")
    assert (plain.first.quantity, plain.first.days_supply) == (D("30"), 30)
    assert plain.has_warning(WarningCode.EXCEEDS_AUTHORIZED_QUANTITY)
    consolidated = plan_for(replace(base, refill_consolidation=True), anchor=d(3, 20), cycle=90)
    item = consolidated.item("rx")
    assert (item.first.quantity, item.first.days_supply) == (D("90"), 90)
    assert not item.has_warning(WarningCode.EXCEEDS_AUTHORIZED_QUANTITY)
    # A short fill uses one refill but only part of the quantity: with 2 refills and 40 left,
    # 10 on 3/10 leaves 30 for the anchor fill; with 30 left the anchor fill is cut to the 20
    # that remain and a renewal is asked for.
    short = replace(base, next_due_date=d(3, 10), quantity_remaining=D("40"), fills_remaining=2)
    item = plan_for(short, anchor=d(3, 20)).item("rx")
    assert [f.quantity for f in item.fills] == [D("10"), D("30")]
    tight = plan_for(replace(short, quantity_remaining=D("30")), anchor=d(3, 20)).item("rx")
    assert [f.quantity for f in tight.fills] == [D("10"), D("20")]
    assert tight.has_warning(WarningCode.RENEWAL_NEEDED)
    assert PART_D.consolidation_allowed("NY") is False
    assert replace(PART_D, refill_consolidation_allowed=True).consolidation_allowed("ny")
    assert not replace(PART_D, refill_consolidation_allowed=True).consolidation_allowed("NJ")


# --- defect 5: the no-SCC path batched and scored once -------------------------------------------


def no_scc_patient():
    strict = replace(PART_D, sync_codes_allowed=False)
    # due 3/25 (paid from 2/23 + 23 = 3/18) and 3/28 (paid from 2/26 + 23 = 3/21)
    return [
        tablet("a", last_fill=d(2, 23), plan=strict),
        tablet("b", last_fill=d(2, 26), plan=strict),
    ]


def test_fills_moved_to_a_paid_day_share_one_trip():
    # Anchor 3/5: both fills on 3/5 would reject 79 and the plan takes no SCC. The old engine
    # moved each to its first paid day (3/18 and 3/21: two trips); now both go in the days the
    # plan pays (3/18..3/25 and 3/21..3/28) on ONE trip, 3/25.
    plan = plan_for(*no_scc_patient(), anchor=d(3, 5))
    assert plan.trip_dates == (d(3, 25),)
    assert [f.fill_date for f in plan.item("a").fills] == [d(3, 25), d(4, 4)]
    assert plan.item("b").first.supply_start == d(3, 28)
    # Still sized to land on the next anchor 4/4: a 10 days, b 7 days.
    assert [plan.item(x).first.days_supply for x in "ab"] == [10, 7]


def test_a_moved_fill_is_not_also_scored_as_a_hard_conflict():
    # Anchor 3/10: 2 short fills (2 x 2) + 1 trip (10) = 14. The old score added 100 for each
    # moved fill on top of its trip (2 trips + 2 x 100 + 4 = 224).
    proposal = score_anchor(
        today=TODAY, anchor_date=d(3, 10), cycle_days=30, prescriptions=no_scc_patient()
    )
    assert (proposal.hard_conflicts, proposal.extra_trips, proposal.score) == (0, 1, D("14.00"))


# --- defect 8: the preferred weekday over the next cycles ----------------------------------------


def test_a_tuesday_patient_on_a_30_day_cycle_is_told_the_anchors_drift_and_offered_28_days():
    tue = 1
    assert date(2026, 3, 3).weekday() == tue
    drift = weekday_drift(d(3, 3), 30, tue)
    # 4/2 Thu, 5/2 Sat, 6/1 Mon, 7/1 Wed, 7/31 Fri, 8/30 Sun
    assert [(day, f"{day:%a}") for day in drift] == [
        (d(4, 2), "Thu"),
        (d(5, 2), "Sat"),
        (d(6, 1), "Mon"),
        (d(7, 1), "Wed"),
        (d(7, 31), "Fri"),
        (d(8, 30), "Sun"),
    ]
    rx = tablet("rx", last_fill=d(2, 1))
    prefs = PatientPreferences(preferred_weekday=tue)
    proposal = score_anchor(
        today=TODAY, anchor_date=d(3, 3), cycle_days=30, prescriptions=[rx], preferences=prefs
    )
    assert proposal.matches_preference is True
    assert proposal.suggested_cycle_days == 28
    assert (
        "A 30-day cycle does not stay on a Tuesday: the next anchors fall on Thu 4/2, Sat 5/2, "
        "Mon 6/1, Wed 7/1, Fri 7/31, Sun 8/30; a 28-day cycle keeps every anchor on a Tuesday."
    ) in proposal.cautions
    kept = score_anchor(
        today=TODAY, anchor_date=d(3, 3), cycle_days=28, prescriptions=[rx], preferences=prefs
    )
    assert (kept.off_weekday_anchors, kept.suggested_cycle_days) == ((), None)


def test_every_insulin_pen_and_vial_in_the_catalog_has_its_containers():
    with CATALOG_PATH.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["package_unit"] == "UN"]
    assert rows
    for row in rows:
        containers = insulin_containers(
            dosage_form=row["dosage_form"],
            strength=row["strength"],
            package_size=D(row["package_size"]),
            package_unit=row["package_unit"],
            in_use_days=int(row["beyond_use_days"]) if row["beyond_use_days"] else None,
        )
        assert containers is not None, row["name"]
        expected = (5, D("300")) if row["dosage_form"] == "pen" else (1, D(row["package_size"]))
        assert (containers.count, containers.units_each) == expected, row["name"]
