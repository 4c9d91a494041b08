"""Issue 14, problem 8: test shortcuts only on request, and Twilio token variables that
cannot name another secret or fall back to another account's token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from medsync.tenancy import tenant_scope
from messaging import selectors, services
from messaging.exceptions import MessagingError
from messaging.gateways import auth_token_from_env
from messaging.models import PharmacySmsConfig, validate_env_name

ROOT = Path(__file__).resolve().parents[2]


def _settings_in_a_fresh_process(**env) -> str:
    # DEBUG too: `make` exports DEBUG=true, which would let start-up use the development key.
    clean = {
        k: v for k, v in os.environ.items() if k not in {"MEDSYNC_TESTING", "SECRET_KEY", "DEBUG"}
    }
    clean.update(env)
    code = (
        "import pytest, django, sys\n"
        "from django.conf import settings\n"
        "try:\n"
        "    print(settings.TESTING, settings.PASSWORD_HASHERS[0])\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "medsync.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout.strip() or done.stderr.strip().splitlines()[-1]


def test_importing_pytest_does_not_switch_on_the_test_settings():
    out = _settings_in_a_fresh_process()
    # No SECRET_KEY and no MEDSYNC_TESTING: start-up refuses instead of using the dev key.
    assert out.startswith("ImproperlyConfigured")
    assert "SECRET_KEY is required" in out
    production = _settings_in_a_fresh_process(SECRET_KEY="x" * 50)
    assert production.startswith("False ")
    assert "MD5" not in production


def test_the_explicit_variable_switches_them_on():
    assert _settings_in_a_fresh_process(MEDSYNC_TESTING="1").startswith("True ")


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "TWILIO_AUTH_TOKEN", "PATH"])
def test_a_token_variable_outside_the_prefix_is_refused_with_a_clear_message(name):
    with pytest.raises(ValidationError) as refused:
        validate_env_name(name)
    assert "starts with TWILIO_AUTH_TOKEN_" in refused.value.messages[0]


def test_the_settings_service_refuses_secret_key(maple):
    with tenant_scope(maple.organization), pytest.raises(MessagingError) as refused:
        services.pharmacy_sms_config_save(
            pharmacy=maple.pharmacies[0],
            actor=maple.owner,
            account_sid="AC" + "a" * 32,
            auth_token_env="SECRET_KEY",
        )
    assert "auth_token_env" in refused.value.fields
    with tenant_scope(maple.organization):
        assert not PharmacySmsConfig.objects.exists()


def test_a_name_outside_the_prefix_reads_no_token_even_if_stored(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the-django-secret")
    assert auth_token_from_env("SECRET_KEY") == ""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_MAPLE", "tok")
    assert auth_token_from_env("TWILIO_AUTH_TOKEN_MAPLE") == "tok"


def test_a_missing_pharmacy_variable_fails_closed(maple, settings, monkeypatch):
    settings.TWILIO_ACCOUNT_SID = "AC" + "f" * 32
    settings.TWILIO_AUTH_TOKEN = "global-token"
    monkeypatch.delenv("TWILIO_AUTH_TOKEN_MAPLE", raising=False)
    with tenant_scope(maple.organization):
        main_st, elm = maple.pharmacies
        PharmacySmsConfig.objects.create(
            pharmacy=main_st, account_sid="AC" + "a" * 32, auth_token_env="TWILIO_AUTH_TOKEN_MAPLE"
        )
        assert selectors.credentials_for(main_st) == ("AC" + "a" * 32, "")  # no global token
        # A pharmacy with no settings of its own uses the global account and token.
        assert selectors.credentials_for(elm) == ("AC" + "f" * 32, "global-token")
