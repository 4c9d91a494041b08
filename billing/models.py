"""Billing: plan rules (proration policy, refill-too-soon threshold, return-to-stock window).

A PlanRule belongs to one organization and matches coverages on BIN, PCN and group (a payer
plan), or on state and plan type (the pharmacy's default for a state). The most specific rule
wins (billing.selectors.plan_rules_for); a coverage no rule matches gets the state defaults of
billing.proration (DOMAIN.md section 4).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from billing.proration import DailyRateRounding, ProrationExclusion, ProrationPolicy
from medsync.models import US_STATES
from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import PlanType
from patients.validators import validate_bin

POLICY_CHOICES = [
    (ProrationPolicy.DAILY_RATE.value, "Daily rate (copay x days / 30)"),
    (ProrationPolicy.NONE.value, "None (a full copay per fill)"),
    (ProrationPolicy.CAP.value, "Cap at the normal copay"),
]
ROUNDING_CHOICES = [
    (DailyRateRounding.EXACT.value, "Exact, cents half up"),
    (DailyRateRounding.DAILY_CENTS_DOWN.value, "Daily rate down to cents"),
    (DailyRateRounding.DAILY_DOLLAR_DOWN.value, "Daily rate down to a whole dollar"),
]
EXCLUSION_CHOICES = [
    (ProrationExclusion.EYE_DROPS.value, "Eye drops"),
    (ProrationExclusion.TOPICALS.value, "Topicals"),
    (ProrationExclusion.INSULIN.value, "Insulin"),
]


class PlanRule(TenantOwnedModel):
    name = models.CharField(max_length=200, help_text="What the pharmacist calls this plan.")

    # What it matches. Blank = any. A payer plan sets the BIN (and PCN, group); a state default
    # leaves the BIN blank and sets the state (and optionally the plan type).
    bin = models.CharField("BIN", max_length=6, blank=True, validators=[validate_bin])
    pcn = models.CharField("PCN", max_length=20, blank=True)
    group = models.CharField(max_length=30, blank=True)
    state = models.CharField(max_length=2, choices=US_STATES, blank=True)
    plan_type = models.CharField(max_length=20, choices=PlanType.choices, blank=True)

    # Proration of short fills (DOMAIN 4).
    proration_policy = models.CharField(max_length=12, choices=POLICY_CHOICES)
    proration_rounding = models.CharField(
        max_length=24, choices=ROUNDING_CHOICES, default=DailyRateRounding.EXACT.value
    )
    proration_month_days = models.PositiveSmallIntegerField(
        default=30, help_text="A month's supply for the daily rate: 30 or 31."
    )
    prorate_below_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Prorate only fills shorter than this (blank: any)."
    )
    proration_solid_oral_only = models.BooleanField(
        default=False, help_text="Part D: only solid orals (not antibiotics or original packs)."
    )
    proration_exclusions = ArrayField(
        models.CharField(max_length=12, choices=EXCLUSION_CHOICES),
        default=list,
        blank=True,
    )
    max_days_per_copay = models.PositiveSmallIntegerField(
        default=34, help_text="Days one copay buys; a 90-day fill pays one copay per block."
    )

    # Claims (DOMAIN 3 and 5).
    refill_too_soon_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="A refill is paid once this % of the last supply is used (blank: no edit).",
    )
    refill_too_soon_percent_eye_drops = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    return_to_stock_days = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1)]
    )
    sync_codes_allowed = models.BooleanField(
        default=True, help_text="The plan accepts SCC 47/48 to override a refill-too-soon reject."
    )
    short_fills_per_year = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Sync short fills covered per prescription per year."
    )
    # Plan limits that reject with 76 (DOMAIN 5); blank: none known.
    max_days_supply_per_fill = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Most days one fill may carry (retail commercial often 30 or 34).",
    )
    max_quantity_per_fill = models.DecimalField(
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text="Most units (tablets, mL, insulin units...) one fill may carry.",
    )
    quantity_per_period = models.DecimalField(
        max_digits=10,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text="Most units in any window of quantity_period_days.",
    )
    quantity_period_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    refill_consolidation_allowed = models.BooleanField(
        default=False,
        help_text="The plan pays one fill using several refills (up to 90 days) where the state "
        "allows it (NY, CA, TX).",
    )

    dispensing_fee = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="What the plan pays per fill on top of the ingredient cost.",
    )

    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["state", "bin", "pcn", "group", "plan_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "bin", "pcn", "group", "state", "plan_type"],
                name="plan_rule_match_unique",
                violation_error_message="A rule with the same BIN, PCN, group, state and plan "
                "type already exists.",
            ),
            models.CheckConstraint(
                condition=~Q(bin="") | ~Q(state=""),
                name="plan_rule_matches_bin_or_state",
                violation_error_message="A rule needs a BIN (a payer plan) or a state (a default).",
            ),
            models.CheckConstraint(
                condition=~Q(bin="") | (Q(pcn="") & Q(group="")),
                name="plan_rule_pcn_group_need_bin",
                violation_error_message="A PCN or group only means something with a BIN.",
            ),
            models.CheckConstraint(
                condition=Q(quantity_per_period__isnull=True, quantity_period_days__isnull=True)
                | Q(quantity_per_period__isnull=False, quantity_period_days__isnull=False),
                name="plan_rule_quantity_period_pair",
                violation_error_message="A quantity per period needs its period in days.",
            ),
            models.CheckConstraint(
                condition=Q(proration_month_days__in=[30, 31]),
                name="plan_rule_month_30_or_31",
                violation_error_message="A month's supply is 30 or 31 days.",
            ),
            models.CheckConstraint(
                condition=Q(refill_too_soon_percent__isnull=True)
                | Q(refill_too_soon_percent__gte=1, refill_too_soon_percent__lte=100),
                name="plan_rule_rts_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(refill_too_soon_percent_eye_drops__isnull=True)
                | Q(
                    refill_too_soon_percent_eye_drops__gte=1,
                    refill_too_soon_percent_eye_drops__lte=100,
                ),
                name="plan_rule_eye_rts_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(return_to_stock_days__gte=1), name="plan_rule_rts_days_positive"
            ),
            models.CheckConstraint(
                condition=Q(prorate_below_days__isnull=True) | Q(prorate_below_days__gte=1),
                name="plan_rule_threshold_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_days_per_copay__gte=30), name="plan_rule_copay_days_month"
            ),
            models.CheckConstraint(
                condition=Q(proration_policy__in=[value for value, _ in POLICY_CHOICES]),
                name="plan_rule_policy_known",
            ),
        ]
        indexes = [models.Index(fields=["organization", "bin"])]

    def __str__(self) -> str:
        return self.name

    @property
    def specificity(self) -> tuple[bool, ...]:
        """Sort key: a rule naming more of the plan beats a broader one (BIN first)."""
        return (
            bool(self.bin),
            bool(self.pcn),
            bool(self.group),
            bool(self.plan_type),
            bool(self.state),
        )

    def matches(self, coverage) -> bool:
        """Does this rule apply to a coverage (any object with bin, pcn, group, rules_state and
        plan_type)? Blank fields match anything; PCN and group compare without case."""
        pairs = (
            (self.bin, coverage.bin),
            (self.pcn, coverage.pcn),
            (self.group, coverage.group),
            (self.state, coverage.rules_state),
        )
        if any(mine and mine.upper() != (theirs or "").strip().upper() for mine, theirs in pairs):
            return False
        return not self.plan_type or self.plan_type == coverage.plan_type


# Claims live in their own module (registered with the app here).
from billing import claim_models  # noqa: E402, F401
