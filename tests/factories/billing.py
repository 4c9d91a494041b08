"""Billing rows: plan rules, plan product rules, price list entries, and claim subjects.

Pass organization= (or a pharmacy / plan rule) explicitly, as for the record factories.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from billing.claim_models import PlanProductRule
from billing.models import PlanRule
from billing.services import ClaimSubject
from patients.models import PriceListEntry
from tests.factories.platform import OrganizationFactory, PharmacyFactory


class PlanRuleFactory(factory.django.DjangoModelFactory):
    """The Acme Part D plan (BIN 610014): 75% refill-too-soon, sync codes, a $2 fee."""

    class Meta:
        model = PlanRule

    organization = factory.SubFactory(OrganizationFactory)
    name = "Acme Part D"
    bin = "610014"
    proration_policy = "daily_rate"
    proration_solid_oral_only = True
    dispensing_fee = Decimal("2.00")


class PlanProductRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanProductRule

    plan_rule = factory.SubFactory(PlanRuleFactory)
    organization = factory.SelfAttribute("plan_rule.organization")
    ndc = ""
    generic_name = ""


class PriceListEntryFactory(factory.django.DjangoModelFactory):
    """50 cents a unit to buy, a dollar a unit to a cash customer."""

    class Meta:
        model = PriceListEntry

    pharmacy = factory.SubFactory(PharmacyFactory)
    organization = factory.SelfAttribute("pharmacy.organization")
    ndc = factory.Sequence(lambda n: f"9{n:010d}")
    acquisition_cost = Decimal("0.50")
    usual_and_customary = Decimal("1.00")


def claim_subject(prescription, *, cycle_item_id: int, **values) -> ClaimSubject:
    """The fill a claim bills, from a prescription (what scheduling builds from an item)."""
    defaults = {
        "pharmacy": prescription.pharmacy,
        "patient": prescription.patient,
        "prescription": prescription,
        "coverage": prescription.coverage,
        "cycle_item_id": cycle_item_id,
        "date_of_service": dt.date(2026, 11, 2),
        "quantity": prescription.quantity_per_fill,
        "days_supply": prescription.days_supply,
        "fill_number": 1,
    }
    defaults.update(values)
    return ClaimSubject(**defaults)
