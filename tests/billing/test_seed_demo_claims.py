"""seed_demo bills Maple's demo fills so every claim state is on screen from the first start."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from billing.claim_models import Claim
from medsync.models import Organization
from medsync.tenancy import tenant_scope
from scheduling.models import CycleItem

pytestmark = pytest.mark.django_db


def claims(slug):
    with tenant_scope(Organization.objects.get(slug=slug)):
        return sorted(
            Claim.objects.values_list("transaction", "status", "reject_codes", "scc_codes")
        )


def test_the_demo_bills_every_claim_state_and_seeding_twice_changes_nothing():
    call_command("seed_demo")
    rows = claims("maple")
    states = {(tx, status) for tx, status, _, _ in rows}
    assert {("B1", "paid"), ("B1", "rejected"), ("B1", "reversed"), ("B2", "accepted")} <= states
    assert ("B3", "paid") in states
    rejects = {code for _, status, codes, _ in rows if status == "rejected" for code in codes}
    assert {"79", "76", "65", "75"} <= rejects
    paid_codes = {tuple(scc) for tx, status, _, scc in rows if status == "paid"}
    assert (47,) in paid_codes and (48,) in paid_codes  # short fills, then the fill after
    with tenant_scope(Organization.objects.get(slug="maple")):
        returned = Claim.objects.get(transaction="B2").cycle_item_id
        assert CycleItem.objects.get(pk=returned).state == "returned"  # by the sweep
    call_command("seed_demo_claims")
    assert claims("maple") == rows
    assert claims("birch") == []
