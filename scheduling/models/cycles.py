"""Cycles, their items (the fill queue), the event timeline and prep contacts."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Fill, Patient, Prescription
from scheduling.models.base import organization_without_index
from scheduling.models.enrollment import Fulfillment, SyncEnrollment
from scheduling.models.plans import FillKind, SyncPlan


class CycleStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    PREP_DUE = "prep_due", "Prep call due"
    CONTACTED = "contacted", "Contacted"
    FILLING = "filling", "Filling"
    READY = "ready", "Ready for pickup"
    PICKED_UP = "picked_up", "Picked up"
    PARTLY_PICKED_UP = "partly_picked_up", "Partly picked up"
    MISSED = "missed", "Missed pickup"
    CLOSED = "closed", "Closed"


# Which statuses count as open, not yet filling, ...: scheduling/states.py.


class ContactOutcome(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed, no changes"
    CHANGES_REPORTED = "changes_reported", "Changes reported"
    UNREACHABLE = "unreachable", "Unreachable"


class CloseReason(models.TextChoices):
    COMPLETED = "completed", "Everything picked up"
    RETURNED_TO_STOCK = "returned_to_stock", "Unclaimed fills returned to stock"
    DISENROLLED = "disenrolled", "Patient left the program"
    PAUSED = "paused", "Enrollment paused"
    REPLANNED = "replanned", "Replaced by a new plan"
    LAPSED = "lapsed", "Not picked up before the next cycle began"


class SyncCycle(TenantOwnedModel):
    """One anchor date of one enrolled patient, from scheduling to pickup."""

    organization = organization_without_index()
    enrollment = models.ForeignKey(SyncEnrollment, on_delete=models.CASCADE, related_name="cycles")
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="sync_cycles", db_index=False
    )
    pharmacy = models.ForeignKey(
        Pharmacy, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    plan = models.ForeignKey(
        SyncPlan,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cycles",
        db_index=False,
    )
    anchor_date = models.DateField()
    prep_due_on = models.DateField()
    prefill_due_on = models.DateField()
    status = models.CharField(
        max_length=18, choices=CycleStatus.choices, default=CycleStatus.SCHEDULED
    )
    contact_outcome = models.CharField(max_length=18, choices=ContactOutcome.choices, blank=True)
    close_reason = models.CharField(max_length=20, choices=CloseReason.choices, blank=True)
    needs_renewal = models.BooleanField(
        default=False, help_text="An item's refills or expiry run out: ask the prescriber."
    )
    prep_open = models.BooleanField(
        default=False,
        help_text="The prep question is open: nobody has talked the changes through yet.",
    )
    status_changed_at = models.DateTimeField(auto_now_add=True)
    prep_opened_at = models.DateTimeField(null=True, blank=True)
    contacted_at = models.DateTimeField(null=True, blank=True)
    filling_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    missed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["anchor_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "enrollment", "anchor_date"],
                name="sync_cycle_one_per_anchor",
            ),
            # The target of the cycle items' composite foreign key.
            models.UniqueConstraint(fields=["organization", "id"], name="sync_cycle_tenant_key"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in CycleStatus]),
                name="sync_cycle_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="contacted") | ~Q(contact_outcome=""),
                name="sync_cycle_contacted_has_outcome",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | ~Q(close_reason=""),
                name="sync_cycle_closed_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(prefill_due_on__lte=F("anchor_date"))
                & Q(prep_due_on__lte=F("prefill_due_on")),
                name="sync_cycle_prep_before_prefill_before_anchor",
            ),
        ]
        # Partial indexes: each sweep's index holds only the cycles it may still act on.
        indexes = [
            models.Index(
                fields=["organization", "pharmacy", "prep_due_on"],
                condition=Q(status="scheduled"),
                name="sync_cycle_prep_sweep",
            ),
            models.Index(
                fields=["organization", "pharmacy", "prefill_due_on"],
                condition=Q(status__in=["scheduled", "prep_due", "contacted"]),
                name="sync_cycle_prefill_sweep",
            ),
            models.Index(
                fields=["organization", "pharmacy", "anchor_date"],
                condition=Q(
                    status__in=["filling", "ready", "picked_up", "partly_picked_up", "missed"]
                ),
                name="sync_cycle_pickup_sweep",
            ),
            models.Index(
                fields=["organization", "anchor_date"],
                condition=Q(prep_open=True),
                name="sync_cycle_prep_open",
            ),
            models.Index(fields=["organization", "anchor_date"], name="sync_cycle_anchor"),
            models.Index(
                fields=["organization", "patient", "-anchor_date"], name="sync_cycle_patient"
            ),
        ]

    def __str__(self) -> str:
        return f"Cycle {self.anchor_date} of {self.patient_id} ({self.status})"


class ItemState(models.TextChoices):
    # Not started. A planned fill is in the fill queue from its queue_from day on: no
    # sweep has to touch the row for it to appear there.
    PLANNED = "planned", "To fill"
    BILLED = "billed", "Billed"
    FILLED = "filled", "Filled, to verify"
    READY = "ready", "Verified, in the bag"
    PICKED_UP = "picked_up", "Picked up"
    FLAGGED = "flagged", "Flagged"
    RETURNED = "returned", "Returned to stock"
    SKIPPED = "skipped", "Skipped"


# Which states count as in the queue, done, ...: scheduling/states.py.


class FlagReason(models.TextChoices):
    RENEWAL_NEEDED = "renewal_needed", "Renewal needed from the prescriber"
    REFILL_TOO_SOON = "refill_too_soon", "Refill too soon (reject 79)"
    PLAN_LIMIT = "plan_limit", "Plan limitation exceeded (reject 76)"
    CLAIM_REJECTED = "claim_rejected", "Claim rejected"
    OUT_OF_STOCK = "out_of_stock", "Out of stock"
    NEEDS_PHARMACIST = "needs_pharmacist", "Needs the pharmacist"
    OTHER = "other", "Other (see note)"


class CycleItem(TenantOwnedModel):
    """One fill of one prescription in a cycle.

    It joins the fill queue on its `queue_from` day (the cycle's pre-fill day for a fill on
    the anchor, the same lead before its own date for one off the anchor), so the pre-fill
    sweep never rewrites hundreds of thousands of rows. No index contains `state` (and the
    table keeps free space on each page): a fill moving along the queue is a heap-only
    update.
    """

    # One composite foreign key, (organization, cycle) -> the cycle's (organization, id)
    # (migration 0007), stands for these two: the database itself refuses an item of another
    # organization's cycle, and each row costs one check instead of two at commit.
    organization = organization_without_index(db_constraint=False)
    cycle = models.ForeignKey(
        SyncCycle, on_delete=models.CASCADE, related_name="items", db_constraint=False
    )
    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+")
    fill_date = models.DateField()
    queue_from = models.DateField(help_text="The day this fill joins the fill queue.")
    kind = models.CharField(max_length=10, choices=FillKind.choices)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    days_supply = models.PositiveIntegerField()
    # The first day this fill's supply is used, when it is handed out before the previous supply
    # runs out (DOMAIN 2: supply carries forward); null = the fill date.
    supply_start = models.DateField(null=True, blank=True)
    scc_codes = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    patient_pay = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="Blank: not known yet."
    )
    warnings = models.JSONField(default=list, blank=True)
    off_anchor = models.BooleanField(
        default=False, help_text="Dated off the anchor: an aligning fill or a drifting product."
    )
    state = models.CharField(max_length=10, choices=ItemState.choices, default=ItemState.PLANNED)
    flag_reason = models.CharField(max_length=20, choices=FlagReason.choices, blank=True)
    flag_note = models.CharField(max_length=300, blank=True)
    fill = models.ForeignKey(
        Fill, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    billed_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # Optimistic concurrency: every change made through the services adds one; a page posts
    # the version it showed, and a change to a row someone else moved meanwhile is refused.
    version = models.PositiveIntegerField(default=1, db_default=1)
    # The package the fill was made from, as scanned or typed (11 digits once it matched).
    ndc_scanned = models.CharField("NDC scanned", max_length=11, blank=True, db_default="")

    objects = tenant_manager()

    class Meta:
        ordering = ["fill_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "cycle", "prescription", "fill_date"],
                name="cycle_item_unique",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["short", "full"]), name="cycle_item_kind_fills"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="cycle_item_quantity_pos"),
            models.CheckConstraint(condition=Q(days_supply__gt=0), name="cycle_item_days_pos"),
            models.CheckConstraint(
                condition=Q(queue_from__lte=F("fill_date")), name="cycle_item_queued_by_fill_date"
            ),
            models.CheckConstraint(
                condition=Q(patient_pay__gte=0), name="cycle_item_pay_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in ItemState]), name="cycle_item_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state="flagged") | ~Q(flag_reason=""),
                name="cycle_item_flag_has_reason",
            ),
        ]
        indexes = [
            models.Index(
                fields=["organization", "queue_from"],
                condition=Q(off_anchor=True),
                name="cycle_item_off_anchor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of Rx {self.prescription_id} on {self.fill_date}"


class EventKind(models.TextChoices):
    CONTACT_ATTEMPTED = "contact_attempted", "Contact attempted"
    CONTACTED = "contacted", "Contacted"
    CONFIRMED = "confirmed", "Confirmed"
    CHANGES_REPORTED = "changes_reported", "Changes reported"
    UNREACHABLE = "unreachable", "Unreachable"
    READY = "ready", "Ready for pickup"
    PICKED_UP = "picked_up", "Picked up"
    PARTLY_PICKED_UP = "partly_picked_up", "Partly picked up"
    MISSED = "missed", "Missed pickup"
    RETURNED = "returned", "Returned to stock"
    CLOSED = "closed", "Closed"


class EventChannel(models.TextChoices):
    SYSTEM = "system", "MedSync"
    SMS = "sms", "Text message"
    PHONE = "phone", "Phone"
    IN_PERSON = "in_person", "In person"


class CycleEvent(TenantOwnedModel):
    """A timestamped thing that happened with the patient, countable by reports: contacts
    and their outcomes, ready, pickups, misses, returns. The cycle's own milestones (prep
    opened, filling, ...) are timestamps on the cycle."""

    organization = organization_without_index()
    cycle = models.ForeignKey(SyncCycle, on_delete=models.CASCADE, related_name="events")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    channel = models.CharField(
        max_length=10, choices=EventChannel.choices, default=EventChannel.SYSTEM
    )
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    metadata = models.JSONField(default=dict, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["organization", "kind", "occurred_at"], name="cycle_event_kind"),
        ]


class PrepContact(TenantOwnedModel):
    """One prep call (or reply): the ABM questions, answered in structured form."""

    cycle = models.ForeignKey(SyncCycle, on_delete=models.CASCADE, related_name="prep_contacts")
    channel = models.CharField(max_length=10, choices=EventChannel.choices)
    outcome = models.CharField(max_length=18, choices=ContactOutcome.choices)
    # None = not asked (unreachable, or an SMS confirmation).
    new_medications = models.BooleanField(null=True)
    stopped_medications = models.BooleanField(null=True)
    dose_changes = models.BooleanField(null=True)
    hospital_stay = models.BooleanField(null=True)
    # The stay's dates when the patient gives them (DOMAIN 6: stays adjust PDC); the stay row
    # it created, so a contact records its stay once.
    stay_admitted_on = models.DateField(null=True, blank=True)
    stay_discharged_on = models.DateField(null=True, blank=True)
    inpatient_stay = models.OneToOneField(
        "patients.InpatientStay",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="prep_contact",
    )
    side_effects = models.BooleanField(null=True)
    fulfillment = models.CharField(max_length=10, choices=Fulfillment.choices, blank=True)
    notes = models.TextField(blank=True)
    contacted_at = models.DateTimeField()
    contacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["-contacted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="confirmed")
                | (
                    ~Q(new_medications=True)
                    & ~Q(stopped_medications=True)
                    & ~Q(dose_changes=True)
                    & ~Q(hospital_stay=True)
                ),
                name="prep_contact_confirmed_means_no_changes",
            )
        ]

    @property
    def reported_changes(self) -> list[str]:
        labels = {
            "new_medications": "new medications",
            "stopped_medications": "stopped medications",
            "dose_changes": "dose changes",
            "hospital_stay": "a hospital stay",
            "side_effects": "side effects",
        }
        return [label for field, label in labels.items() if getattr(self, field)]
