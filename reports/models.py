"""The reports app's own rows: per-pharmacy report settings and the on-hand counts the
inventory forecast starts from. Everything else reports read from the other apps."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.validators import validate_ndc11

# Product defaults (a pharmacy changes them on the report settings page).
DEFAULT_TECH_MINUTES_PER_FILL = 4  # pull, count, label, bill
DEFAULT_PHARMACIST_MINUTES_PER_VERIFICATION = 2  # the final check of one fill
DEFAULT_TECH_MINUTES_PER_PREP_CALL = 5  # the ABM prep questions
DEFAULT_TECH_MINUTES_PER_PICKUP = 3  # find the bag, take payment
DEFAULT_PHARMACIST_MINUTES_PER_PICKUP = 5  # the pickup appointment (counseling)
DEFAULT_ORDER_WEEKDAYS = (0, 1, 2, 3, 4)  # the wholesaler delivers Monday to Friday
DEFAULT_INACTIVE_MONTHS = 3


def default_order_weekdays() -> list[int]:
    return list(DEFAULT_ORDER_WEEKDAYS)


class ReportSettings(TenantOwnedModel):
    """A pharmacy's workload minutes, wholesaler order days and inactivity rule.
    Pharmacies without a row use the defaults above."""

    pharmacy = models.OneToOneField(Pharmacy, on_delete=models.CASCADE, related_name="+")
    tech_minutes_per_fill = models.PositiveSmallIntegerField(default=DEFAULT_TECH_MINUTES_PER_FILL)
    pharmacist_minutes_per_verification = models.PositiveSmallIntegerField(
        default=DEFAULT_PHARMACIST_MINUTES_PER_VERIFICATION
    )
    tech_minutes_per_prep_call = models.PositiveSmallIntegerField(
        default=DEFAULT_TECH_MINUTES_PER_PREP_CALL
    )
    tech_minutes_per_pickup = models.PositiveSmallIntegerField(
        default=DEFAULT_TECH_MINUTES_PER_PICKUP
    )
    pharmacist_minutes_per_pickup = models.PositiveSmallIntegerField(
        default=DEFAULT_PHARMACIST_MINUTES_PER_PICKUP
    )
    order_weekdays = ArrayField(
        models.PositiveSmallIntegerField(),
        default=default_order_weekdays,
        blank=True,
        help_text="0 = Monday … 6 = Sunday: the days the wholesaler order goes out.",
    )
    inactive_months = models.PositiveSmallIntegerField(
        default=DEFAULT_INACTIVE_MONTHS,
        help_text="An enrolled patient with no pickup for this many months is proposed for "
        "disenrollment.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        verbose_name_plural = "report settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(order_weekdays__contained_by=[0, 1, 2, 3, 4, 5, 6]),
                name="report_settings_order_weekdays_valid",
            ),
            models.CheckConstraint(
                condition=Q(inactive_months__gte=1, inactive_months__lte=24),
                name="report_settings_inactive_months_1_24",
            ),
            models.CheckConstraint(
                condition=Q(tech_minutes_per_fill__lte=120)
                & Q(pharmacist_minutes_per_verification__lte=120)
                & Q(tech_minutes_per_prep_call__lte=120)
                & Q(tech_minutes_per_pickup__lte=120)
                & Q(pharmacist_minutes_per_pickup__lte=120),
                name="report_settings_minutes_le_120",
            ),
        ]

    def __str__(self) -> str:
        return f"Report settings of {self.pharmacy}"


class OnHandCount(TenantOwnedModel):
    """What is on the shelf of one NDC at one pharmacy, counted on a day (entered on the
    forecast page or imported from a CSV)."""

    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.CASCADE, related_name="+")
    ndc = models.CharField("NDC", max_length=11, validators=[validate_ndc11])
    quantity = models.DecimalField(
        max_digits=12, decimal_places=3, validators=[MinValueValidator(Decimal("0"))]
    )
    counted_on = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["pharmacy", "ndc"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "pharmacy", "ndc"], name="on_hand_one_per_pharmacy_ndc"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="on_hand_not_negative"),
            models.CheckConstraint(condition=Q(ndc__regex=r"^\d{11}$"), name="on_hand_ndc_11"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.ndc}"


# The cached adherence outcomes (PDC before/since enrollment) live in their own module.
from reports.outcome_models import (  # noqa: E402, F401
    OutcomePeriod,
    OutcomeRefresh,
    PdcOutcome,
    PdcSnapshot,
    RefreshStatus,
)
