"""Webhook deliveries in a real Celery worker on the real Redis broker."""

import json
import time

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from medsync import webhooks
from medsync.models import DeliveryStatus, WebhookDelivery
from medsync.webhooks import signing
from tests.factories import WebhookSubscriptionFactory
from tests.worker import wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _delivered():
    with scopes_disabled():
        return list(WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED))


def test_the_worker_signs_and_posts_a_queued_event(
    celery_worker_process, maple, birch, hook_server
):
    maple_sub = WebhookSubscriptionFactory(
        organization=maple.organization, url=hook_server.url + "/maple"
    )
    WebhookSubscriptionFactory(organization=birch.organization, url=hook_server.url + "/birch")
    with transaction.atomic():
        webhooks.emit(maple.organization, "cycle.ready", {"cycle": "c1"})
        time.sleep(0.5)
        assert hook_server.received == []  # queued on commit, never sent inline
    [delivery] = wait_until(_delivered)
    assert delivery.attempts == 1
    [(path, headers, body)] = hook_server.received
    assert path == "/maple"
    signing.verify(maple_sub.secret, headers[signing.HEADER], body, now=int(time.time()))
    assert json.loads(body)["data"] == {"cycle": "c1"}


def test_a_rolled_back_event_is_never_queued(celery_worker_process, maple, hook_server):
    WebhookSubscriptionFactory(organization=maple.organization, url=hook_server.url)
    try:
        with transaction.atomic():
            webhooks.emit(maple.organization, "cycle.ready", {})
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    time.sleep(2)
    assert hook_server.received == []
    with scopes_disabled():
        assert not WebhookDelivery.objects.exists()
