"""Assessments on the record: templates (shipped or the pharmacy's own), their immutable
versions, and completed responses that keep the exact version they were taken with. The
rules (display conditions, scores, flags) are the pure engine in patients.assessments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from medsync.tenancy import TenantOwnedModel, tenant_manager

__all__ = ["AssessmentResponse", "AssessmentTemplate", "AssessmentVersion", "ResponseContext"]


class AssessmentTemplate(TenantOwnedModel):
    """One assessment a pharmacy uses. Shipped ones (the library) are read-only: copy one to
    change it. `attach_to_prep`: the prep call runs it (the prep-contact one always)."""

    key = models.SlugField(max_length=40, help_text="Stable name: phq, steadi, or your own.")
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    shipped = models.BooleanField(default=False, help_text="From the product's library.")
    attach_to_prep = models.BooleanField(default=False)
    prep_order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "patients.AssessmentVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["prep_order", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="assessment_key_unique")
        ]

    def __str__(self) -> str:
        return self.name


class AssessmentVersion(TenantOwnedModel):
    """A template's questions and rules at one moment. Never changed once written."""

    template = models.ForeignKey(
        AssessmentTemplate, on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "template", "number"], name="assessment_version_unique"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="assessment_version_from_1"),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("An assessment version is never changed: save a new version.")
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class ResponseContext(models.TextChoices):
    PREP_CALL = "prep_call", "At the prep call"
    RECORD = "record", "On the patient record"
    API = "api", "Through the API"


class AssessmentResponse(TenantOwnedModel):
    """A completed assessment: the answers to the questions shown, its score and flags, and
    the exact version it was taken with."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="assessment_responses"
    )
    version = models.ForeignKey(AssessmentVersion, on_delete=models.PROTECT, related_name="+")
    answers = models.JSONField(default=dict, help_text="Question id -> answer (shown ones).")
    score = models.IntegerField(null=True, blank=True)
    band = models.CharField(max_length=60, blank=True)
    flags = models.JSONField(default=list, blank=True, help_text="[{label, question, answer}]")
    context = models.CharField(max_length=10, choices=ResponseContext.choices)
    cycle_public_id = models.UUIDField(
        null=True, blank=True, help_text="The sync cycle whose prep call took it."
    )
    completed_at = models.DateTimeField()
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["-completed_at", "-id"]
        indexes = [models.Index(fields=["organization", "patient", "-completed_at"])]

    def __str__(self) -> str:
        return f"{self.version} for patient {self.patient_id}"
