"""Cached adherence outcomes (PDC before/since enrollment and of patients not enrolled) and
the runs that refresh them. Written only by `reports.services.adherence`; re-exported from
`reports.models`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Patient


class OutcomePeriod(models.TextChoices):
    BEFORE = "before", "12 months before enrollment"
    SINCE = "since", "Since enrollment"
    NOT_ENROLLED = "not_enrolled", "Not enrolled (last 12 months)"


class PdcOutcome(TenantOwnedModel):
    """One patient's PDC for one class over one period, as of the last refresh."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    # The patient's program pharmacy (the enrollment's; else the home pharmacy): per-pharmacy
    # figures and the visibility limit read it.
    pharmacy = models.ForeignKey(
        Pharmacy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    period = models.CharField(max_length=12, choices=OutcomePeriod.choices)
    therapeutic_class = models.CharField(max_length=40)
    age_band = models.CharField(max_length=8)
    enrolled_on = models.DateField(null=True, blank=True)
    period_start = models.DateField()
    period_end = models.DateField()
    index_date = models.DateField()
    days_in_period = models.PositiveIntegerField()
    days_covered = models.PositiveIntegerField()
    measurable = models.BooleanField()
    adherent = models.BooleanField()
    reason_code = models.CharField(max_length=40, blank=True)
    as_of = models.DateField()

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient", "period", "therapeutic_class"],
                name="pdc_outcome_one_per_period_class",
            ),
            models.CheckConstraint(
                condition=Q(days_covered__lte=models.F("days_in_period")),
                name="pdc_outcome_covered_within_period",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "period", "therapeutic_class", "pharmacy"]),
            models.Index(fields=["organization", "patient"]),
        ]

    @property
    def pdc(self):
        from decimal import ROUND_HALF_UP, Decimal

        if not self.days_in_period:
            return None
        ratio = Decimal(self.days_covered) / Decimal(self.days_in_period)
        return ratio.quantize(Decimal("0.0001"), ROUND_HALF_UP)


class RefreshStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class OutcomeRefresh(TenantOwnedModel):
    """One refresh of the cached outcomes (nightly or on demand), with its progress."""

    status = models.CharField(
        max_length=8, choices=RefreshStatus.choices, default=RefreshStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    as_of = models.DateField(null=True, blank=True)
    windows_total = models.PositiveIntegerField(default=0)
    windows_done = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["organization", "-requested_at"])]

    @property
    def percent(self) -> int:
        if self.status == RefreshStatus.DONE:
            return 100
        if not self.windows_total:
            return 0
        return min(99, int(100 * self.windows_done / self.windows_total))

    @property
    def in_progress(self) -> bool:
        return self.status in (RefreshStatus.QUEUED, RefreshStatus.RUNNING)


class PdcSnapshot(TenantOwnedModel):
    """The month's adherence figures per pharmacy, period and class, kept from the last refresh
    of each month: the trend by month (history starts with the first refresh)."""

    pharmacy = models.ForeignKey(
        Pharmacy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    month = models.DateField(help_text="The first day of the month of the refresh.")
    period = models.CharField(max_length=12, choices=OutcomePeriod.choices)
    therapeutic_class = models.CharField(max_length=40)
    measured = models.PositiveIntegerField()
    adherent = models.PositiveIntegerField()

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "pharmacy", "month", "period", "therapeutic_class"],
                name="pdc_snapshot_one_per_month",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=Q(adherent__lte=models.F("measured")),
                name="pdc_snapshot_adherent_within_measured",
            ),
        ]
        indexes = [models.Index(fields=["organization", "therapeutic_class", "month"])]
