"""Conversations (one per phone number) and what staff do in them: reply, assign, close."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from medsync.models import Membership, Pharmacy, User
from medsync.services import audit_record
from medsync.tenancy import current_organization
from messaging import rules
from messaging.exceptions import MessagingError
from messaging.models import (
    Conversation,
    ConversationStatus,
    DeferReason,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
)
from messaging.selectors import (
    consent_of,
    number_state,
    patient_time_zone,
    phi_words_in,
    quiet_window,
    sender_of,
    sending_pharmacy,
)
from messaging.services import dispatcher
from patients.models import Patient, PatientStatus

__all__ = [
    "MANUAL_MAX_CHARS",
    "QUIET_HOLD",
    "QUIET_SEND",
    "QUIET_WARN",
    "conversation_assign",
    "conversation_close",
    "conversation_get_or_create",
    "conversation_mark_read",
    "conversation_reopen",
    "conversation_touch",
    "manual_message_send",
]

MANUAL_MAX_CHARS = 320
# A staff reply outside the patient's window: warn (nothing sent), send now, or hold it.
QUIET_WARN = "warn"
QUIET_SEND = "send"
QUIET_HOLD = "hold"


def conversation_get_or_create(
    *, phone: str, pharmacy: Pharmacy | None = None, patient: Patient | None = None
) -> Conversation:
    """The conversation with a phone number (created once), filling in a missing patient
    or pharmacy."""
    conversation = Conversation.objects.filter(phone=phone).first()
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    phone=phone, pharmacy=pharmacy, patient=patient
                )
        except IntegrityError:
            conversation = Conversation.objects.get(phone=phone)
    changed = []
    if patient is not None and conversation.patient_id is None:
        conversation.patient = patient
        changed.append("patient")
    if pharmacy is not None and conversation.pharmacy_id is None:
        conversation.pharmacy = pharmacy
        changed.append("pharmacy")
    if changed:
        conversation.save(update_fields=changed)
    return conversation


def conversation_touch(conversation: Conversation | None, *, inbound: bool, unread: bool) -> None:
    """A text went or came: move the conversation up the inbox (reopen it if unread)."""
    if conversation is None:
        return
    now = timezone.now()
    updates = {"last_message_at": now}
    if inbound:
        updates["last_inbound_at"] = now
    if unread and conversation.status == ConversationStatus.CLOSED:
        updates["status"] = ConversationStatus.OPEN
        updates["closed_at"] = None
    Conversation.objects.filter(pk=conversation.pk).update(**updates)


def _manual_message_check(*, conversation: Conversation, body: str) -> tuple[str, bool]:
    """Validate a staff reply: (cleaned body, outside the window). Raises on refusal."""
    body = (body or "").strip()
    if not body:
        raise MessagingError("Write a message first.", code="invalid", fields={"body": ["Empty."]})
    if len(body) > MANUAL_MAX_CHARS:
        raise MessagingError(
            f"Keep replies to {MANUAL_MAX_CHARS} characters (this one has {len(body)}).",
            code="invalid",
            fields={"body": [f"At most {MANUAL_MAX_CHARS} characters."]},
        )
    found = phi_words_in(body)
    if found:
        raise MessagingError(
            "Texts must not name drugs or conditions (found: "
            + ", ".join(found)
            + "). Call the patient for that.",
            code="phi",
            fields={"body": ["Remove drug and condition names."]},
        )
    number = number_state(conversation.phone)
    if number is not None and number.opted_out_at is not None:
        raise MessagingError(
            "This number opted out of texts (STOP). Call instead; the patient can text START "
            "to opt back in.",
            code="opted_out",
        )
    if number is not None and number.invalid_at is not None:
        raise MessagingError(
            "This number cannot receive texts (the carrier rejected it). Check it with the "
            "patient.",
            code="invalid_number",
        )
    patient = conversation.patient
    if patient is not None:
        if patient.status != PatientStatus.ACTIVE:
            raise MessagingError("This patient is not active.", code="patient_inactive")
        consent = consent_of(patient)
        consented = consent is not None and consent.granted and consent.phone == conversation.phone
        if not consented and conversation.last_inbound_at is None:
            raise MessagingError(
                "This patient has not agreed to texts and has not texted us. Record consent first.",
                code="no_consent",
            )
        tz = patient_time_zone(patient)
        window = quiet_window(consent)
    else:
        if conversation.last_inbound_at is None:
            raise MessagingError("Only reply to numbers that texted us.", code="no_consent")
        pharmacy = conversation.pharmacy
        tz = ZoneInfo(pharmacy.time_zone if pharmacy else settings.MESSAGING_DEFAULT_TIME_ZONE)
        window = quiet_window(None)
    outside = not rules.in_window(timezone.now(), tz, *window)
    return body, outside


@transaction.atomic
def manual_message_send(
    *, conversation: Conversation, body: str, actor: User, outside_window: str = QUIET_WARN
) -> Message:
    """A staff reply. Refused when opted out; outside the window the sender must choose to
    send now or hold it until the window opens (`outside_window`: warn, send or hold)."""
    body, outside = _manual_message_check(conversation=conversation, body=body)
    now = timezone.now()
    due = now
    reason = ""
    if outside:
        if outside_window == QUIET_WARN:
            raise MessagingError(
                "It is outside the patient's texting hours. Send anyway, or hold it until "
                "the window opens.",
                code="quiet_hours",
            )
        if outside_window == QUIET_HOLD:
            patient = conversation.patient
            consent = consent_of(patient) if patient else None
            tz = (
                patient_time_zone(patient)
                if patient
                else ZoneInfo(
                    conversation.pharmacy.time_zone
                    if conversation.pharmacy
                    else settings.MESSAGING_DEFAULT_TIME_ZONE
                )
            )
            due = rules.next_window_start(now, tz, *quiet_window(consent))
            reason = DeferReason.HELD_BY_STAFF
    pharmacy = conversation.pharmacy or (
        conversation.patient and sending_pharmacy(conversation.patient)
    )
    if not sender_of(pharmacy):
        raise MessagingError("The pharmacy has no SMS number to send from.", code="no_sender")
    message = Message.objects.create(
        conversation=conversation,
        patient=conversation.patient,
        pharmacy=pharmacy,
        direction=Direction.OUTBOUND,
        kind=MessageKind.MANUAL,
        to_number=conversation.phone,
        from_number=sender_of(pharmacy),
        body=body,
        status=MessageStatus.QUEUED,
        due_at=due,
        defer_reason=reason,
        allow_quiet_hours=outside and outside_window == QUIET_SEND,
        sent_by=actor,
    )
    conversation_touch(conversation, inbound=False, unread=False)
    audit_record(
        action="messaging.message.sent_by_staff",
        actor=actor,
        target=message,
        metadata={"outside_window": outside, "choice": outside_window if outside else ""},
    )
    dispatcher.dispatcher_enqueue(current_organization())
    return message


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, actor: User) -> int:
    """Staff saw the thread: its patient texts are read (by them)."""
    return Message.objects.filter(
        conversation=conversation, direction=Direction.INBOUND, read_at__isnull=True
    ).update(read_at=timezone.now(), read_by=actor)


@transaction.atomic
def conversation_assign(
    *, conversation: Conversation, assignee: User | None, actor: User
) -> Conversation:
    """Give the conversation to a member (None: to nobody)."""
    if assignee is not None and not Membership.objects.filter(user=assignee).exists():
        raise MessagingError(
            "Assign conversations to members of this organization.",
            code="invalid",
            fields={"assignee": ["Not a member of this organization."]},
        )
    conversation.assigned_to = assignee
    conversation.save(update_fields=["assigned_to"])
    audit_record(
        action="messaging.conversation.assigned",
        actor=actor,
        target=conversation,
        metadata={"assignee": str(assignee.public_id) if assignee else ""},
    )
    return conversation


@transaction.atomic
def conversation_close(*, conversation: Conversation, actor: User) -> Conversation:
    """Done with it (a new patient text reopens it); everything in it counts as read."""
    conversation.status = ConversationStatus.CLOSED
    conversation.closed_at = timezone.now()
    conversation.save(update_fields=["status", "closed_at"])
    conversation_mark_read(conversation=conversation, actor=actor)
    audit_record(action="messaging.conversation.closed", actor=actor, target=conversation)
    return conversation


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, actor: User) -> Conversation:
    """Back to the open conversations (staff undo a close)."""
    conversation.status = ConversationStatus.OPEN
    conversation.closed_at = None
    conversation.save(update_fields=["status", "closed_at"])
    audit_record(action="messaging.conversation.reopened", actor=actor, target=conversation)
    return conversation
