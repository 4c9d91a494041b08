"""Webhook writes: subscriptions, the events they receive, their deliveries, inbound pushes.

Events are queued, never sent inline: `emit` writes one delivery per subscription and queues
`medsync.webhook_deliver` after the transaction commits; the delivery job signs and posts it,
and a failure (a non-2xx answer, a timeout) is tried again with exponential backoff up to
`MAX_ATTEMPTS`. `webhooks_due_requeue` (every minute) requeues deliveries whose retry came
due, so a lost job (a killed worker) only delays one.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from medsync.jobs import enqueue_for_organization
from medsync.models import (
    DeliveryStatus,
    InboundEndpoint,
    Organization,
    User,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from medsync.services import audit_record
from medsync.tenancy import tenant_scope
from medsync.webhooks import signing

logger = logging.getLogger(__name__)

DELIVER_TASK = "medsync.webhook_deliver"
MAX_ATTEMPTS = 6
TIMEOUT_SECONDS = (3, 10)  # connect, read
USER_AGENT = "MedSync-Webhooks/1"


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _check_url(url: str) -> str:
    url = (url or "").strip()
    schemes = ["https", "http"] if settings.WEBHOOKS_ALLOW_HTTP else ["https"]
    try:
        URLValidator(schemes=schemes)(url)
    except ValidationError:
        wanted = "an http(s)" if settings.WEBHOOKS_ALLOW_HTTP else "an https://"
        raise ValidationError({"url": [f"Give {wanted} URL of your system."]}) from None
    return url


def _check_events(events) -> list[str]:
    chosen = sorted({str(e) for e in events or []})
    if not chosen or set(chosen) - set(WebhookEvent.values):
        raise ValidationError(
            {"events": ["Choose at least one of: " + ", ".join(WebhookEvent.values) + "."]}
        )
    return chosen


@transaction.atomic
def webhook_subscription_create(
    *, url: str, events, actor: User | None
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (returned to show once)."""
    errors = {}
    try:
        url = _check_url(url)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        events = _check_events(events)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    secret = _new_secret()
    subscription = WebhookSubscription.objects.create(
        url=url, events=events, secret=secret, created_by=actor
    )
    audit_record(
        action="medsync.webhook.subscribed",
        actor=actor,
        target=subscription,
        metadata={"url": url, "events": events},
    )
    return subscription, secret


@transaction.atomic
def webhook_subscription_disable(*, subscription: WebhookSubscription, actor: User | None) -> None:
    """Stop sending to a subscription; its pending deliveries are given up."""
    WebhookSubscription.objects.filter(pk=subscription.pk).update(is_active=False)
    WebhookDelivery.objects.filter(subscription=subscription, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, last_error="The subscription was turned off."
    )
    audit_record(action="medsync.webhook.disabled", actor=actor, target=subscription)


def emit(organization: Organization, event: str, payload: dict | Callable[[], dict]) -> int:
    """Queue `event` with `payload` for every active subscription of `organization` that
    asked for it; returns how many deliveries were queued. Safe inside a transaction: the
    jobs are queued when it commits, and nothing is queued if it rolls back. `payload` may
    be a function, called only when someone subscribed (one query when nobody did)."""
    if event not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event {event!r}.")
    event_id = uuid.uuid4()
    with tenant_scope(organization):
        subscriptions = list(
            WebhookSubscription.objects.filter(is_active=True, events__contains=[event])
        )
        if not subscriptions:
            return 0
        data = payload() if callable(payload) else payload
        data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    organization=organization,
                    subscription=subscription,
                    event=event,
                    event_id=event_id,
                    payload=data,
                )
                for subscription in subscriptions
            ]
        )
    for delivery in deliveries:
        enqueue_for_organization(DELIVER_TASK, organization, delivery_id=str(delivery.public_id))
    return len(deliveries)


def backoff_seconds(attempts: int) -> int:
    """Wait before the next try after `attempts` failed ones: base, 2x, 4x... capped at 1 h."""
    return min(settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), 3600)


def delivery_body(delivery: WebhookDelivery) -> bytes:
    envelope = {
        "id": str(delivery.event_id),
        "type": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "organization": str(delivery.organization.public_id),
        "data": delivery.payload,
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()


def _claim(delivery_id: str) -> WebhookDelivery | None:
    """Take a due, pending delivery for one attempt (a lease of the request's timeout)."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription", "organization")
            .filter(public_id=delivery_id, status=DeliveryStatus.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=sum(TIMEOUT_SECONDS) + 5)
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery


def webhook_deliver(*, delivery_id: str) -> tuple[str, int | None]:
    """One attempt of one delivery: ("delivered" | "retry" | "failed" | "skipped", seconds
    until the retry). Run twice, it posts once: a delivery not due (or done) is skipped."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped", None
    subscription = delivery.subscription
    body = delivery_body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-MedSync-Event": delivery.event,
        "X-MedSync-Delivery": str(delivery.public_id),
        signing.HEADER: signing.header_value(subscription.secret, int(time.time()), body),
    }
    code, error = None, ""
    try:
        response = requests.post(
            subscription.url,
            data=body,
            headers=headers,
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        code = response.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except requests.RequestException as exc:
        error = type(exc).__name__
    now = timezone.now()
    delivery.last_status_code, delivery.last_error = code, error[:200]
    if not error:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            DeliveryStatus.DELIVERED,
            now,
            None,
        )
        outcome, wait = "delivered", None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        outcome, wait = "failed", None
    else:
        wait = backoff_seconds(delivery.attempts)
        delivery.next_attempt_at = now + timedelta(seconds=wait)
        outcome = "retry"
    delivery.save(
        update_fields=[
            "status",
            "delivered_at",
            "next_attempt_at",
            "last_status_code",
            "last_error",
        ]
    )
    logger.info(
        "Webhook delivery %s attempt %d: %s", delivery.public_id, delivery.attempts, outcome
    )
    return outcome, wait


def webhooks_due_requeue(*, organization: Organization) -> int:
    """Queue every pending delivery whose retry came due (the safety net of the retries)."""
    due = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
    ).values_list("public_id", flat=True)[:500]
    count = 0
    for public_id in due:
        enqueue_for_organization(DELIVER_TASK, organization, delivery_id=str(public_id))
        count += 1
    return count


@transaction.atomic
def inbound_endpoint_create(*, actor: User | None) -> tuple[InboundEndpoint, str]:
    """A new inbound endpoint and its secret (shown once); an older one stops working."""
    InboundEndpoint.objects.filter(is_active=True).update(is_active=False)
    secret = _new_secret()
    endpoint = InboundEndpoint.objects.create(secret=secret)
    audit_record(action="medsync.webhook.inbound_endpoint_created", actor=actor, target=endpoint)
    return endpoint, secret
