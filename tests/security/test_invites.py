"""Issue 14, problem 8: inviting an email of another organization's user neither adds them
silently nor reveals that the email has an account; they join only by accepting."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from medsync.models import Membership
from medsync.tenancy import scopes_disabled, tenant_scope

pytestmark = pytest.mark.django_db


def _invite(client, email):
    return client.post("/team/", {"email": email, "role": "pharmacist"}, follow=True)


def _link(message) -> str:
    return re.search(r"http://testserver(/accounts/invitation/\S+/)", message.body).group(1)


def test_an_existing_account_and_a_new_email_get_the_same_answer(client, maple, birch, login):
    login(maple.owner)
    existing = _invite(client, birch.pharmacist.email)
    new = _invite(client, "someone.new@elsewhere.test")
    assert existing.status_code == new.status_code == 200
    notices = [[str(m) for m in r.context["messages"]] for r in (existing, new)]
    assert notices[0] == notices[1]
    assert "Invitation sent" in notices[0][0]
    # Neither is on the team, and both got the same kind of email.
    with tenant_scope(maple.organization):
        assert not Membership.objects.filter(user=birch.pharmacist).exists()
    assert [m.to for m in mail.outbox] == [[birch.pharmacist.email], ["someone.new@elsewhere.test"]]
    assert mail.outbox[0].subject == mail.outbox[1].subject
    # The audit log owners read does not say which email had an account.
    with scopes_disabled():
        from medsync.models import AuditEvent

        invited = AuditEvent.objects.filter(action="medsync.member.invited")
        assert {tuple(sorted(e.metadata)) for e in invited} == {("email", "invitation", "role")}


def test_the_existing_user_joins_only_after_signing_in_and_accepting(client, maple, birch, login):
    login(maple.owner)
    _invite(client, birch.pharmacist.email)
    link = _link(mail.outbox[0])
    client.post("/accounts/logout/")
    anonymous = client.get(link)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/?next=/accounts/invitation/")
    login(birch.pharmacist)
    page = client.get(link)
    assert page.status_code == 200 and page.context["state"] == "accept"
    with tenant_scope(maple.organization):
        assert not Membership.objects.filter(user=birch.pharmacist).exists()
    assert client.post(link).status_code == 302
    with tenant_scope(maple.organization):
        assert Membership.objects.get(user=birch.pharmacist).role == "pharmacist"
    with tenant_scope(birch.organization):
        assert Membership.objects.filter(user=birch.pharmacist).exists()  # still at Birch
    assert client.get(link).status_code == 404  # used


def test_an_invitation_is_for_its_email_only(client, maple, birch, login):
    login(maple.owner)
    _invite(client, "someone.new@elsewhere.test")
    link = _link(mail.outbox[0])
    client.post("/accounts/logout/")
    login(birch.pharmacist)
    assert client.get(link).status_code == 403
    assert client.post(link).status_code == 403
    with tenant_scope(maple.organization):
        assert not Membership.objects.filter(user=birch.pharmacist).exists()


def test_a_tampered_or_revoked_invitation_is_refused(client, maple, login):
    login(maple.owner)
    _invite(client, "someone.new@elsewhere.test")
    link = _link(mail.outbox[0])
    client.post("/accounts/logout/")
    assert client.get(link[:-3] + "xx/").status_code == 404
    # Join, get removed, and the old link does not bring them back.
    password = "new-person-pass-77"
    client.post(link, {"new_password1": password, "new_password2": password})
    login(maple.owner)
    with tenant_scope(maple.organization):
        member = Membership.objects.get(user__email="someone.new@elsewhere.test")
    client.post(f"/team/{member.public_id}/", {"action": "remove"})
    client.post("/accounts/logout/")
    assert client.get(link).status_code == 404
