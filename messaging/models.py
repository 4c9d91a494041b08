"""Consent, opt-outs, templates, conversations and messages (SMS).

The database is the truth: an outbound text is a row first (queued, with a due
time), then a task claims it with a conditional UPDATE and sends it. Automated
texts carry a dedupe key that is unique per organization, so a cycle's reminder
exists at most once however often the sync engine asks for it.
"""

from __future__ import annotations

import re
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from medsync.validators import validate_e164


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"


class MessageKind(models.TextChoices):
    # Automated treatment texts (count toward the 1/day, 3/week limits; quiet hours apply).
    PREP_REMINDER = "prep_reminder", "Prep reminder"
    READY_FOR_PICKUP = "ready_for_pickup", "Ready for pickup"
    MISSED_PICKUP = "missed_pickup", "Missed pickup"
    RTS_WARNING = "rts_warning", "Return-to-stock warning"
    APPOINTMENT_REMINDER = "appointment_reminder", "Appointment reminder"
    AGREEMENT_LINK = "agreement_link", "Agreement signing link"
    # Answers to the patient's own texts (no limit; sent at once).
    HELP_REPLY = "help_reply", "Help reply"
    OPT_OUT_CONFIRMATION = "opt_out_confirmation", "Opt-out confirmation"
    OPT_IN_CONFIRMATION = "opt_in_confirmation", "Opt-in confirmation"
    CONFIRM_ACK = "confirm_ack", "Confirmation received"
    CHANGE_ACK = "change_ack", "Changes received"
    # People.
    MANUAL = "manual", "Staff reply"
    INBOUND = "inbound", "Patient text"


AUTOMATED_KINDS = frozenset(
    {
        MessageKind.PREP_REMINDER,
        MessageKind.READY_FOR_PICKUP,
        MessageKind.MISSED_PICKUP,
        MessageKind.RTS_WARNING,
        MessageKind.APPOINTMENT_REMINDER,
        MessageKind.AGREEMENT_LINK,
    }
)


class Direction(models.TextChoices):
    OUTBOUND = "out", "Outbound"
    INBOUND = "in", "Inbound"


class MessageStatus(models.TextChoices):
    # Ours, before the provider has it.
    QUEUED = "queued", "Queued"  # waiting for its due time (may be deferred)
    SENDING = "sending", "Sending"  # claimed by a worker, gateway call in flight
    SKIPPED = "skipped", "Not sent"  # refused before sending (no consent, opted out, ...)
    # The provider's, moved forward only.
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    READ = "read", "Read"
    # Inbound.
    RECEIVED = "received", "Received"


# How far along a status is: a callback may only move a message to a higher rank.
STATUS_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.READ: 4,
    MessageStatus.SKIPPED: 5,
    MessageStatus.RECEIVED: 5,
}


class DeferReason(models.TextChoices):
    NONE = "", "—"
    QUIET_HOURS = "quiet_hours", "Quiet hours"
    DAILY_LIMIT = "daily_limit", "Daily limit (1 a day)"
    WEEKLY_LIMIT = "weekly_limit", "Weekly limit (3 a week)"
    RETRY = "retry", "Retrying after a temporary error"
    HELD_BY_STAFF = "held_by_staff", "Held until the send window opens"


class SkipReason(models.TextChoices):
    NO_CONSENT = "no_consent", "No SMS consent on file"
    CONSENT_FOR_OTHER_NUMBER = "consent_other_number", "Consent was given for another number"
    OPTED_OUT = "opted_out", "The number opted out"
    INVALID_NUMBER = "invalid_number", "The number cannot receive texts"
    NO_PHONE = "no_phone", "No phone number"
    PATIENT_INACTIVE = "patient_inactive", "The patient is not active"
    NO_SENDER = "no_sender", "The pharmacy has no SMS number"


class ConsentMethod(models.TextChoices):
    VERBAL = "verbal", "Verbal, at the counter or by phone"
    WRITTEN = "written", "Written form"
    ELECTRONIC = "electronic", "Electronic signature"
    SMS_KEYWORD = "sms_keyword", "Texted START / YES"
    IMPORT = "import", "Imported from the pharmacy system"


def _default_quiet_start() -> time:
    return time(settings.MESSAGING_QUIET_HOURS_START)


def _default_quiet_end() -> time:
    return time(settings.MESSAGING_QUIET_HOURS_END)


class SmsConsent(TenantOwnedModel):
    """A patient's consent to automated treatment texts, and their preferences.

    Consent covers one number: the number the patient gave. If the patient's phone
    changes, texts stop until consent is recorded for the new number.
    """

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.CASCADE, related_name="sms_consent"
    )
    granted = models.BooleanField(default=False)
    phone = models.CharField(
        max_length=16, blank=True, validators=[validate_e164], help_text="The number consented."
    )
    method = models.CharField(max_length=16, choices=ConsentMethod.choices, blank=True)
    granted_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(
        max_length=2,
        choices=Language.choices,
        blank=True,
        help_text="Blank: the patient's preferred language.",
    )
    quiet_start = models.TimeField(
        default=_default_quiet_start, help_text="Earliest local time for automated texts."
    )
    quiet_end = models.TimeField(
        default=_default_quiet_end, help_text="Automated texts stop at this local time."
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quiet_start__lt=models.F("quiet_end")),
                name="sms_consent_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(granted=False) | (~Q(phone="") & Q(granted_at__isnull=False)),
                name="sms_consent_granted_has_phone_and_time",
            ),
        ]

    def __str__(self) -> str:
        return f"SMS consent ({'granted' if self.granted else 'none'})"


