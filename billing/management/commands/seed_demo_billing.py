"""Demo plan rules for Maple Pharmacy (WI) and Birch Rx (NC). Idempotent: a rule whose match
(BIN, PCN, group, state, plan type) exists is left as it is."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from billing.models import PlanRule
from billing.services import plan_rule_create
from medsync.models import Organization
from medsync.tenancy import tenant_scope

MATCH = ("bin", "pcn", "group", "state", "plan_type")

RULES = {
    "maple": [
        {
            "name": "Acme Medicare Rx (PDP)",
            "bin": "610014",
            "pcn": "MEDDPRIME",
            "plan_type": "medicare_part_d",
            "refill_too_soon_percent_eye_drops": 70,
            "notes": "Part D daily cost sharing for solid orals; eye drops refill at 70%.",
        },
        {
            "name": "Northwoods PPO",
            "bin": "003858",
            "plan_type": "commercial",
            "proration_policy": "daily_rate",
            "prorate_below_days": 28,
            "proration_exclusions": ["eye_drops", "topicals", "insulin"],
            "notes": "Prorates voluntarily, only fills under 28 days; drops, topicals and "
            "insulin pay a full copay.",
        },
        {
            "name": "Badger Health Commercial",
            "bin": "004336",
            "plan_type": "commercial",
            "refill_too_soon_percent": 80,
            "notes": "20% coinsurance; refills at 80% of the last supply.",
        },
        {
            "name": "BadgerCare Plus (Medicaid)",
            "bin": "610084",
            "plan_type": "medicaid",
            "return_to_stock_days": 14,
        },
    ],
    "birch": [
        {
            "name": "North Carolina commercial default",
            "state": "NC",
            "plan_type": "commercial",
            "notes": "N.C.G.S. 58-3-181: commercial plans prorate sync short fills.",
        },
    ],
}


class Command(BaseCommand):
    help = "Create the demo plan rules (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options):
        created = 0
        for slug, rules in RULES.items():
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                continue
            with tenant_scope(organization):
                for spec in rules:
                    match = {field: spec.get(field, "") for field in MATCH}
                    if PlanRule.objects.filter(**match).exists():
                        continue
                    plan_rule_create(actor=None, **spec)
                    created += 1
        self.stdout.write(f"Billing demo: {created} plan rule(s) created.")
