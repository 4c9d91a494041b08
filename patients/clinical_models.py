"""The clinical record: conditions, allergies and intolerances, immunization history, and the
pharmacy's adult immunization schedule (data it can update). Inpatient stays are in
patients.models (InpatientStay), which the PDC engine reads."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.validators import validate_icd10

__all__ = [
    "Allergy",
    "AllergyKind",
    "AllergySeverity",
    "Condition",
    "ConditionStatus",
    "Immunization",
    "ImmunizationSchedule",
    "ImmunizationSource",
]


class ConditionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"
    INACTIVE = "inactive", "Inactive (in remission)"


class Condition(TenantOwnedModel):
    """A diagnosis on the record (ICD-10-CM), for screening, service billing and exclusions."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="conditions"
    )
    icd10_code = models.CharField("ICD-10-CM", max_length=8, validators=[validate_icd10])
    description = models.CharField(max_length=200)
    onset_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ConditionStatus.choices, default=ConditionStatus.ACTIVE
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["patient", "status", "icd10_code", "id"]
        indexes = [models.Index(fields=["organization", "patient", "status"])]

    def __str__(self) -> str:
        return f"{self.icd10_code} {self.description}"


class AllergyKind(models.TextChoices):
    ALLERGY = "allergy", "Allergy"
    INTOLERANCE = "intolerance", "Intolerance"


class AllergySeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    UNKNOWN = "unknown", "Unknown"


class Allergy(TenantOwnedModel):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="allergies"
    )
    substance = models.CharField(max_length=200, help_text="Drug, class or other substance.")
    kind = models.CharField(max_length=12, choices=AllergyKind.choices, default=AllergyKind.ALLERGY)
    reaction = models.CharField(max_length=200, blank=True, help_text="Rash, hives, anaphylaxis…")
    severity = models.CharField(
        max_length=10, choices=AllergySeverity.choices, default=AllergySeverity.UNKNOWN
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        verbose_name_plural = "allergies"
        ordering = ["patient", "substance", "id"]
        indexes = [models.Index(fields=["organization", "patient"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.substance}"


class ImmunizationSource(models.TextChoices):
    ADMINISTERED = "administered", "Given at this pharmacy"
    PATIENT = "patient", "Reported by the patient"
    REGISTRY = "registry", "State registry (IIS)"
    OTHER_PROVIDER = "other_provider", "Record from another provider"


class Immunization(TenantOwnedModel):
    """One dose given. `vaccine` is a key of the immunization schedule (influenza, zoster…)."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="immunizations"
    )
    vaccine = models.CharField(max_length=30, help_text="A vaccine key of the schedule.")
    product = models.CharField(max_length=100, blank=True, help_text="e.g. Shingrix, Fluzone HD.")
    administered_on = models.DateField()
    lot_number = models.CharField(max_length=40, blank=True)
    source = models.CharField(
        max_length=16, choices=ImmunizationSource.choices, default=ImmunizationSource.PATIENT
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["patient", "-administered_on", "id"]
        indexes = [models.Index(fields=["organization", "patient", "vaccine"])]

    def __str__(self) -> str:
        return f"{self.vaccine} on {self.administered_on}"


class ImmunizationSchedule(TenantOwnedModel):
    """A pharmacy organization's own copy of the adult schedule; without one, the shipped
    patients/data/adult_immunization_schedule.json applies."""

    document = models.JSONField(help_text="See patients.assessments.immunizations.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], name="immunization_schedule_one_per_org"
            )
        ]
