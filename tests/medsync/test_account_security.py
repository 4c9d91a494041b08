"""Issue 14, problem 2: API tokens survived a password change and nobody could list or revoke
their tokens or sessions. Now the account page lists both with revoke; a password change, a
password reset and an MFA reset revoke every token and every other session."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled
from rest_framework.test import APIClient

from medsync.models import ApiToken, AuditEvent, UserSession
from medsync.services import api_token_issue
from tests.factories import TEST_PASSWORD
from tests.medsync.totp import enroll_totp, totp_now

NEW_PASSWORD = "a-brand-new-passphrase-77"


def _audit(action):
    with scopes_disabled():
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _signed_in(user, user_agent="Counter PC") -> Client:
    client = Client(HTTP_USER_AGENT=user_agent)
    client.post("/accounts/login/", {"username": user.email, "password": TEST_PASSWORD})
    response = client.post("/accounts/mfa/verify/", {"code": totp_now(enroll_totp(user))})
    assert response.status_code == 302
    return client


def _api(raw: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


@pytest.mark.django_db
def test_sessions_are_stored_under_a_hash_of_their_key(maple):
    client = _signed_in(maple.pharmacist)
    key = client.session.session_key
    [row] = UserSession.objects.filter(user=maple.pharmacist)
    assert row.session_key == hashlib.sha256(key.encode()).hexdigest() != key
    assert not UserSession.objects.filter(session_key=key).exists()
    assert row.user_agent == "Counter PC" and row.ip_address == "127.0.0.1"


@pytest.mark.django_db
def test_the_account_page_lists_tokens_and_sessions(maple):
    desk = _signed_in(maple.pharmacist, "Desk Firefox")
    _signed_in(maple.pharmacist, "Back office Chrome")
    token, _ = api_token_issue(user=maple.pharmacist, name="nightly export")
    api_token_issue(user=maple.owner)  # someone else's: not listed
    page = desk.get("/accounts/security/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('data-testid="session"') == 2
    assert "Desk Firefox" in html and "Back office Chrome" in html
    assert html.count("This session") == 1
    assert html.count('data-testid="token"') == 1
    assert token.prefix in html and "nightly export" in html
    assert "Recovery codes left" in html


@pytest.mark.django_db
def test_revoking_a_token_from_the_page_stops_it(maple):
    client = _signed_in(maple.pharmacist)
    token, raw = api_token_issue(user=maple.pharmacist)
    assert _api(raw).get("/api/v1/me/").status_code == 200
    response = client.post(f"/accounts/security/tokens/{token.public_id}/revoke/")
    assert response.status_code == 302
    assert _api(raw).get("/api/v1/me/").status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    # Someone else's token is not yours to revoke: 404, and it keeps working.
    theirs, their_raw = api_token_issue(user=maple.owner)
    assert client.post(f"/accounts/security/tokens/{theirs.public_id}/revoke/").status_code == 404
    assert _api(their_raw).get("/api/v1/me/").status_code == 200
    assert client.get(f"/accounts/security/tokens/{theirs.public_id}/revoke/").status_code == 405


@pytest.mark.django_db
def test_ending_one_session_and_every_other_session(maple):
    here = _signed_in(maple.pharmacist, "Here")
    there = _signed_in(maple.pharmacist, "There")
    elsewhere = _signed_in(maple.pharmacist, "Elsewhere")
    owner = _signed_in(maple.owner, "Owner")
    there_row = UserSession.objects.get(user=maple.pharmacist, user_agent="There")
    assert here.post(f"/accounts/security/sessions/{there_row.public_id}/end/").status_code == 302
    assert there.get("/dashboard/")["Location"].startswith("/accounts/login/")
    assert elsewhere.get("/dashboard/").status_code == 200
    owner_row = UserSession.objects.get(user=maple.owner)
    assert here.post(f"/accounts/security/sessions/{owner_row.public_id}/end/").status_code == 404
    assert owner.get("/dashboard/").status_code == 200

    assert here.post("/accounts/security/sessions/end-others/").status_code == 302
    assert elsewhere.get("/dashboard/")["Location"].startswith("/accounts/login/")
    assert here.get("/dashboard/").status_code == 200
    assert owner.get("/dashboard/").status_code == 200
    assert len(_audit("medsync.session.ended")) == 1
    assert _audit("medsync.session.ended_others")[0].metadata == {"sessions_ended": 1}


@pytest.mark.django_db
def test_a_password_change_revokes_every_token_and_other_session(maple):
    here = _signed_in(maple.pharmacist)
    there = _signed_in(maple.pharmacist)
    _, raw = api_token_issue(user=maple.pharmacist)
    _, owner_raw = api_token_issue(user=maple.owner)
    assert here.get("/accounts/password/change/").status_code == 200
    response = here.post(
        "/accounts/password/change/",
        {
            "old_password": TEST_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert _api(raw).get("/api/v1/me/").status_code == 401
    assert _api(owner_raw).get("/api/v1/me/").status_code == 200
    assert there.get("/dashboard/")["Location"].startswith("/accounts/login/")
    assert here.get("/dashboard/").status_code == 200  # the one that changed it stays
    assert not ApiToken.objects.filter(user=maple.pharmacist, revoked_at__isnull=True).exists()
    [event] = _audit("medsync.password.changed")
    assert event.metadata == {"tokens_revoked": 1, "sessions_ended": 1}


@pytest.mark.django_db
def test_a_password_reset_by_email_revokes_every_token_and_session(client, maple):
    signed_in = _signed_in(maple.pharmacist)
    _, raw = api_token_issue(user=maple.pharmacist)
    client.post("/accounts/password_reset/", {"email": maple.pharmacist.email})
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert _api(raw).get("/api/v1/me/").status_code == 401
    assert signed_in.get("/dashboard/")["Location"].startswith("/accounts/login/")
    assert not UserSession.objects.filter(user=maple.pharmacist).exists()
    # The second factor stays: the new password alone does not get in.
    fresh = Client()
    fresh.post("/accounts/login/", {"username": maple.pharmacist.email, "password": NEW_PASSWORD})
    assert fresh.get("/dashboard/")["Location"].startswith("/accounts/mfa/verify/")


@pytest.mark.django_db
def test_an_mfa_reset_needs_password_and_code_then_revokes_everything(maple):
    here = _signed_in(maple.pharmacist)
    there = _signed_in(maple.pharmacist)
    _, raw = api_token_issue(user=maple.pharmacist)
    device = TOTPDevice.objects.get(user=maple.pharmacist)
    wrong = here.post(
        "/accounts/security/reset-mfa/", {"password": "not-my-password", "code": "123456"}
    )
    assert wrong.status_code == 200 and TOTPDevice.objects.filter(pk=device.pk).exists()
    assert _audit("medsync.mfa.failed")[-1].metadata == {"stage": "mfa_reset"}
    response = here.post(
        "/accounts/security/reset-mfa/", {"password": TEST_PASSWORD, "code": totp_now(device)}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/mfa/enroll/")
    assert not TOTPDevice.objects.filter(user=maple.pharmacist, confirmed=True).exists()
    assert not StaticDevice.objects.filter(user=maple.pharmacist).exists()
    assert _api(raw).get("/api/v1/me/").status_code == 401
    assert there.get("/dashboard/")["Location"].startswith("/accounts/login/")
    # This session must set up a new second factor before anything else.
    assert here.get("/dashboard/")["Location"].startswith("/accounts/mfa/enroll/")
    [event] = _audit("medsync.mfa.reset")
    assert event.metadata["tokens_revoked"] == 1 and event.metadata["sessions_ended"] == 1


@pytest.mark.django_db
def test_new_recovery_codes_replace_the_old_ones(maple):
    from medsync.accounts.services import recovery_codes_regenerate

    old = recovery_codes_regenerate(user=maple.pharmacist)
    here = _signed_in(maple.pharmacist)
    page = here.post(
        "/accounts/security/recovery-codes/",
        {
            "password": TEST_PASSWORD,
            "code": totp_now(TOTPDevice.objects.get(user=maple.pharmacist)),
        },
    )
    new = re.findall(r"<li><code>([a-z2-7]+)</code></li>", page.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert "no-store" in page["Cache-Control"]
    assert len(_audit("medsync.mfa.recovery_codes_regenerated")) == 2


@pytest.mark.django_db
def test_platform_staff_reset_someones_second_factor_in_the_admin(admin_client, maple):
    enroll_totp(maple.pharmacist)
    victim = _signed_in(maple.pharmacist)
    _, raw = api_token_issue(user=maple.pharmacist)
    response = admin_client.post(
        "/admin/medsync/user/",
        {"action": "reset_second_factor", "_selected_action": [maple.pharmacist.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=maple.pharmacist).exists()
    assert _api(raw).get("/api/v1/me/").status_code == 401
    assert victim.get("/dashboard/")["Location"].startswith("/accounts/login/")
    [event] = _audit("medsync.mfa.reset")
    assert event.actor.is_staff and event.object_id == str(maple.pharmacist.public_id)


@pytest.mark.django_db
def test_expired_tokens_are_not_listed(maple):
    client = _signed_in(maple.pharmacist)
    token, _ = api_token_issue(user=maple.pharmacist)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    assert 'data-testid="token"' not in client.get("/accounts/security/").content.decode()


@pytest.mark.django_db
def test_an_owner_resets_a_members_second_factor_but_not_a_floaters(maple, floater):
    owner = _signed_in(maple.owner)
    technician = _signed_in(maple.technician)
    _, raw = api_token_issue(user=maple.technician)
    with scopes_disabled():
        membership = maple.technician.memberships.get()
        owner_membership = maple.owner.memberships.get()
    response = owner.post(f"/team/{membership.public_id}/reset-mfa/")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=maple.technician).exists()
    assert _api(raw).get("/api/v1/me/").status_code == 401
    assert technician.get("/fill-queue/")["Location"].startswith("/accounts/login/")
    [event] = _audit("medsync.mfa.reset")
    assert event.actor == maple.owner
    # Someone who also works for another organization: refused, their factor stays.
    enroll_totp(floater)
    with scopes_disabled():
        floater_membership = floater.memberships.get(organization=maple.organization)
    owner.post(f"/team/{floater_membership.public_id}/reset-mfa/")
    assert TOTPDevice.objects.filter(user=floater).exists()
    # A pharmacist may not reset anyone.
    pharmacist = _signed_in(maple.pharmacist)
    assert pharmacist.post(f"/team/{owner_membership.public_id}/reset-mfa/").status_code == 403
    assert TOTPDevice.objects.filter(user=maple.owner).exists()
