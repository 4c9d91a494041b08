"""Claims through the simulator gateway: every reject rule, pricing, SCC 47/48, secondary
billing, reverse and rebill (billing.services, issue 11)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.claim_models import Claim, ClaimStatusChange
from billing.rejects import REJECT_CODES
from billing.selectors import latest_claims_for_items
from billing.services import ClaimError, claim_rebill, claim_resubmit, claim_reverse, claim_submit
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from tests.factories import (
    CoverageFactory,
    DrugFactory,
    FillFactory,
    PatientFactory,
    PlanProductRuleFactory,
    PlanRuleFactory,
    PrescriptionFactory,
    PriceListEntryFactory,
    claim_subject,
)

pytestmark = pytest.mark.django_db
DOS = dt.date(2026, 11, 2)


@pytest.fixture
def setup(maple):
    """Maple Main St: a Part D patient ($10 copay), a statin at 50c/$1 a tablet, a $2 fee."""
    org, pharmacy = maple.organization, maple.pharmacies[0]
    with tenant_scope(org):
        patient = PatientFactory(organization=org, date_of_birth=dt.date(1950, 5, 17))
        coverage = CoverageFactory(patient=patient)
        drug = DrugFactory()
        rx = PrescriptionFactory(patient=patient, pharmacy=pharmacy, drug=drug, coverage=coverage)
        PriceListEntryFactory(pharmacy=pharmacy, ndc=drug.ndc)
        rule = PlanRuleFactory(organization=org)
    return {"org": org, "rx": rx, "coverage": coverage, "rule": rule, "actor": maple.technician}


def submit(setup, item=1, **values):
    corrections = {k: values.pop(k) for k in ("scc_codes", "pa_number") if k in values}
    with tenant_scope(setup["org"]):
        return claim_submit(
            subject=claim_subject(setup["rx"], cycle_item_id=item, **values),
            actor=setup["actor"],
            **corrections,
        )


def test_a_clean_claim_is_paid_priced_recorded_and_audited(setup):
    claim = submit(setup)
    assert claim.status == "paid" and claim.transaction == "B1"
    # 30 x $0.50 = $15 + $2 fee (under the $30 U&C): the patient pays the $10 copay.
    assert claim.ingredient_cost_submitted == Decimal("15.00")
    assert claim.usual_and_customary == Decimal("30.00")
    assert (claim.ingredient_cost_paid, claim.dispensing_fee_paid) == (Decimal("15"), Decimal("2"))
    assert (claim.patient_pay, claim.plan_pay) == (Decimal("10.00"), Decimal("7.00"))
    with tenant_scope(setup["org"]):
        stored = Claim.objects.get(pk=claim.pk)
        steps = list(ClaimStatusChange.objects.filter(claim=stored).order_by("id"))
        audit = AuditEvent.objects.get(action="billing.claim.submitted")
    assert [(s.from_status, s.to_status) for s in steps] == [("", "pending"), ("pending", "paid")]
    assert steps[0].actor == setup["actor"]
    record = stored.request_record
    assert record["101-A1"] == "610014" and record["103-A3"] == "B1"
    assert record["442-E7"] == "30.000" and record["405-D5"] == "30" and record["403-D3"] == "1"
    assert record["407-D7"] == setup["rx"].drug.ndc and record["412-DC"] == "2.00"
    assert stored.response_record["112-AN"] == "P"
    assert stored.response_record["505-F5"] == "10.00"
    assert audit.metadata["status"] == "paid" and audit.object_id == str(stored.public_id)


def test_a_4_dollar_generic_costs_4_against_a_10_copay(setup):
    with tenant_scope(setup["org"]):
        from patients.models import PriceListEntry

        PriceListEntry.objects.update(
            acquisition_cost=Decimal("0.20"), usual_and_customary=Decimal("0.13334")
        )
    claim = submit(setup)
    assert claim.status == "paid"
    assert claim.usual_and_customary == Decimal("4.00")
    assert claim.basis_of_reimbursement == "04"  # paid at usual and customary
    assert claim.patient_pay == Decimal("4.00") and claim.plan_pay == Decimal("0.00")


def test_the_dispensing_fee_is_never_prorated(setup):
    full = submit(setup, item=1)
    with tenant_scope(setup["org"]):
        short = claim_submit(
            subject=claim_subject(
                setup["rx"], cycle_item_id=2, quantity=Decimal("10"), days_supply=10,
                date_of_service=DOS + dt.timedelta(days=40),
            ),
            actor=setup["actor"],
        )  # fmt: skip
    assert short.status == "paid"
    assert short.dispensing_fee_submitted == full.dispensing_fee_submitted == Decimal("2.00")
    assert short.dispensing_fee_paid == full.dispensing_fee_paid == Decimal("2.00")
    assert short.ingredient_cost_paid == Decimal("5.00")
    # Part D daily rate: $10 x 10/30 = $3.33; the plan pays the rest of $7.
    assert short.patient_pay == Decimal("3.33") and short.plan_pay == Decimal("3.67")


def test_reject_79_then_scc_47_pays_the_short_fill_and_48_the_next(setup):
    with tenant_scope(setup["org"]):
        FillFactory(prescription=setup["rx"], fill_date=dt.date(2026, 10, 20), days_supply=30)
    # 13 days after a 30-day fill: 75% (23 days) not used.
    early = submit(setup, item=1, quantity=Decimal("10"), days_supply=10)
    assert early.status == "rejected" and early.reject_codes == ["79"]
    assert early.rejects[0]["fix"] == REJECT_CODES["79"][1]
    assert "2026-11-12" in early.reject_messages[0]
    with tenant_scope(setup["org"]):
        short = claim_resubmit(early, actor=setup["actor"], scc_codes=[47])
    assert short.status == "paid" and short.scc_codes == [47]
    assert short.request_record["420-DK"] == ["47"] and short.request_record["354-NX"] == "1"
    assert short.dur_warnings[0]["code"] == "ER"
    # The anchor fill 7 days later: too soon for the 10-day short fill without SCC 48.
    anchor = DOS + dt.timedelta(days=7)
    plain = submit(setup, item=2, date_of_service=anchor)
    assert plain.reject_codes == ["79"]
    after = submit(setup, item=2, date_of_service=anchor, scc_codes=[48])
    assert after.status == "paid" and after.scc_codes == [48]


def test_scc_48_without_a_short_fill_before_it_is_still_too_soon(setup):
    with tenant_scope(setup["org"]):
        FillFactory(prescription=setup["rx"], fill_date=dt.date(2026, 10, 20), days_supply=30)
    claim = submit(setup, scc_codes=[48])
    assert claim.reject_codes == ["79"] and "SCC 48" in claim.reject_messages[0]


def test_a_plan_that_refuses_sync_codes_rejects_79_even_with_scc_47(setup):
    with tenant_scope(setup["org"]):
        FillFactory(prescription=setup["rx"], fill_date=dt.date(2026, 10, 20), days_supply=30)
        setup["rule"].sync_codes_allowed = False
        setup["rule"].save()
    assert submit(setup, scc_codes=[47]).reject_codes == ["79"]


@pytest.mark.parametrize(
    ("rule_values", "fill_values", "message"),
    [
        (
            {"max_days_supply_per_fill": 30},
            {"days_supply": 90, "quantity": Decimal("90")},
            "90 days",
        ),
        ({"max_quantity_per_fill": Decimal("60")}, {"quantity": Decimal("90")}, "Quantity 90"),
        (
            {"quantity_per_period": Decimal("40"), "quantity_period_days": 30},
            {"quantity": Decimal("30")},
            "60 units in 30 days",
        ),
    ],
)
def test_reject_76_plan_limits(setup, rule_values, fill_values, message):
    with tenant_scope(setup["org"]):
        for name, value in rule_values.items():
            setattr(setup["rule"], name, value)
        setup["rule"].save()
        if "quantity_per_period" in rule_values:
            FillFactory(prescription=setup["rx"], fill_date=DOS - dt.timedelta(days=25))
    claim = submit(setup, **fill_values)
    assert claim.status == "rejected" and claim.reject_codes == ["76"]
    assert message in claim.reject_messages[0]


def test_reject_76_for_the_age_limit_of_a_product(setup):
    with tenant_scope(setup["org"]):
        PlanProductRuleFactory(plan_rule=setup["rule"], ndc=setup["rx"].drug.ndc, max_age=65)
    claim = submit(setup)
    assert claim.reject_codes == ["76"] and "Age 76" in claim.reject_messages[0]


def test_reject_65_when_the_coverage_ended_before_the_date_of_service(setup):
    with tenant_scope(setup["org"]):
        setup["coverage"].effective_to = dt.date(2026, 10, 31)
        setup["coverage"].save()
    claim = submit(setup)
    assert claim.reject_codes == ["65"]
    assert claim.rejects[0]["meaning"] == "Patient is not covered"


def test_reject_70_for_a_product_the_plan_excludes(setup):
    with tenant_scope(setup["org"]):
        PlanProductRuleFactory(
            plan_rule=setup["rule"], generic_name=setup["rx"].drug.generic_name, excluded=True
        )
    assert submit(setup).reject_codes == ["70"]


def test_reject_75_until_a_prior_authorization_number_is_recorded(setup):
    with tenant_scope(setup["org"]):
        PlanProductRuleFactory(
            plan_rule=setup["rule"], ndc=setup["rx"].drug.ndc, prior_auth_required=True
        )
    rejected = submit(setup)
    assert rejected.reject_codes == ["75"]
    with tenant_scope(setup["org"]):
        paid = claim_resubmit(rejected, actor=setup["actor"], pa_number="PA123456")
    assert paid.status == "paid" and paid.prior_auth_number == "PA123456"
    assert paid.request_record["462-EV"] == "PA123456"


def test_reject_41_bills_the_other_payer_first_then_this_one_as_secondary(setup):
    org = setup["org"]
    with tenant_scope(org):
        patient = setup["rx"].patient
        medicaid = CoverageFactory(
            patient=patient, bin="004740", pcn="MCAID", plan_type="medicaid",
            copay_amount=Decimal("1.00"), priority=1, payer_name="State Medicaid",
        )  # fmt: skip
        PlanRuleFactory(organization=org, name="State Medicaid", bin="004740")
        setup["coverage"].priority = 2
        setup["coverage"].save()
        setup["rx"].coverage = medicaid
        setup["rx"].save()
    claim = submit(setup, coverage=medicaid)
    with tenant_scope(org):
        claims = list(Claim.objects.order_by("id"))
    assert [(c.bin, c.coordination, c.status) for c in claims] == [
        ("004740", 1, "rejected"),
        ("610014", 1, "paid"),
        ("004740", 2, "paid"),
    ]
    assert claims[0].reject_codes == ["41"]
    primary, secondary = claims[1], claims[2]
    assert claim.pk == primary.pk
    assert secondary.other_payer_amount_paid == primary.plan_pay == Decimal("7.00")
    assert secondary.request_record["431-DV"] == "7.00"
    # Medicaid leaves the patient its $1 copay of the $10 the primary left.
    assert secondary.patient_pay == Decimal("1.00") and secondary.plan_pay == Decimal("9.00")


def test_a_fill_with_a_paid_claim_is_refused_and_nothing_is_written(setup):
    submit(setup)
    with pytest.raises(ClaimError) as caught:
        submit(setup)
    assert caught.value.code == "already_paid" and caught.value.http_status == 409
    with tenant_scope(setup["org"]):
        assert Claim.objects.count() == 1


def test_bad_input_names_the_field_and_writes_nothing(setup):
    with pytest.raises(ClaimError) as caught:
        submit(setup, quantity=Decimal("0"))
    assert "quantity" in caught.value.fields
    with tenant_scope(setup["org"]):
        assert Claim.objects.count() == 0


def test_reverse_then_bill_again_and_rebill(setup):
    paid = submit(setup)
    with tenant_scope(setup["org"]):
        reversal = claim_reverse(paid, actor=setup["actor"], reason="Patient declined")
        paid.refresh_from_db()
        assert reversal.transaction == "B2" and reversal.status == "accepted"
        assert reversal.request_record["103-A3"] == "B2"
        assert paid.status == "reversed" and paid.reversal_reason == "Patient declined"
        with pytest.raises(ClaimError):
            claim_reverse(paid, actor=setup["actor"], reason="again")
    again = submit(setup)
    assert again.status == "paid"
    with tenant_scope(setup["org"]):
        rebill = claim_rebill(again, actor=setup["actor"], quantity=Decimal("28"), days_supply=28)
        again.refresh_from_db()
        latest = latest_claims_for_items(setup["org"], [1])
    assert rebill.transaction == "B3" and rebill.status == "paid"
    assert again.status == "reversed"
    assert latest[1].pk == rebill.pk
    assert rebill.ingredient_cost_submitted == Decimal("14.00")
