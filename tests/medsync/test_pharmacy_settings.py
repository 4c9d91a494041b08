"""Pharmacy settings (page and PATCH /api/v1/pharmacies/{id}/) and the first-run checklist."""

import pytest
from django.core.management import call_command
from django_scopes import scopes_disabled

from medsync.models import AuditEvent, Organization, Pharmacy
from medsync.validators import npi_with_check_digit
from tests.factories import valid_npi

GOOD_NPI = npi_with_check_digit("123456789")


def _url(pharmacy):
    return f"/api/v1/pharmacies/{pharmacy.public_id}/"


@pytest.mark.django_db
def test_owner_patches_every_setting_and_it_is_audited(api_client_for, maple):
    pharmacy = maple.pharmacies[0]
    response = api_client_for(maple.owner).patch(
        _url(pharmacy),
        {
            "name": "Maple Main Street",
            "ncpdp_id": "1234567",
            "npi": GOOD_NPI,
            "address_line1": "12 Main St",
            "city": "Madison",
            "state": "WI",
            "postal_code": "53703",
            "time_zone": "America/New_York",
            "phone": "(608) 555-0101",
            "sms_number": "608-555-0199",
            "twilio_auth_token_env": "TWILIO_AUTH_TOKEN_MAPLE",
            "hours": {"mon": "09:00-18:00", "sat": "10:00-14:00", "sun": ""},
            "closed_dates": ["2026-12-25"],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    with scopes_disabled():
        pharmacy = Pharmacy.objects.get(pk=pharmacy.pk)
        event = AuditEvent.objects.get(action="medsync.pharmacy.updated")
    assert pharmacy.name == "Maple Main Street" and pharmacy.ncpdp_id == "1234567"
    assert pharmacy.phone == "+16085550101" and pharmacy.sms_number == "+16085550199"
    assert pharmacy.time_zone == "America/New_York"
    assert pharmacy.hours["sat"] == "10:00-14:00" and pharmacy.closed_dates == ["2026-12-25"]
    assert event.actor == maple.owner and "sms_number" in event.metadata["fields"]
    assert response.json()["twilio_auth_token_env"] == "TWILIO_AUTH_TOKEN_MAPLE"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ncpdp_id", "12345"),
        ("npi", GOOD_NPI[:9] + str((int(GOOD_NPI[9]) + 1) % 10)),  # wrong check digit
        ("time_zone", "Mars/Olympus"),
        ("phone", "555"),
        ("sms_number", "not a number"),
        ("twilio_auth_token_env", "ACx1234secret-token"),
        ("twilio_auth_token_env", "SECRET_KEY"),
        ("hours", {"mon": "18:00-09:00"}),
        ("hours", {"funday": "09:00-10:00"}),
        ("closed_dates", ["2026-02-30"]),
        ("name", "   "),
        ("state", "ZZ"),
    ],
)
def test_a_bad_value_is_a_400_naming_the_field_and_nothing_is_written(
    api_client_for, maple, field, value
):
    pharmacy = maple.pharmacies[0]
    response = api_client_for(maple.owner).patch(
        _url(pharmacy), {field: value, "city": "Somewhere Else"}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    with scopes_disabled():
        assert Pharmacy.objects.get(pk=pharmacy.pk).city == "Madison"
        assert not AuditEvent.objects.filter(action="medsync.pharmacy.updated").exists()


@pytest.mark.django_db
def test_an_ncpdp_id_or_sms_number_of_another_organization_is_refused(api_client_for, maple, birch):
    birch_pharmacy = birch.pharmacies[0]
    with scopes_disabled():
        Pharmacy.objects.filter(pk=birch_pharmacy.pk).update(sms_number="+16085550177")
    client = api_client_for(maple.owner)
    response = client.patch(
        _url(maple.pharmacies[0]),
        {"ncpdp_id": birch_pharmacy.ncpdp_id, "sms_number": "+16085550177"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"ncpdp_id", "sms_number"}


@pytest.mark.django_db
def test_only_owners_change_settings_and_other_tenants_are_404(api_client_for, maple, birch):
    pharmacy = maple.pharmacies[0]
    assert api_client_for(maple.pharmacist).patch(_url(pharmacy), {"city": "X"}).status_code == 403
    assert api_client_for(maple.technician).patch(_url(pharmacy), {"city": "X"}).status_code == 403
    assert api_client_for(maple.pharmacist).get(_url(pharmacy)).status_code == 200
    assert api_client_for(birch.pharmacist).get(_url(pharmacy)).status_code == 404
    assert api_client_for(maple.owner).put(_url(pharmacy), {"city": "X"}).status_code == 405
    with scopes_disabled():
        assert Pharmacy.objects.get(pk=pharmacy.pk).city == "Madison"


@pytest.mark.django_db
def test_another_owners_patch_of_our_pharmacy_is_a_404(api_client_for, maple, birch):
    from medsync.roles import Role
    from tests.factories import MembershipFactory, UserFactory

    birch_owner = UserFactory(email="owner@birch.test")
    MembershipFactory(organization=birch.organization, user=birch_owner, role=Role.OWNER)
    response = api_client_for(birch_owner).patch(
        _url(maple.pharmacies[0]), {"city": "Hijacked"}, format="json"
    )
    assert response.status_code == 404
    with scopes_disabled():
        assert Pharmacy.objects.get(pk=maple.pharmacies[0].pk).city == "Madison"


@pytest.mark.django_db
def test_settings_page_saves_and_shows_messages_per_field(client, maple, login):
    pharmacy = maple.pharmacies[0]
    login(maple.owner)
    url = f"/pharmacies/{pharmacy.public_id}/settings/"
    assert client.get(url).status_code == 200
    form = {
        "name": pharmacy.name,
        "state": "WI",
        "time_zone": "America/Chicago",
        "npi": "1234567890",
        "ncpdp_id": "12",
        "hours_mon": "09:00-18:00",
    }
    page = client.post(url, form).content.decode()
    assert 'data-testid="error-npi"' in page and 'data-testid="error-ncpdp_id"' in page
    form.update(npi=valid_npi(7), ncpdp_id="7654321", sms_number="+1 608 555 0123")
    response = client.post(url, form)
    assert response.status_code == 302
    with scopes_disabled():
        saved = Pharmacy.objects.get(pk=pharmacy.pk)
    assert saved.ncpdp_id == "7654321" and saved.sms_number == "+16085550123"
    assert saved.hours["mon"] == "09:00-18:00" and saved.hours["tue"] == ""


@pytest.mark.django_db
def test_settings_page_is_for_owners_only(client, maple, birch, login):
    login(maple.pharmacist)
    assert client.get(f"/pharmacies/{maple.pharmacies[0].public_id}/settings/").status_code == 403
    client.logout()
    login(maple.owner)
    assert client.get(f"/pharmacies/{birch.pharmacies[0].public_id}/settings/").status_code == 404


@pytest.mark.django_db
def test_test_text_goes_through_the_console_gateway_and_is_audited(client, maple, login):
    from messaging.models import ConsoleOutbox

    pharmacy = maple.pharmacies[0]
    with scopes_disabled():
        Pharmacy.objects.filter(pk=pharmacy.pk).update(sms_number="+16085550188")
    login(maple.owner)
    response = client.post(f"/pharmacies/{pharmacy.public_id}/test-text/", {"to": "608 555 0111"})
    assert response.status_code == 302
    with scopes_disabled():
        sent = ConsoleOutbox.objects.get()
        assert AuditEvent.objects.filter(action="medsync.pharmacy.test_text_sent").count() == 1
    assert sent.to_number == "+16085550111" and sent.from_number == "+16085550188"
    assert "test text" in sent.body
    client.post(f"/pharmacies/{pharmacy.public_id}/test-text/", {"to": "12"})
    with scopes_disabled():
        assert ConsoleOutbox.objects.count() == 1


@pytest.mark.django_db
def test_provision_needs_no_ncpdp_id_and_the_checklist_shows_what_is_left(client, login):
    call_command(
        "provision_org",
        name="Oak Drug",
        slug="oak",
        owner_email="owner@oak.test",
        password="a-long-Passphrase-42",
    )
    with scopes_disabled():
        organization = Organization.objects.get(slug="oak")
        pharmacy = Pharmacy.objects.get(organization=organization)
    assert pharmacy.ncpdp_id == ""
    from medsync.models import User

    login(User.objects.get(email="owner@oak.test"), password="a-long-Passphrase-42")
    page = client.get("/setup/").content.decode()
    for step in ["pharmacy", "texting", "team", "records", "enrollment"]:
        assert f'data-step="{step}" data-done="no"' in page
    assert f"/pharmacies/{pharmacy.public_id}/settings/" in page
    assert "/patients/import/" in page
    assert "Finish setting up" in client.get("/dashboard/").content.decode()


@pytest.mark.django_db
def test_the_settings_token_variable_is_the_one_twilio_gets(maple, in_tenant, monkeypatch):
    from django.conf import settings

    from messaging.selectors import credentials_for

    monkeypatch.setenv("TWILIO_AUTH_TOKEN_MAPLE", "token-from-the-environment")
    pharmacy = maple.pharmacies[0]
    with in_tenant(maple.organization):
        pharmacy_update_fields = {"twilio_auth_token_env": "TWILIO_AUTH_TOKEN_MAPLE"}
        from medsync.services import pharmacy_update

        pharmacy_update(pharmacy=pharmacy, actor=maple.owner, changes=pharmacy_update_fields)
        assert credentials_for(pharmacy) == (
            settings.TWILIO_ACCOUNT_SID,
            "token-from-the-environment",
        )
        assert "token-from-the-environment" not in str(
            Pharmacy.objects.filter(pk=pharmacy.pk).values().get()
        )


@pytest.mark.django_db
def test_saving_without_hours_keeps_them_unknown(client, maple, login):
    pharmacy = maple.pharmacies[0]
    login(maple.owner)
    response = client.post(
        f"/pharmacies/{pharmacy.public_id}/settings/",
        {"name": "Maple Main", "state": "WI", "time_zone": "America/Chicago"},
    )
    assert response.status_code == 302
    with scopes_disabled():
        saved = Pharmacy.objects.get(pk=pharmacy.pk)
    assert saved.name == "Maple Main" and saved.hours == {}
