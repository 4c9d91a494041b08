"""Issue 14, problem 2: a second factor for everyone who holds the keys to patient records.

Password, then a code (TOTP or a single-use recovery code); enrollment on first login; no page
but enrollment until then; the admin and the API behind it; failures count toward the lockout;
technicians by organization setting, with remember-this-device for 12 hours where allowed.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import time_machine
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from medsync.accounts.mfa import (
    REMEMBER_DEVICE_COOKIE,
    Place,
    may_remember_device,
    mfa_required,
    remember_device_cookie,
    remembered_device_ok,
)
from medsync.admin import VerifiedAdminSite
from medsync.models import AuditEvent
from medsync.roles import Role
from tests.factories import TEST_PASSWORD, UserFactory
from tests.medsync.totp import enroll_totp, totp_now

ENROLL = "/accounts/mfa/enroll/"
VERIFY = "/accounts/mfa/verify/"


def _audit(action):
    with scopes_disabled():
        return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _password_only(client, user):
    response = client.post("/accounts/login/", {"username": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302
    return response


# --- Every route is closed to a session that has not passed its second factor -------------

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _example(route: str) -> str:
    def convert(match):
        kind = match.group(1) or "str"
        return {"uuid": str(uuid.uuid4()), "int": "1"}.get(kind, "x")

    route = _CONVERTER.sub(convert, route)
    route = _GROUP.sub(lambda m: str(uuid.uuid4()) if m.group(1) == "id" else "x", route)
    return route.replace("^", "").replace("$", "").replace("\\", "")


def _all_paths(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + _example(str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            yield from _all_paths(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + route


OPEN_TO_UNVERIFIED = (
    ENROLL,
    VERIFY,
    "/accounts/logout/",
    "/accounts/password_reset/",
    "/accounts/reset/",
    "/healthz",
    "/api/v1/auth/token/",
)


@pytest.mark.django_db
def test_without_a_second_factor_no_route_opens_but_enrollment(client, maple):
    _password_only(client, maple.pharmacist)
    paths = sorted(set(_all_paths()))
    assert len(paths) > 60 and "/dashboard/" in paths and "/api/v1/patients/" in paths
    checked = 0
    for path in paths:
        if path.startswith(OPEN_TO_UNVERIFIED):
            continue
        response = client.get(path)
        if path.startswith("/api/"):
            assert response.status_code == 403, path
            assert response.json()["error"]["code"] == "mfa_required", path
        else:
            assert response.status_code == 302, path
            assert response["Location"].startswith(ENROLL + "?next="), path
        checked += 1
    assert checked > 60
    # Writes too: a POST to a page or the API changes nothing and goes to enrollment.
    assert client.post("/team/", {"email": "x@y.test", "role": "owner"})["Location"] == ENROLL
    assert client.post("/api/v1/patients/", {}).status_code == 403
    # A Basic header does not smuggle the unverified session past the API's session check.
    sneaky = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Basic eDp5")
    assert sneaky.status_code in (401, 403)
    # htmx requests are told where to go instead of swapping the enrollment page in.
    htmx = client.get("/dashboard/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and htmx["HX-Redirect"] == ENROLL
    # The enrollment page itself opens.
    assert client.get(ENROLL).status_code == 200


@pytest.mark.django_db
def test_a_user_with_a_device_is_asked_for_the_code_and_nothing_else_opens(client, maple):
    device = enroll_totp(maple.owner)
    response = _password_only(client, maple.owner)
    assert response["Location"] == VERIFY + "?next=/"
    assert client.get("/audit/")["Location"] == VERIFY + "?next=/audit/"
    assert client.get(ENROLL)["Location"].startswith(VERIFY)  # no second device behind its back
    response = client.post(VERIFY + "?next=/audit/", {"code": totp_now(device)})
    assert response["Location"] == "/audit/"
    assert client.get("/audit/").status_code == 200
    [event] = _audit("medsync.mfa.verified")
    assert event.actor == maple.owner


@pytest.mark.django_db
def test_the_code_page_never_redirects_off_site(client, maple):
    device = enroll_totp(maple.owner)
    _password_only(client, maple.owner)
    response = client.post(VERIFY + "?next=//evil.example/", {"code": totp_now(device)})
    assert response["Location"] == "/"


# --- Enrollment ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enrollment_shows_a_qr_code_confirms_a_code_and_gives_ten_recovery_codes(client, maple):
    _password_only(client, maple.pharmacist)
    page = client.get(ENROLL)
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg width="' in html and 'class="segno"' in html  # inline SVG, no image request
    assert "<script" not in html.split("</head>")[1] and "style=" not in html
    device = TOTPDevice.objects.get(user=maple.pharmacist)
    assert not device.confirmed
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html).group(1)
    assert secret.replace(" ", "") and len(secret.replace(" ", "")) == 32

    wrong = client.post(ENROLL, {"code": "000000"})
    assert wrong.status_code == 200 and "did not match" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get("/dashboard/").status_code == 302

    done = client.post(ENROLL, {"code": totp_now(device)})  # fresh: forgets the throttle
    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.content.decode())
    assert len(codes) == len(set(codes)) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(codes)
    assert client.get("/dashboard/").status_code == 200
    [event] = _audit("medsync.mfa.enrolled")
    assert event.actor == maple.pharmacist
    assert _audit("medsync.mfa.failed")[0].metadata == {"stage": "enroll"}


@pytest.mark.django_db
def test_a_recovery_code_works_once(client, maple):
    enroll_totp(maple.pharmacist)
    codes = _recovery_codes_for(maple.pharmacist)
    _password_only(client, maple.pharmacist)
    response = client.post(VERIFY, {"code": codes[0].upper()[:4] + "-" + codes[0][4:]})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/dashboard/").status_code == 200
    [used] = _audit("medsync.mfa.recovery_code_used")
    assert used.metadata == {"codes_left": 9}
    client.post("/accounts/logout/")

    _password_only(client, maple.pharmacist)
    again = client.post(VERIFY, {"code": codes[0]})
    assert again.status_code == 200 and "did not work" in again.content.decode()
    assert client.get("/dashboard/").status_code == 302
    assert StaticToken.objects.count() == 9
    assert _audit("medsync.mfa.failed")[-1].metadata == {"stage": "sign_in"}


def _recovery_codes_for(user):
    from medsync.accounts.services import recovery_codes_regenerate

    return recovery_codes_regenerate(user=user)


@pytest.mark.django_db
def test_wrong_codes_count_toward_the_lockout(client, maple, settings):
    device = enroll_totp(maple.pharmacist)
    _password_only(client, maple.pharmacist)
    limit = settings.AXES_FAILURE_LIMIT
    responses = [client.post(VERIFY, {"code": "123456"}) for _ in range(limit)]
    assert [r.status_code for r in responses[:-1]] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert responses[-1].status_code == 429
    assert "_auth_user_id" not in client.session  # signed out
    assert len(_audit("medsync.mfa.failed")) == settings.AXES_FAILURE_LIMIT
    assert _audit("medsync.user.login_failed") == []  # not double counted as a bad password
    # The right password (and code) no longer get in until the lockout ends.
    locked = client.post(
        "/accounts/login/", {"username": maple.pharmacist.email, "password": TEST_PASSWORD}
    )
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    del device


# --- Technicians: the organization's setting ---------------------------------------------


@pytest.mark.django_db
def test_technicians_need_a_second_factor_by_default(client, maple):
    assert maple.organization.technicians_need_mfa is True
    _password_only(client, maple.technician)
    assert client.get("/fill-queue/")["Location"].startswith(ENROLL)


@pytest.mark.django_db
def test_an_organization_may_let_technicians_sign_in_with_a_password_alone(client, maple):
    maple.organization.technicians_need_mfa = False
    maple.organization.save()
    response = _password_only(client, maple.technician)
    assert response["Location"] == "/"
    assert client.get("/").status_code == 302
    assert client.get("/fill-queue/").status_code == 200
    # ...but never owners or pharmacists of that organization.
    other = Client()
    _password_only(other, maple.pharmacist)
    assert other.get("/dashboard/")["Location"].startswith(ENROLL)
    # A technician who chose to add a second factor uses it.
    client.post("/accounts/logout/")
    enroll_totp(maple.technician)
    assert _password_only(client, maple.technician)["Location"] == VERIFY + "?next=/"
    assert client.get("/fill-queue/").status_code == 302


@pytest.mark.django_db
def test_owners_change_the_technician_setting_and_it_is_audited(client, maple, login):
    login(maple.owner)
    page = client.get("/team/security/")
    assert page.status_code == 200
    response = client.post(
        "/team/security/",
        {"technicians_need_mfa": "", "technicians_may_remember_device": "on"},
    )
    assert response.status_code == 302
    maple.organization.refresh_from_db()
    assert maple.organization.technicians_need_mfa is False
    assert maple.organization.technicians_may_remember_device is True
    [event] = _audit("medsync.organization.security_changed")
    assert event.metadata["before"]["technicians_need_mfa"] is True
    assert event.metadata["after"]["technicians_may_remember_device"] is True
    pharmacist = Client()
    from tests.medsync.totp import enroll_totp as _enroll

    pharmacist.post(
        "/accounts/login/", {"username": maple.pharmacist.email, "password": TEST_PASSWORD}
    )
    pharmacist.post(VERIFY, {"code": totp_now(_enroll(maple.pharmacist))})
    assert pharmacist.post("/team/security/", {"technicians_need_mfa": ""}).status_code == 403
    maple.organization.refresh_from_db()
    assert maple.organization.technicians_may_remember_device is True


def test_the_rules_in_one_table():
    tech = Place(Role.TECHNICIAN, technicians_need_mfa=False, technicians_may_remember_device=True)
    strict_tech = Place(Role.TECHNICIAN, True, False)
    pharmacist = Place(Role.PHARMACIST, False, True)
    assert mfa_required(is_staff=False, places=[tech]) is False
    assert mfa_required(is_staff=False, places=[strict_tech]) is True
    assert mfa_required(is_staff=False, places=[tech, pharmacist]) is True  # a floater
    assert mfa_required(is_staff=True, places=[tech]) is True
    assert mfa_required(is_staff=False, places=[]) is True
    assert may_remember_device(is_staff=False, places=[tech]) is True
    assert may_remember_device(is_staff=False, places=[tech, pharmacist]) is False
    assert may_remember_device(is_staff=True, places=[tech]) is False
    assert may_remember_device(is_staff=False, places=[strict_tech]) is False


# --- Remember this device (technicians, where the organization allows) --------------------


@pytest.mark.django_db
def test_a_remembered_device_skips_the_code_for_12_hours_and_not_after(client, maple):
    maple.organization.technicians_may_remember_device = True
    maple.organization.save()
    device = enroll_totp(maple.technician)
    start = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        _password_only(client, maple.technician)
        assert 'name="remember"' in client.get(VERIFY).content.decode()
        response = client.post(VERIFY, {"code": totp_now(device), "remember": "on"})
        cookie = response.cookies[REMEMBER_DEVICE_COOKIE]
        assert cookie["httponly"] and cookie["max-age"] == 12 * 3600
        client.post("/accounts/logout/")

        traveller.shift(dt.timedelta(hours=11, minutes=59))
        assert _password_only(client, maple.technician)["Location"] == "/"
        assert client.get("/fill-queue/").status_code == 200
        assert len(_audit("medsync.mfa.remembered_device_used")) == 1
        client.post("/accounts/logout/")

        traveller.shift(dt.timedelta(minutes=2))  # 12 h 1 min after
        assert _password_only(client, maple.technician)["Location"] == VERIFY + "?next=/"
        assert client.get("/fill-queue/").status_code == 302


@pytest.mark.django_db
def test_a_remembered_device_is_refused_for_another_user_or_after_a_password_change(maple):
    tech, pharmacist = maple.technician, maple.pharmacist
    value = remember_device_cookie(user_public_id=str(tech.public_id), password_hash=tech.password)
    assert remembered_device_ok(
        value, user_public_id=str(tech.public_id), password_hash=tech.password
    )
    assert not remembered_device_ok(
        value, user_public_id=str(pharmacist.public_id), password_hash=tech.password
    )
    tech.set_password("another-long-passphrase-1")
    assert not remembered_device_ok(
        value, user_public_id=str(tech.public_id), password_hash=tech.password
    )
    assert not remembered_device_ok(
        value + "x", user_public_id=str(maple.technician.public_id), password_hash=""
    )


@pytest.mark.django_db
def test_pharmacists_are_never_remembered(client, maple):
    maple.organization.technicians_may_remember_device = True
    maple.organization.save()
    device = enroll_totp(maple.pharmacist)
    _password_only(client, maple.pharmacist)
    assert 'name="remember"' not in client.get(VERIFY).content.decode()
    response = client.post(VERIFY, {"code": totp_now(device), "remember": "on"})
    assert REMEMBER_DEVICE_COOKIE not in response.cookies
    # Even a valid cookie (forged for the pharmacist) is ignored at their next login.
    client.post("/accounts/logout/")
    client.cookies[REMEMBER_DEVICE_COOKIE] = remember_device_cookie(
        user_public_id=str(maple.pharmacist.public_id), password_hash=maple.pharmacist.password
    )
    assert _password_only(client, maple.pharmacist)["Location"] == VERIFY + "?next=/"


# --- The admin ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_platform_staff_need_a_second_factor_for_the_admin(client, rf):
    staff = UserFactory(email="staff@medsync.test", is_staff=True, is_superuser=True)
    _password_only(client, staff)
    assert client.get("/admin/")["Location"].startswith(ENROLL)
    device = enroll_totp(staff)
    client.post("/accounts/logout/")
    _password_only(client, staff)
    assert client.get("/admin/")["Location"].startswith(VERIFY)
    client.post(VERIFY, {"code": totp_now(device)})
    assert client.get("/admin/").status_code == 200
    # The site checks verification itself too, should a middleware ever be left out.
    request = rf.get("/admin/")
    request.user = staff
    staff.is_verified = lambda: False
    assert VerifiedAdminSite().has_permission(request) is False
    staff.is_verified = lambda: True
    assert VerifiedAdminSite().has_permission(request) is True


# --- The API token endpoint ----------------------------------------------------------------


def _token(api, user, **extra):
    body = {"email": user.email, "password": TEST_PASSWORD, **extra}
    return api.post("/api/v1/auth/token/", body)


@pytest.mark.django_db
def test_the_token_endpoint_asks_for_the_current_code(maple):
    from rest_framework.test import APIClient

    api = APIClient()
    no_device = _token(api, maple.pharmacist).json()["error"]
    assert no_device["code"] == "mfa_not_set_up" and "otp" in no_device["fields"]
    device = enroll_totp(maple.pharmacist)
    missing = _token(api, maple.pharmacist)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "otp_required"
    assert set(missing.json()["error"]["fields"]) == {"otp"}
    wrong = _token(api, maple.pharmacist, otp="000000")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_otp"
    recovery = _recovery_codes_for(maple.pharmacist)[0]
    assert _token(api, maple.pharmacist, otp=recovery).json()["error"]["code"] == "invalid_otp"
    code = totp_now(device)
    ok = _token(api, maple.pharmacist, otp=code, name="nightly export")
    assert ok.status_code == 201
    replayed = _token(api, maple.pharmacist, otp=code)
    assert replayed.status_code == 400  # each code works once
    from medsync.models import ApiToken

    assert list(ApiToken.objects.values_list("name", flat=True)) == ["nightly export"]
    assert len(_audit("medsync.mfa.failed")) == 3


@pytest.mark.django_db
def test_a_technician_of_a_relaxed_organization_gets_a_token_without_a_code(maple):
    from rest_framework.test import APIClient

    maple.organization.technicians_need_mfa = False
    maple.organization.save()
    assert _token(APIClient(), maple.technician).status_code == 201


@pytest.mark.django_db
def test_wrong_codes_at_the_token_endpoint_lock_the_account(maple, settings):
    from rest_framework.test import APIClient

    api = APIClient()
    device = enroll_totp(maple.owner)
    codes = [
        _token(api, maple.owner, otp="999999").status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert codes[-1] == 429
    assert _token(api, maple.owner, otp=totp_now(device)).status_code == 429


@pytest.mark.django_db
def test_the_schema_documents_otp(client, login, maple):
    login(maple.pharmacist)
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    schema = response.json() if response["Content-Type"].startswith("application/json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(response.content)
    request = schema["components"]["schemas"]["TokenRequestRequest"]
    assert "otp" in request["properties"] and "otp" not in request.get("required", [])
    responses = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]
    assert {"201", "400", "429"} <= set(responses)


def test_the_test_helper_computes_what_an_app_shows():
    # RFC 6238 appendix B, SHA-1, T = 59 s -> 94287082 (8 digits); 6 digits: 287082.
    key = bytes.fromhex("3132333435363738393031323334353637383930")
    assert totp(key, step=30, t0=0, digits=8, drift=0) != 0
    with time_machine.travel(59, tick=False):
        assert totp(key, step=30, t0=0, digits=8, drift=0) == 94287082
