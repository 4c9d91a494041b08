"""Prescription claims (NCPDP D.0): one Claim per submission, its status history, and the plan
data the simulator adjudicates with (product exclusions, prior authorization lists, contract
prices, age edits).

The fill a claim bills is a scheduling cycle item; billing may not import scheduling, so the
claim keeps the item's id as a plain integer (``cycle_item_id``) next to the prescription.
At most one paid claim per fill and payer (primary, secondary) is enforced by a partial unique
index: a reversed claim leaves the "paid" status, so a fill may be billed again after it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from billing.rejects import describe
from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Coverage, Patient, Prescription
from patients.validators import validate_ndc11


class ClaimTransaction(models.TextChoices):
    BILL = "B1", "B1 bill"
    REVERSE = "B2", "B2 reverse"
    REBILL = "B3", "B3 rebill"


class ClaimStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    REJECTED = "rejected", "Rejected"
    REVERSED = "reversed", "Reversed"
    ACCEPTED = "accepted", "Accepted (reversal)"


class Claim(TenantOwnedModel):
    """One submission to a payer: a bill, a reversal or a rebill, with the D.0 record."""

    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="claims")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    coverage = models.ForeignKey(
        Coverage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cycle_item_id = models.BigIntegerField(help_text="The scheduling cycle item (the fill).")
    transaction = models.CharField(max_length=2, choices=ClaimTransaction.choices)
    coordination = models.PositiveSmallIntegerField(
        default=1, help_text="Which payer: 1 primary, 2 secondary."
    )
    # The claim this one reverses or rebills; the primary claim of a secondary.
    original = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    primary_claim = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    gateway = models.CharField(max_length=20, default="simulator")

    # Coverage as billed (the coverage row may change later).
    payer_name = models.CharField(max_length=200, blank=True)
    bin = models.CharField("BIN", max_length=6)
    pcn = models.CharField("PCN", max_length=20, blank=True)
    group = models.CharField(max_length=30, blank=True)
    member_id = models.CharField(max_length=40, blank=True)

    status = models.CharField(
        max_length=10, choices=ClaimStatus.choices, default=ClaimStatus.PENDING
    )
    date_of_service = models.DateField()
    ndc = models.CharField("NDC", max_length=11, validators=[validate_ndc11])
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    days_supply = models.PositiveIntegerField()
    fill_number = models.PositiveIntegerField()
    scc_codes = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    prior_auth_number = models.CharField(max_length=20, blank=True)

    # Submitted (409-D9, 426-DQ, 412-DC, 430-DU) and paid (506-F6, 507-F7, 505-F5, 509-F9).
    ingredient_cost_submitted = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    usual_and_customary = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    dispensing_fee_submitted = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    gross_amount_due = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    ingredient_cost_paid = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    dispensing_fee_paid = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    patient_pay = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    plan_pay = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    other_payer_amount_paid = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    basis_of_reimbursement = models.CharField(max_length=2, blank=True)
    pay_explanation = models.CharField(max_length=300, blank=True)
    authorization_number = models.CharField(max_length=20, blank=True)

    reject_codes = ArrayField(models.CharField(max_length=3), default=list, blank=True)
    reject_messages = ArrayField(models.CharField(max_length=300), default=list, blank=True)
    dur_warnings = models.JSONField(default=list, blank=True)
    request_record = models.JSONField(default=dict, help_text="D.0 request by field id.")
    response_record = models.JSONField(default=dict, blank=True, help_text="D.0 response.")

    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField()
    adjudicated_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_reason = models.CharField(max_length=200, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "cycle_item_id", "coordination"],
                condition=Q(status="paid"),
                name="claim_one_paid_per_fill",
                violation_error_message="This fill already has a paid claim with this payer.",
            ),
            models.CheckConstraint(
                condition=Q(transaction__in=["B1", "B2", "B3"]), name="claim_transaction_known"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ClaimStatus]), name="claim_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(transaction__in=["B1", "B3"]),
                name="claim_only_bills_are_paid",
            ),
            models.CheckConstraint(
                condition=Q(coordination__gte=1, coordination__lte=2),
                name="claim_coordination_1_or_2",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="claim_quantity_positive"),
            models.CheckConstraint(condition=Q(days_supply__gt=0), name="claim_days_positive"),
            models.CheckConstraint(
                condition=Q(patient_pay__isnull=True) | Q(patient_pay__gte=0),
                name="claim_patient_pay_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "cycle_item_id"]),
            models.Index(fields=["organization", "status", "-submitted_at"]),
            models.Index(fields=["organization", "patient"]),
            models.Index(fields=["organization", "prescription", "date_of_service"]),
        ]

    def __str__(self) -> str:
        return f"{self.transaction} Rx {self.prescription_id} on {self.date_of_service}"

    @property
    def rejects(self) -> list[dict]:
        return [describe(code) for code in self.reject_codes]


class ClaimStatusChange(TenantOwnedModel):
    """Every status change of a claim, with its time and actor (None: the processor or a job)."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=10, choices=ClaimStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=ClaimStatus.choices)
    changed_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["organization", "claim"])]


class PlanProductRule(TenantOwnedModel):
    """What one plan (a billing.PlanRule) says about one product: excluded (reject 70), prior
    authorization required (75), its contract price per unit, and age limits (76). Matches the
    11-digit NDC, or every NDC of a generic name when ``ndc`` is blank."""

    plan_rule = models.ForeignKey(
        "billing.PlanRule", on_delete=models.CASCADE, related_name="product_rules"
    )
    ndc = models.CharField("NDC", max_length=11, blank=True, validators=[validate_ndc11])
    generic_name = models.CharField(max_length=200, blank=True)
    excluded = models.BooleanField(default=False)
    prior_auth_required = models.BooleanField(default=False)
    reference_unit_price = models.DecimalField(
        max_digits=12,
        decimal_places=5,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="The plan's contract price per unit (blank: the ingredient cost submitted).",
    )
    min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(null=True, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["plan_rule", "ndc", "generic_name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(ndc="") | ~Q(generic_name=""), name="plan_product_names_a_product"
            ),
            models.UniqueConstraint(
                fields=["organization", "plan_rule", "ndc", "generic_name"],
                name="plan_product_unique",
            ),
        ]
