"""What the patient pays for the short fills of an alignment plan (DOMAIN.md section 4).

Each example aligns lisinopril (1 a day, last filled 2/2 for 30 days, due 3/4) to the anchor
Fri 3/20: a 16-day short fill on 3/4 (SCC 47), then 30 days on 3/20 (SCC 48).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from billing.proration import CostSharing, DrugTraits, PayMethod, ProrationExclusion
from scheduling.alignment import align
from tests.scheduling.test_alignment_helpers import (
    ANCHOR,
    CO_COMMERCIAL,
    CYCLE,
    NO_PRORATION,
    NY_COMMERCIAL,
    PART_D,
    TODAY,
    D,
    d,
    inhaler,
    tablet,
)


def lisinopril_plan(**kwargs):
    rx = tablet("lisinopril", last_fill=d(2, 2), **kwargs)
    return align(today=TODAY, anchor_date=ANCHOR, cycle_days=CYCLE, prescriptions=[rx])


def test_part_d_copay_short_fill_pays_the_daily_rate():
    plan = lisinopril_plan()
    short, full = plan.item("lisinopril").fills
    # $10 copay x 16/30 = 5.333 -> $5.33 ; the full month after it $10.00
    assert (short.patient_pay, full.patient_pay) == (D("5.33"), D("10.00"))
    assert short.pay.method == PayMethod.DAILY_RATE
    assert short.extra_cost == D("0.00")
    assert plan.short_fill_cost == D("5.33")


def test_part_d_short_fill_of_a_solid_oral_antibiotic_pays_the_full_copay():
    # Exempt from the daily rate (42 CFR 423.153(b)(4)): $10 for 16 days, $10 - $5.33 = $4.67
    # more than a prorated charge.
    plan = lisinopril_plan(drug=DrugTraits(solid_oral=True, antibiotic=True))
    short = plan.item("lisinopril").first
    assert short.patient_pay == D("10.00")
    assert short.extra_cost == D("4.67")
    assert plan.short_fill_extra_cost == D("4.67")


def test_part_d_liquid_short_fill_is_not_prorated():
    plan = lisinopril_plan(drug=DrugTraits(solid_oral=False))
    assert plan.item("lisinopril").first.patient_pay == D("10.00")


def test_coinsurance_plan_pays_its_percent_of_the_smaller_claim():
    # 20% coinsurance; tablets at $0.10 and a $2.00 dispensing fee.
    # Short fill: 16 x 0.10 = 1.60 + 2.00 fee (never prorated) = 3.60 -> 20% = $0.72
    # Full fill: 30 x 0.10 = 3.00 + 2.00 = 5.00 -> 20% = $1.00
    plan = lisinopril_plan(
        cost_sharing=CostSharing(coinsurance_percent=D("20")),
        unit_cost=D("0.10"),
        dispensing_fee=D("2.00"),
    )
    short, full = plan.item("lisinopril").fills
    assert (short.patient_pay, full.patient_pay) == (D("0.72"), D("1.00"))
    assert short.pay.claim.dispensing_fee == full.pay.claim.dispensing_fee == D("2.00")
    assert short.pay.claim.ingredient_cost == D("1.60")
    assert short.pay.plan_pays == D("2.88")
    assert short.extra_cost == D("0.00")


def test_coinsurance_without_a_price_is_shown_as_unknown():
    plan = lisinopril_plan(cost_sharing=CostSharing(coinsurance_percent=D("20")))
    assert plan.item("lisinopril").patient_pay is None
    assert plan.short_fill_cost is None


def test_a_state_with_a_cap_charges_the_normal_copay_at_most():
    # Colorado commercial plan, $15 copay: the 16-day short fill costs $15.00 (capped, not
    # doubled), $15.00 - (15 x 16/30 = 8.00) = $7.00 more than a prorated charge.
    plan = lisinopril_plan(plan=CO_COMMERCIAL, cost_sharing=CostSharing(copay=D("15")))
    short = plan.item("lisinopril").first
    assert short.patient_pay == D("15.00")
    assert short.pay.method == PayMethod.COPAY_CAPPED
    assert short.extra_cost == D("7.00")


def test_a_mandate_state_prorates_commercial_short_fills():
    # New York commercial plan, $15 copay: 15 x 16/30 = $8.00 ; no extra cost.
    plan = lisinopril_plan(plan=NY_COMMERCIAL, cost_sharing=CostSharing(copay=D("15")))
    assert plan.item("lisinopril").first.patient_pay == D("8.00")
    assert plan.short_fill_extra_cost == D("0.00")


def test_a_plan_without_proration_charges_a_full_copay_for_the_short_fill():
    plan = lisinopril_plan(plan=NO_PRORATION, cost_sharing=CostSharing(copay=D("15")))
    assert plan.item("lisinopril").first.patient_pay == D("15.00")
    assert plan.short_fill_extra_cost == D("7.00")


def test_commercial_daily_rate_prorates_an_insulin_short_fill_unless_excluded():
    # Insulin vials of 10 days ($30 copay, NY): due 3/10 -> 1 vial lands on 3/20; 10 days
    # -> 30 x 10/30 = $10.00. A plan excluding insulin charges the full $30.00.
    vial = replace(
        inhaler("insulin", last_fill=d(2, 28), puffs="1000", per_day="100"),
        quantity_remaining=D("20000"),
        plan=NY_COMMERCIAL,
        cost_sharing=CostSharing(copay=D("30")),
        drug=DrugTraits(solid_oral=False, unit_of_use=True, insulin=True),
    )
    plan = align(today=TODAY, anchor_date=ANCHOR, cycle_days=CYCLE, prescriptions=[vial])
    assert plan.item("insulin").first.patient_pay == D("10.00")
    excluding = replace(
        vial,
        plan=replace(
            NY_COMMERCIAL,
            proration=replace(
                NY_COMMERCIAL.proration, exclusions=frozenset({ProrationExclusion.INSULIN})
            ),
        ),
    )
    plan = align(today=TODAY, anchor_date=ANCHOR, cycle_days=CYCLE, prescriptions=[excluding])
    assert plan.item("insulin").first.patient_pay == D("30.00")


@pytest.mark.parametrize(("threshold", "expected"), [(None, D("5.33")), (10, D("10.00"))])
def test_a_threshold_plan_prorates_only_short_enough_fills(threshold, expected):
    rules = replace(PART_D, proration=replace(PART_D.proration, prorate_below_days=threshold))
    assert lisinopril_plan(plan=rules).item("lisinopril").first.patient_pay == expected


def test_a_cheap_claim_costs_the_claim_not_the_copay():
    # 16 x $0.05 = 0.80 + $1.00 fee = $1.80 < the prorated $5.33: the patient pays $1.80.
    plan = lisinopril_plan(unit_cost=D("0.05"), dispensing_fee=D("1.00"))
    assert plan.item("lisinopril").first.patient_pay == D("1.80")
