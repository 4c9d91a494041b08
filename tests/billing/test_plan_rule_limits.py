"""Issue 10 defect 9: plan limits live on the plan rules (reject 76) and reach the engine."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing import services
from billing.selectors import plan_rules_for
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from tests.factories import CoverageFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_a_plan_rule_carries_its_limits_to_the_engine(maple):
    with tenant_scope(maple.organization):
        rule = services.plan_rule_create(
            actor=maple.owner,
            name="Acme commercial",
            bin="610014",
            plan_type="commercial",
            max_days_supply_per_fill=34,
            max_quantity_per_fill=Decimal("120"),
            quantity_per_period=Decimal("30"),
            quantity_period_days=30,
            refill_consolidation_allowed=True,
        )
        patient = PatientFactory(organization=maple.organization)
        coverage = CoverageFactory(patient=patient, bin="610014", plan_type="commercial")
        rules = plan_rules_for(coverage)
        assert (rules.max_days_supply_per_fill, rules.max_quantity_per_fill) == (34, Decimal("120"))
        assert (rules.quantity_per_period, rules.quantity_period_days) == (Decimal("30"), 30)
        assert rules.consolidation_allowed("NY") and not rules.consolidation_allowed("WI")
        created = AuditEvent.objects.get(action="billing.plan_rule.created")
        assert created.metadata["max_quantity_per_fill"] == "120"
        services.plan_rule_update(plan_rule=rule, actor=maple.owner, max_days_supply_per_fill=30)
        rule.refresh_from_db()
        assert rule.max_days_supply_per_fill == 30


def test_a_quantity_per_period_needs_its_period(maple):
    with tenant_scope(maple.organization), pytest.raises(ValidationError):
        services.plan_rule_create(
            actor=maple.owner,
            name="Half a limit",
            bin="610015",
            quantity_per_period=Decimal("30"),
        )
