"""seed_demo_billing: the demo plan rules, idempotent and in the right tenants."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from billing.models import PlanRule
from medsync.tenancy import tenant_scope

pytestmark = pytest.mark.django_db


def rules_of(tenant):
    with tenant_scope(tenant.organization):
        return sorted(PlanRule.objects.values_list("name", "proration_policy"))


def test_it_seeds_each_tenant_once(maple, birch):
    call_command("seed_demo_billing")
    first = (rules_of(maple), rules_of(birch))
    call_command("seed_demo_billing")
    assert (rules_of(maple), rules_of(birch)) == first
    assert ("Northwoods PPO", "daily_rate") in first[0]
    assert ("Acme Medicare Rx (PDP)", "daily_rate") in first[0]
    assert first[1] == [("North Carolina commercial default", "daily_rate")]


def test_it_skips_missing_organizations(db):
    from medsync.tenancy import scopes_disabled

    call_command("seed_demo_billing")  # no demo organizations yet: nothing to do, no error
    with scopes_disabled():
        assert PlanRule.objects.count() == 0
