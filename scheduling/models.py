"""Sync enrollment, plans, cycles, the fill queue and the work they create.

Every table is tenant-owned (organization_id on each row, UUID public id, a
scoped default manager). Invariants live in the database: one open enrollment
per patient, one cycle per enrollment and anchor date, one item per
prescription and fill date in a cycle, one open re-plan per enrollment, one
follow-up task per cycle and kind, one message request per dedupe key.

Patient-facing events (contacted, confirmed, picked up, returned, ...) are
rows of CycleEvent with a timestamp, so reports count them instead of parsing
statuses.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from patients.models import Fill, Household, Patient, Prescription

CYCLE_LENGTHS = (28, 30, 60, 90)


def organization_without_index(*, db_constraint: bool = True):
    """The tenant column of the high-volume tables: every query and constraint leads with
    organization_id in a composite index, so the single-column index Django would add only
    slows the hundreds of thousands of inserts a morning's sweep makes. Without
    `db_constraint` a composite foreign key (organization, parent) checks it instead."""
    return models.ForeignKey(
        "medsync.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
        db_constraint=db_constraint,
    )


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

DEFAULT_PREP_DAYS = 7  # APhA: contact 3-7 days ahead ("about a week prior")
DEFAULT_PREFILL_DAYS = 3  # vendors: ready three days early
DEFAULT_MISSED_AFTER_DAYS = 1  # a cycle not picked up by the day after its anchor
DEFAULT_RTS_WARNING_DAYS = 3  # warn this many days before the return-to-stock deadline


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class SyncSettings(TenantOwnedModel):
    """A pharmacy's sync timing. Pharmacies without a row use the defaults."""

    pharmacy = models.OneToOneField(Pharmacy, on_delete=models.CASCADE, related_name="+")
    prep_days = models.PositiveSmallIntegerField(
        default=DEFAULT_PREP_DAYS, help_text="Days before the anchor to call the patient (1-14)."
    )
    prefill_days = models.PositiveSmallIntegerField(
        default=DEFAULT_PREFILL_DAYS,
        help_text="Days before the anchor that fills enter the fill queue (0-10).",
    )
    closed_weekdays = ArrayField(
        models.PositiveSmallIntegerField(choices=Weekday.choices),
        default=list,
        blank=True,
        help_text="0 = Monday … 6 = Sunday. Prep calls and pre-fills move to the open day before.",
    )
    missed_after_days = models.PositiveSmallIntegerField(
        default=DEFAULT_MISSED_AFTER_DAYS,
        help_text="A ready cycle not picked up this many days after its anchor is missed.",
    )
    rts_warning_days = models.PositiveSmallIntegerField(
        default=DEFAULT_RTS_WARNING_DAYS,
        help_text="Remind the patient this many days before unclaimed fills return to stock.",
    )
    daily_anchor_capacity = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Anchors per day the team can handle; the optimizer spreads patients below it.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        verbose_name_plural = "sync settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(prep_days__gte=1, prep_days__lte=14), name="sync_settings_prep_1_14"
            ),
            models.CheckConstraint(
                condition=Q(prefill_days__lte=10) & Q(prefill_days__lte=F("prep_days")),
                name="sync_settings_prefill_before_prep",
            ),
            models.CheckConstraint(
                condition=Q(closed_weekdays__contained_by=[0, 1, 2, 3, 4, 5, 6])
                & Q(closed_weekdays__len__lt=7),
                name="sync_settings_closed_weekdays_valid",
            ),
            models.CheckConstraint(
                condition=Q(missed_after_days__gte=1, missed_after_days__lte=14),
                name="sync_settings_missed_after_1_14",
            ),
            models.CheckConstraint(
                condition=Q(rts_warning_days__lte=14), name="sync_settings_rts_warning_le_14"
            ),
        ]

    def __str__(self) -> str:
        return f"Sync settings of {self.pharmacy}"


# --- Enrollment ----------------------------------------------------------------------------


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


# --- Plans -------------------------------------------------------------------------------


class PlanReason(models.TextChoices):
    ENROLLMENT = "enrollment", "Enrollment"
    REPLAN = "replan", "Approved re-plan"


class SyncPlan(TenantOwnedModel):
    """An approved alignment plan: the anchor, the cycle and what each Rx gets.

    The current plan is the template each new cycle copies; earlier plans are the
    plan history shown on the patient's sync panel.
    """

    enrollment = models.ForeignKey(SyncEnrollment, on_delete=models.CASCADE, related_name="plans")
    anchor_date = models.DateField()
    cycle_days = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=12, choices=PlanReason.choices)
    summary = models.CharField(max_length=500, blank=True)
    is_current = models.BooleanField(default=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField()

    objects = tenant_manager()

    class Meta:
        ordering = ["-approved_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "enrollment"],
                condition=Q(is_current=True),
                name="sync_plan_one_current",
            ),
            models.CheckConstraint(
                condition=Q(cycle_days__in=CYCLE_LENGTHS), name="sync_plan_cycle_length"
            ),
        ]

    def __str__(self) -> str:
        return f"Plan anchored {self.anchor_date} every {self.cycle_days} days"


class FillKind(models.TextChoices):
    SHORT = "short", "Short fill"
    FULL = "full", "Full fill"
    NOT_SYNCED = "not_synced", "Not synced"


class SyncPlanItem(TenantOwnedModel):
    """One prescription in a plan: its first (aligning) fill and its recurring fill."""

    plan = models.ForeignKey(SyncPlan, on_delete=models.CASCADE, related_name="items")
    prescription = models.ForeignKey(Prescription, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=FillKind.choices)
    fill_date = models.DateField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal("0"))
    days_supply = models.PositiveIntegerField(default=0)
    scc_codes = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    patient_pay = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="Blank: not known yet."
    )
    warnings = models.JSONField(default=list, blank=True)
    fills = models.JSONField(
        default=list, blank=True, help_text="Every fill the plan makes, up to the first full one."
    )
    # What each later cycle fills on its anchor (the plan as a template).
    daily_dose = models.DecimalField(max_digits=10, decimal_places=4)
    unit_of_use = models.BooleanField(default=False)
    recurring_quantity = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal("0"))
    recurring_days_supply = models.PositiveIntegerField(default=0)
    recurring_patient_pay = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["plan", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "plan", "prescription"], name="sync_plan_item_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind="not_synced")
                | (
                    Q(quantity__gt=0)
                    & Q(days_supply__gt=0)
                    & Q(fill_date__isnull=False)
                    & Q(recurring_quantity__gt=0)
                    & Q(recurring_days_supply__gt=0)
                ),
                name="sync_plan_item_synced_has_fill",
            ),
            models.CheckConstraint(
                condition=Q(patient_pay__gte=0) & Q(recurring_patient_pay__gte=0),
                name="sync_plan_item_pay_not_negative",
            ),
        ]


# --- Cycles --------------------------------------------------------------------------------


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


# --- Re-plans, follow-ups, message requests ---------------------------------------------------


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

    cycle = models.ForeignKey(SyncCycle, on_delete=models.CASCADE, related_name="message_requests")
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
            )
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="message_request_status"),
        ]
