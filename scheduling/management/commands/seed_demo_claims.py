"""Bill Maple's demo fills through the claim simulator so every claim state is on screen:
paid fills (short fills with SCC 47, the next with 48), rejects to work (79, 76, 65, 75), a
reversal by the return-to-stock sweep, and a rebill. Runs after seed_demo_scheduling (it
bills cycle items, which only scheduling knows); idempotent: an organization with claims is
left as it is."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from billing.claim_models import Claim, ClaimStatus
from billing.models import PlanRule
from billing.selectors import plan_rules_for
from billing.services import (
    ClaimError,
    ClaimSubject,
    claim_rebill,
    claim_submit,
    plan_product_rule_create,
    plan_rule_update,
)
from medsync.models import Membership, Organization
from medsync.roles import Role
from medsync.tenancy import tenant_scope
from patients.models import Coverage, Fill
from scheduling import sweeps
from scheduling.dates import local_today
from scheduling.models import CycleItem, CycleStatus, ItemState

STARTED = (ItemState.BILLED, ItemState.FILLED, ItemState.READY, ItemState.PICKED_UP)


def subject_for(item: CycleItem, **changes) -> ClaimSubject:
    rx = item.prescription
    fill_number = (
        item.fill.fill_number if item.fill_id else Fill.objects.filter(prescription=rx).count()
    )
    values = {
        "pharmacy": item.cycle.pharmacy,
        "patient": item.cycle.patient,
        "prescription": rx,
        "coverage": rx.coverage,
        "cycle_item_id": item.pk,
        "date_of_service": item.fill_date,
        "quantity": item.quantity,
        "days_supply": item.days_supply,
        "fill_number": fill_number,
        "scc_codes": tuple(item.scc_codes),
    }
    values.update(changes)
    return ClaimSubject(**values)


class Command(BaseCommand):
    help = "Bill Maple's demo fills through the claim simulator (safe to run again)."

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug="maple").first()
        if organization is None:
            return
        with tenant_scope(organization):
            if Claim.objects.exists():
                return
            made = self._seed()
        self.stdout.write(f"  {organization.name}: {made} demo claims billed")

    def _bill(self, subject, *, actor, now=None) -> Claim | None:
        try:
            return claim_submit(subject=subject, actor=actor, now=now)
        except ClaimError as exc:
            self.stderr.write(f"  not billed (item {subject.cycle_item_id}): {exc.message}")
            return None

    def _seed(self) -> int:
        membership = Membership.objects.filter(role=Role.TECHNICIAN).select_related("user")
        actor = membership.first().user if membership.exists() else None
        now = timezone.now()
        items = list(
            CycleItem.objects.filter(state__in=STARTED)
            .select_related(
                "cycle__pharmacy", "cycle__patient", "prescription__drug",
                "prescription__coverage", "prescription__prescriber", "fill",
            )
            .order_by("fill_date", "pk")
        )  # fmt: skip
        # A short fill of a missed cycle billed 11 days ago: the sweep reverses it below.
        returned = next(
            (i for i in items if i.cycle.status == CycleStatus.MISSED and i.state == "ready"),
            None,
        )
        with transaction.atomic():
            if returned is not None:
                billed = now - dt.timedelta(days=11)
                day = local_today(returned.cycle.pharmacy.time_zone, billed)
                self._bill(subject_for(returned, date_of_service=day), actor=actor, now=billed)
            for item in items:
                if item is returned:
                    continue
                when = item.billed_at or item.filled_at or now
                self._bill(subject_for(item), actor=actor, now=min(when, now))
        sweeps.items_return_to_stock(now=now)
        # A rebill: a paid claim of a ready bag, corrected (same fill, B3).
        paid = Claim.objects.filter(status=ClaimStatus.PAID, coordination=1).order_by("-id")
        first = paid.first()
        if first is not None:
            claim_rebill(first, actor=actor, days_supply=first.days_supply)
        self._rejects(actor=actor, now=now)
        return Claim.objects.count()

    def _rejects(self, *, actor, now) -> None:
        """Rejects to work on fills still to start: 79, 76, 65 and 75."""
        planned = list(
            CycleItem.objects.filter(state=ItemState.PLANNED)
            .select_related(
                "cycle__pharmacy", "cycle__patient", "prescription__drug",
                "prescription__coverage", "prescription__prescriber", "fill",
            )
            .order_by("fill_date", "pk")
        )  # fmt: skip
        pool = [i for i in planned if i.prescription.coverage_id]
        if len(pool) < 4:
            return
        today = local_today(pool[0].cycle.pharmacy.time_zone, now)
        # 79: started today, the fill whose last supply has the most days left.
        last_fill = {}
        for fill in Fill.objects.filter(
            prescription_id__in={i.prescription_id for i in pool}, returned_to_stock_at=None
        ).order_by("fill_date"):
            last_fill[fill.prescription_id] = fill.fill_date + dt.timedelta(days=fill.days_supply)
        early = max(pool, key=lambda i: last_fill.get(i.prescription_id, dt.date.min))
        self._bill(subject_for(early, date_of_service=today, scc_codes=()), actor=actor, now=now)
        rest = [i for i in pool if i.cycle_id != early.cycle_id]
        used: set[int] = set()

        def take():
            for item in rest:
                if item.cycle.patient_id not in used and self._rule(item) is not None:
                    used.add(item.cycle.patient_id)
                    return item
            return None

        # 76: a 90-day fill where the plan allows 34 days a fill.
        item = take()
        if item is not None:
            rule = self._rule(item)
            if rule.max_days_supply_per_fill is None:
                plan_rule_update(plan_rule=rule, actor=None, max_days_supply_per_fill=34)
            per_day = item.quantity / item.days_supply
            quantity = (per_day * 90).quantize(Decimal("1"), rounding=ROUND_DOWN)
            subject = subject_for(item, days_supply=90, quantity=max(quantity, Decimal("1")))
            self._bill(subject, actor=actor, now=now)
        # 65: the prescription still points at a plan that ended last month.
        item = take()
        if item is not None:
            current = item.prescription.coverage
            ended = Coverage.objects.create(
                patient=current.patient, payer_name=f"{current.payer_name} (previous plan)",
                bin=current.bin, pcn=current.pcn, group=current.group,
                member_id=current.member_id, plan_type=current.plan_type,
                copay_amount=current.copay_amount,
                coinsurance_percent=current.coinsurance_percent,
                effective_from=today - dt.timedelta(days=400),
                effective_to=today - dt.timedelta(days=20),
                rules_state=current.rules_state, priority=9,
            )  # fmt: skip
            self._bill(subject_for(item, coverage=ended), actor=actor, now=now)
        # 75: the plan puts the drug on its prior authorization list.
        item = take()
        if item is not None:
            plan_product_rule_create(
                plan_rule=self._rule(item), actor=None, ndc=item.prescription.drug.ndc,
                prior_auth_required=True,
            )  # fmt: skip
            self._bill(subject_for(item), actor=actor, now=now)

    @staticmethod
    def _rule(item) -> PlanRule | None:
        rules = plan_rules_for(item.prescription.coverage)
        if rules.plan_rule_id is None:
            return None
        return PlanRule.objects.filter(public_id=rules.plan_rule_id).first()
