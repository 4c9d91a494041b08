"""Reads that the inbox pages, the API and the dashboard share (fixed query counts)."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from medsync.models import Membership
from medsync.selectors import pharmacies_visible_to
from messaging.models import (
    ConsentEvent,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageTemplate,
    SmsConsent,
    SmsNumber,
)

INBOX_VIEWS = {
    "unread": "Unread",
    "mine": "Assigned to me",
    "open": "Open",
    "closed": "Closed",
    "all": "All",
}


def _visible(conversations: QuerySet, membership: Membership) -> QuerySet:
    if not membership.limited_to_pharmacies:
        return conversations
    return conversations.filter(pharmacy__in=pharmacies_visible_to(membership))


def conversations_for_inbox(
    membership: Membership, *, view: str = "unread", query: str = ""
) -> QuerySet[Conversation]:
    """Conversations with their unread counts and last text, newest first (one query)."""
    last = Message.objects.filter(conversation=OuterRef("pk")).exclude(status="skipped")
    conversations = (
        Conversation.objects.select_related("patient", "pharmacy", "assigned_to")
        .annotate(
            unread=Count(
                "messages",
                filter=Q(messages__direction=Direction.INBOUND, messages__read_at__isnull=True),
            ),
            last_body=Subquery(last.order_by("-created_at", "-id").values("body")[:1]),
            last_direction=Subquery(last.order_by("-created_at", "-id").values("direction")[:1]),
        )
        .order_by("-last_message_at", "-id")
    )
    conversations = _visible(conversations, membership)
    if view == "unread":
        conversations = conversations.filter(unread__gt=0)
    elif view == "mine":
        conversations = conversations.filter(
            assigned_to=membership.user, status=ConversationStatus.OPEN
        )
    elif view == "open":
        conversations = conversations.filter(
            status=ConversationStatus.OPEN, last_inbound_at__isnull=False
        )
    elif view == "closed":
        conversations = conversations.filter(status=ConversationStatus.CLOSED)
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        match = Q(patient__first_name__icontains=query) | Q(patient__last_name__icontains=query)
        if len(digits) >= 4:
            match |= Q(phone__contains=digits)
        conversations = conversations.filter(match)
    return conversations


def conversation_for_member(membership: Membership, public_id) -> Conversation | None:
    return (
        _visible(Conversation.objects.all(), membership)
        .select_related("patient", "pharmacy", "assigned_to")
        .filter(public_id=public_id)
        .first()
    )


def conversation_messages(conversation: Conversation) -> QuerySet[Message]:
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("sent_by", "read_by", "patient")
        .order_by("created_at", "id")
    )


def unread_total(membership: Membership) -> int:
    conversations = _visible(Conversation.objects.all(), membership)
    return Message.objects.filter(
        direction=Direction.INBOUND,
        read_at__isnull=True,
        conversation__in=conversations,
    ).count()


def messages_list(*, patient=None, conversation=None, direction: str = "", status: str = ""):
    messages = Message.objects.select_related("patient", "conversation", "pharmacy").order_by(
        "-created_at", "-id"
    )
    if patient is not None:
        messages = messages.filter(patient=patient)
    if conversation is not None:
        messages = messages.filter(conversation=conversation)
    if direction:
        messages = messages.filter(direction=direction)
    if status:
        messages = messages.filter(status=status)
    return messages


def patient_sms_state(patient) -> dict:
    """Consent, the number's state and the consent log of one patient."""
    consent = SmsConsent.objects.select_related("recorded_by").filter(patient=patient).first()
    number = SmsNumber.objects.filter(phone=patient.phone).first() if patient.phone else None
    events = list(
        ConsentEvent.objects.filter(
            Q(patient=patient) | Q(patient__isnull=True, phone=patient.phone)
        )
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:50]
    )
    conversation = (
        Conversation.objects.filter(phone=patient.phone).first() if patient.phone else None
    )
    return {"consent": consent, "number": number, "events": events, "conversation": conversation}


def templates_by_key() -> dict[tuple[str, str], MessageTemplate]:
    return {(t.kind, t.language): t for t in MessageTemplate.objects.select_related("updated_by")}


def assignable_members() -> QuerySet[Membership]:
    return Membership.objects.select_related("user").order_by("user__email")