class SmsNumber(TenantOwnedModel):
    """The state of one remote phone number within an organization: opted out, invalid.

    Opt-outs are kept per number (carriers work that way): a STOP from a number no
    patient has yet still protects whoever is later registered with it.
    """

    phone = models.CharField(max_length=16, validators=[validate_e164])
    opted_out_at = models.DateTimeField(null=True, blank=True)
    invalid_at = models.DateTimeField(null=True, blank=True)
    invalid_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "phone"], name="sms_number_unique")
        ]

    def __str__(self) -> str:
        return "SMS number"

    @property
    def is_opted_out(self) -> bool:
        return self.opted_out_at is not None


class ConsentEventKind(models.TextChoices):
    GRANTED = "granted", "Consent recorded"
    WITHDRAWN = "withdrawn", "Consent withdrawn by staff"
    OPTED_OUT = "opted_out", "Opted out by text"
    OPTED_IN = "opted_in", "Opted back in by text"
    PROVIDER_OPT_OUT = "provider_opt_out", "Carrier reports opted out (21610)"
    NUMBER_INVALID = "number_invalid", "Number flagged invalid (21211)"
    PREFERENCES = "preferences", "Preferences changed"


class ConsentEvent(TenantOwnedModel):
    """Append-only log of consent, opt-out and opt-in (when, how, by whom)."""

    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sms_consent_events",
    )
    phone = models.CharField(max_length=16, blank=True)
    kind = models.CharField(max_length=20, choices=ConsentEventKind.choices)
    method = models.CharField(max_length=16, blank=True)
    keyword = models.CharField(max_length=40, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField()

    objects = tenant_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "patient", "-occurred_at"]),
            models.Index(fields=["organization", "phone"]),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Consent events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Consent events are append-only.")


# Only variables made for this purpose may be named, so a pharmacy's settings can never make
# the app send another secret (SECRET_KEY, DATABASE_URL...) to Twilio as a password.
TOKEN_ENV_PREFIX = "TWILIO_AUTH_TOKEN_"  # noqa: S105 - a name prefix, not a secret
_ENV_NAME = re.compile(rf"^{TOKEN_ENV_PREFIX}[A-Z0-9_]{{1,80}}$")


def token_env_name_allowed(value: str) -> bool:
    return bool(_ENV_NAME.match(value or ""))


def validate_env_name(value: str) -> None:
    if not token_env_name_allowed(value):
        raise ValidationError(
            f"Give the NAME of an environment variable that starts with {TOKEN_ENV_PREFIX} "
            "(capitals, digits, underscores), for example TWILIO_AUTH_TOKEN_MAPLE: the token "
            "itself never goes in the database.",
            code="env_name",
        )


def validate_account_sid(value: str) -> None:
    if value and not re.fullmatch(r"AC[0-9a-fA-F]{32}", value):
        raise ValidationError("An account SID is AC followed by 32 hex digits.", code="sid")


def validate_service_sid(value: str) -> None:
    if value and not re.fullmatch(r"MG[0-9a-fA-F]{32}", value):
        raise ValidationError(
            "A messaging service SID is MG followed by 32 hex digits.", code="sid"
        )


class PharmacySmsConfig(TenantOwnedModel):
    """How one pharmacy sends through Twilio. Secrets stay out of the database.

    The auth token is not stored: `auth_token_env` names the environment variable
    (TWILIO_AUTH_TOKEN_...) that holds it, set by the deployment's secret manager. A pharmacy
    with neither its own account nor its own variable uses the TWILIO_ACCOUNT_SID /
    TWILIO_AUTH_TOKEN settings; one that names its own never falls back to them.
    """

    pharmacy = models.OneToOneField(Pharmacy, on_delete=models.CASCADE, related_name="sms_config")
    account_sid = models.CharField(
        "Twilio account SID",
        max_length=34,
        blank=True,
        validators=[validate_account_sid],
    )
    auth_token_env = models.CharField(
        "Auth token environment variable",
        max_length=100,
        blank=True,
        validators=[validate_env_name],
        help_text="The name of the environment variable that holds the auth token.",
    )
    messaging_service_sid = models.CharField(
        "Messaging service SID",
        max_length=34,
        blank=True,
        validators=[validate_service_sid],
        help_text="MG…; when set, texts go through the service instead of the SMS number.",
    )
    max_per_second = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Sender throughput (texts per second). Blank: the MESSAGING_SENDER_RATE setting.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(messaging_service_sid="") | Q(messaging_service_sid__regex=r"^MG"),
                name="sms_config_service_sid_format",
            ),
        ]

    def __str__(self) -> str:
        return f"SMS settings of {self.pharmacy}"


