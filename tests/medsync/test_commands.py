import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from medsync.models import AuditEvent, Membership, Organization, Pharmacy, User
from medsync.roles import Role


def _counts():
    with scopes_disabled():
        return (
            Organization.objects.count(),
            Pharmacy.objects.count(),
            User.objects.count(),
            Membership.objects.count(),
        )


@pytest.mark.django_db
def test_provision_org_creates_the_org_its_pharmacy_and_owner(capsys):
    call_command(
        "provision_org",
        "--name",
        "Cedar Drug",
        "--slug",
        "cedar",
        "--owner-email",
        "Owner@Cedar.test",
        "--password",
        "a-long-enough-pass-1",
    )
    organization = Organization.objects.get(slug="cedar")
    with scopes_disabled():
        pharmacy = Pharmacy.objects.get(organization=organization)
        membership = Membership.objects.get(organization=organization)
        assert AuditEvent.objects.filter(
            organization=organization, action="medsync.organization.provisioned"
        ).exists()
    assert pharmacy.name == "Cedar Drug"
    assert membership.role == Role.OWNER and membership.user.email == "owner@cedar.test"
    assert membership.user.check_password("a-long-enough-pass-1")
    out = capsys.readouterr().out
    assert "Created Cedar Drug" in out and "NCPDP ID, NPI, phone" in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slug", "bad slug!"], "slug"),
        (["--owner-email", "not-an-email"], "owner_email"),
        (["--password", "short"], "password"),
        (["--time-zone", "Mars/Olympus"], "time zone"),
    ],
)
def test_provision_org_with_bad_input_creates_nothing(args, message):
    base = {
        "--name": "Cedar Drug",
        "--slug": "cedar",
        "--owner-email": "owner@cedar.test",
        "--password": "a-long-enough-pass-1",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    before = _counts()
    with pytest.raises(CommandError, match=message) as error:
        call_command("provision_org", *[item for pair in base.items() for item in pair])
    assert "Nothing was created" in str(error.value)
    assert _counts() == before


@pytest.mark.django_db
def test_provision_org_refuses_a_taken_slug(maple):
    before = _counts()
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "provision_org",
            "--name",
            "X",
            "--slug",
            "maple",
            "--owner-email",
            "x@x.test",
            "--password",
            "a-long-enough-pass-1",
        )
    assert _counts() == before


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_logins(capsys):
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first == (2, 3, 5, 6)
    out = capsys.readouterr().out
    for email in [
        "owner@maple.example",
        "pharmacist@maple.example",
        "tech@maple.example",
        "pharmacist@birch.example",
    ]:
        assert email in out
    assert User.objects.get(email="tech@maple.example").check_password("medsync-demo-2026")


@pytest.mark.django_db
def test_seed_demo_enrolls_every_demo_login_and_prints_its_key_and_code(capsys):
    import base64
    import re

    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    call_command("seed_demo")
    out = capsys.readouterr().out
    lines = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(r"(\S+@\S+\.example)\s+key ([A-Z2-7]{32})\s+code now (\d{6})", out)
    }
    assert set(lines) == {
        "owner@maple.example",
        "pharmacist@maple.example",
        "tech@maple.example",
        "pharmacist@birch.example",
        "floater@medsync.example",
    }
    for email, (secret, _) in lines.items():
        device = TOTPDevice.objects.get(user__email=email, confirmed=True)
        assert base64.b32encode(device.bin_key).decode() == secret
    call_command("seed_demo")  # again: the same key, no second device
    assert TOTPDevice.objects.filter(user__email="owner@maple.example").count() == 1
    # The printed code signs the demo owner in.
    client = Client()
    client.post(
        "/accounts/login/", {"username": "owner@maple.example", "password": "medsync-demo-2026"}
    )
    code = re.search(r"owner@maple\.example\s+key \S+\s+code now (\d{6})", capsys.readouterr().out)
    assert client.post("/accounts/mfa/verify/", {"code": code.group(1)}).status_code == 302
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.django_db
def test_tenant_command_base_refuses_an_unknown_org():
    from medsync.management.base import TenantCommand

    with pytest.raises(CommandError, match="No active organization"):
        TenantCommand().handle(org="nope")
