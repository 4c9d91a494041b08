"""How a pharmacy sends through Twilio: its account, token variable, service and throughput."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from medsync.models import Pharmacy, User
from medsync.services import audit_record
from messaging.exceptions import MessagingError
from messaging.gateways import auth_token_from_env
from messaging.models import PharmacySmsConfig

__all__ = ["pharmacy_sms_config_save"]


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
