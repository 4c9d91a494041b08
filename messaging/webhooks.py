"""Twilio webhooks: inbound texts and status callbacks.

Every request is checked against X-Twilio-Signature with the receiving organization's
auth token, over the public URL Twilio called (MESSAGING_PUBLIC_BASE_URL, or the request's
own URL, which honours SECURE_PROXY_SSL_HEADER behind a TLS-terminating proxy). A request
that fails is a 403 and changes nothing.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from medsync.models import Pharmacy
from medsync.tenancy import scopes_disabled, tenant_scope
from messaging import selectors, services
from messaging.forms import TwilioInboundForm, TwilioStatusForm
from messaging.gateways import mask
from messaging.models import Message

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def public_url(request) -> str:
    base = settings.MESSAGING_PUBLIC_BASE_URL
    if base:
        return base + request.get_full_path()
    return request.build_absolute_uri()


def signature_valid(request, pharmacy: Pharmacy | None) -> bool:
    """Twilio signed every field it posted: the check reads the raw POST, not a form."""
    _, token = selectors.credentials_for(pharmacy)
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(public_url(request), request.POST, signature)


def pharmacy_by_sms_number(number: str) -> Pharmacy | None:
    """A named escape from tenant scope: the receiving number is how we find the tenant.

    Pharmacy.sms_number is unique across MedSync (a database constraint).
    """
    if not number:
        return None
    with scopes_disabled():
        return (
            Pharmacy.objects.select_related("organization")
            .filter(sms_number=number, organization__is_active=True)
            .first()
        )


def message_by_provider_sid(sid: str) -> Message | None:
    """A named escape from tenant scope: a status callback names only the provider's id."""
    if not sid:
        return None
    with scopes_disabled():
        return (
            Message.objects.select_related("organization", "pharmacy")
            .filter(provider_sid=sid, direction="out", organization__is_active=True)
            .first()
        )


def _forbidden(reason: str) -> HttpResponse:
    logger.warning("Twilio webhook refused: %s", reason)
    return HttpResponseForbidden("Signature check failed.", content_type="text/plain")


@csrf_exempt
@require_POST
def inbound_sms(request):
    form = TwilioInboundForm(request.POST)
    form.is_valid()  # every field optional; an unusable value reads as absent
    to_number = form.value("To")
    pharmacy = pharmacy_by_sms_number(to_number)
    if pharmacy is None:
        return _forbidden(f"no pharmacy texts from {mask(to_number)}")
    with tenant_scope(pharmacy.organization):
        if not signature_valid(request, pharmacy):
            return _forbidden("bad signature on inbound SMS")
        sid = form.sid
        from_number = form.value("From")
        if not sid or not from_number:
            return HttpResponseBadRequest("MessageSid and From are required.")
        services.inbound_message_receive(
            pharmacy=pharmacy,
            from_number=from_number,
            to_number=to_number,
            body=form.value("Body"),
            provider_sid=sid,
        )
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def status_callback(request):
    form = TwilioStatusForm(request.POST)
    form.is_valid()  # every field optional; an unusable value reads as absent
    sid = form.sid
    message = message_by_provider_sid(sid)
    if message is not None:
        organization, pharmacy = message.organization, message.pharmacy
    else:
        pharmacy = pharmacy_by_sms_number(form.value("From"))
        organization = pharmacy.organization if pharmacy else None
    if organization is None:
        return _forbidden("status callback for an unknown message and sender")
    with tenant_scope(organization):
        if not signature_valid(request, pharmacy):
            return _forbidden("bad signature on status callback")
        status = form.status
        if not sid or not status:
            return HttpResponseBadRequest("MessageSid and MessageStatus are required.")
        services.message_status_record(
            provider_sid=sid, status=status, error_code=form.value("ErrorCode")
        )
    return HttpResponse(status=204)
