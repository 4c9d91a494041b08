"""Appointments on a pharmacy's calendar, and the extra services offered at a contact.

No double booking of a pharmacist is the database's rule: an exclusion constraint (btree_gist)
refuses two live appointments of one pharmacist whose [starts_at, ends_at) ranges overlap,
whatever process writes them. It is per organization: a floater's bookings in two
organizations are each tenant's own business (row-level security hides them from each other,
so the constraint must not make one tenant's booking fail because of another's).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.db import models
from django.db.models import F, Func, Q

from billing.models import ClinicalService
from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Patient
from scheduling.models.cycles import SyncCycle


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = models.DateTimeField()  # only used inside the constraint


class AppointmentKind(models.TextChoices):
    SYNC_PICKUP = "sync_pickup", "Sync pickup"
    CMR = "cmr", "CMR / MTM visit"
    TMR = "tmr", "Targeted medication review"
    VACCINATION = "vaccination", "Vaccination"
    POC_TEST = "poc_test", "Point-of-care test"
    BP_CHECK = "bp_check", "Blood-pressure check"


# The documented service an appointment of each kind opens (billing.ServiceKind values).
SERVICE_KIND_OF = {
    AppointmentKind.CMR: "cmr",
    AppointmentKind.TMR: "tmr",
    AppointmentKind.VACCINATION: "vaccination",
    AppointmentKind.POC_TEST: "poc_test",
    AppointmentKind.BP_CHECK: "bp_check",
}


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    DONE = "done", "Done"
    NO_SHOW = "no_show", "No-show"
    CANCELLED = "cancelled", "Cancelled"


DEFAULT_MINUTES = {
    AppointmentKind.SYNC_PICKUP: 10,
    AppointmentKind.CMR: 40,
    AppointmentKind.TMR: 20,
    AppointmentKind.VACCINATION: 15,
    AppointmentKind.POC_TEST: 15,
    AppointmentKind.BP_CHECK: 10,
}


class Appointment(TenantOwnedModel):
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=AppointmentKind.choices)
    pharmacist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    room = models.CharField(max_length=40, blank=True)
    status = models.CharField(
        max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    cycle = models.ForeignKey(
        SyncCycle, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    service = models.OneToOneField(
        ClinicalService, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    booked_at = models.DateTimeField(auto_now_add=True)
    reminder_requested_at = models.DateTimeField(null=True, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="appointment_ends_after_start",
                violation_error_message="An appointment ends after it starts.",
            ),
            ExclusionConstraint(
                name="appointment_no_double_booking",
                expressions=[
                    ("organization", RangeOperators.EQUAL),
                    ("pharmacist", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                ],
                condition=Q(status__in=["booked", "done"]),
                violation_error_message="The pharmacist is already booked at that time.",
            ),
        ]
        indexes = [models.Index(fields=["organization", "pharmacy", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


class OfferKind(models.TextChoices):
    VACCINE = "vaccine", "Vaccine due"
    CMR = "cmr", "CMR due this year"
    BP_CHECK = "bp_check", "Blood-pressure check"


class OfferAnswer(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    LATER = "later", "Later"


class OfferPlace(models.TextChoices):
    PREP = "prep", "Prep contact"
    PICKUP = "pickup", "Pickup"
    RECORD = "record", "Patient record"


class ServiceOffer(TenantOwnedModel):
    """An extra service offered to a patient and the answer (DOMAIN 10)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=OfferKind.choices)
    detail = models.CharField(
        max_length=80, blank=True, help_text="Which vaccine, for a vaccine offer."
    )
    place = models.CharField(max_length=8, choices=OfferPlace.choices)
    cycle = models.ForeignKey(
        SyncCycle, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answer = models.CharField(max_length=10, choices=OfferAnswer.choices)
    offered_at = models.DateTimeField()
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["-offered_at", "-id"]
        indexes = [models.Index(fields=["organization", "patient", "kind"])]
