"""Pushes in from a pharmacy system: signed, fresh, never replayed, then a registered handler.

medsync may not import the apps, so each push type ("prescription.created", "fill.created")
is handled by a function an app registers in its `AppConfig.ready()`; the handler validates
`data` as that app's API does and raises a ValidationError (Django's or DRF's) naming the
fields when it is wrong, or returns a small dict (the new record's id) when it is right.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError as ApiValidationError

from medsync.models import InboundEndpoint
from medsync.services import audit_record
from medsync.tenancy import scopes_disabled, tenant_scope
from medsync.webhooks import signing

_handlers: dict[str, Callable[[dict], dict]] = {}
REPLAY_KEY = "medsync:webhook-inbound:{}"


def register_inbound_handler(kind: str, handler: Callable[[dict], dict]) -> None:
    _handlers[kind] = handler


@dataclass
class InboundRefused(Exception):
    status: int
    code: str
    message: str
    fields: dict = field(default_factory=dict)


def _endpoint(endpoint_id) -> InboundEndpoint | None:
    """The active endpoint named in the URL. A named escape from tenant scope: the push
    carries no session; its endpoint id says which tenant, and its signature proves it."""
    with scopes_disabled():
        return (
            InboundEndpoint.objects.select_related("organization")
            .filter(public_id=endpoint_id, is_active=True, organization__is_active=True)
            .first()
        )


def inbound_push_receive(*, endpoint_id, signature: str, body: bytes) -> dict:
    """Check and apply one push; returns the handler's answer or raises InboundRefused."""
    endpoint = _endpoint(endpoint_id)
    if endpoint is None:
        raise InboundRefused(404, "not_found", "Not found.")
    try:
        timestamp = signing.verify(endpoint.secret, signature, body, now=int(time.time()))
    except signing.SignatureError as exc:
        raise InboundRefused(401, "bad_signature", str(exc)) from None
    digest = hashlib.sha256(f"{endpoint.pk}:{timestamp}:".encode() + body).hexdigest()
    if not cache.add(REPLAY_KEY.format(digest), 1, timeout=2 * signing.TOLERANCE_SECONDS):
        raise InboundRefused(409, "replayed", "This push was received before.")
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InboundRefused(400, "invalid", "The body is not JSON.") from None
    kind = message.get("type") if isinstance(message, dict) else None
    data = message.get("data") if isinstance(message, dict) else None
    handler = _handlers.get(kind) if isinstance(kind, str) else None
    if handler is None or not isinstance(data, dict):
        known = ", ".join(sorted(_handlers))
        raise InboundRefused(
            400, "invalid", f'Send {{"type": one of {known}, "data": {{...}}}}.', {"type": [known]}
        )
    with tenant_scope(endpoint.organization):
        try:
            with transaction.atomic():
                result = handler(data)
                InboundEndpoint.objects.filter(pk=endpoint.pk).update(
                    last_received_at=timezone.now()
                )
                audit_record(
                    action="medsync.webhook.inbound_received",
                    target=endpoint,
                    metadata={"type": kind, "result": result},
                )
        except ApiValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"data": exc.detail}
            raise InboundRefused(
                400,
                "invalid",
                "Some fields are invalid: see fields.",
                {
                    key: [str(m) for m in (value if isinstance(value, list) else [value])]
                    for key, value in detail.items()
                },
            ) from None
        except DjangoValidationError as exc:
            fields = exc.message_dict if hasattr(exc, "error_dict") else {"data": exc.messages}
            raise InboundRefused(
                400, "invalid", "Some fields are invalid: see fields.", fields
            ) from None
    return result
