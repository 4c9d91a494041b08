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
