"""The work a cycle creates: re-plan proposals, follow-up tasks, text requests."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Patient
from scheduling.models.cycles import SyncCycle
from scheduling.models.enrollment import SyncEnrollment
from scheduling.models.plans import SyncPlan


class ReplanReason(models.TextChoices):
    NEW_RX = "new_rx", "New prescription"
    DOSE_CHANGE = "dose_change", "Dose change"
    DISCONTINUATION = "discontinuation", "Discontinued prescription"
    HOSPITAL_STAY = "hospital_stay", "Hospital stay"
    CHANGES_REPORTED = "changes_reported", "Patient reported changes"


class ReplanStatus(models.TextChoices):
    PROPOSED = "proposed", "Waiting for a pharmacist"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"


class ReplanProposal(TenantOwnedModel):
    """A change that calls for a new plan; a pharmacist approves or rejects it."""

    enrollment = models.ForeignKey(SyncEnrollment, on_delete=models.CASCADE, related_name="replans")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=10, choices=ReplanStatus.choices, default=ReplanStatus.PROPOSED
    )
    reasons = ArrayField(models.CharField(max_length=20, choices=ReplanReason.choices))
    details = models.JSONField(default=list, blank=True, help_text="One line per change found.")
    fingerprint = models.CharField(max_length=64, help_text="What changed, to detect it again.")
    proposed_at = models.DateTimeField()
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.CharField(max_length=500, blank=True)
    resulting_plan = models.ForeignKey(
        SyncPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "enrollment"],
                condition=Q(status="proposed"),
                name="replan_one_open_per_enrollment",
            ),
            models.CheckConstraint(condition=Q(reasons__len__gt=0), name="replan_has_reason"),
        ]

    @property
    def reason_labels(self) -> list[str]:
        labels = dict(ReplanReason.choices)
        return [labels.get(reason, reason) for reason in self.reasons]


class TaskKind(models.TextChoices):
    MISSED_PICKUP = "missed_pickup", "Call about a missed pickup"
    RENEWAL_NEEDED = "renewal_needed", "Request a renewal from the prescriber"
    UNREACHABLE = "unreachable", "Patient unreachable before the anchor"
    RETURN_TO_STOCK = "return_to_stock", "Reverse and return unclaimed fills to stock"
    SIDE_EFFECTS = "side_effects", "Pharmacist to review side effects the patient reported"
    ASSESSMENT_FLAG = "assessment_flag", "Pharmacist to follow up a flagged assessment answer"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    DISMISSED = "dismissed", "Dismissed"


class FollowUpTask(TenantOwnedModel):
    """Work for a person that a sweep found. One per cycle and kind."""

    cycle = models.ForeignKey(SyncCycle, on_delete=models.CASCADE, related_name="tasks")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=TaskKind.choices)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    due_on = models.DateField()
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_note = models.CharField(max_length=500, blank=True)
    # An assessment flag's task: the response whose answer raised it (the detail quotes it).
    assessment_response = models.ForeignKey(
        "patients.AssessmentResponse",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "cycle", "kind"], name="follow_up_one_per_cycle_kind"
            )
        ]
        indexes = [models.Index(fields=["organization", "status", "due_on"])]


class MessageRequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for messaging"
    HANDED_OVER = "handed_over", "Handed to messaging"
    SKIPPED = "skipped", "Not sent (no SMS consent)"


class MessageRequest(TenantOwnedModel):
    """An automated text the sync engine asked for: recorded first, handed over once.

    The row exists even while messaging cannot take requests yet; a later sweep
    hands it over. The dedupe key makes each reminder exactly-once.
    """

    cycle = models.ForeignKey(
        SyncCycle,
        on_delete=models.CASCADE,
        related_name="message_requests",
        null=True,
        blank=True,
    )
    # A satellite's own prep reminder (a prescription on its own rhythm) has no cycle.
    satellite = models.ForeignKey(
        "scheduling.SatelliteDue",
        on_delete=models.CASCADE,
        related_name="message_requests",
        null=True,
        blank=True,
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    dedupe_key = models.CharField(max_length=120)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=12, choices=MessageRequestStatus.choices, default=MessageRequestStatus.PENDING
    )
    requested_at = models.DateTimeField()
    handed_over_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    objects = tenant_manager()

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "dedupe_key"], name="message_request_dedupe"
            ),
            models.CheckConstraint(
                condition=Q(cycle__isnull=False) | Q(satellite__isnull=False),
                name="message_request_for_cycle_or_satellite",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="message_request_status"),
        ]
