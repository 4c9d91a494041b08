"""SMS gateways: Twilio (the twilio SDK) in production, the console in development.

A gateway turns one outgoing text into a provider id, or raises:
- TransientGatewayError: worth retrying later (network, 429, 5xx);
- PermanentGatewayError: never retry (with Twilio's error code: 21610 opted out,
  21211 invalid number, ...).
The choice is `settings.MESSAGING_GATEWAY` ("console" by default, or "twilio").
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

logger = logging.getLogger(__name__)

# Twilio error codes that mean "never send to this number again as things stand".
ERROR_OPTED_OUT = "21610"  # the recipient replied STOP to this sender
ERROR_INVALID_NUMBER = "21211"  # not a valid phone number
ERROR_NOT_MOBILE = "21614"  # not a mobile number (cannot receive SMS)
INVALID_NUMBER_CODES = frozenset({ERROR_INVALID_NUMBER, ERROR_NOT_MOBILE})

# The console gateway mimics Twilio's magic test numbers.
CONSOLE_MAGIC_ERRORS = {
    "+15005550001": (ERROR_INVALID_NUMBER, "The 'To' number is not a valid phone number."),
    "+15005550004": (ERROR_OPTED_OUT, "The recipient has opted out (console simulation)."),
    "+15005550009": (ERROR_NOT_MOBILE, "The 'To' number is not a mobile number."),
}


@dataclass(frozen=True)
class OutgoingText:
    to: str
    body: str
    from_number: str = ""
    messaging_service_sid: str = ""
    status_callback: str = ""
    message_public_id: str = ""


@dataclass(frozen=True)
class SendResult:
    provider_sid: str
    status: str = "sent"


class GatewayError(Exception):
    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message


class TransientGatewayError(GatewayError):
    """Try again later."""


class PermanentGatewayError(GatewayError):
    """Do not try this text again."""


class SmsGateway:
    name = "base"

    def send(self, text: OutgoingText) -> SendResult:
        raise NotImplementedError

    def find_sent(self, text: OutgoingText, *, since: datetime) -> SendResult | None:
        """After a lost claim (a killed worker): did the provider already take this text?"""
        raise NotImplementedError


def mask(phone: str) -> str:
    """Logs never carry a full phone number."""
    return "***" + (phone or "")[-4:]


class ConsoleGateway(SmsGateway):
    """Development and tests: stores each text in ConsoleOutbox and logs it (no body)."""

    name = "console"

    def send(self, text: OutgoingText) -> SendResult:
        from messaging.models import ConsoleOutbox

        if text.to in CONSOLE_MAGIC_ERRORS:
            code, message = CONSOLE_MAGIC_ERRORS[text.to]
            raise PermanentGatewayError(message, code=code)
        sid = "SMconsole" + uuid.uuid4().hex
        ConsoleOutbox.objects.create(
            provider_sid=sid,
            message_public_id=text.message_public_id or uuid.uuid4(),
            to_number=text.to,
            from_number=text.from_number or text.messaging_service_sid,
            body=text.body,
            status_callback=text.status_callback,
        )
        logger.info("Console SMS %s to %s (%d characters)", sid, mask(text.to), len(text.body))
        if (
            settings.MESSAGING_CONSOLE_HOLD_NUMBER
            and text.to == settings.MESSAGING_CONSOLE_HOLD_NUMBER
        ):
            while True:  # the provider has the text; its answer never comes back
                time.sleep(60)
        return SendResult(provider_sid=sid, status="sent")

    def find_sent(self, text: OutgoingText, *, since: datetime) -> SendResult | None:
        from messaging.models import ConsoleOutbox

        row = (
            ConsoleOutbox.objects.filter(message_public_id=text.message_public_id)
            .order_by("id")
            .first()
        )
        return SendResult(provider_sid=row.provider_sid) if row else None


def twilio_http_client():
    """The HTTP client the twilio SDK uses; tests replace this with a stub."""
    from twilio.http.http_client import TwilioHttpClient

    return TwilioHttpClient(timeout=10)


class TwilioGateway(SmsGateway):
    name = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str, http_client=None):
        from twilio.rest import Client

        if not account_sid or not auth_token:
            raise PermanentGatewayError(
                "Twilio is not configured for this pharmacy: set the account SID and the "
                "auth token environment variable in its SMS settings.",
                code="not_configured",
            )
        self.client = Client(
            account_sid, auth_token, http_client=http_client or twilio_http_client()
        )

    def send(self, text: OutgoingText) -> SendResult:
        from requests import RequestException
        from twilio.base.exceptions import TwilioException, TwilioRestException

        params = {"to": text.to, "body": text.body}
        if text.messaging_service_sid:
            params["messaging_service_sid"] = text.messaging_service_sid
        else:
            params["from_"] = text.from_number
        if text.status_callback:
            params["status_callback"] = text.status_callback
        try:
            message = self.client.messages.create(**params)
        except TwilioRestException as exc:
            code = str(exc.code or "")
            if exc.status == 429 or exc.status >= 500:
                raise TransientGatewayError(_twilio_text(exc), code=code) from None
            raise PermanentGatewayError(_twilio_text(exc), code=code) from None
        except (RequestException, TwilioException, OSError) as exc:
            raise TransientGatewayError(f"Twilio unreachable: {type(exc).__name__}") from None
        return SendResult(provider_sid=message.sid, status=str(message.status or "queued"))

    def find_sent(self, text: OutgoingText, *, since: datetime) -> SendResult | None:
        """Messages Twilio holds to this number since the claim, matched by body."""
        from requests import RequestException
        from twilio.base.exceptions import TwilioException

        try:
            candidates = self.client.messages.list(
                to=text.to, date_sent_after=since - timedelta(minutes=1), limit=20
            )
        except (RequestException, TwilioException, OSError) as exc:
            raise TransientGatewayError(f"Twilio unreachable: {type(exc).__name__}") from None
        for message in candidates:
            if message.body == text.body and message.direction.startswith("outbound"):
                return SendResult(provider_sid=message.sid, status=str(message.status))
        return None


def _twilio_text(exc) -> str:
    # Twilio's messages name the numbers; keep only the code and a generic text in rows/logs.
    return f"Twilio error {exc.code or ''} (HTTP {exc.status}): {(exc.msg or '')[:120]}"


_twilio_clients: dict[tuple[str, str], TwilioGateway] = {}


def auth_token_from_env(env_name: str) -> str:
    """The token in the named variable; '' for a name outside TWILIO_AUTH_TOKEN_* (rows
    saved before the rule, or edited in the database) or a variable that is not set."""
    from messaging.models import token_env_name_allowed

    if not token_env_name_allowed(env_name):
        return ""
    return os.environ.get(env_name, "")


def gateway_for(*, account_sid: str = "", auth_token: str = "") -> SmsGateway:
    """The configured gateway; Twilio clients are reused per credential pair."""
    if settings.MESSAGING_GATEWAY != "twilio":
        return ConsoleGateway()
    key = (account_sid, auth_token)
    gateway = _twilio_clients.get(key)
    if gateway is None:
        gateway = TwilioGateway(account_sid=account_sid, auth_token=auth_token)
        _twilio_clients[key] = gateway
    return gateway


def reset_gateway_cache() -> None:
    _twilio_clients.clear()
