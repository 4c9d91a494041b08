"""Sync enrollment: who is in the program, with what consent and preferences."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Household, Patient
from scheduling.models.base import CYCLE_LENGTHS, WEEKDAY_NAMES, Weekday


class EnrollmentStatus(models.TextChoices):
    INVITED = "invited", "Invited"
    ENROLLED = "enrolled", "Enrolled"
    PAUSED = "paused", "Paused"
    DISENROLLED = "disenrolled", "Disenrolled"


OPEN_ENROLLMENT_STATUSES = (
    EnrollmentStatus.INVITED,
    EnrollmentStatus.ENROLLED,
    EnrollmentStatus.PAUSED,
)


class DisenrollReason(models.TextChoices):
    PATIENT_REQUEST = "patient_request", "Patient asked to leave the program"
    TRANSFERRED = "transferred", "Moved or transferred to another pharmacy"
    DECEASED = "deceased", "Deceased"
    FACILITY = "facility", "Moved to a facility, hospice or long-term care"
    UNREACHABLE = "unreachable", "Repeatedly unreachable or missed pickups"
    THERAPY_CHANGED = "therapy_changed", "Fewer than two chronic medications left"
    OTHER = "other", "Other (see note)"


class ConsentRelationship(models.TextChoices):
    SELF = "self", "The patient"
    CAREGIVER = "caregiver", "Caregiver"
    LEGAL_REPRESENTATIVE = "legal_representative", "Legal representative"


class ConsentMethod(models.TextChoices):
    IN_PERSON = "in_person", "In person at the counter"
    PHONE = "phone", "By phone"
    WRITTEN = "written", "Signed form"
    SMS = "sms", "By text message"


class Fulfillment(models.TextChoices):
    PICKUP = "pickup", "Pickup"
    DELIVERY = "delivery", "Delivery"


class ContactChannel(models.TextChoices):
    SMS = "sms", "Text message, then a call if no reply"
    PHONE = "phone", "Phone call"


class SyncEnrollment(TenantOwnedModel):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="sync_enrollments")
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=EnrollmentStatus.choices)
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Consent: who gave it, how, when, and which staff member recorded it.
    consent_given_by = models.CharField(max_length=200, blank=True)
    consent_relationship = models.CharField(
        max_length=24, choices=ConsentRelationship.choices, blank=True
    )
    consent_method = models.CharField(max_length=12, choices=ConsentMethod.choices, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    cycle_days = models.PositiveSmallIntegerField(default=30)
    anchor_date = models.DateField(
        null=True, blank=True, help_text="An anchor of the schedule; the others repeat every cycle."
    )
    preferred_weekday = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=Weekday.choices
    )
    preferred_day_of_month = models.PositiveSmallIntegerField(null=True, blank=True)
    fulfillment = models.CharField(
        max_length=10, choices=Fulfillment.choices, default=Fulfillment.PICKUP
    )
    contact_channel = models.CharField(
        max_length=8, choices=ContactChannel.choices, default=ContactChannel.SMS
    )

    invited_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=300, blank=True)
    paused_until = models.DateField(null=True, blank=True)
    disenrolled_at = models.DateTimeField(null=True, blank=True)
    disenroll_reason = models.CharField(max_length=20, choices=DisenrollReason.choices, blank=True)
    disenroll_note = models.CharField(max_length=500, blank=True)
    disenrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient"],
                condition=~Q(status="disenrolled"),
                name="sync_enrollment_one_open_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(cycle_days__in=CYCLE_LENGTHS), name="sync_enrollment_cycle_length"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in EnrollmentStatus]),
                name="sync_enrollment_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="invited") | Q(anchor_date__isnull=False),
                name="sync_enrollment_anchor_once_enrolled",
            ),
            models.CheckConstraint(
                condition=Q(status="invited")
                | Q(status="disenrolled")
                | (Q(consent_at__isnull=False) & ~Q(consent_method="")),
                name="sync_enrollment_consent_once_enrolled",
            ),
            models.CheckConstraint(
                condition=~Q(status="disenrolled") | ~Q(disenroll_reason=""),
                name="sync_enrollment_disenroll_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(preferred_weekday__isnull=True) | Q(preferred_weekday__lte=6),
                name="sync_enrollment_weekday_range",
            ),
            models.CheckConstraint(
                condition=Q(preferred_day_of_month__isnull=True)
                | Q(preferred_day_of_month__gte=1, preferred_day_of_month__lte=31),
                name="sync_enrollment_day_of_month_range",
            ),
            models.CheckConstraint(
                condition=Q(preferred_weekday__isnull=True)
                | Q(preferred_day_of_month__isnull=True),
                name="sync_enrollment_one_preference",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "pharmacy"]),
            models.Index(fields=["organization", "patient"]),
        ]

    def __str__(self) -> str:
        return f"Sync enrollment of {self.patient} ({self.get_status_display()})"

    @property
    def preference_label(self) -> str:
        if self.preferred_weekday is not None:
            return f"{WEEKDAY_NAMES[self.preferred_weekday]}s"
        if self.preferred_day_of_month is not None:
            return f"day {self.preferred_day_of_month} of the month"
        return "no preference"
