"""scheduling.alignment: worked examples from DOMAIN.md sections 3 and 4, numbers by hand.

Unless a test says otherwise: today Mon 2026-03-02, anchor Fri 2026-03-20, 30-day cycle,
Medicare Part D with a $10.00 copay, refill allowed after 75% of the last supply.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from billing.proration import CostSharing, DrugTraits, PlanRules
from scheduling.alignment import (
    AlignmentError,
    FillKind,
    WarningCode,
    align,
    anchors_from,
    earliest_refill_date,
)
from tests.scheduling.test_alignment_helpers import (
    ANCHOR,
    CYCLE,
    PART_D,
    TODAY,
    D,
    d,
    fills_of,
    inhaler,
    tablet,
)


def plan_for(*rxs, today=TODAY, anchor=ANCHOR, cycle=CYCLE, **kwargs):
    return align(today=today, anchor_date=anchor, cycle_days=cycle, prescriptions=rxs, **kwargs)


# --- the 4-drug patient -----------------------------------------------------------------------


def four_drug_patient():
    return [
        # lisinopril 10 mg, 1 a day, last filled 2/2 for 30 days -> due 3/4
        tablet("lisinopril", last_fill=d(2, 2)),
        # metformin 500 mg, 2 a day, last filled 2/7 for 30 days (60 tabs) -> due 3/9
        tablet("metformin", last_fill=d(2, 7), dose="2"),
        # atorvastatin 20 mg, 1 a day, last filled 2/18 -> due 3/20, the anchor itself
        tablet("atorvastatin", last_fill=d(2, 18)),
        # amlodipine 10 mg, half a tablet a day, last filled 2/26 (15 tabs) -> due 3/28 > anchor
        tablet("amlodipine", last_fill=d(2, 26), dose="0.5"),
    ]


def test_four_drug_patient_lines_up_on_the_anchor():
    plan = plan_for(*four_drug_patient())

    # lisinopril: N = 3/4 < A = 3/20 -> short fill of 20 - 4 = 16 days, 16 tablets,
    # $10 x 16/30 = 5.333 -> $5.33, SCC 47; then a full 30 days on 3/20 with SCC 48.
    assert fills_of(plan, "lisinopril") == [
        (d(3, 4), D("16"), 16, "short", (47,), D("5.33")),
        (d(3, 20), D("30"), 30, "full", (48,), D("10.00")),
    ]
    # metformin: N = 3/9 -> 11 days x 2 = 22 tablets, $10 x 11/30 = 3.666 -> $3.67.
    # The plan pays a refill from 2/7 + ceil(0.75 x 30) = 2/7 + 23 = 3/2, so it rides along on
    # lisinopril's trip of 3/4 instead of a second trip on 3/9 (days still count from 3/9).
    assert fills_of(plan, "metformin") == [
        (d(3, 4), D("22"), 11, "short", (47,), D("3.67")),
        (d(3, 20), D("60"), 30, "full", (48,), D("10.00")),
    ]
    # atorvastatin is due on the anchor: one full fill, no codes.
    assert fills_of(plan, "atorvastatin") == [(d(3, 20), D("30"), 30, "full", (), D("10.00"))]
    # amlodipine: N = 3/28 > A -> filled on 3/20 for 20 + 30 - 28 = 22 days, 22 x 0.5 = 11
    # tablets, $10 x 22/30 = 7.333 -> $7.33; the full fill follows on the next anchor 4/19.
    assert fills_of(plan, "amlodipine") == [
        (d(3, 20), D("11"), 22, "short", (47,), D("7.33")),
        (d(4, 19), D("15"), 30, "full", (48,), D("10.00")),
    ]
    # amlodipine on 3/20 is one day before the plan pays (2/26 + 23 = 3/21): SCC 47 overrides.
    warning = plan.item("amlodipine").warning(WarningCode.REFILL_TOO_SOON)
    assert warning.earliest_allowed == d(3, 21)
    assert warning.override_with_scc is True
    assert "SCC 47" in warning.message

    assert plan.trip_dates == (d(3, 4),)  # one extra trip, then everything on the anchor
    assert plan.short_fill_count == 3
    assert plan.short_fill_cost == D("16.33")  # 5.33 + 3.67 + 7.33
    assert plan.short_fill_extra_cost == D("0.00")  # prorated: nothing above the daily rate
    assert plan.next_anchor_date == d(4, 19)
    assert {i.rx_id: i.next_due_after_plan for i in plan.items} == {
        "lisinopril": d(4, 19),
        "metformin": d(4, 19),
        "atorvastatin": d(4, 19),
        "amlodipine": d(5, 19),
    }
    assert [code for _, w in plan.warnings for code in [w.code]] == [WarningCode.REFILL_TOO_SOON]


def test_without_batching_each_short_fill_is_its_own_trip():
    plan = plan_for(*four_drug_patient(), batch_short_fills=False)
    assert plan.trip_dates == (d(3, 4), d(3, 9))
    assert plan.item("metformin").fill_date == d(3, 9)
    assert plan.item("metformin").days_supply == 11  # the same days either way


def test_a_refill_the_plan_would_reject_is_not_batched_early():
    # metformin last filled 2/20 for 30 -> due 3/22 > anchor; lisinopril due 3/4 as before.
    # A losartan last filled 2/12 for 30 -> due 3/14, refill paid from 2/12 + 23 = 3/7: it
    # cannot join the 3/4 trip, so it gets its own trip on 3/14 (the latest day in its window).
    plan = plan_for(tablet("lisinopril", last_fill=d(2, 2)), tablet("losartan", last_fill=d(2, 12)))
    assert plan.trip_dates == (d(3, 4), d(3, 14))
    assert not plan.item("losartan").warnings


def test_unknown_history_fills_on_the_due_date():
    rx = replace(
        tablet("lisinopril", last_fill=d(2, 2)), last_fill_date=None, last_days_supply=None
    )
    early = tablet("metformin", last_fill=d(2, 1))  # due 3/3
    plan = plan_for(rx, early)
    assert plan.item("lisinopril").fill_date == d(3, 4)  # not pulled to 3/3: 79 risk unknown
    assert plan.trip_dates == (d(3, 3), d(3, 4))


# --- N > A: joining a later anchor ------------------------------------------------------------


def test_a_plan_that_takes_no_sync_code_moves_the_fill_to_the_first_paid_day():
    strict = replace(PART_D, sync_codes_allowed=False)
    plan = plan_for(tablet("amlodipine", last_fill=d(2, 26), dose="0.5", plan=strict))
    # Paid from 3/21 (not 3/20): the fill may go any day 3/21..3/28 (its due date) and is
    # batched like every flexible fill (issue 10 defect 5): alone, on its due date 3/28, still
    # 22 days so it lands on 4/19. The warning is resolved: nothing is billed too soon.
    assert fills_of(plan, "amlodipine")[0] == (d(3, 28), D("11"), 22, "short", (47,), D("7.33"))
    warning = plan.item("amlodipine").warning(WarningCode.REFILL_TOO_SOON)
    assert (warning.earliest_allowed, warning.override_with_scc) == (d(3, 21), False)
    assert warning.resolved and "planned on Sat 3/28 instead" in warning.message
    assert plan.trip_dates == (d(3, 28),)
    assert plan.item("amlodipine").next_due_after_plan == d(5, 19)


def test_supply_past_the_next_anchor_joins_the_one_after():
    # A 90-day fill on 2/1 -> due 5/2. Anchors 3/20, 4/19, 5/19: filled on 4/19 for
    # 5/19 - 5/2 = 17 days (SCC 47), then 30 days on 5/19 (SCC 48). Nothing before 3/20.
    plan = plan_for(tablet("levothyroxine", last_fill=d(2, 1), days=90))
    assert fills_of(plan, "levothyroxine") == [
        (d(4, 19), D("17"), 17, "short", (47,), D("5.67")),  # 10 x 17/30 = 5.666 -> 5.67
        (d(5, 19), D("30"), 30, "full", (48,), D("10.00")),
    ]
    # 4/19 is day 77 of 90; the plan pays from 2/1 + ceil(67.5) = 2/1 + 68 = 4/10: not too soon.
    assert not plan.item("levothyroxine").warnings
    assert plan.trip_dates == ()


def test_supply_ending_exactly_on_a_later_anchor_needs_nothing_before_it():
    # Last filled 2/18 for 60 days -> due 4/19 = anchor + 30: a full fill on 4/19.
    plan = plan_for(tablet("rosuvastatin", last_fill=d(2, 18), days=60))
    assert fills_of(plan, "rosuvastatin") == [(d(4, 19), D("30"), 30, "full", (), D("10.00"))]


def test_an_overdue_prescription_is_filled_today_up_to_the_anchor():
    # Ran out on 2/25 (last fill 1/26 for 30): the days without supply are past; today (3/2) it
    # gets 20 - 2 = 18 days.
    plan = plan_for(tablet("carvedilol", last_fill=d(1, 26), dose="2"))
    assert fills_of(plan, "carvedilol")[0] == (d(3, 2), D("36"), 18, "short", (47,), D("6.00"))


def test_an_anchor_today_fills_what_is_due_today():
    plan = plan_for(tablet("lisinopril", last_fill=d(1, 31)), anchor=TODAY)  # due 3/2
    assert fills_of(plan, "lisinopril") == [(d(3, 2), D("30"), 30, "full", (), D("10.00"))]


def test_the_full_fill_after_an_earlier_short_fill_carries_scc_48():
    plan = plan_for(tablet("atorvastatin", last_fill=d(3, 4), days=16, last_fill_short=True))
    assert fills_of(plan, "atorvastatin") == [(d(3, 20), D("30"), 30, "full", (48,), D("10.00"))]


# --- quantities -------------------------------------------------------------------------------


def test_quantities_round_up_to_whole_dispensable_units():
    # 1.5 tablets a day x 11 days = 16.5 -> 17 tablets (never half a tablet short).
    plan = plan_for(tablet("warfarin", last_fill=d(2, 7), dose="1.5"))
    assert plan.item("warfarin").quantity == D("17")
    assert plan.item("warfarin").days_supply == 11
    # An oral solution, 7.5 mL a day, dispensed by the whole mL: 11 x 7.5 = 82.5 -> 83 mL.
    liquid = replace(
        tablet("levetiracetam", last_fill=d(2, 7), dose="7.5"),
        drug=DrugTraits(solid_oral=False),
    )
    assert plan_for(liquid).item("levetiracetam").quantity == D("83")
    # ... and by the 5 mL when the pharmacy measures that way: 82.5 -> 85 mL.
    five_ml = replace(liquid, dispensable_unit=D("5"))
    assert plan_for(five_ml).item("levetiracetam").quantity == D("85")


# --- unit of use: the inhaler -----------------------------------------------------------------


def test_an_inhaler_is_never_split_and_drifts():
    # Symbicort, 120 puffs, 2 puffs twice a day = 4 a day -> 30 days per inhaler.
    # Last filled 2/8 -> due 3/10. It needs 10 days to reach 3/20 but an inhaler is whole: one
    # inhaler, 30 days, a normal fill (not a shortened one, no SCC 47). Part D: an inhaler is not
    # a solid oral, and 30 days is a month anyway -> $10.00.
    plan = plan_for(inhaler("symbicort", last_fill=d(2, 8)))
    assert fills_of(plan, "symbicort") == [(d(3, 10), D("120"), 30, "full", (), D("10.00"))]
    # It runs out 3/10 + 30 = 4/9, 10 days before the anchor of 4/19.
    drift = plan.item("symbicort").warning(WarningCode.UNIT_OF_USE_DRIFT)
    assert drift.drift_days == -10
    assert "before the anchor Sun 4/19" in drift.message
    assert plan.item("symbicort").next_due_after_plan == d(4, 9)


def test_an_inhaler_as_the_anchor_medication_does_not_drift():
    plan = plan_for(inhaler("symbicort", last_fill=d(2, 8)), anchor=d(3, 10))
    assert fills_of(plan, "symbicort") == [(d(3, 10), D("120"), 30, "full", (), D("10.00"))]
    assert not plan.item("symbicort").warnings
    assert plan.item("symbicort").next_due_after_plan == d(4, 9) == plan.next_anchor_date


def test_a_big_inhaler_joins_the_anchor_visit_when_the_plan_pays():
    # 200 puffs at 4 a day = 50 days. Last filled 2/1 -> due 3/23 (after the anchor). The plan
    # pays from 2/1 + ceil(37.5) = 2/1 + 38 = 3/11, so it is handed over on the 3/20 visit:
    # 1 inhaler = 50 days from 3/23 -> runs out 5/12, 7 days before the anchor of 5/19.
    plan = plan_for(inhaler("qvar", last_fill=d(2, 1), puffs="200"))
    assert fills_of(plan, "qvar") == [(d(3, 20), D("200"), 50, "full", (), D("20.00"))]
    assert plan.item("qvar").warning(WarningCode.UNIT_OF_USE_DRIFT).drift_days == -7
    assert plan.trip_dates == ()  # 50 days cost two copays ($20): 50 > 34 days


def test_small_packages_add_up_to_land_on_the_anchor():
    # An insulin vial lasting 10 days (1000 units at 100 a day), due 3/8: 12 days to the
    # anchor -> 2 vials = 20 days, shortened against the cycle (SCC 47), run out 3/28; no
    # landing, so it drifts 8 days after the 3/20 anchor.
    vial = replace(
        inhaler("insulin", last_fill=d(2, 26), puffs="1000", per_day="100"),
        quantity_remaining=D("20000"),
        drug=DrugTraits(solid_oral=False, unit_of_use=True, insulin=True),
    )
    plan = plan_for(vial)
    assert fills_of(plan, "insulin")[0][:5] == (d(3, 8), D("2000"), 20, "short", (47,))
    assert plan.item("insulin").warning(WarningCode.UNIT_OF_USE_DRIFT).drift_days == 8


def test_whole_packages_that_land_exactly_are_followed_by_the_full_fill():
    # Vials of 10 days, due 3/10: 10 days to the anchor -> 1 vial lands on 3/20 exactly; then
    # 30 days = 3 vials on 3/20 with SCC 48.
    vial = replace(
        inhaler("insulin", last_fill=d(2, 28), puffs="1000", per_day="100"),
        quantity_remaining=D("20000"),
        drug=DrugTraits(solid_oral=False, unit_of_use=True, insulin=True),
    )
    plan = plan_for(vial)
    assert [f[:5] for f in fills_of(plan, "insulin")] == [
        (d(3, 10), D("1000"), 10, "short", (47,)),
        (d(3, 20), D("3000"), 30, "full", (48,)),
    ]
    assert not plan.item("insulin").has_warning(WarningCode.UNIT_OF_USE_DRIFT)


def test_eye_drops_are_capped_by_their_beyond_use_days():
    # Latanoprost 2.5 mL, 1 drop (0.05 mL) a day -> 50 days in the bottle, but usable 42 days
    # after opening: one bottle counts 42 days. Due 3/10 -> runs out 4/21, 2 days after 4/19.
    drops = replace(
        inhaler("latanoprost", last_fill=d(1, 27), puffs="2.5", per_day="0.05"),
        beyond_use_days=42,
        last_days_supply=42,
        next_due_date=d(3, 10),
        drug=DrugTraits(solid_oral=False, unit_of_use=True, eye_drops=True),
    )
    plan = plan_for(drops)
    assert fills_of(plan, "latanoprost")[0][:4] == (d(3, 10), D("2.5"), 42, "full")
    assert plan.item("latanoprost").warning(WarningCode.UNIT_OF_USE_DRIFT).drift_days == 2


# --- authorization: the drug with no refills left ---------------------------------------------


def test_no_refills_left_plans_nothing_and_asks_for_a_renewal():
    rx = replace(tablet("lisinopril", last_fill=d(2, 2)), fills_remaining=0)
    plan = plan_for(rx)
    item = plan.item("lisinopril")
    # Needs 16 tablets on 3/4 but nothing is authorized: quantity 0, no price.
    assert fills_of(plan, "lisinopril") == [
        (d(3, 4), D("0"), 0, "short", (47,), None),
        (d(3, 20), D("0"), 0, "full", (48,), None),
    ]
    renewal = item.warning(WarningCode.RENEWAL_NEEDED)
    assert renewal.needed_by == d(3, 4)
    assert "no refills left" in renewal.message
    exceeded = item.warning(WarningCode.EXCEEDS_AUTHORIZED_QUANTITY)
    assert (exceeded.quantity_needed, exceeded.quantity_authorized) == (D("16"), D("0"))


def test_the_last_refill_covers_the_short_fill_and_the_anchor_fill_needs_a_renewal():
    rx = replace(tablet("lisinopril", last_fill=d(2, 2)), fills_remaining=1)
    plan = plan_for(rx)
    assert [f[1] for f in fills_of(plan, "lisinopril")] == [D("16"), D("0")]
    assert plan.item("lisinopril").warning(WarningCode.RENEWAL_NEEDED).needed_by == d(3, 20)


def test_too_little_quantity_cuts_the_fill_to_what_is_authorized():
    # 40 tablets left: 16 on 3/4, then only 24 of the 30 on 3/20 (24 days).
    rx = replace(tablet("lisinopril", last_fill=d(2, 2)), quantity_remaining=D("40"))
    plan = plan_for(rx)
    assert [f[1:3] for f in fills_of(plan, "lisinopril")] == [(D("16"), 16), (D("24"), 24)]
    exceeded = plan.item("lisinopril").warning(WarningCode.EXCEEDS_AUTHORIZED_QUANTITY)
    assert (exceeded.quantity_needed, exceeded.quantity_authorized) == (D("30"), D("24"))
    assert plan.item("lisinopril").has_warning(WarningCode.RENEWAL_NEEDED)


def test_expiry_before_the_next_anchor_asks_for_a_renewal_ahead_of_time():
    # Expires 4/1: the fills of 3/4 and 3/20 are fine; the one due 4/19 is not.
    rx = replace(tablet("lisinopril", last_fill=d(2, 2)), expiration_date=d(4, 1))
    plan = plan_for(rx)
    assert [f[1] for f in fills_of(plan, "lisinopril")] == [D("16"), D("30")]
    renewal = plan.item("lisinopril").warning(WarningCode.RENEWAL_NEEDED)
    assert renewal.needed_by == d(4, 19)
    assert "expires Wed 4/1" in renewal.message
    assert not plan.item("lisinopril").has_warning(WarningCode.EXCEEDS_AUTHORIZED_QUANTITY)


def test_refills_running_out_after_the_plan_are_flagged():
    rx = replace(tablet("lisinopril", last_fill=d(2, 2)), fills_remaining=2)
    renewal = plan_for(rx).item("lisinopril").warning(WarningCode.RENEWAL_NEEDED)
    assert renewal.needed_by == d(4, 19)
    assert "refills run out" in renewal.message


def test_an_expired_prescription_cannot_be_filled():
    rx = replace(tablet("lisinopril", last_fill=d(2, 2)), expiration_date=d(3, 1))
    item = plan_for(rx).item("lisinopril")
    assert item.quantity == D("0")
    assert "expires Sun 3/1" in item.warning(WarningCode.RENEWAL_NEEDED).message


def test_a_per_fill_limit_is_respected():
    rx = replace(tablet("lisinopril", last_fill=d(2, 2)), max_quantity_per_fill=D("10"))
    plan = plan_for(rx)
    assert [f[1] for f in fills_of(plan, "lisinopril")] == [D("10"), D("10")]
    assert plan.item("lisinopril").has_warning(WarningCode.EXCEEDS_AUTHORIZED_QUANTITY)


def test_short_fill_limits_per_year_are_flagged():
    pace = replace(PART_D, short_fills_per_year=3)  # PA PACE: 3 short fills a year per drug
    ok = tablet("a", last_fill=d(2, 2), plan=pace, short_fills_this_year=2)
    over = tablet("b", last_fill=d(2, 2), plan=pace, short_fills_this_year=3)
    plan = plan_for(ok, over)
    assert not plan.item("a").has_warning(WarningCode.SHORT_FILL_LIMIT)
    assert "covers 3 sync short fill(s) a year" in (
        plan.item("b").warning(WarningCode.SHORT_FILL_LIMIT).message
    )


# --- not synced -----------------------------------------------------------------------------


def test_a_prescription_not_synced_keeps_its_own_date():
    # A Schedule II, excluded from sync: due 3/12, its usual 28 days. Under Part D a 28-day
    # solid oral fill is less than a month: $10 x 28/30 = 9.333 -> $9.33.
    rx = replace(tablet("oxycodone", last_fill=d(2, 10)), synced=False, usual_days_supply=28)
    plan = plan_for(rx, tablet("lisinopril", last_fill=d(2, 18)))
    assert fills_of(plan, "oxycodone") == [(d(3, 12), D("28"), 28, "not_synced", (), D("9.33"))]
    assert plan.trip_dates == ()  # its own visits are not sync's extra trips
    assert plan.short_fill_count == 0


# --- the rules themselves -------------------------------------------------------------------


def test_earliest_refill_date_uses_the_plans_percent():
    rx = tablet("x", last_fill=d(2, 1))  # 30 days
    assert earliest_refill_date(rx) == d(2, 24)  # 2/1 + ceil(22.5) = 2/1 + 23
    eighty = replace(rx, plan=replace(PART_D, refill_too_soon_percent=80))
    assert earliest_refill_date(eighty) == d(2, 25)  # 2/1 + 24
    drops = replace(
        rx,
        plan=replace(PART_D, refill_too_soon_percent_eye_drops=70),
        drug=DrugTraits(solid_oral=False, eye_drops=True),
    )
    assert earliest_refill_date(drops) == d(2, 22)  # 2/1 + 21
    assert earliest_refill_date(replace(rx, plan=PlanRules(refill_too_soon_percent=None))) is None


def test_cash_has_no_refill_too_soon_window():
    cash = PlanRules(refill_too_soon_percent=None)
    plan = plan_for(
        tablet("a", last_fill=d(2, 2)),
        tablet("b", last_fill=d(2, 16), plan=cash, cost_sharing=CostSharing()),  # due 3/18
    )
    assert plan.item("b").fill_date == d(3, 4)  # joins the 3/4 trip
    assert plan.item("b").patient_pay is None  # cash price unknown without a unit cost


def test_anchors_from():
    assert anchors_from(d(3, 20), 28, 3) == [d(3, 20), d(4, 17), d(5, 15)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"anchor_date": d(3, 1)}, "before today"),
        ({"cycle_days": 0}, "at least 1 day"),
        ({"prescriptions": [tablet("a", last_fill=d(2, 2))] * 2}, "appears twice"),
        (
            {"prescriptions": [replace(tablet("a", last_fill=d(2, 2)), daily_dose=D("0"))]},
            "daily_dose must be above zero",
        ),
        (
            {"prescriptions": [replace(tablet("a", last_fill=d(2, 2)), fills_remaining=-1)]},
            "remaining",
        ),
    ],
)
def test_it_refuses_impossible_input(kwargs, message):
    args = {"today": TODAY, "anchor_date": ANCHOR, "cycle_days": CYCLE, "prescriptions": []}
    with pytest.raises(AlignmentError, match=message):
        align(**{**args, **kwargs})


def test_warnings_serialize_for_the_api():
    plan = plan_for(tablet("amlodipine", last_fill=d(2, 26), dose="0.5"))
    data = plan.item("amlodipine").warnings[0].as_dict()
    assert data["code"] == "refill_too_soon"
    assert data["earliest_allowed"] == "2026-03-21"
    assert data["override_with_scc"] is True
    rx = replace(tablet("x", last_fill=d(2, 2)), fills_remaining=0)
    exceeded = plan_for(rx).item("x").warning(WarningCode.EXCEEDS_AUTHORIZED_QUANTITY).as_dict()
    assert exceeded["quantity_needed"] == "16"


def test_kinds_are_the_three_the_api_names():
    assert {k.value for k in FillKind} == {"short", "full", "not_synced"}


def test_an_inhaler_with_unknown_history_waits_for_its_due_date():
    # The 200-puff inhaler due 3/23 of the test above, but the last fill is not known: the
    # engine cannot tell whether 3/20 would be paid, so it plans the due date 3/23.
    qvar = replace(
        inhaler("qvar", last_fill=d(2, 1), puffs="200"), last_fill_date=None, last_days_supply=None
    )
    plan = plan_for(qvar)
    assert plan.item("qvar").fill_date == d(3, 23)
    assert plan.trip_dates == (d(3, 23),)
