import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django_scopes import scopes_disabled

from medsync.models import AuditEvent
from tests.factories import TEST_PASSWORD, UserFactory
from tests.medsync.totp import enroll_totp, totp_now

GENERIC = "That email and password did not match. Check both and try again."


def _audit(action):
    with scopes_disabled():
        return list(AuditEvent.objects.filter(action=action))


@pytest.mark.django_db
def test_login_by_email_lands_on_the_role_page_and_is_audited(client, maple):
    device = enroll_totp(maple.pharmacist)
    response = client.post(
        "/accounts/login/", {"username": "PHARMACIST@maple.test", "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/mfa/verify/?next=/"
    response = client.post("/accounts/mfa/verify/?next=/", {"code": totp_now(device)})
    assert response["Location"] == "/"
    assert client.get("/").headers["Location"] == "/dashboard/"
    [event] = _audit("medsync.user.logged_in")
    assert event.actor == maple.pharmacist
    assert event.ip_address == "127.0.0.1"
    assert event.request_id


@pytest.mark.django_db
def test_failed_login_says_the_same_thing_whether_or_not_the_email_exists(client, maple):
    wrong_password = client.post(
        "/accounts/login/", {"username": maple.pharmacist.email, "password": "nope-nope-nope"}
    )
    unknown_email = client.post(
        "/accounts/login/", {"username": "nobody@nowhere.test", "password": "nope-nope-nope"}
    )
    assert wrong_password.status_code == unknown_email.status_code == 200
    for response in (wrong_password, unknown_email):
        assert GENERIC in response.content.decode()
        assert "_auth_user_id" not in client.session
    failed = _audit("medsync.user.login_failed")
    assert {e.metadata["attempted_email"] for e in failed} == {
        "pharmacist@maple.test",
        "nobody@nowhere.test",
    }


@pytest.mark.django_db
def test_a_disabled_account_gets_the_same_generic_message(client, maple):
    maple.pharmacist.is_active = False
    maple.pharmacist.save()
    response = client.post(
        "/accounts/login/", {"username": maple.pharmacist.email, "password": TEST_PASSWORD}
    )
    assert GENERIC in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_repeated_failures_lock_the_login_for_that_email_and_address(client, maple, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": maple.owner.email, "password": "wrong-pw-1"})
    locked = client.post(
        "/accounts/login/", {"username": maple.owner.email, "password": TEST_PASSWORD}
    )
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_logout_ends_the_session_and_is_audited(client, maple, login):
    login(maple.pharmacist)
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # never by a GET link
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 302
    assert len(_audit("medsync.user.logged_out")) == 1


@pytest.mark.django_db
def test_an_idle_session_expires_after_the_configured_minutes(client, maple, login, settings):
    assert settings.SESSION_IDLE_MINUTES == 15
    start = dt.datetime(2026, 11, 25, 14, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        login(maple.pharmacist)
        traveller.shift(dt.timedelta(minutes=14))
        assert client.get("/dashboard/").status_code == 200  # activity pushes expiry on
        traveller.shift(dt.timedelta(minutes=14))
        assert client.get("/dashboard/").status_code == 200
        traveller.shift(dt.timedelta(minutes=15, seconds=1))
        response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_password_reset_mails_a_working_link_and_reveals_nothing(client, maple):
    known = client.post("/accounts/password_reset/", {"email": maple.pharmacist.email})
    unknown = client.post("/accounts/password_reset/", {"email": "nobody@nowhere.test"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [maple.pharmacist.email]
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    new_password = "a-brand-new-passphrase-77"
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert done.status_code == 302
    maple.pharmacist.refresh_from_db()
    assert maple.pharmacist.check_password(new_password)


@pytest.mark.django_db
def test_a_user_with_no_organization_is_told_what_to_do(client, login):
    loner = UserFactory(email="loner@example.test")
    login(loner)
    response = client.get("/")
    assert response.status_code == 403
    assert "no organization has added you" in response.content.decode()


@pytest.mark.django_db
def test_emails_are_case_insensitive_and_unique(maple):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        UserFactory(email="Owner@Maple.TEST")
