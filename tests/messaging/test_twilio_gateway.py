"""The real twilio SDK against a stubbed HTTP client: the exact request Twilio would get."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from urllib.parse import urlencode

import pytest
import time_machine
from twilio.http import HttpClient
from twilio.http.response import Response

from medsync.tenancy import tenant_scope
from messaging import gateways, selectors, services
from messaging.models import (
    ConsentEventKind,
    ConsoleOutbox,
    Message,
    MessageStatus,
    PharmacySmsConfig,
    SmsNumber,
)
from tests.messaging.conftest import MAPLE_SMS, MAPLE_TOKEN

pytestmark = pytest.mark.django_db

TUESDAY_10AM = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
ACCOUNT = "AC" + "a" * 32


class StubTwilioHttp(HttpClient):
    """Records each request; answers with the queued responses (status, JSON)."""

    def __init__(self, responses=None):
        super().__init__(logger=logging.getLogger("tests.twilio"), is_async=False)
        self.requests: list[dict] = []
        self.responses = list(responses or [])

    def request(
        self,
        method,
        uri,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ):
        self.requests.append(
            {"method": method, "uri": uri, "data": dict(data or {}), "auth": auth, "params": params}
        )
        status, payload = self.responses.pop(0) if self.responses else (201, {})
        if isinstance(payload, Exception):
            raise payload
        return Response(status, json.dumps(payload))


def created(sid="SM" + "1" * 32, status="queued"):
    return 201, {"sid": sid, "status": status, "account_sid": ACCOUNT}


@pytest.fixture
def twilio(settings, monkeypatch):
    settings.MESSAGING_GATEWAY = "twilio"
    settings.MESSAGING_PUBLIC_BASE_URL = "https://medsync.example.com"
    gateways.reset_gateway_cache()
    stub = StubTwilioHttp()
    monkeypatch.setattr(gateways, "twilio_http_client", lambda: stub)
    yield stub
    gateways.reset_gateway_cache()


def queue_reminder(patient, key="cycle:1:prep_reminder"):
    return services.automated_message_request(
        patient=patient,
        kind="prep_reminder",
        dedupe_key=key,
        context={"anchor_date": date(2026, 3, 12)},
    )


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_it_posts_to_from_body_and_status_callback_to_twilio(twilio, sms_maple, make_patient):
    twilio.responses = [created()]
    patient = make_patient(sms_maple, first_name="Ana", phone="+16085551234")
    with tenant_scope(sms_maple.organization):
        message = queue_reminder(patient)
        result = services.messages_dispatch_due(time_budget=5)
    assert result.sent == 1
    [sent] = twilio.requests
    assert sent["method"] == "POST"
    assert sent["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert sent["auth"] == (ACCOUNT, MAPLE_TOKEN)  # the token came from the environment
    assert sent["data"] == {
        "To": "+16085551234",
        "From": MAPLE_SMS,
        "Body": message.body,
        "StatusCallback": "https://medsync.example.com/webhooks/twilio/status/",
    }
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider_sid == "SM" + "1" * 32
    assert not ConsoleOutbox.objects.exists()


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_with_a_messaging_service_it_sends_the_service_sid_instead_of_from(
    twilio, sms_maple, make_patient
):
    twilio.responses = [created()]
    patient = make_patient(sms_maple, phone="+16085551234")
    service = "MG" + "c" * 32
    with tenant_scope(sms_maple.organization):
        PharmacySmsConfig.objects.filter(pharmacy=sms_maple.pharmacies[0]).update(
            messaging_service_sid=service
        )
        queue_reminder(patient)
        services.messages_dispatch_due(time_budget=5)
    [sent] = twilio.requests
    assert sent["data"]["MessagingServiceSid"] == service
    assert "From" not in sent["data"]
    assert sent["data"]["To"] == "+16085551234"


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_21610_marks_the_number_opted_out_and_never_retries(twilio, sms_maple, make_patient):
    twilio.responses = [
        (
            400,
            {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400},
        )
    ]
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        message = queue_reminder(patient)
        result = services.messages_dispatch_due(time_budget=5)
        message.refresh_from_db()
        assert result.failed == 1
        assert message.status == MessageStatus.FAILED
        assert message.error_code == "21610"
        number = SmsNumber.objects.get(phone=patient.phone)
        assert number.opted_out_at is not None
        assert patient.sms_consent_events.filter(kind=ConsentEventKind.PROVIDER_OPT_OUT).exists()
        # A later reminder is not even queued, and the gateway is not called again.
        assert queue_reminder(patient, key="cycle:2:prep_reminder") is None
        services.messages_dispatch_due(time_budget=5)
    assert len(twilio.requests) == 1


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_21211_flags_the_number_invalid(twilio, sms_maple, make_patient):
    twilio.responses = [(400, {"code": 21211, "message": "Invalid 'To' Phone Number"})]
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        message = queue_reminder(patient)
        services.messages_dispatch_due(time_budget=5)
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED
        assert message.error_code == "21211"
        number = SmsNumber.objects.get(phone=patient.phone)
        assert number.invalid_at is not None
        assert number.opted_out_at is None
        assert queue_reminder(patient, key="cycle:2:prep_reminder") is None
        skipped = Message.objects.get(dedupe_key="cycle:2:prep_reminder")
        assert skipped.skip_reason == "invalid_number"


def test_server_errors_and_timeouts_retry_with_backoff_up_to_a_bound(
    twilio, sms_maple, make_patient, settings
):
    from requests.exceptions import ConnectTimeout

    settings.MESSAGING_MAX_ATTEMPTS = 3
    settings.MESSAGING_RETRY_BACKOFF_SECONDS = 30
    twilio.responses = [
        (503, {"code": 20503, "message": "Service unavailable"}),
        (429, {"code": 20429, "message": "Too many requests"}),
        (0, ConnectTimeout("timed out")),
    ]
    patient = make_patient(sms_maple)
    with (
        time_machine.travel(TUESDAY_10AM, tick=False) as clock,
        tenant_scope(sms_maple.organization),
    ):
        message = queue_reminder(patient)
        services.messages_dispatch_due(time_budget=5)
        message.refresh_from_db()
        assert message.status == MessageStatus.QUEUED
        assert message.attempts == 1
        assert (message.due_at - TUESDAY_10AM).total_seconds() == 30
        assert message.defer_reason == "retry"
        # Not due yet: nothing is sent early.
        services.messages_dispatch_due(time_budget=5)
        assert len(twilio.requests) == 1
        clock.shift(31)
        services.messages_dispatch_due(time_budget=5)
        message.refresh_from_db()
        assert message.attempts == 2
        assert (message.due_at - TUESDAY_10AM).total_seconds() == 31 + 60  # doubled
        clock.shift(61)
        services.messages_dispatch_due(time_budget=5)
        message.refresh_from_db()
    assert len(twilio.requests) == 3
    assert message.status == MessageStatus.FAILED
    assert message.error_message.startswith("Gave up after 3 attempts")


def test_webhook_and_send_use_only_the_environment_token_never_the_database(sms_maple):
    with tenant_scope(sms_maple.organization):
        config = PharmacySmsConfig.objects.get(pharmacy=sms_maple.pharmacies[0])
        stored = {f.name: getattr(config, f.name) for f in config._meta.concrete_fields}
        assert MAPLE_TOKEN not in json.dumps(stored, default=str)
        assert selectors.credentials_for(sms_maple.pharmacies[0]) == (ACCOUNT, MAPLE_TOKEN)


def test_the_status_callback_url_is_signed_form_data_twilio_understands():
    # Sanity of the stub: urlencode of what the SDK posts is what Twilio parses.
    assert urlencode({"To": "+1", "Body": "a b"}) == "To=%2B1&Body=a+b"
