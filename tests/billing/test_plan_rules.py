"""billing.models.PlanRule, billing.selectors.plan_rules_for, billing.services (audited writes)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_scopes.exceptions import ScopeError

from billing.models import PlanRule
from billing.proration import DailyRateRounding, PlanKind, ProrationPolicy
from billing.selectors import plan_rule_list, plan_rules_for, plan_rules_for_many
from billing.services import BillingError, plan_rule_create, plan_rule_delete, plan_rule_update
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.models import PlanType
from tests.factories import CoverageFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def maple_patient(maple):
    return PatientFactory(organization=maple.organization)


def coverage(patient, **kwargs):
    defaults = {
        "bin": "610014",
        "pcn": "MEDDPRIME",
        "group": "PDPGRP",
        "plan_type": PlanType.MEDICARE_PART_D,
        "rules_state": "WI",
    }
    return CoverageFactory(patient=patient, **{**defaults, **kwargs})


def make_rule(actor=None, **kwargs):
    kwargs.setdefault("name", "A rule")
    return plan_rule_create(actor=actor, **kwargs)


# --- resolution ----------------------------------------------------------------------------


def test_without_rules_a_coverage_gets_its_state_defaults(maple, maple_patient):
    with tenant_scope(maple.organization):
        part_d = plan_rules_for(coverage(maple_patient))
        ny = plan_rules_for(
            coverage(maple_patient, bin="004336", plan_type="commercial", rules_state="NY")
        )
        co = plan_rules_for(
            coverage(maple_patient, bin="004337", plan_type="commercial", rules_state="CO")
        )
        wi = plan_rules_for(
            coverage(maple_patient, bin="004338", plan_type="commercial", rules_state="WI")
        )
    assert part_d.proration.policy == ProrationPolicy.DAILY_RATE
    assert part_d.proration.solid_oral_only is True
    assert part_d.plan_rule_id is None
    assert (part_d.refill_too_soon_percent, part_d.return_to_stock_days) == (75, 10)
    assert ny.proration.policy == ProrationPolicy.DAILY_RATE and "3224-d" in ny.source
    assert co.proration.policy == ProrationPolicy.CAP
    assert wi.proration.policy == ProrationPolicy.NONE


def test_the_most_specific_rule_wins(maple, maple_patient):
    cov = coverage(maple_patient)
    with tenant_scope(maple.organization):
        make_rule(name="WI default", state="WI", refill_too_soon_percent=70)
        make_rule(
            name="WI Part D", state="WI", plan_type="medicare_part_d", return_to_stock_days=14
        )
        make_rule(name="Acme BIN", bin="610014", refill_too_soon_percent=80)
        make_rule(name="Acme BIN+PCN", bin="610014", pcn="MEDDPRIME", return_to_stock_days=12)
        exact = make_rule(
            name="Acme exact",
            bin="610014",
            pcn="MEDDPRIME",
            group="PDPGRP",
            sync_codes_allowed=False,
        )
        rules = plan_rules_for(cov)
        assert rules.plan_rule_id == exact.public_id
        assert rules.sync_codes_allowed is False
        assert rules.source == "plan rule 'Acme exact'"

        other_group = plan_rules_for(coverage(maple_patient, group="OTHER"))
        assert other_group.source == "plan rule 'Acme BIN+PCN'"
        assert other_group.return_to_stock_days == 12

        other_pcn = plan_rules_for(coverage(maple_patient, pcn="X", group="OTHER"))
        assert other_pcn.source == "plan rule 'Acme BIN'"
        assert other_pcn.refill_too_soon_percent == 80

        other_bin = plan_rules_for(coverage(maple_patient, bin="999999"))
        assert other_bin.source == "plan rule 'WI Part D'"

        commercial = plan_rules_for(coverage(maple_patient, bin="999999", plan_type="commercial"))
        assert commercial.source == "plan rule 'WI default'"
        assert commercial.plan_kind == PlanKind.COMMERCIAL

        elsewhere = plan_rules_for(coverage(maple_patient, bin="999999", rules_state="MN"))
        assert elsewhere.plan_rule_id is None  # the MN law, not a WI rule


def test_pcn_and_group_match_without_case(maple, maple_patient):
    cov = coverage(maple_patient, pcn="meddprime", group="pdpgrp")
    with tenant_scope(maple.organization):
        rule = make_rule(name="Acme", bin="610014", pcn="MEDDPRIME", group="PdPgRp")
        assert rule.group == "PDPGRP"  # stored normalized
        assert plan_rules_for(cov).plan_rule_id == rule.public_id


def test_cash_ignores_rules_not_written_for_cash(maple, maple_patient):
    cash = CoverageFactory(
        patient=maple_patient,
        plan_type=PlanType.CASH,
        bin="",
        pcn="",
        group="",
        copay_amount=None,
        rules_state="NY",
    )
    with tenant_scope(maple.organization):
        make_rule(name="NY default", state="NY", refill_too_soon_percent=80)
        assert plan_rules_for(cash).refill_too_soon_percent is None
        cash_rule = make_rule(name="NY cash", state="NY", plan_type="cash", return_to_stock_days=7)
        assert plan_rules_for(cash).plan_rule_id == cash_rule.public_id
        assert plan_rules_for(None, state="NY").plan_kind == PlanKind.CASH


def test_rule_settings_reach_the_engine(maple, maple_patient):
    cov = coverage(maple_patient, plan_type="commercial", rules_state="NY")
    with tenant_scope(maple.organization):
        make_rule(
            name="Quartz",
            bin="610014",
            proration_policy="daily_rate",
            proration_rounding="daily_cents_down",
            prorate_below_days=28,
            proration_exclusions=["insulin", "eye_drops", "insulin"],
            refill_too_soon_percent=80,
            refill_too_soon_percent_eye_drops=70,
            short_fills_per_year=3,
        )
        rules = plan_rules_for(cov)
    assert rules.proration.rounding == DailyRateRounding.DAILY_CENTS_DOWN
    assert rules.proration.prorate_below_days == 28
    assert {e.value for e in rules.proration.exclusions} == {"insulin", "eye_drops"}
    assert (rules.refill_too_soon_percent, rules.refill_too_soon_percent_eye_drops) == (80, 70)
    assert rules.short_fills_per_year == 3


def test_many_coverages_resolve_in_one_query(maple, maple_patient, django_assert_num_queries):
    coverages = [coverage(maple_patient, group=f"G{i}") for i in range(30)]
    coverages += [coverage(maple_patient, bin="004336", plan_type="commercial", rules_state="NY")]
    with tenant_scope(maple.organization):
        make_rule(name="Acme G3", bin="610014", pcn="MEDDPRIME", group="G3")
        make_rule(name="NY", state="NY")
        with django_assert_num_queries(1):
            resolved = plan_rules_for_many(coverages)
    assert len(resolved) == 31
    assert resolved[coverages[3].pk].source == "plan rule 'Acme G3'"
    assert resolved[coverages[4].pk].plan_rule_id is None
    assert resolved[coverages[-1].pk].source == "plan rule 'NY'"


def test_another_organizations_rules_never_apply(maple, birch, maple_patient):
    cov = coverage(maple_patient)
    with tenant_scope(birch.organization):
        make_rule(name="Birch's Acme", bin="610014", refill_too_soon_percent=90)
    with tenant_scope(maple.organization):
        rules = plan_rules_for(cov)
        assert rules.plan_rule_id is None
        assert rules.refill_too_soon_percent == 75
        assert list(plan_rule_list()) == []


def test_plan_rules_fail_closed_without_a_tenant(maple):
    with pytest.raises(ScopeError):
        list(PlanRule.objects.all())


# --- services ------------------------------------------------------------------------------


def test_create_defaults_from_the_law_and_is_audited(maple):
    with tenant_scope(maple.organization):
        part_d = make_rule(
            maple.pharmacist, name="Acme Part D", bin="610014", plan_type="medicare_part_d"
        )
        colorado = make_rule(maple.pharmacist, name="CO", state="CO", plan_type="commercial")
        event = AuditEvent.objects.get(
            action="billing.plan_rule.created", object_id=part_d.public_id
        )
    assert part_d.proration_policy == ProrationPolicy.DAILY_RATE
    assert part_d.proration_solid_oral_only is True
    assert (part_d.refill_too_soon_percent, part_d.return_to_stock_days) == (75, 10)
    assert colorado.proration_policy == ProrationPolicy.CAP
    assert event.actor == maple.pharmacist
    assert event.organization == maple.organization
    assert event.metadata["bin"] == "610014"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bin": "61001A"}, "bin"),
        ({"bin": "", "state": ""}, "__all__"),
        ({"state": "WI", "pcn": "X"}, "__all__"),
        ({"state": "WI", "refill_too_soon_percent": 0}, "refill_too_soon_percent"),
        ({"state": "WI", "refill_too_soon_percent": 101}, "refill_too_soon_percent"),
        ({"state": "WI", "proration_month_days": 29}, "__all__"),
        ({"state": "WI", "proration_policy": "sometimes"}, "proration_policy"),
        ({"state": "WI", "proration_exclusions": ["chewing_gum"]}, "proration_exclusions"),
        ({"state": "ZZ"}, "state"),
        ({"state": "WI", "return_to_stock_days": 0}, "return_to_stock_days"),
        ({"state": "WI", "name": "  "}, "name"),
    ],
)
def test_bad_input_writes_nothing(maple, kwargs, field):
    with tenant_scope(maple.organization):
        with pytest.raises(ValidationError) as caught:
            plan_rule_create(actor=maple.pharmacist, **{"name": "Bad", **kwargs})
        assert field in caught.value.message_dict
        assert PlanRule.objects.count() == 0
        assert not AuditEvent.objects.filter(action__startswith="billing.").exists()


def test_a_duplicate_match_is_refused(maple):
    with tenant_scope(maple.organization):
        make_rule(name="One", bin="610014", pcn="A")
        with pytest.raises(ValidationError, match="already exists"):
            make_rule(name="Two", bin="610014", pcn="a")
        assert PlanRule.objects.count() == 1


def test_the_same_match_in_another_organization_is_fine(maple, birch):
    with tenant_scope(maple.organization):
        make_rule(name="Maple NY", state="NY")
    with tenant_scope(birch.organization):
        make_rule(name="Birch NY", state="NY")
        assert PlanRule.objects.count() == 1


def test_update_records_each_change(maple, maple_patient):
    cov = coverage(maple_patient)
    with tenant_scope(maple.organization):
        rule = make_rule(name="Acme", bin="610014")
        plan_rule_update(
            plan_rule=rule, actor=maple.owner, refill_too_soon_percent=80, sync_codes_allowed=False
        )
        event = AuditEvent.objects.get(action="billing.plan_rule.updated")
        assert event.metadata["changes"] == {
            "refill_too_soon_percent": [75, 80],
            "sync_codes_allowed": [True, False],
        }
        assert plan_rules_for(cov).refill_too_soon_percent == 80


def test_update_refuses_unknown_and_bad_settings(maple):
    with tenant_scope(maple.organization):
        rule = make_rule(name="Acme", bin="610014")
        with pytest.raises(BillingError) as caught:
            plan_rule_update(plan_rule=rule, actor=maple.owner, organization_id=99)
        assert "organization_id" in caught.value.fields
        with pytest.raises(ValidationError):
            plan_rule_update(plan_rule=rule, actor=maple.owner, proration_month_days=45)
        rule.refresh_from_db()
        assert rule.proration_month_days == 30
        assert not AuditEvent.objects.filter(action="billing.plan_rule.updated").exists()


def test_an_update_without_changes_is_not_audited(maple):
    with tenant_scope(maple.organization):
        rule = make_rule(name="Acme", bin="610014")
        plan_rule_update(plan_rule=rule, actor=maple.owner, name="Acme")
        assert not AuditEvent.objects.filter(action="billing.plan_rule.updated").exists()


def test_delete_falls_back_and_is_audited(maple, maple_patient):
    cov = coverage(maple_patient)
    with tenant_scope(maple.organization):
        rule = make_rule(name="Acme", bin="610014", proration_policy="none")
        assert plan_rules_for(cov).proration.policy == ProrationPolicy.NONE
        plan_rule_delete(plan_rule=rule, actor=maple.owner)
        assert plan_rules_for(cov).proration.policy == ProrationPolicy.DAILY_RATE
        assert AuditEvent.objects.filter(
            action="billing.plan_rule.deleted", object_id=str(rule.public_id)
        ).exists()


def test_the_database_refuses_what_the_form_would(maple):
    from django.db import IntegrityError, transaction

    with tenant_scope(maple.organization):
        for bad in (
            {"bin": "", "state": ""},
            {"state": "WI", "proration_month_days": 28},
            {"state": "WI", "refill_too_soon_percent": 0},
            {"state": "WI", "proration_policy": "sometimes"},
        ):
            with pytest.raises(IntegrityError), transaction.atomic():
                PlanRule.objects.create(name="raw", **{"proration_policy": "none", **bad})
