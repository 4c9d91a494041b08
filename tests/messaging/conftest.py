"""Messaging fixtures: SMS numbers on the personas' pharmacies, consenting patients."""

from __future__ import annotations

import pytest

from medsync.tenancy import tenant_scope
from messaging import registry, services
from messaging.gateways import reset_gateway_cache
from tests.factories import PatientFactory

MAPLE_SMS = "+16085550100"
MAPLE_ELM_SMS = "+16085550101"
BIRCH_SMS = "+18285550100"
MAPLE_TOKEN = "maple-auth-token-0123456789abcdef"
BIRCH_TOKEN = "birch-auth-token-fedcba9876543210"


@pytest.fixture(autouse=True)
def _messaging_defaults(settings):
    settings.MESSAGING_GATEWAY = "console"
    settings.MESSAGING_SENDER_RATE = 0  # tests of the limit turn it on
    settings.MESSAGING_PUBLIC_BASE_URL = ""
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    settings.MESSAGING_CONSOLE_HOLD_NUMBER = ""
    settings.MESSAGING_SIMULATOR_ENABLED = True
    reset_gateway_cache()
    saved = (list(registry._reply_handlers), list(registry._open_prep_checks))
    registry._reply_handlers.clear()
    registry._open_prep_checks.clear()
    yield
    registry._reply_handlers[:] = saved[0]
    registry._open_prep_checks[:] = saved[1]


@pytest.fixture
def sms_maple(maple, monkeypatch):
    """Maple's pharmacies get SMS numbers and Twilio settings (token from the environment)."""
    from messaging.models import PharmacySmsConfig

    main_st, elm = maple.pharmacies
    with tenant_scope(maple.organization):
        main_st.sms_number = MAPLE_SMS
        main_st.save()
        elm.sms_number = MAPLE_ELM_SMS
        elm.save()
        for pharmacy in (main_st, elm):
            PharmacySmsConfig.objects.create(
                pharmacy=pharmacy,
                account_sid="AC" + "a" * 32,
                auth_token_env="TWILIO_AUTH_TOKEN_MAPLE",
            )
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_MAPLE", MAPLE_TOKEN)
    return maple


@pytest.fixture
def sms_birch(birch, monkeypatch):
    from messaging.models import PharmacySmsConfig

    [pharmacy] = birch.pharmacies
    with tenant_scope(birch.organization):
        pharmacy.sms_number = BIRCH_SMS
        pharmacy.save()
        PharmacySmsConfig.objects.create(
            pharmacy=pharmacy, account_sid="AC" + "b" * 32, auth_token_env="TWILIO_AUTH_TOKEN_BIRCH"
        )
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_BIRCH", BIRCH_TOKEN)
    return birch


@pytest.fixture
def make_patient():
    """make_patient(tenant, consent=True, **fields): a patient of that tenant's first pharmacy."""

    def _make(tenant, *, consent: bool = True, **fields):
        with tenant_scope(tenant.organization):
            fields.setdefault("home_pharmacy", tenant.pharmacies[0])
            patient = PatientFactory(organization=tenant.organization, **fields)
            if consent:
                services.sms_consent_grant(
                    patient=patient, method="verbal", actor=tenant.pharmacist
                )
        return patient

    return _make


@pytest.fixture
def any_hour():
    """A patient whose texting window is the whole day (real-worker tests run at real time)."""
    from datetime import time

    def _set(tenant, patient):
        with tenant_scope(tenant.organization):
            services.sms_preferences_update(
                patient=patient,
                actor=None,
                language="",
                quiet_start=time(0, 0),
                quiet_end=time(23, 59, 59),
            )
        return patient

    return _set
