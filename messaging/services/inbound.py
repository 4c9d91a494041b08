"""Texts patients send us: intake (de-duplicated by MessageSid) and keyword routing.

STOP-family, START and HELP are handled here; confirm and change go to the handler the
sync engine registered (messaging.registry); anything else lands in the staff inbox.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from medsync.models import Pharmacy, User
from medsync.services import audit_record
from messaging import registry, rules
from messaging.exceptions import MessagingError
from messaging.models import (
    ConsentEventKind,
    Conversation,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
)
from messaging.selectors import (
    consent_of,
    number_state,
    patient_language,
    patients_with_phone,
    render_text,
    sender_of,
    template_values,
)
from messaging.services import dispatcher
from messaging.services.consent import phone_opt_in, phone_opt_out
from messaging.services.conversations import conversation_get_or_create, conversation_touch
from patients.models import Patient, PatientStatus

__all__ = ["inbound_message_receive", "inbound_message_simulate"]


def _keyword_reply(
    *, kind: str, conversation: Conversation, patient: Patient | None, pharmacy, language: str
) -> Message | None:
    """Queue a keyword reply (HELP, opt-out/in confirmation, acknowledgements): sent at once."""
    if not sender_of(pharmacy):
        return None
    body = render_text(
        kind,
        language,
        template_values(patient=patient, pharmacy=pharmacy, language=language, context={}),
    )
    return Message.objects.create(
        conversation=conversation,
        patient=patient,
        pharmacy=pharmacy,
        direction=Direction.OUTBOUND,
        kind=kind,
        to_number=conversation.phone,
        from_number=sender_of(pharmacy),
        body=body,
        status=MessageStatus.QUEUED,
        due_at=timezone.now(),
    )


@transaction.atomic
def inbound_message_receive(
    *, pharmacy: Pharmacy, from_number: str, to_number: str, body: str, provider_sid: str
) -> Message | None:
    """One text from a patient (or anyone) to one of our numbers. None when a duplicate.

    De-duplicated by MessageSid with a unique constraint: the insert is the claim.
    """
    body = (body or "")[:1600]
    message = Message(
        pharmacy=pharmacy,
        direction=Direction.INBOUND,
        kind=MessageKind.INBOUND,
        to_number=to_number,
        from_number=from_number,
        body=body,
        status=MessageStatus.RECEIVED,
        provider_sid=provider_sid,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return None  # the same MessageSid again: Twilio retried or replayed it

    patients = patients_with_phone(from_number)
    active = [p for p in patients if p.status == PatientStatus.ACTIVE] or patients
    patient = active[0] if len(active) == 1 else None
    conversation = conversation_get_or_create(phone=from_number, pharmacy=pharmacy, patient=patient)
    message.conversation = conversation
    message.patient = patient or conversation.patient
    patient = message.patient
    number = number_state(from_number)
    opted_out = number is not None and number.opted_out_at is not None
    consent = consent_of(patient) if patient else None
    language = rules.reply_language(body, patient_language(patient, consent) if patient else "en")
    classified = rules.classify(
        body,
        prep_question_open=bool(patient) and registry.prep_question_open(patient),
        opted_out=opted_out,
    )
    message.intent = classified.intent
    message.needs_review = classified.needs_review
    handled = True
    reply_kind = None
    if classified.intent == rules.INTENT_OPT_OUT:
        if phone_opt_out(
            phone=from_number,
            kind=ConsentEventKind.OPTED_OUT,
            keyword=classified.keyword,
            message=message,
        ):
            reply_kind = MessageKind.OPT_OUT_CONFIRMATION
    elif classified.intent == rules.INTENT_OPT_IN:
        if phone_opt_in(phone=from_number, keyword=classified.keyword, message=message):
            reply_kind = MessageKind.OPT_IN_CONFIRMATION
    elif classified.intent == rules.INTENT_HELP:
        reply_kind = MessageKind.HELP_REPLY
    elif classified.intent in (rules.INTENT_CONFIRM, rules.INTENT_CHANGE):
        applied = patient is not None and registry.dispatch_reply(
            patient, classified.intent, message
        )
        message.intent_applied = bool(applied)
        handled = bool(applied)
        if applied and not opted_out:
            reply_kind = (
                MessageKind.CONFIRM_ACK
                if classified.intent == rules.INTENT_CONFIRM
                else MessageKind.CHANGE_ACK
            )
    else:
        handled = False
    reply = None
    if reply_kind is not None:
        reply = _keyword_reply(
            kind=reply_kind,
            conversation=conversation,
            patient=patient,
            pharmacy=pharmacy,
            language=language,
        )
    if handled:
        message.read_at = timezone.now()  # answered automatically: nothing for staff to do
    message.save(
        update_fields=[
            "conversation",
            "patient",
            "intent",
            "intent_applied",
            "needs_review",
            "read_at",
        ]
    )
    conversation_touch(conversation, inbound=True, unread=not handled)
    audit_record(
        action="messaging.message.received",
        organization=pharmacy.organization,
        target=message,
        metadata={
            "intent": classified.intent,
            "applied": message.intent_applied,
            "known_sender": patient is not None,
        },
    )
    if reply is not None:
        dispatcher.dispatcher_enqueue(pharmacy.organization)
    return message


@transaction.atomic
def inbound_message_simulate(
    *, conversation: Conversation, body: str, actor: User
) -> Message | None:
    """Development only: pretend the patient texted `body` to the pharmacy's number."""
    if not settings.MESSAGING_SIMULATOR_ENABLED:
        raise MessagingError("The simulator is off in this environment.", code="forbidden")
    pharmacy = conversation.pharmacy or Pharmacy.objects.exclude(sms_number="").first()
    if pharmacy is None or not pharmacy.sms_number:
        raise MessagingError("No pharmacy has an SMS number to text.", code="no_sender")
    audit_record(action="messaging.message.simulated", actor=actor, target=conversation)
    return inbound_message_receive(
        pharmacy=pharmacy,
        from_number=conversation.phone,
        to_number=pharmacy.sms_number,
        body=body,
        provider_sid="SMsimulated" + uuid.uuid4().hex,
    )
