"""Reads of billing rules that scheduling, the API and reports share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from django.db.models import Q, QuerySet

from billing.models import PlanRule
from billing.proration import (
    DailyRateRounding,
    DrugTraits,
    PlanKind,
    PlanRules,
    ProrationExclusion,
    ProrationPolicy,
    ProrationRules,
    default_plan_rules,
)
from patients.models import Coverage, DosageForm, PlanType, TherapeuticClass

# Dosage forms priced and prorated as topicals (DOMAIN 4).
TOPICAL_FORMS = {DosageForm.CREAM, DosageForm.PATCH}


def drug_traits(drug) -> DrugTraits:
    """The engine's view of a catalog drug: what proration, alignment and the claim
    simulator ask of it (one mapping for planning and for claims)."""
    classes = set(drug.therapeutic_classes or [])
    return DrugTraits(
        solid_oral=drug.is_solid_oral,
        unit_of_use=drug.unit_of_use,
        antibiotic=drug.is_antibiotic or TherapeuticClass.ANTIBIOTIC in classes,
        eye_drops=drug.dosage_form == DosageForm.EYE_DROPS,
        topical=drug.dosage_form in TOPICAL_FORMS,
        insulin=TherapeuticClass.INSULIN in classes,
    )


def plan_rule_list() -> QuerySet[PlanRule]:
    """The active organization's plan rules, state defaults first."""
    return PlanRule.objects.all().order_by("state", "bin", "pcn", "group", "plan_type", "name")


def plan_rules_from_rule(rule: PlanRule) -> PlanRules:
    """The engine's view of one stored rule."""
    where = f"plan rule '{rule.name}'"
    return PlanRules(
        plan_kind=PlanKind(rule.plan_type) if rule.plan_type else PlanKind.COMMERCIAL,
        proration=ProrationRules(
            policy=ProrationPolicy(rule.proration_policy),
            rounding=DailyRateRounding(rule.proration_rounding),
            month_days=rule.proration_month_days,
            prorate_below_days=rule.prorate_below_days,
            exclusions=frozenset(ProrationExclusion(e) for e in rule.proration_exclusions),
            solid_oral_only=rule.proration_solid_oral_only,
            max_days_per_copay=rule.max_days_per_copay,
        ),
        refill_too_soon_percent=rule.refill_too_soon_percent,
        refill_too_soon_percent_eye_drops=rule.refill_too_soon_percent_eye_drops,
        return_to_stock_days=rule.return_to_stock_days,
        sync_codes_allowed=rule.sync_codes_allowed,
        short_fills_per_year=rule.short_fills_per_year,
        max_days_supply_per_fill=rule.max_days_supply_per_fill,
        max_quantity_per_fill=rule.max_quantity_per_fill,
        quantity_per_period=rule.quantity_per_period,
        quantity_period_days=rule.quantity_period_days,
        refill_consolidation_allowed=rule.refill_consolidation_allowed,
        dispensing_fee=rule.dispensing_fee,
        source=where,
        plan_rule_id=rule.public_id,
    )


def _best_rule(coverage: Coverage, rules: Iterable[PlanRule]) -> PlanRule | None:
    candidates = [r for r in rules if r.matches(coverage)]
    if coverage.plan_type == PlanType.CASH:
        # Cash has no plan: only a rule written for cash applies (no PBM edits otherwise).
        candidates = [r for r in candidates if r.plan_type == PlanType.CASH]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.specificity, -r.pk))


def _candidate_rules(coverages: list[Coverage]) -> list[PlanRule]:
    bins = {c.bin.strip() for c in coverages if c.bin}
    states = {c.rules_state for c in coverages if c.rules_state}
    if not bins and not states:
        return []
    return list(PlanRule.objects.filter(Q(bin__in=bins) | (Q(bin="") & Q(state__in=states))))


def _resolve(coverage: Coverage | None, rules: list[PlanRule], state: str) -> PlanRules:
    if coverage is None:
        return default_plan_rules(state=state, plan_kind=PlanKind.CASH)
    rule = _best_rule(coverage, rules)
    if rule is not None:
        resolved = plan_rules_from_rule(rule)
        # The plan kind is the coverage's, whatever the rule matched on.
        return replace(resolved, plan_kind=PlanKind(coverage.plan_type))
    return default_plan_rules(state=coverage.rules_state, plan_kind=coverage.plan_type)


def plan_rules_for(coverage: Coverage | None, *, state: str = "") -> PlanRules:
    """The rules that govern fills billed to ``coverage``: the most specific PlanRule of the
    active organization (BIN + PCN + group beats BIN + PCN beats BIN beats state + plan type
    beats state), else the state defaults (billing.proration.default_plan_rules).

    ``coverage=None`` (no insurance) prices as cash in ``state``. One query.
    """
    if coverage is None:
        return _resolve(None, [], state)
    return _resolve(coverage, _candidate_rules([coverage]), state)


def plan_rules_for_many(coverages: Iterable[Coverage]) -> dict[int, PlanRules]:
    """plan_rules_for for many coverages at once (keyed by coverage pk): one query in all."""
    coverages = list(coverages)
    rules = _candidate_rules(coverages)
    return {c.pk: _resolve(c, rules, c.rules_state) for c in coverages}


from billing.claim_selectors import (  # noqa: E402, F401
    claim_detail,
    claim_history,
    claim_list,
    latest_claims_for_items,
    paid_claims_for_items,
    reject_counts,
    rejects_to_work,
)
