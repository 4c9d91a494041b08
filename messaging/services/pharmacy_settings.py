"""How a pharmacy sends through Twilio: its account, token variable, service and throughput."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from medsync.models import Pharmacy, User
from medsync.onboarding import TEST_TEXT_ACTION
from medsync.services import audit_record
from medsync.validators import normalize_phone
from messaging import selectors
from messaging.exceptions import MessagingError
from messaging.gateways import GatewayError, OutgoingText, auth_token_from_env, gateway_for, mask
from messaging.models import PharmacySmsConfig

__all__ = ["pharmacy_sms_config_save", "pharmacy_test_text_send"]


@transaction.atomic
def pharmacy_sms_config_save(
    *,
    pharmacy: Pharmacy,
    actor: User | None,
    account_sid: str = "",
    auth_token_env: str = "",
    messaging_service_sid: str = "",
    max_per_second=None,
) -> PharmacySmsConfig:
    """Set how one pharmacy sends through Twilio. The token stays in the environment: only
    the NAME of the variable holding it is stored."""
    config = PharmacySmsConfig.objects.filter(pharmacy=pharmacy).first() or PharmacySmsConfig(
        pharmacy=pharmacy
    )
    config.account_sid = account_sid.strip()
    config.auth_token_env = auth_token_env.strip()
    config.messaging_service_sid = messaging_service_sid.strip()
    config.max_per_second = max_per_second
    try:
        config.full_clean(exclude=["organization", "pharmacy"])
    except ValidationError as exc:
        raise MessagingError(
            "The SMS settings are not valid.", code="invalid", fields=exc.message_dict
        ) from None
    if max_per_second is not None and max_per_second <= 0:
        raise MessagingError(
            "Throughput must be above 0.",
            code="invalid",
            fields={"max_per_second": ["Leave it blank for the default."]},
        )
    config.save()
    audit_record(
        action="messaging.sms_config.saved",
        actor=actor,
        target=pharmacy,
        metadata={
            "account_sid": config.account_sid,
            "auth_token_env": config.auth_token_env,
            "token_present": bool(auth_token_from_env(config.auth_token_env)),
            "messaging_service_sid": config.messaging_service_sid,
        },
    )
    return config


def pharmacy_test_text_send(*, pharmacy: Pharmacy, to: str, actor: User | None) -> str:
    """Send one test text from the pharmacy's number to the owner's phone (the settings
    page's last step); returns the provider id, or raises ValidationError naming `to`.

    Sent at once (the owner waits for it on the page), not queued: nothing about a patient."""
    try:
        to = normalize_phone(to)
    except ValidationError as exc:
        raise ValidationError({"to": exc.messages}) from None
    if not pharmacy.sms_number:
        raise ValidationError({"sms_number": ["Save the pharmacy's SMS number first."]})
    account_sid, auth_token = selectors.credentials_for(pharmacy)
    config = selectors.sms_config(pharmacy)
    text = OutgoingText(
        to=to,
        body=f"{pharmacy.name}: a test text from MedSync. Texting works.",
        from_number=pharmacy.sms_number,
        messaging_service_sid=config.messaging_service_sid if config else "",
    )
    try:
        result = gateway_for(account_sid=account_sid, auth_token=auth_token).send(text)
    except GatewayError as exc:
        raise ValidationError({"to": [exc.message]}) from None
    audit_record(
        action=TEST_TEXT_ACTION,
        actor=actor,
        target=pharmacy,
        metadata={"to": mask(to), "provider_sid": result.provider_sid},
    )
    return result.provider_sid
