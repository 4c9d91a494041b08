"""The demo seeder (idempotent) and the benchmark command (a real worker, small N)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from medsync.tenancy import tenant_scope
from messaging.models import ConsentEvent, Conversation, Message, SmsConsent, SmsNumber


def snapshot(tenant):
    with tenant_scope(tenant.organization):
        return {
            "messages": sorted(Message.objects.values_list("kind", "status", "provider_sid")),
            "conversations": Conversation.objects.count(),
            "consents": SmsConsent.objects.filter(granted=True).count(),
            "events": ConsentEvent.objects.count(),
            "opted_out": SmsNumber.objects.filter(opted_out_at__isnull=False).count(),
        }


@pytest.mark.django_db
def test_the_demo_seeder_runs_twice_to_the_same_rows(sms_maple, make_patient):
    for _ in range(12):
        make_patient(sms_maple, consent=False)
    call_command("seed_demo_messaging", stdout=StringIO())
    first = snapshot(sms_maple)
    out = StringIO()
    call_command("seed_demo_messaging", stdout=out)
    assert snapshot(sms_maple) == first
    assert "0 demo texts added" in out.getvalue()
    assert first["consents"] == 10
    assert first["opted_out"] == 1  # the tenth texted STOP: the number is opted out
    kinds = [kind for kind, _, _ in first["messages"]]
    assert kinds.count("inbound") == 6  # five patients and one unknown sender
    assert "prep_reminder" in kinds and "help_reply" in kinds and "opt_out_confirmation" in kinds


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_benchmark_drains_every_text_once():
    out = StringIO()
    call_command("bench_messaging", "--patients", "30", stdout=out)
    report = out.getvalue()
    assert "Drained 30 of 30 texts" in report
    assert "duplicates 0" in report


@pytest.mark.django_db
def test_configuring_twilio_stores_the_variable_name_never_the_token(maple, monkeypatch):
    from django.core.management.base import CommandError

    from messaging.models import PharmacySmsConfig
    from messaging.selectors import credentials_for

    pharmacy = maple.pharmacies[0]
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_MAPLE", "s3cret-token-value")
    call_command(
        "messaging_configure",
        "--org=maple",
        f"--pharmacy={pharmacy.ncpdp_id}",
        "--account-sid=AC" + "f" * 32,
        "--auth-token-env=TWILIO_AUTH_TOKEN_MAPLE",
        stdout=StringIO(),
    )
    with tenant_scope(maple.organization):
        config = PharmacySmsConfig.objects.get(pharmacy=pharmacy)
        assert config.auth_token_env == "TWILIO_AUTH_TOKEN_MAPLE"
        assert credentials_for(pharmacy) == ("AC" + "f" * 32, "s3cret-token-value")
    with pytest.raises(CommandError, match="NAME of an environment variable"):
        call_command(
            "messaging_configure",
            "--org=maple",
            f"--pharmacy={pharmacy.ncpdp_id}",
            "--auth-token-env=s3cret-token-value",
            stdout=StringIO(),
        )
    with tenant_scope(maple.organization):
        assert PharmacySmsConfig.objects.get().auth_token_env == "TWILIO_AUTH_TOKEN_MAPLE"
