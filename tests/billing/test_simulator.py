"""The pure claim simulator (billing/simulator.py): each rule with a worked example and the
pricing invariants (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing import ncpdp
from billing.gateway import gateway
from billing.proration import (
    CostSharing,
    PlanKind,
    PlanRules,
    ProrationPolicy,
    ProrationRules,
)
from billing.simulator import (
    BenefitPhase,
    ClaimRequest,
    PlanData,
    PriorFill,
    ProductRule,
    Transaction,
    adjudicate,
    reverse,
    submitted_amounts,
)

DOS = dt.date(2026, 11, 2)
PART_D = PlanRules(
    plan_kind=PlanKind.MEDICARE_PART_D,
    proration=ProrationRules(policy=ProrationPolicy.DAILY_RATE, solid_oral_only=True),
    dispensing_fee=Decimal("2.00"),
)


def request(**values) -> ClaimRequest:
    quantity = values.pop("quantity", Decimal("30"))
    ingredient, usual, fee = submitted_amounts(
        unit_cost=values.pop("unit_cost", Decimal("0.50")),
        unit_usual_and_customary=values.pop("unit_uc", Decimal("1.00")),
        quantity=quantity,
        fee=Decimal("2.00"),
    )
    base = {
        "transaction": Transaction.BILL, "bin": "610014", "pcn": "MEDDPRIME", "group": "G",
        "member_id": "M1", "date_of_service": DOS, "rx_number": "7000001",
        "ndc": "00093505698", "quantity": quantity, "days_supply": 30, "fill_number": 2,
        "ingredient_cost_submitted": ingredient, "usual_and_customary": usual,
        "dispensing_fee_submitted": fee, "patient_date_of_birth": dt.date(1950, 5, 17),
    }  # fmt: skip
    base.update(values)
    return ClaimRequest(**base)


def plan(**values) -> PlanData:
    base = {
        "rules": PART_D,
        "cost_sharing": CostSharing(copay=Decimal("10.00")),
        "effective_from": dt.date(2025, 1, 1),
    }
    base.update(values)
    return PlanData(**base)


def test_each_rule_rejects_with_its_code():
    last = (PriorFill(dt.date(2026, 10, 20), 30, Decimal("30")),)
    assert adjudicate(request(), plan(), last).reject_codes == ("79",)
    assert adjudicate(request(scc_codes=(47,)), plan(), last).paid
    strict = PlanRules(
        plan_kind=PlanKind.COMMERCIAL, sync_codes_allowed=False, max_days_supply_per_fill=30
    )
    assert adjudicate(request(scc_codes=(47,)), plan(rules=strict), last).reject_codes == ("79",)
    assert adjudicate(request(days_supply=90), plan(rules=strict)).reject_codes == ("76",)
    ended = plan(effective_to=dt.date(2026, 10, 31))
    assert adjudicate(request(), ended).reject_codes == ("65",)
    assert adjudicate(request(), plan(product=ProductRule(excluded=True))).reject_codes == ("70",)
    pa = plan(product=ProductRule(prior_auth_required=True))
    assert adjudicate(request(), pa).reject_codes == ("75",)
    assert adjudicate(request(prior_auth_number="PA1"), pa).paid
    assert adjudicate(request(), plan(other_payer_first=True)).reject_codes == ("41",)
    assert adjudicate(request(quantity=Decimal("0")), plan()).reject_codes == ("E7",)
    assert adjudicate(request(days_supply=0), plan()).reject_codes == ("19",)
    young = plan(product=ProductRule(min_age=80))
    assert adjudicate(request(), young).reject_codes == ("76",)


def test_scc_48_needs_the_short_fill_before_it():
    short = (PriorFill(dt.date(2026, 10, 30), 7, Decimal("7"), (47,)),)
    assert adjudicate(request(scc_codes=(48,)), plan(), short).paid
    plain = (PriorFill(dt.date(2026, 10, 30), 7, Decimal("7")),)
    assert adjudicate(request(scc_codes=(48,)), plan(), plain).reject_codes == ("79",)


def test_a_paid_claim_record_and_a_reversal():
    response = gateway().submit(request(scc_codes=(47,)), plan=plan(), history=())
    record = ncpdp.request_record(request(scc_codes=(47,)))
    assert record["420-DK"] == ["47"] and record["430-DU"] == "17.00"
    answer = ncpdp.response_record(response)
    assert answer["112-AN"] == "P" and answer["509-F9"] == "7.00" and answer["503-F3"]
    assert reverse(request(transaction=Transaction.REVERSE), paid=False).reject_codes == ("87",)
    assert reverse(request(transaction=Transaction.REVERSE), paid=True).status == "A"


def test_deductible_and_catastrophic_phases():
    assert adjudicate(request(), plan(benefit_phase=BenefitPhase.DEDUCTIBLE)).patient_pay == (
        Decimal("17.00")
    )
    assert adjudicate(request(), plan(benefit_phase=BenefitPhase.CATASTROPHIC)).patient_pay == 0


@given(
    days=st.integers(min_value=1, max_value=90),
    unit_cost=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("20"), places=2),
    markup=st.decimals(min_value=Decimal("0.1"), max_value=Decimal("4"), places=2),
    copay=st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=2),
)
def test_pricing_invariants(days, unit_cost, markup, copay):
    """The patient never pays more than the claim or a month's copay for a short fill; the
    plan and patient shares add up to the claim; the fee paid never depends on the days."""
    quantity = Decimal(days)
    claim = request(
        quantity=quantity, days_supply=days, unit_cost=unit_cost, unit_uc=unit_cost * markup
    )
    response = adjudicate(claim, plan(cost_sharing=CostSharing(copay=copay)))
    total = response.ingredient_cost_paid + response.dispensing_fee_paid
    assert response.paid
    assert 0 <= response.patient_pay <= total
    assert response.patient_pay + response.plan_pay == total
    if days < 30:
        assert response.patient_pay <= copay
    assert response.dispensing_fee_paid in (Decimal("0"), Decimal("2.00"))
    if response.basis == "01":
        assert response.dispensing_fee_paid == Decimal("2.00")
