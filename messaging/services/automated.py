"""Automated texts the sync engine asks for: the contract with scheduling.

    automated_message_request(*, patient, kind, dedupe_key, context) -> OutboundMessage | None

kind: one of AUTOMATED_KIND_NAMES. dedupe_key: e.g. f"cycle:{cycle.public_id}:prep_reminder";
at most one message per (organization, dedupe_key), enforced by a unique constraint.
context: {"anchor_date": date, "pickup_by": date, "pharmacy_id": <Pharmacy pk or public id>,
"send_after": datetime, "appointment_time": aware datetime, "link": one-time signing URL}
(all optional). Consent, opt-out, quiet hours and the 1/day 3/week
limits are respected: a message that may not go now is stored with a later due time
(deferred, never dropped). Returns the row, or None when the patient may not be texted (no
consent, opted out, invalid number, ...): that row is kept as "not sent" with the reason,
and asking again with the same key once consent exists queues it. Sending is enqueued on
commit.
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import IntegrityError, transaction

from medsync.models import Pharmacy
from medsync.services import audit_record
from medsync.tenancy import current_organization
from messaging.exceptions import MessagingError
from messaging.models import (
    AUTOMATED_KINDS,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    OutboundMessage,
    SmsConsent,
)
from messaging.selectors import (
    automated_send_slot,
    automated_skip_reason,
    number_state,
    patient_language,
    render_text,
    sender_of,
    sending_pharmacy,
    template_values,
)
from messaging.services import dispatcher
from messaging.services.conversations import conversation_get_or_create
from patients.models import Patient

__all__ = ["AUTOMATED_KIND_NAMES", "automated_message_request", "automated_message_requeue"]

# In the order the sync engine's documentation lists them.
AUTOMATED_KIND_NAMES = tuple(kind.value for kind in MessageKind if kind in AUTOMATED_KINDS)

_UNREAD = object()


def _json_context(context: dict, pharmacy: Pharmacy | None) -> dict:
    out = {}
    for key in ("anchor_date", "pickup_by"):
        value = context.get(key)
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, str) and value:
            out[key] = date.fromisoformat(value[:10]).isoformat()
    if pharmacy is not None:
        out["pharmacy_id"] = str(pharmacy.public_id)
    send_after = context.get("send_after")
    if isinstance(send_after, datetime):
        out["send_after"] = send_after.isoformat()
    starts = context.get("appointment_time")
    if isinstance(starts, datetime):
        out["appointment_time"] = starts.isoformat()
    link = context.get("link")
    if isinstance(link, str) and link.startswith(("https://", "http://")):
        out["link"] = link[:200]
    return out


@transaction.atomic
def automated_message_request(
    *, patient: Patient, kind: str, dedupe_key: str, context: dict | None = None
) -> OutboundMessage | None:
    """Ask for one automated text; see the module docstring for the contract."""
    context = dict(context or {})
    if kind not in AUTOMATED_KIND_NAMES:
        raise MessagingError(
            f"{kind!r} is not an automated kind of text.",
            code="invalid",
            fields={"kind": [f"Use one of {', '.join(AUTOMATED_KIND_NAMES)}."]},
        )
    dedupe_key = (dedupe_key or "").strip()
    if not dedupe_key or len(dedupe_key) > 200:
        raise MessagingError(
            "An automated text needs a dedupe key of 1 to 200 characters.",
            code="invalid",
            fields={"dedupe_key": ["e.g. cycle:<public id>:prep_reminder"]},
        )
    if patient.organization_id != current_organization().pk:
        raise MessagingError("This patient belongs to another organization.", code="not_found")

    existing = Message.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return _existing_request(existing, patient)

    pharmacy = sending_pharmacy(patient, context.get("pharmacy_id"))
    stored_context = _json_context(context, pharmacy)
    # Locked for the rest of the transaction: texts of one patient are planned one at a time.
    consent = SmsConsent.objects.select_for_update().filter(patient=patient).first()
    language = patient_language(patient, consent)
    body = render_text(
        kind,
        language,
        template_values(
            patient=patient, pharmacy=pharmacy, language=language, context=stored_context
        ),
    )
    message = Message(
        patient=patient,
        pharmacy=pharmacy,
        direction=Direction.OUTBOUND,
        kind=kind,
        to_number=patient.phone,
        from_number=sender_of(pharmacy),
        body=body,
        status=MessageStatus.SKIPPED,
        dedupe_key=dedupe_key,
        context=stored_context,
    )
    if patient.phone:
        message.conversation = conversation_get_or_create(
            phone=patient.phone, pharmacy=pharmacy, patient=patient
        )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        # Another worker asked for the same key at the same moment: theirs stands.
        return _existing_request(Message.objects.get(dedupe_key=dedupe_key), patient)
    return automated_message_requeue(message=message, patient=patient, new=True, consent=consent)


def _existing_request(existing: Message, patient: Patient) -> Message | None:
    if existing.patient_id != patient.pk:
        raise MessagingError(
            "This dedupe key already belongs to a text for another patient.",
            code="conflict",
            fields={"dedupe_key": ["Keys are unique per organization."]},
        )
    if existing.status == MessageStatus.SKIPPED:
        return automated_message_requeue(message=existing, patient=patient)
    return existing


def automated_message_requeue(
    *, message: Message, patient: Patient, new: bool = False, consent=_UNREAD
) -> Message | None:
    """Queue a skipped automated text if the patient may be texted now; else record why.

    `consent`: the patient's consent when the caller already locked it (else read here).
    """
    pharmacy = message.pharmacy
    number = number_state(patient.phone)
    if consent is _UNREAD:
        consent = SmsConsent.objects.select_for_update().filter(patient=patient).first()
    reason = automated_skip_reason(patient, consent, number, pharmacy)
    if reason:
        if new or message.skip_reason != reason:
            Message.objects.filter(pk=message.pk).update(skip_reason=reason)
            message.skip_reason = reason
            audit_record(
                action="messaging.message.skipped",
                target=message,
                metadata={"kind": message.kind, "reason": reason},
            )
        return None
    send_after = message.context.get("send_after")
    earliest = datetime.fromisoformat(send_after) if send_after else None
    slot = automated_send_slot(
        patient=patient, consent=consent, exclude_id=message.pk, not_before=earliest
    )
    message.status = MessageStatus.QUEUED
    message.skip_reason = ""
    message.due_at = slot.due_at
    message.slot_date = slot.slot_date
    message.defer_reason = slot.defer_reason
    message.to_number = patient.phone
    message.from_number = sender_of(pharmacy)
    message.save(
        update_fields=[
            "status",
            "skip_reason",
            "due_at",
            "slot_date",
            "defer_reason",
            "to_number",
            "from_number",
        ]
    )
    audit_record(
        action="messaging.message.queued",
        target=message,
        metadata={
            "kind": message.kind,
            "due_at": slot.due_at.isoformat(),
            "deferred": slot.defer_reason,
        },
    )
    dispatcher.dispatcher_enqueue(current_organization())
    return message
