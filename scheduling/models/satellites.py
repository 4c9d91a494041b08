"""Satellite cycles: a prescription of an enrolled patient kept out of the sync (insulin on
its own rhythm, a drifting inhaler, a Schedule II, any Rx not synced) still has its own next
date, prep day and pre-fill day, shown beside the anchor instead of a note."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Patient, Prescription
from scheduling.models.base import organization_without_index
from scheduling.models.enrollment import SyncEnrollment


class SatelliteStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    PREP_DUE = "prep_due", "Prep call due"
    FILLING = "filling", "In the fill queue"
    DONE = "done", "Filled"
    DROPPED = "dropped", "No longer kept out of sync"


SATELLITE_OPEN = (SatelliteStatus.SCHEDULED, SatelliteStatus.PREP_DUE, SatelliteStatus.FILLING)


class SatelliteDue(TenantOwnedModel):
    """The next due date of one prescription kept out of sync, on its own cycle.

    `due_on` is the day after the supply on hand runs out (supply carried forward,
    patients.supply); the prep and pre-fill days are the pharmacy's leads before it. The
    satellite sweep moves it scheduled -> prep_due -> filling, and to done once a fill
    covers it (the next row is then the next due date)."""

    organization = organization_without_index()
    enrollment = models.ForeignKey(
        SyncEnrollment, on_delete=models.CASCADE, related_name="satellites"
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+", db_index=False)
    pharmacy = models.ForeignKey(
        Pharmacy, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    prescription = models.ForeignKey(Prescription, on_delete=models.CASCADE, related_name="+")
    due_on = models.DateField()
    prep_due_on = models.DateField()
    prefill_due_on = models.DateField()
    days_supply = models.PositiveIntegerField(help_text="The last fill's days supply.")
    reason = models.CharField(max_length=200, blank=True, help_text="Why it is kept out of sync.")
    status = models.CharField(
        max_length=10, choices=SatelliteStatus.choices, default=SatelliteStatus.SCHEDULED
    )
    # The patient's answer to the satellite's own prep reminder ("C"/"X" by text).
    prep_outcome = models.CharField(max_length=20, blank=True)
    prep_contacted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()

    objects = tenant_manager()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "enrollment", "prescription", "due_on"],
                name="satellite_one_per_due_date",
            ),
            models.UniqueConstraint(
                fields=["organization", "enrollment", "prescription"],
                condition=Q(status__in=["scheduled", "prep_due", "filling"]),
                name="satellite_one_open_per_rx",
            ),
            models.CheckConstraint(
                condition=Q(prefill_due_on__lte=F("due_on"))
                & Q(prep_due_on__lte=F("prefill_due_on")),
                name="satellite_prep_before_prefill_before_due",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in SatelliteStatus]),
                name="satellite_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "pharmacy", "prep_due_on"],
                condition=Q(status__in=["scheduled", "prep_due", "filling"]),
                name="satellite_open_sweep",
            ),
        ]

    def __str__(self) -> str:
        return f"Rx {self.prescription_id} due {self.due_on} ({self.status})"