class MessageTemplate(TenantOwnedModel):
    """An organization's wording for one kind of text in one language.

    Validated on save (services.template_save): known variables only, none that could
    carry a drug or condition, at most 160 characters with the longest values, and the
    opt-out instruction in every automated text.
    """

    kind = models.CharField(max_length=24, choices=MessageKind.choices)
    language = models.CharField(max_length=2, choices=Language.choices)
    body = models.TextField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["kind", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "language"], name="message_template_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.language})"


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Conversation(TenantOwnedModel):
    """One thread per remote number within an organization (a patient, or unknown)."""

    phone = models.CharField(max_length=16, validators=[validate_e164])
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sms_conversations",
    )
    pharmacy = models.ForeignKey(
        Pharmacy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=8, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "phone"], name="conversation_unique")
        ]
        indexes = [
            models.Index(fields=["organization", "status", "-last_message_at"]),
            models.Index(fields=["organization", "patient"]),
        ]

    def __str__(self) -> str:
        return "Conversation"


class Message(TenantOwnedModel):
    """One text, either way. Outbound rows are the send queue."""

    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="messages"
    )
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sms_messages",
    )
    pharmacy = models.ForeignKey(
        Pharmacy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=24, choices=MessageKind.choices)
    to_number = models.CharField(max_length=16, blank=True)
    from_number = models.CharField(max_length=34, blank=True, help_text="Number or MG… SID.")
    body = models.TextField()
    status = models.CharField(max_length=12, choices=MessageStatus.choices)
    dedupe_key = models.CharField(max_length=200, blank=True)
    context = models.JSONField(default=dict, blank=True, help_text="Template values (no PHI).")
    # The queue.
    due_at = models.DateTimeField(null=True, blank=True)
    defer_reason = models.CharField(max_length=16, choices=DeferReason.choices, blank=True)
    skip_reason = models.CharField(max_length=24, choices=SkipReason.choices, blank=True)
    slot_date = models.DateField(
        null=True, blank=True, help_text="Automated texts: the patient's local day it counts on."
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    allow_quiet_hours = models.BooleanField(
        default=False, help_text="Staff chose to send outside the window."
    )
    # The provider.
    provider_sid = models.CharField(max_length=64, blank=True)
    error_code = models.CharField(max_length=16, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    status_updated_at = models.DateTimeField(null=True, blank=True)
    # Inbound handling.
    intent = models.CharField(max_length=16, blank=True)
    intent_applied = models.BooleanField(default=False)
    needs_review = models.CharField(max_length=120, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="message_dedupe_key_unique",
            ),
            models.UniqueConstraint(
                fields=["organization", "provider_sid"],
                condition=~Q(provider_sid=""),
                name="message_provider_sid_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="queued") | Q(due_at__isnull=False),
                name="message_queued_has_due_at",
            ),
        ]
        indexes = [
            # The claim query: due, queued outbound rows, oldest first.
            models.Index(
                fields=["organization", "due_at", "id"],
                condition=Q(status="queued"),
                name="message_queue_due",
            ),
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="message_in_flight"
            ),
            models.Index(fields=["organization", "conversation", "created_at"]),
            models.Index(fields=["organization", "patient", "kind", "slot_date"]),
            models.Index(fields=["provider_sid"], name="message_provider_sid"),
            models.Index(
                fields=["organization", "conversation"],
                condition=Q(direction="in", read_at__isnull=True),
                name="message_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.get_kind_display()} ({self.status})"

    @property
    def is_automated(self) -> bool:
        return self.kind in AUTOMATED_KINDS


# The contract with the sync engine names the outbound row `OutboundMessage`.
OutboundMessage = Message


class StatusCallback(TenantOwnedModel):
    """Every status callback, once: kept even when it arrives before the send is recorded."""

    provider_sid = models.CharField(max_length=64)
    status = models.CharField(max_length=16)
    error_code = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider_sid", "status"], name="status_callback_once"
            )
        ]
        indexes = [models.Index(fields=["organization", "provider_sid"])]

    def __str__(self) -> str:
        return f"{self.provider_sid} {self.status}"


class SenderClock(TenantOwnedModel):
    """Per-sender throughput: the earliest moment the next text may leave this sender.

    Reserved with one conditional UPDATE, so several workers share the limit.
    """

    sender = models.CharField(max_length=34)
    next_free_at = models.DateTimeField()

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "sender"], name="sender_clock_unique")
        ]

    def __str__(self) -> str:
        return self.sender


class ConsoleOutbox(TenantOwnedModel):
    """What the console gateway "sent": the development and test stand-in for Twilio."""

    provider_sid = models.CharField(max_length=64, unique=True)
    message_public_id = models.UUIDField(db_index=True)
    to_number = models.CharField(max_length=16)
    from_number = models.CharField(max_length=34)
    body = models.TextField()
    status_callback = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.provider_sid
