"""Renewal requests: what the pharmacy asks a prescriber for when the sync engine flags a
prescription that runs out of refills or expires before the next anchor (DOMAIN 3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Prescriber, Prescription
from scheduling.models.cycles import SyncCycle


class RenewalStatus(models.TextChoices):
    TO_SEND = "to_send", "To send"
    SENT = "sent", "Sent to the prescriber"
    APPROVED = "approved", "Approved (new prescription)"
    DENIED = "denied", "Denied"


RENEWAL_OPEN = (RenewalStatus.TO_SEND, RenewalStatus.SENT)


class RenewalRequest(TenantOwnedModel):
    """One prescription of one cycle the prescriber is asked to renew."""

    cycle = models.ForeignKey(SyncCycle, on_delete=models.CASCADE, related_name="renewals")
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    prescriber = models.ForeignKey(
        Prescriber, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=300, help_text="The engine's words: why it is needed.")
    refills_requested = models.PositiveSmallIntegerField(default=5)
    status = models.CharField(
        max_length=10, choices=RenewalStatus.choices, default=RenewalStatus.TO_SEND
    )
    new_prescription = models.ForeignKey(
        Prescription, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["prescriber_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "cycle", "prescription"], name="renewal_once_per_cycle_rx"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(new_prescription__isnull=False),
                name="renewal_approved_has_new_rx",
            ),
            models.CheckConstraint(
                condition=Q(refills_requested__lte=99), name="renewal_refills_requested_max"
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"])]
