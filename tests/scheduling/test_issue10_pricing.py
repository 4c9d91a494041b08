"""Issue 10 defects 1 and 2: every fill billed to a coverage and priced (DOMAIN.md sections 4-5).

Worked examples through POST /api/v1/patients/{id}/sync-plan/ (the wizard's plan preview is the
same selector). Today is Monday 2026-03-02 (Madison).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from billing.models import PlanRule
from medsync.tenancy import tenant_scope
from patients.models import PriceListEntry
from tests.factories import CoverageFactory, FillFactory, PatientFactory, SyncPrescriptionFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def patient_with_rx(pharmacy, *, last_fill, days=30, link=True, **coverage_fields):
    organization = pharmacy.organization
    patient = PatientFactory(organization=organization, home_pharmacy=pharmacy)
    coverage = CoverageFactory(patient=patient, **coverage_fields)
    rx = SyncPrescriptionFactory(
        patient=patient, pharmacy=pharmacy, coverage=coverage if link else None
    )
    FillFactory(prescription=rx, fill_date=last_fill, days_supply=days, quantity=Decimal(days))
    return patient, rx


def plan(client, patient, rx, anchor):
    response = client.post(
        f"/api/v1/patients/{patient.public_id}/sync-plan/",
        {"anchor_date": anchor, "cycle_days": 30, "prescriptions": [str(rx.public_id)]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    (item,) = response.json()["items"]
    return item


def price(pharmacy, rx, *, cost, usual):
    with tenant_scope(pharmacy.organization):
        PriceListEntry.objects.create(
            pharmacy=pharmacy,
            ndc=rx.drug.ndc,
            acquisition_cost=Decimal(cost),
            usual_and_customary=Decimal(usual),
        )


def fee_rule(organization, fee):
    with tenant_scope(organization):
        PlanRule.objects.create(
            name="Acme Part D",
            bin="610014",
            proration_policy="daily_rate",
            proration_solid_oral_only=True,
            dispensing_fee=Decimal(fee),
        )


def codes(item):
    return {w["code"] for w in item["warnings"]}


def test_an_rx_without_coverage_is_planned_on_the_primary_coverage_and_flags_too_soon(
    maple, api_client_for
):
    # Filled 2/27 for 30 days: due 3/29. Anchor 3/5: the fill on 3/5 is 6 days after a 30-day
    # fill (20% used, Part D pays at 75%): refill too soon, overridden with SCC 47 (DOMAIN 3).
    # Before: no coverage on the Rx = cash = no refill-too-soon edit and "price unknown".
    pharmacy = maple.pharmacies[0]
    patient, rx = patient_with_rx(pharmacy, last_fill=dt.date(2026, 2, 27), link=False)
    item = plan(api_client_for(maple.pharmacist), patient, rx, "2026-03-05")
    assert "refill_too_soon" in codes(item)
    assert "coverage_assumed" in codes(item)
    assumed = next(w for w in item["warnings"] if w["code"] == "coverage_assumed")
    assert "Acme Part D" in assumed["message"]


def test_a_4_dollar_generic_against_a_10_dollar_copay_costs_4_dollars(maple, api_client_for):
    # Due 3/5, anchor 3/5: a full 30-tablet fill. Claim = 30 x $0.05 + $2.50 fee = $4.00,
    # less than the $10 copay: the patient pays $4.00 (DOMAIN 5, the lesser of).
    pharmacy = maple.pharmacies[0]
    patient, rx = patient_with_rx(pharmacy, last_fill=dt.date(2026, 2, 3))
    price(pharmacy, rx, cost="0.05", usual="0.30")
    fee_rule(maple.organization, "2.50")
    item = plan(api_client_for(maple.pharmacist), patient, rx, "2026-03-05")
    assert item["kind"] == "full" and Decimal(item["quantity"]) == 30
    assert item["patient_pay"] == "4.00"
    assert "price_unknown" not in codes(item)


def test_coinsurance_with_a_minimum_is_priced(maple, api_client_for):
    # 20% of (30 x $0.10 + $1.00) = 20% of $4.00 = $0.80, raised to the $2.00 minimum.
    pharmacy = maple.pharmacies[0]
    patient, rx = patient_with_rx(
        pharmacy,
        last_fill=dt.date(2026, 2, 3),
        copay_amount=None,
        coinsurance_percent=Decimal("20"),
        coinsurance_minimum=Decimal("2.00"),
        coinsurance_maximum=Decimal("50.00"),
    )
    price(pharmacy, rx, cost="0.10", usual="0.50")
    fee_rule(maple.organization, "1.00")
    item = plan(api_client_for(maple.pharmacist), patient, rx, "2026-03-05")
    assert item["patient_pay"] == "2.00"


def test_in_the_deductible_the_patient_pays_the_claim(maple, api_client_for):
    # Deductible phase: 30 x $1.20 + $2.00 = $38.00, not the $10 copay.
    pharmacy = maple.pharmacies[0]
    patient, rx = patient_with_rx(
        pharmacy, last_fill=dt.date(2026, 2, 3), benefit_phase="deductible"
    )
    price(pharmacy, rx, cost="1.20", usual="2.00")
    fee_rule(maple.organization, "2.00")
    item = plan(api_client_for(maple.pharmacist), patient, rx, "2026-03-05")
    assert item["patient_pay"] == "38.00"


def test_cash_pays_usual_and_customary(maple, api_client_for):
    # Cash: 30 x $0.30 U&C = $9.00 (no plan, no dispensing fee on top).
    pharmacy = maple.pharmacies[0]
    patient, rx = patient_with_rx(
        pharmacy,
        last_fill=dt.date(2026, 2, 3),
        plan_type="cash",
        copay_amount=None,
        bin="",
    )
    price(pharmacy, rx, cost="0.05", usual="0.30")
    item = plan(api_client_for(maple.pharmacist), patient, rx, "2026-03-05")
    assert item["patient_pay"] == "9.00"


def test_price_unknown_only_when_the_price_list_lacks_the_product(maple, api_client_for):
    pharmacy = maple.pharmacies[0]
    patient, rx = patient_with_rx(
        pharmacy, last_fill=dt.date(2026, 2, 3), copay_amount=None, coinsurance_percent=20
    )
    item = plan(api_client_for(maple.pharmacist), patient, rx, "2026-03-05")
    assert item["patient_pay"] is None
    unknown = next(w for w in item["warnings"] if w["code"] == "price_unknown")
    assert rx.drug.ndc in unknown["message"] and "price list" in unknown["message"]
