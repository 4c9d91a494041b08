"""billing.proration: DOMAIN.md section 4 as code. Worked examples computed by hand in the
comments, then hypothesis invariants."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.proration import (
    PART_D_PRORATION,
    STATE_PRORATION_LAWS,
    ClaimCost,
    CostSharing,
    DailyRateRounding,
    DrugTraits,
    PayMethod,
    PlanKind,
    PlanRules,
    ProrationError,
    ProrationExclusion,
    ProrationPolicy,
    ProrationRules,
    claim_cost,
    compute_patient_pay,
    daily_rate,
    default_plan_rules,
    default_proration_rules,
    proration_applies,
    round_cents,
)

D = Decimal
TABLET = DrugTraits(solid_oral=True)
ANTIBIOTIC = DrugTraits(solid_oral=True, antibiotic=True)
BLISTER_PACK = DrugTraits(solid_oral=True, unit_of_use=True)
INHALER = DrugTraits(solid_oral=False, unit_of_use=True)
EYE_DROPS = DrugTraits(solid_oral=False, unit_of_use=True, eye_drops=True)
INSULIN_PEN = DrugTraits(solid_oral=False, unit_of_use=True, insulin=True)
CREAM = DrugTraits(solid_oral=False, unit_of_use=True, topical=True)
DAILY = ProrationRules(policy=ProrationPolicy.DAILY_RATE)
NONE = ProrationRules(policy=ProrationPolicy.NONE)
CAP = ProrationRules(policy=ProrationPolicy.CAP)


def pay(days, *, copay=None, coinsurance=None, rules=DAILY, drug=TABLET, claim=None):
    return compute_patient_pay(
        days_supply=days,
        cost_sharing=CostSharing(copay=copay, coinsurance_percent=coinsurance),
        rules=rules,
        drug=drug,
        claim=claim,
    )


# --- Medicare Part D (42 CFR 423.153(b)(4)) -----------------------------------------------------


def test_part_d_copay_short_fill_of_a_solid_oral_pays_the_daily_rate():
    # $10 copay, 12-day short fill of atorvastatin: 10 x 12 / 30 = 4.00
    result = pay(12, copay=D("10.00"), rules=PART_D_PRORATION)
    assert result.amount == D("4.00")
    assert result.method == PayMethod.DAILY_RATE
    assert result.prorated is True
    assert result.full_month_amount == D("10.00")
    assert "12/30" in result.explanation


def test_part_d_daily_rate_rounds_cents_half_up():
    # $47 copay x 17 / 30 = 26.6333... -> 26.63 ; $47 x 15 / 30 = 23.50 exactly
    assert pay(17, copay=D("47"), rules=PART_D_PRORATION).amount == D("26.63")
    assert pay(15, copay=D("47"), rules=PART_D_PRORATION).amount == D("23.50")
    # $10 x 1 / 30 = 0.3333 -> 0.33 ; $10 x 5 / 30 = 1.6667 -> 1.67 ; $0.25 x 2/30 = 0.01666 -> 0.02
    assert pay(1, copay=D("10"), rules=PART_D_PRORATION).amount == D("0.33")
    assert pay(5, copay=D("10"), rules=PART_D_PRORATION).amount == D("1.67")
    assert pay(2, copay=D("0.25"), rules=PART_D_PRORATION).amount == D("0.02")


def test_half_a_cent_rounds_up():
    # $0.15 x 1 / 30 = 0.005 exactly -> 0.01 (half up, not banker's rounding to 0.00)
    assert pay(1, copay=D("0.15"), rules=PART_D_PRORATION).amount == D("0.01")
    assert round_cents(D("2.345")) == D("2.35")
    assert round_cents(D("2.355")) == D("2.36")


@pytest.mark.parametrize(
    ("drug", "why"),
    [
        (ANTIBIOTIC, "antibiotics are exempt"),
        (BLISTER_PACK, "original container are exempt"),
        (INHALER, "solid oral drugs only"),
        (EYE_DROPS, "solid oral drugs only"),
    ],
)
def test_part_d_exempt_drugs_pay_the_full_copay(drug, why):
    # 12 days of an exempt drug under a $10 Part D copay: the full $10.00
    result = pay(12, copay=D("10.00"), rules=PART_D_PRORATION, drug=drug)
    assert result.amount == D("10.00")
    assert result.method == PayMethod.FULL_COPAY
    assert result.prorated is False
    assert why in result.explanation


def test_a_full_month_is_not_prorated():
    assert pay(30, copay=D("10"), rules=PART_D_PRORATION).amount == D("10.00")
    assert pay(30, copay=D("10"), rules=PART_D_PRORATION).prorated is False
    # 29 days is still less than a month: 10 x 29 / 30 = 9.6667 -> 9.67
    assert pay(29, copay=D("10"), rules=PART_D_PRORATION).amount == D("9.67")


def test_a_short_fill_never_costs_more_than_the_monthly_copay():
    for days in range(1, 30):
        assert pay(days, copay=D("10"), rules=PART_D_PRORATION).amount <= D("10.00")


def test_long_fills_pay_one_copay_per_month_block():
    # 60 days: ceil(60/34) = 2 copays = $20 ; 90 days: ceil(90/34) = 3 = $30 ; 34 days: 1 = $10
    assert pay(60, copay=D("10"), rules=PART_D_PRORATION).amount == D("20.00")
    assert pay(90, copay=D("10"), rules=PART_D_PRORATION).amount == D("30.00")
    assert pay(34, copay=D("10"), rules=PART_D_PRORATION).amount == D("10.00")
    assert pay(35, copay=D("10"), rules=PART_D_PRORATION).amount == D("20.00")


# --- rounding of the daily rate (42 CFR 423.100) --------------------------------------------


def test_daily_rate_rounded_down_to_cents():
    rules = ProrationRules(
        policy=ProrationPolicy.DAILY_RATE, rounding=DailyRateRounding.DAILY_CENTS_DOWN
    )
    # $47 / 30 = 1.5666 -> 1.56 a day; 17 days = 26.52 (exact would be 26.63)
    assert daily_rate(copay=D("47"), rules=rules) == D("1.56")
    assert pay(17, copay=D("47"), rules=rules).amount == D("26.52")
    # A month at that rate (1.56 x 30 = 46.80) never exceeds the copay.
    assert daily_rate(copay=D("47"), rules=rules) * 30 <= D("47")


def test_daily_rate_rounded_down_to_a_whole_dollar():
    rules = ProrationRules(
        policy=ProrationPolicy.DAILY_RATE, rounding=DailyRateRounding.DAILY_DOLLAR_DOWN
    )
    # $47 / 30 = 1.5666 -> $1 a day; 17 days = $17.00
    assert pay(17, copay=D("47"), rules=rules).amount == D("17.00")
    # $10 / 30 = 0.333 has no lower dollar amount: down to cents instead, 0.33 x 12 = 3.96
    assert daily_rate(copay=D("10"), rules=rules) == D("0.33")
    assert pay(12, copay=D("10"), rules=rules).amount == D("3.96")


def test_a_31_day_month_divides_by_31():
    rules = ProrationRules(policy=ProrationPolicy.DAILY_RATE, month_days=31)
    # $31 x 10 / 31 = 10.00 ; a 30-day fill is still less than a 31-day month: 31 x 30/31 = 30
    assert pay(10, copay=D("31"), rules=rules).amount == D("10.00")
    assert pay(30, copay=D("31"), rules=rules).amount == D("30.00")


def test_exact_rounding_has_no_separate_daily_rate():
    assert daily_rate(copay=D("47"), rules=DAILY) is None


# --- commercial policies --------------------------------------------------------------------


def test_commercial_daily_rate_prorates_every_dosage_form():
    # NY-style mandate: 12 days of an inhaler on a $30 copay: 30 x 12 / 30 = 12.00
    assert pay(12, copay=D("30"), rules=DAILY, drug=INHALER).amount == D("12.00")


def test_policy_none_charges_a_full_copay_for_a_short_fill():
    result = pay(12, copay=D("10"), rules=NONE)
    assert result.amount == D("10.00")
    assert result.method == PayMethod.FULL_COPAY
    assert "does not prorate" in result.explanation


def test_colorado_cap_charges_at_most_the_normal_copay():
    # CO: a 10-day short fill on a $15 copay costs $15.00 at most, never a second copay
    result = pay(10, copay=D("15"), rules=CAP)
    assert result.amount == D("15.00")
    assert result.method == PayMethod.COPAY_CAPPED
    # ... and less when the claim itself costs less: 10 tabs x $0.50 + $2.00 fee = $7.00
    cheap = pay(
        10,
        copay=D("15"),
        rules=CAP,
        claim=claim_cost(unit_cost=D("0.50"), quantity=D("10"), dispensing_fee=D("2.00")),
    )
    assert cheap.amount == D("7.00")
    assert cheap.method == PayMethod.CLAIM_COST


def test_threshold_prorates_only_below_n_days():
    rules = ProrationRules(policy=ProrationPolicy.DAILY_RATE, prorate_below_days=28)
    # 27 days: 10 x 27 / 30 = 9.00 ; 28 days: not below 28, full $10
    assert pay(27, copay=D("10"), rules=rules).amount == D("9.00")
    full = pay(28, copay=D("10"), rules=rules)
    assert full.amount == D("10.00")
    assert "under 28 days" in full.explanation


@pytest.mark.parametrize(
    ("exclusion", "drug"),
    [
        (ProrationExclusion.EYE_DROPS, EYE_DROPS),
        (ProrationExclusion.INSULIN, INSULIN_PEN),
        (ProrationExclusion.TOPICALS, CREAM),
    ],
)
def test_plan_exclusions_pay_the_full_copay(exclusion, drug):
    rules = ProrationRules(policy=ProrationPolicy.DAILY_RATE, exclusions=frozenset({exclusion}))
    result = pay(12, copay=D("20"), rules=rules, drug=drug)
    assert result.amount == D("20.00")
    assert "excludes" in result.explanation
    # ... while a tablet on the same plan is prorated: 20 x 12 / 30 = 8.00
    assert pay(12, copay=D("20"), rules=rules, drug=TABLET).amount == D("8.00")


# --- coinsurance, cash, the claim ------------------------------------------------------------


def test_coinsurance_pays_the_percent_of_the_smaller_claim_with_the_full_fee():
    # 12 tablets x $2.00 = $24.00 ingredient + $1.75 fee (not prorated) = $25.75 ; 20% = $5.15
    short = claim_cost(unit_cost=D("2.00"), quantity=D("12"), dispensing_fee=D("1.75"))
    assert short == ClaimCost(ingredient_cost=D("24.00"), dispensing_fee=D("1.75"))
    result = pay(12, coinsurance=D("20"), claim=short)
    assert result.amount == D("5.15")
    assert result.method == PayMethod.COINSURANCE
    assert result.plan_pays == D("20.60")
    # A month: 30 x $2.00 = $60.00 + $1.75 = $61.75 ; 20% = 12.35. The fee is whole in both.
    month = claim_cost(unit_cost=D("2.00"), quantity=D("30"), dispensing_fee=D("1.75"))
    assert pay(30, coinsurance=D("20"), claim=month).amount == D("12.35")


def test_coinsurance_without_a_price_is_unknown_not_zero():
    result = pay(12, coinsurance=D("20"))
    assert result.amount is None
    assert result.method == PayMethod.UNKNOWN


def test_coinsurance_minimum_and_maximum():
    claim = ClaimCost(ingredient_cost=D("10.00"), dispensing_fee=D("0"))
    low = compute_patient_pay(
        days_supply=10,
        cost_sharing=CostSharing(coinsurance_percent=D("10"), coinsurance_minimum=D("3")),
        rules=DAILY,
        drug=TABLET,
        claim=claim,
    )
    assert low.amount == D("3.00")  # 10% of $10 = $1.00, raised to the $3 minimum
    high = compute_patient_pay(
        days_supply=30,
        cost_sharing=CostSharing(coinsurance_percent=D("50"), coinsurance_maximum=D("4")),
        rules=DAILY,
        drug=TABLET,
        claim=claim,
    )
    assert high.amount == D("4.00")  # 50% = $5.00, lowered to the $4 maximum


def test_the_patient_never_pays_more_than_the_claim():
    # A $10 copay on a $3.20 claim (12 tabs x $0.10 + $2.00 fee): the patient pays $3.20
    claim = claim_cost(unit_cost=D("0.10"), quantity=D("12"), dispensing_fee=D("2.00"))
    result = pay(12, copay=D("10"), rules=NONE, claim=claim)
    assert result.amount == D("3.20")
    assert result.method == PayMethod.CLAIM_COST


def test_cash_pays_the_claim():
    claim = claim_cost(unit_cost=D("0.333"), quantity=D("10"), dispensing_fee=D("1.00"))
    # 0.333 x 10 = 3.33 + 1.00 = 4.33
    assert pay(10, claim=claim).amount == D("4.33")
    assert pay(10, claim=claim).method == PayMethod.CASH
    assert pay(10).amount is None


def test_dispensing_fee_is_never_prorated_in_a_claim():
    # The same $1.75 fee on a 5-day and a 30-day claim; only the ingredient cost scales.
    five = claim_cost(unit_cost=D("1.00"), quantity=D("5"), dispensing_fee=D("1.75"))
    thirty = claim_cost(unit_cost=D("1.00"), quantity=D("30"), dispensing_fee=D("1.75"))
    assert five.dispensing_fee == thirty.dispensing_fee == D("1.75")
    assert (five.ingredient_cost, thirty.ingredient_cost) == (D("5.00"), D("30.00"))


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: CostSharing(copay=D("10"), coinsurance_percent=D("20")),
        lambda: CostSharing(copay=D("-1")),
        lambda: CostSharing(coinsurance_percent=D("120")),
        lambda: ProrationRules(month_days=28),
        lambda: ProrationRules(prorate_below_days=0),
        lambda: PlanRules(refill_too_soon_percent=0),
        lambda: PlanRules(refill_too_soon_percent=101),
        lambda: PlanRules(return_to_stock_days=0),
        lambda: ClaimCost(ingredient_cost=D("-1")),
        lambda: pay(0, copay=D("10")),
    ],
)
def test_it_refuses_nonsense(build):
    with pytest.raises(ProrationError):
        build()


# --- defaults by state -----------------------------------------------------------------------


@pytest.mark.parametrize("state", ["NY", "PA", "ME", "AZ", "OK", "MN", "NC", "MD"])
def test_states_that_mandate_commercial_proration_default_to_the_daily_rate(state):
    rules, source = default_proration_rules(state=state, plan_kind=PlanKind.COMMERCIAL)
    assert rules.policy == ProrationPolicy.DAILY_RATE
    assert rules.solid_oral_only is False
    assert state in source and STATE_PRORATION_LAWS[state].citation in source


def test_colorado_defaults_to_the_cap():
    rules, _ = default_proration_rules(state="CO", plan_kind=PlanKind.COMMERCIAL)
    assert rules.policy == ProrationPolicy.CAP


def test_other_states_default_to_no_proration_for_commercial_plans():
    rules, source = default_proration_rules(state="WI", plan_kind=PlanKind.COMMERCIAL)
    assert rules.policy == ProrationPolicy.NONE
    assert "no mandate" in source


def test_new_mexico_mandate_is_for_medicaid():
    assert default_proration_rules(state="NM", plan_kind="medicaid")[0].policy == "daily_rate"
    assert default_proration_rules(state="NM", plan_kind="commercial")[0].policy == "none"


@pytest.mark.parametrize("state", ["WI", "NY", "CO", ""])
def test_part_d_follows_the_federal_rule_in_every_state(state):
    rules = default_plan_rules(state=state, plan_kind=PlanKind.MEDICARE_PART_D)
    assert rules.proration == PART_D_PRORATION
    assert rules.proration.solid_oral_only
    assert rules.refill_too_soon_percent == 75
    assert rules.return_to_stock_days == 10
    assert "423.153" in rules.source


def test_cash_has_no_refill_too_soon_edit():
    rules = default_plan_rules(state="WI", plan_kind=PlanKind.CASH)
    assert rules.refill_too_soon_percent is None
    assert rules.proration.policy == ProrationPolicy.NONE


def test_eye_drops_can_have_their_own_refill_too_soon_percent():
    rules = PlanRules(refill_too_soon_percent=75, refill_too_soon_percent_eye_drops=70)
    assert rules.refill_too_soon_percent_for(EYE_DROPS) == 70
    assert rules.refill_too_soon_percent_for(TABLET) == 75


def test_proration_applies_explains_itself():
    assert proration_applies(days_supply=12, rules=DAILY, drug=TABLET) == (
        True,
        "prorated at the plan's daily rate",
    )
    assert proration_applies(days_supply=12, rules=NONE, drug=TABLET)[0] is False


# --- invariants ------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=500, places=2, allow_nan=False, allow_infinity=False)
days_st = st.integers(min_value=1, max_value=120)
rules_st = st.builds(
    ProrationRules,
    policy=st.sampled_from(list(ProrationPolicy)),
    rounding=st.sampled_from(list(DailyRateRounding)),
    month_days=st.sampled_from([30, 31]),
    prorate_below_days=st.none() | st.integers(min_value=1, max_value=31),
    exclusions=st.frozensets(st.sampled_from(list(ProrationExclusion))),
    solid_oral_only=st.booleans(),
)
drug_st = st.builds(
    DrugTraits,
    solid_oral=st.booleans(),
    unit_of_use=st.booleans(),
    antibiotic=st.booleans(),
    eye_drops=st.booleans(),
    topical=st.booleans(),
    insulin=st.booleans(),
)
claim_st = st.none() | st.builds(ClaimCost, ingredient_cost=money, dispensing_fee=money)


@given(copay=money, days=days_st, rules=rules_st, drug=drug_st, claim=claim_st)
def test_copay_charges_are_bounded(copay, days, rules, drug, claim):
    result = pay(days, copay=copay, rules=rules, drug=drug, claim=claim)
    assert result.amount is not None
    assert result.amount >= 0
    assert result.amount == result.amount.quantize(D("0.01"))
    if days < rules.month_days:
        assert result.amount <= round_cents(copay)  # a short fill never costs more than a month
    if claim is not None:
        assert result.amount <= claim.total
    if result.prorated:
        assert result.amount <= round_cents(copay * days / rules.month_days)


@given(copay=money, rules=rules_st, drug=drug_st, days=st.integers(min_value=1, max_value=28))
def test_a_longer_short_fill_never_costs_less(copay, rules, drug, days):
    shorter = pay(days, copay=copay, rules=rules, drug=drug).amount
    longer = pay(days + 1, copay=copay, rules=rules, drug=drug).amount
    assert longer >= shorter


@given(copay=money, days=st.integers(min_value=1, max_value=29))
def test_exact_daily_rate_is_the_fraction_of_the_copay(copay, days):
    assert pay(days, copay=copay, rules=DAILY).amount == round_cents(copay * days / 30)


@given(
    copay=money,
    rounding=st.sampled_from(list(DailyRateRounding)),
    month=st.sampled_from([30, 31]),
)
def test_a_month_at_the_daily_rate_never_exceeds_the_copay(copay, rounding, month):
    rules = ProrationRules(policy=ProrationPolicy.DAILY_RATE, rounding=rounding, month_days=month)
    rate = daily_rate(copay=copay, rules=rules)
    if rate is not None:
        assert rate * month <= copay


@given(percent=st.decimals(min_value=0, max_value=100, places=2), days=days_st, claim=claim_st)
def test_coinsurance_is_the_percent_of_the_claim(percent, days, claim):
    result = pay(days, coinsurance=percent, claim=claim)
    if claim is None:
        assert result.amount is None
    else:
        assert result.amount == round_cents(claim.total * percent / 100)
        assert 0 <= result.amount <= claim.total
