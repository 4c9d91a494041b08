"""Issue 14, problem 3: the client address behind a proxy, for the audit log, the login
lockout and the API throttle. Forged X-Forwarded-For headers make no new identity."""

from __future__ import annotations

import pytest
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from medsync.models import AuditEvent
from medsync.request_context import client_ip_from
from medsync.tenancy import scopes_disabled
from tests.factories import TEST_PASSWORD

PROXY = "10.0.0.5"
PHARMACIST_AT = "203.0.113.7"
ATTACKER_AT = "198.51.100.9"
LOCKED = "Too many failed attempts"


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("10.0.0.5", None, 0, "10.0.0.5"),
        ("10.0.0.5", "1.1.1.1", 0, "10.0.0.5"),  # no proxy trusted: the header is ignored
        ("10.0.0.5", "203.0.113.7", 1, "203.0.113.7"),
        ("10.0.0.5", "1.1.1.1, 203.0.113.7", 1, "203.0.113.7"),  # forged left part ignored
        ("10.0.0.5", "1.1.1.1,203.0.113.7, 10.0.0.4", 2, "203.0.113.7"),
        ("10.0.0.5", "203.0.113.7", 2, "203.0.113.7"),  # fewer hops than proxies
        ("10.0.0.5", "not-an-address", 1, "10.0.0.5"),
        ("10.0.0.5", "", 1, "10.0.0.5"),
        ("10.0.0.5", "2001:db8::1", 1, "2001:db8::1"),
    ],
)
def test_the_client_is_the_address_the_nearest_trusted_proxy_saw(
    remote, forwarded, proxies, expected
):
    assert client_ip_from(remote, forwarded, proxies) == expected


def _failed_login(client, email, *, client_at, proxy=PROXY, forged="6.6.6.6"):
    return client.post(
        "/accounts/login/",
        {"username": email, "password": "wrong-password-1"},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=f"{forged}, {client_at}",
    )


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_audit_log_records_the_real_client(client, maple, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    _failed_login(client, maple.pharmacist.email, client_at=PHARMACIST_AT)
    with scopes_disabled():
        event = AuditEvent.objects.get(action="medsync.user.login_failed")
    assert event.ip_address == PHARMACIST_AT  # not the proxy, not the forged 6.6.6.6


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_forged_header_is_not_recorded(client, maple, settings):
    assert settings.TRUSTED_PROXY_COUNT == 0
    _failed_login(client, maple.pharmacist.email, client_at=PHARMACIST_AT, proxy="192.0.2.1")
    with scopes_disabled():
        event = AuditEvent.objects.get(action="medsync.user.login_failed")
    assert event.ip_address == "192.0.2.1"


@pytest.mark.django_db
def test_failures_through_the_shared_proxy_do_not_lock_the_pharmacist_out(client, maple, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        _failed_login(client, maple.pharmacist.email, client_at=ATTACKER_AT)
    attacker = client.post(
        "/accounts/login/",
        {"username": maple.pharmacist.email, "password": TEST_PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=ATTACKER_AT,
    )
    assert attacker.status_code == 429  # the guesser's own address is locked
    pharmacist = client.post(
        "/accounts/login/",
        {"username": maple.pharmacist.email, "password": TEST_PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=PHARMACIST_AT,
    )
    assert pharmacist.status_code == 302  # signed in (or on to the second step)
    assert LOCKED not in pharmacist.content.decode()


@pytest.mark.django_db
def test_forged_headers_make_no_new_login_identity(client, maple, settings):
    # No trusted proxy: every failure counts against the peer, whatever header it sends.
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/accounts/login/",
            {"username": maple.owner.email, "password": "wrong-password-1"},
            REMOTE_ADDR=ATTACKER_AT,
            HTTP_X_FORWARDED_FOR=f"1.1.1.{n}",
        )
    locked = client.post(
        "/accounts/login/",
        {"username": maple.owner.email, "password": TEST_PASSWORD},
        REMOTE_ADDR=ATTACKER_AT,
        HTTP_X_FORWARDED_FOR="9.9.9.9",
    )
    assert locked.status_code == 429


@pytest.mark.django_db
def test_one_address_spraying_many_emails_is_locked(client, maple, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_IP = 6
    for n in range(6):
        _failed_login(client, f"someone{n}@maple.test", client_at=ATTACKER_AT, proxy=ATTACKER_AT)
    locked = client.post(
        "/accounts/login/",
        {"username": maple.owner.email, "password": TEST_PASSWORD},
        REMOTE_ADDR=ATTACKER_AT,
    )
    assert locked.status_code == 429


@pytest.mark.django_db
def test_an_email_guessed_from_many_addresses_is_locked_but_one_address_cannot_do_it(
    client, maple, settings
):
    settings.LOGIN_FAILURE_LIMIT_PER_USER = 8
    email = maple.owner.email
    # One address: at most AXES_FAILURE_LIMIT failures count (then that pair is locked).
    for _ in range(12):
        client.post(
            "/accounts/login/", {"username": email, "password": "x" * 12}, REMOTE_ADDR="192.0.2.1"
        )
    fine = client.post(
        "/accounts/login/", {"username": email, "password": TEST_PASSWORD}, REMOTE_ADDR="192.0.2.50"
    )
    assert fine.status_code == 302
    client.post("/accounts/logout/")
    # A second guessing address takes the email over its own limit: locked everywhere.
    for _ in range(5):
        client.post(
            "/accounts/login/", {"username": email, "password": "x" * 12}, REMOTE_ADDR="192.0.2.2"
        )
    locked = client.post(
        "/accounts/login/", {"username": email, "password": TEST_PASSWORD}, REMOTE_ADDR="192.0.2.51"
    )
    assert locked.status_code == 429


@pytest.fixture
def token_rate(settings):
    original_rates = ScopedRateThrottle.THROTTLE_RATES

    def _apply(rate: str, proxies: int):
        settings.TRUSTED_PROXY_COUNT = proxies
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"token": rate},
            "NUM_PROXIES": proxies,
        }
        api_settings.reload()
        ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    yield _apply
    # The class keeps its own copy of the rates: put the real ones back (the settings
    # fixture restores REST_FRAMEWORK, which reloads api_settings, after this).
    ScopedRateThrottle.THROTTLE_RATES = original_rates


def _token_attempt(api, n, **headers):
    return api.post(
        "/api/v1/auth/token/", {"email": f"x{n}@y.test", "password": "p" * 12}, **headers
    ).status_code


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_bypass_the_token_rate_limit(token_rate):
    from django.conf import settings

    token_rate("3/min", 0)
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    api = APIClient()
    codes = [
        _token_attempt(api, n, REMOTE_ADDR=ATTACKER_AT, HTTP_X_FORWARDED_FOR=f"1.1.1.{n}")
        for n in range(5)
    ]
    assert codes[3:] == [429, 429]


@pytest.mark.django_db
def test_behind_a_proxy_each_client_has_its_own_token_rate_limit(token_rate):
    token_rate("3/min", 1)
    api = APIClient()
    attacker = [
        _token_attempt(api, n, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, {ATTACKER_AT}")
        for n in range(4)
    ]
    assert attacker[3] == 429  # the forged left-most part changed nothing
    other = _token_attempt(api, 9, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=PHARMACIST_AT)
    assert other != 429
