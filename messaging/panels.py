"""The texting section on the patient record page (patients.panels registry)."""

from __future__ import annotations

from medsync.roles import Perm, role_allows
from messaging.models import Conversation, Direction, Message, SmsConsent, SmsNumber


def texting_panel(request, patient) -> dict | None:
    """Consent, opt-out and unread texts at a glance: at most four queries."""
    consent = SmsConsent.objects.filter(patient=patient).first()
    number = SmsNumber.objects.filter(phone=patient.phone).first() if patient.phone else None
    conversation = (
        Conversation.objects.filter(phone=patient.phone).first() if patient.phone else None
    )
    unread = (
        Message.objects.filter(
            conversation=conversation, direction=Direction.INBOUND, read_at__isnull=True
        ).count()
        if conversation
        else 0
    )
    membership = getattr(request, "membership", None)
    return {
        "title": "Texting",
        "template": "messaging/_patient_panel.html",
        "context": {
            "patient_id": patient.public_id,
            "phone": patient.phone,
            "consented": bool(consent and consent.granted and consent.phone == patient.phone),
            "opted_out": bool(number and number.opted_out_at),
            "invalid": bool(number and number.invalid_at),
            "conversation_id": conversation.public_id if conversation else None,
            "unread": unread,
            "can_reply": bool(membership and role_allows(membership.role, Perm.REPLY_MESSAGES)),
        },
    }


def texts_card(request) -> dict | None:
    """The dashboard card: what in texting needs a person today (a fixed number of queries)."""
    from datetime import timedelta

    from django.db.models import Count, Q
    from django.urls import reverse
    from django.utils import timezone

    from messaging import selectors
    from messaging.models import ConsentEvent, MessageStatus

    membership = getattr(request, "membership", None)
    if membership is None or not role_allows(membership.role, Perm.REPLY_MESSAGES):
        return None
    now = timezone.now()
    counts = Message.objects.aggregate(
        waiting=Count(
            "id",
            filter=Q(direction=Direction.OUTBOUND, status=MessageStatus.QUEUED, due_at__gt=now),
        ),
        failed=Count(
            "id",
            filter=Q(
                direction=Direction.OUTBOUND,
                status__in=[MessageStatus.FAILED, MessageStatus.UNDELIVERED],
                created_at__gte=now - timedelta(days=7),
            ),
        ),
    )
    opt_outs = ConsentEvent.objects.filter(
        kind__in=["opted_out", "provider_opt_out"], occurred_at__gte=now - timedelta(days=30)
    ).count()
    inbox = reverse("messaging-inbox")
    return {
        "title": "Patient texts",
        "lines": [
            {
                "label": "Unread replies",
                "value": selectors.unread_total(membership),
                "url": inbox,
            },
            {
                "label": "Texts waiting (quiet hours, limits, retries)",
                "value": counts["waiting"],
                "url": "",
            },
            {"label": "Failed in the last 7 days", "value": counts["failed"], "url": ""},
            {"label": "Opt-outs in the last 30 days", "value": opt_outs, "url": ""},
        ],
        "action": {"label": "Open the inbox", "url": inbox},
    }
