"""Settings of the sync program per pharmacy, and the constants the models share."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager

CYCLE_LENGTHS = (28, 30, 60, 90)


def organization_without_index(*, db_constraint: bool = True):
    """The tenant column of the high-volume tables: every query and constraint leads with
    organization_id in a composite index, so the single-column index Django would add only
    slows the hundreds of thousands of inserts a morning's sweep makes. Without
    `db_constraint` a composite foreign key (organization, parent) checks it instead."""
    return models.ForeignKey(
        "medsync.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
        db_constraint=db_constraint,
    )


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

DEFAULT_PREP_DAYS = 7  # APhA: contact 3-7 days ahead ("about a week prior")
DEFAULT_PREFILL_DAYS = 3  # vendors: ready three days early
DEFAULT_MISSED_AFTER_DAYS = 1  # a cycle not picked up by the day after its anchor
DEFAULT_RTS_WARNING_DAYS = 3  # warn this many days before the return-to-stock deadline


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class SyncSettings(TenantOwnedModel):
    """A pharmacy's sync timing. Pharmacies without a row use the defaults."""

    pharmacy = models.OneToOneField(Pharmacy, on_delete=models.CASCADE, related_name="+")
    prep_days = models.PositiveSmallIntegerField(
        default=DEFAULT_PREP_DAYS, help_text="Days before the anchor to call the patient (1-14)."
    )
    prefill_days = models.PositiveSmallIntegerField(
        default=DEFAULT_PREFILL_DAYS,
        help_text="Days before the anchor that fills enter the fill queue (0-10).",
    )
    closed_weekdays = ArrayField(
        models.PositiveSmallIntegerField(choices=Weekday.choices),
        default=list,
        blank=True,
        help_text="0 = Monday … 6 = Sunday. Prep calls and pre-fills move to the open day before.",
    )
    missed_after_days = models.PositiveSmallIntegerField(
        default=DEFAULT_MISSED_AFTER_DAYS,
        help_text="A ready cycle not picked up this many days after its anchor is missed.",
    )
    rts_warning_days = models.PositiveSmallIntegerField(
        default=DEFAULT_RTS_WARNING_DAYS,
        help_text="Remind the patient this many days before unclaimed fills return to stock.",
    )
    daily_anchor_capacity = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Anchors per day the team can handle; the optimizer spreads patients below it.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        verbose_name_plural = "sync settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(prep_days__gte=1, prep_days__lte=14), name="sync_settings_prep_1_14"
            ),
            models.CheckConstraint(
                condition=Q(prefill_days__lte=10) & Q(prefill_days__lte=F("prep_days")),
                name="sync_settings_prefill_before_prep",
            ),
            models.CheckConstraint(
                condition=Q(closed_weekdays__contained_by=[0, 1, 2, 3, 4, 5, 6])
                & Q(closed_weekdays__len__lt=7),
                name="sync_settings_closed_weekdays_valid",
            ),
            models.CheckConstraint(
                condition=Q(missed_after_days__gte=1, missed_after_days__lte=14),
                name="sync_settings_missed_after_1_14",
            ),
            models.CheckConstraint(
                condition=Q(rts_warning_days__lte=14), name="sync_settings_rts_warning_le_14"
            ),
        ]

    def __str__(self) -> str:
        return f"Sync settings of {self.pharmacy}"
