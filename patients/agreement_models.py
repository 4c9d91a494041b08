"""Patient agreements: the sync enrollment agreement and the CMR consent, signed at the
counter or through a one-time link, kept as a PDF with who, when and how."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from medsync.tenancy import TenantOwnedModel, tenant_manager

__all__ = [
    "AgreementKind",
    "AgreementLink",
    "AgreementMethod",
    "AgreementReminder",
    "PatientAgreement",
]


class AgreementKind(models.TextChoices):
    SYNC_ENROLLMENT = "sync_enrollment", "Medication synchronization agreement"
    CMR_CONSENT = "cmr_consent", "Consent to a comprehensive medication review"


class AgreementMethod(models.TextChoices):
    SIGNATURE_PAD = "signature_pad", "Signed on the counter screen"
    TYPED_NAME = "typed_name", "Typed name at the counter"
    SMS_LINK = "sms_link", "Signed through a one-time link"


class PatientAgreement(TenantOwnedModel):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="agreements"
    )
    kind = models.CharField(max_length=16, choices=AgreementKind.choices)
    method = models.CharField(max_length=14, choices=AgreementMethod.choices)
    signer_name = models.CharField(max_length=200)
    text_version = models.CharField(max_length=20, help_text="The agreement text signed.")
    signed_at = models.DateTimeField()
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The staff member at the counter (empty for a link).",
    )
    valid_until = models.DateField(help_text="Re-sign by this day (a year after signing).")
    pdf = models.BinaryField(help_text="The signed agreement as a PDF.")

    objects = tenant_manager()

    class Meta:
        ordering = ["patient", "-signed_at"]
        indexes = [models.Index(fields=["organization", "patient", "kind", "-signed_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} signed {self.signed_at:%Y-%m-%d}"


class AgreementLink(TenantOwnedModel):
    """A one-time signing link: only the token's hash is stored; used once, then dead."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=AgreementKind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    agreement = models.OneToOneField(
        PatientAgreement, null=True, blank=True, on_delete=models.SET_NULL, related_name="link"
    )

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="agreement_link_expires"
            )
        ]


class AgreementReminder(TenantOwnedModel):
    """The yearly re-sign reminder: opened by the daily sweep a month before an agreement's
    year ends (one per agreement), closed when the patient signs that kind again."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    agreement = models.OneToOneField(
        PatientAgreement, on_delete=models.CASCADE, related_name="reminder"
    )
    kind = models.CharField(max_length=16, choices=AgreementKind.choices)
    due_on = models.DateField(help_text="The day the signed agreement runs out.")
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [models.Index(fields=["organization", "resolved_at", "due_on"])]
