"""Approved alignment plans: the template every cycle copies."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Prescription
from scheduling.models.base import CYCLE_LENGTHS
from scheduling.models.enrollment import SyncEnrollment


class PlanReason(models.TextChoices):
    ENROLLMENT = "enrollment", "Enrollment"
    REPLAN = "replan", "Approved re-plan"


class SyncPlan(TenantOwnedModel):
    """An approved alignment plan: the anchor, the cycle and what each Rx gets.

    The current plan is the template each new cycle copies; earlier plans are the
    plan history shown on the patient's sync panel.
    """

    enrollment = models.ForeignKey(SyncEnrollment, on_delete=models.CASCADE, related_name="plans")
    anchor_date = models.DateField()
    cycle_days = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=12, choices=PlanReason.choices)
    summary = models.CharField(max_length=500, blank=True)
    is_current = models.BooleanField(default=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField()

    objects = tenant_manager()

    class Meta:
        ordering = ["-approved_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "enrollment"],
                condition=Q(is_current=True),
                name="sync_plan_one_current",
            ),
            models.CheckConstraint(
                condition=Q(cycle_days__in=CYCLE_LENGTHS), name="sync_plan_cycle_length"
            ),
        ]

    def __str__(self) -> str:
        return f"Plan anchored {self.anchor_date} every {self.cycle_days} days"


class FillKind(models.TextChoices):
    SHORT = "short", "Short fill"
    FULL = "full", "Full fill"
    NOT_SYNCED = "not_synced", "Not synced"


class SyncPlanItem(TenantOwnedModel):
    """One prescription in a plan: its first (aligning) fill and its recurring fill."""

    plan = models.ForeignKey(SyncPlan, on_delete=models.CASCADE, related_name="items")
    prescription = models.ForeignKey(Prescription, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=FillKind.choices)
    fill_date = models.DateField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal("0"))
    days_supply = models.PositiveIntegerField(default=0)
    scc_codes = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    patient_pay = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="Blank: not known yet."
    )
    warnings = models.JSONField(default=list, blank=True)
    fills = models.JSONField(
        default=list, blank=True, help_text="Every fill the plan makes, up to the first full one."
    )
    # What each later cycle fills on its anchor (the plan as a template).
    daily_dose = models.DecimalField(max_digits=10, decimal_places=4)
    unit_of_use = models.BooleanField(default=False)
    recurring_quantity = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal("0"))
    recurring_days_supply = models.PositiveIntegerField(default=0)
    recurring_patient_pay = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "plan", "prescription"], name="sync_plan_item_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind="not_synced")
                | (
                    Q(quantity__gt=0)
                    & Q(days_supply__gt=0)
                    & Q(fill_date__isnull=False)
                    & Q(recurring_quantity__gt=0)
                    & Q(recurring_days_supply__gt=0)
                ),
                name="sync_plan_item_synced_has_fill",
            ),
            models.CheckConstraint(
                condition=Q(patient_pay__gte=0) & Q(recurring_patient_pay__gte=0),
                name="sync_plan_item_pay_not_negative",
            ),
        ]
