"""Sending an agreement's one-time signing link by text.

patients issues the link (it sits below messaging, so it cannot send texts); this service,
one layer up, asks messaging for an automated `agreement_link` text carrying it. The body
holds the pharmacy, the patient's first name and the link: nothing else. Consent, opt-out,
quiet hours and limits are messaging's rules (a text that may not go is kept "not sent").
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction

from messaging.models import Message, MessageKind
from messaging.services import automated_message_request
from patients.agreement_models import AgreementKind
from patients.agreement_services import agreement_link_find, agreement_link_issue
from patients.models import Patient


@transaction.atomic
def agreement_link_text(
    *, patient: Patient, kind: str, actor, url_for: Callable[[str], str]
) -> Message:
    """Issue a one-time signing link for `kind` and text it to the patient. `url_for(token)`
    makes the absolute URL of the public signing page. Returns the message row (its status
    says whether it is queued or why it was not sent)."""
    if kind not in AgreementKind.values:
        raise ValidationError({"kind": [f"Use one of {', '.join(AgreementKind.values)}."]})
    token = agreement_link_issue(patient=patient, kind=kind, actor=actor)
    link = agreement_link_find(token)
    url = url_for(token)
    dedupe_key = f"agreement:{link.public_id}:link"
    automated_message_request(
        patient=patient,
        kind=MessageKind.AGREEMENT_LINK,
        dedupe_key=dedupe_key,
        context={"link": url},
    )
    message = Message.objects.get(dedupe_key=dedupe_key)
    if url not in message.body:
        # A link cut short would not open: nothing is kept, the staff copy it instead.
        raise ValidationError({"link": ["The link does not fit in one text; copy it instead."]})
    return message
