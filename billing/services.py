"""Every write of the billing app: plan rules (audited)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing.models import PlanRule
from billing.proration import PlanKind, default_plan_rules
from medsync.exceptions import MedSyncError
from medsync.models import User
from medsync.services import audit_record

# Fields a pharmacist may set on a rule (everything but the bookkeeping).
EDITABLE_FIELDS = (
    "name",
    "bin",
    "pcn",
    "group",
    "state",
    "plan_type",
    "proration_policy",
    "proration_rounding",
    "proration_month_days",
    "prorate_below_days",
    "proration_solid_oral_only",
    "proration_exclusions",
    "max_days_per_copay",
    "refill_too_soon_percent",
    "refill_too_soon_percent_eye_drops",
    "return_to_stock_days",
    "sync_codes_allowed",
    "short_fills_per_year",
    "max_days_supply_per_fill",
    "max_quantity_per_fill",
    "quantity_per_period",
    "quantity_period_days",
    "refill_consolidation_allowed",
    "dispensing_fee",
    "notes",
)

_UNSET = object()


class BillingError(MedSyncError):
    """Errors of the billing app."""


def _normalize(values: dict) -> dict:
    for name in ("bin", "pcn", "group", "state"):
        if name in values and values[name] is not None:
            values[name] = str(values[name]).strip().upper()
    if "name" in values and values["name"] is not None:
        values["name"] = str(values["name"]).strip()
    if values.get("proration_exclusions") is not None:
        values["proration_exclusions"] = sorted(set(values["proration_exclusions"]))
    return values


def _save(rule: PlanRule) -> None:
    rule.full_clean(exclude=["organization"])
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError as exc:  # a race past full_clean's uniqueness check
        raise ValidationError(
            "A rule with the same BIN, PCN, group, state and plan type already exists."
        ) from exc


def _snapshot(rule: PlanRule) -> dict:
    return {name: getattr(rule, name) for name in EDITABLE_FIELDS}


@transaction.atomic
def plan_rule_create(
    *,
    actor: User | None,
    name: str,
    bin: str = "",
    pcn: str = "",
    group: str = "",
    state: str = "",
    plan_type: str = "",
    proration_policy: str | None = None,
    proration_rounding: str | None = None,
    proration_month_days: int | None = None,
    prorate_below_days: int | None = None,
    proration_solid_oral_only: bool | None = None,
    proration_exclusions: list[str] | None = None,
    max_days_per_copay: int | None = None,
    refill_too_soon_percent: int | object | None = _UNSET,
    refill_too_soon_percent_eye_drops: int | None = None,
    return_to_stock_days: int | None = None,
    sync_codes_allowed: bool | None = None,
    short_fills_per_year: int | None = None,
    max_days_supply_per_fill: int | None = None,
    max_quantity_per_fill: Decimal | None = None,
    quantity_per_period: Decimal | None = None,
    quantity_period_days: int | None = None,
    refill_consolidation_allowed: bool = False,
    dispensing_fee: Decimal = Decimal("0"),
    notes: str = "",
) -> PlanRule:
    """Create a rule. Settings left out start from the law for its state and plan type
    (billing.proration.default_plan_rules), so a new Part D rule prorates solid orals only.
    Raises ValidationError (field by field) and writes nothing on bad input."""
    defaults = default_plan_rules(
        state=(state or "").strip().upper(), plan_kind=plan_type or PlanKind.COMMERCIAL
    )
    proration = defaults.proration

    def pick(value, default):
        return default if value is None else value

    values = _normalize(
        {
            "name": name,
            "bin": bin,
            "pcn": pcn,
            "group": group,
            "state": state,
            "plan_type": plan_type,
            "proration_policy": pick(proration_policy, proration.policy.value),
            "proration_rounding": pick(proration_rounding, proration.rounding.value),
            "proration_month_days": pick(proration_month_days, proration.month_days),
            "prorate_below_days": pick(prorate_below_days, proration.prorate_below_days),
            "proration_solid_oral_only": pick(proration_solid_oral_only, proration.solid_oral_only),
            "proration_exclusions": pick(
                proration_exclusions, [e.value for e in proration.exclusions]
            ),
            "max_days_per_copay": pick(max_days_per_copay, proration.max_days_per_copay),
            "refill_too_soon_percent": defaults.refill_too_soon_percent
            if refill_too_soon_percent is _UNSET
            else refill_too_soon_percent,
            "refill_too_soon_percent_eye_drops": refill_too_soon_percent_eye_drops,
            "return_to_stock_days": pick(return_to_stock_days, defaults.return_to_stock_days),
            "sync_codes_allowed": pick(sync_codes_allowed, defaults.sync_codes_allowed),
            "short_fills_per_year": pick(short_fills_per_year, defaults.short_fills_per_year),
            "max_days_supply_per_fill": max_days_supply_per_fill,
            "max_quantity_per_fill": max_quantity_per_fill,
            "quantity_per_period": quantity_per_period,
            "quantity_period_days": quantity_period_days,
            "refill_consolidation_allowed": refill_consolidation_allowed,
            "dispensing_fee": dispensing_fee,
            "notes": notes,
        }
    )
    rule = PlanRule(**values)
    _save(rule)
    audit_record(
        action="billing.plan_rule.created",
        actor=actor,
        target=rule,
        metadata={k: _jsonable(v) for k, v in _snapshot(rule).items() if k != "notes"},
    )
    return rule


@transaction.atomic
def plan_rule_update(*, plan_rule: PlanRule, actor: User | None, **changes) -> PlanRule:
    """Change some settings of a rule; the audit entry records each change (before, after)."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise BillingError(
            f"Unknown plan rule setting: {', '.join(sorted(unknown))}.",
            code="unknown_field",
            fields={name: ["Not a plan rule setting."] for name in sorted(unknown)},
        )
    rule = PlanRule.objects.select_for_update().get(pk=plan_rule.pk)
    before = _snapshot(rule)
    for name, value in _normalize(dict(changes)).items():
        setattr(rule, name, value)
    _save(rule)
    after = _snapshot(rule)
    diff = {
        name: [_jsonable(before[name]), _jsonable(after[name])]
        for name in EDITABLE_FIELDS
        if before[name] != after[name] and name != "notes"
    }
    if diff or before["notes"] != after["notes"]:
        audit_record(
            action="billing.plan_rule.updated", actor=actor, target=rule, metadata={"changes": diff}
        )
    return rule


@transaction.atomic
def plan_rule_delete(*, plan_rule: PlanRule, actor: User | None) -> None:
    """Delete a rule: its coverages fall back to the next most specific rule or the state law."""
    audit_record(
        action="billing.plan_rule.deleted",
        actor=actor,
        target=plan_rule,
        metadata={"name": plan_rule.name, "bin": plan_rule.bin, "state": plan_rule.state},
    )
    PlanRule.objects.filter(pk=plan_rule.pk).delete()


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    return list(value) if isinstance(value, list | tuple) else value


from billing.claim_services import (  # noqa: E402, F401
    ClaimError,
    ClaimSubject,
    claim_rebill,
    claim_resubmit,
    claim_reverse,
    claim_submit,
    claims_submit_many,
    plan_product_rule_create,
    subject_of,
)
