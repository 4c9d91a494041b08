import re

import pytest
from django.core import mail
from django_scopes import scopes_disabled

from medsync.models import AuditEvent, Membership, User
from medsync.tenancy import tenant_scope

pytestmark = pytest.mark.django_db


def test_an_owner_invites_a_new_person_who_chooses_a_password_and_joins(client, maple, login):
    login(maple.owner)
    response = client.post("/team/", {"email": "New.Tech@Maple.test", "role": "technician"})
    assert response.status_code == 302
    assert not User.objects.filter(email="new.tech@maple.test").exists()  # nobody added yet
    assert mail.outbox[0].to == ["new.tech@maple.test"]
    link = re.search(r"http://testserver(/accounts/invitation/\S+/)", mail.outbox[0].body).group(1)
    client.post("/accounts/logout/")
    page = client.get(link)
    assert page.context["state"] == "new"
    done = client.post(
        link, {"new_password1": "tech-first-pass-88", "new_password2": "tech-first-pass-88"}
    )
    assert done.status_code == 302
    user = User.objects.get(email="new.tech@maple.test")
    with tenant_scope(maple.organization):
        assert Membership.objects.get(user=user).role == "technician"
    assert (
        client.post(
            "/accounts/login/",
            {"username": "new.tech@maple.test", "password": "tech-first-pass-88"},
        ).status_code
        == 302
    )
    client.post("/accounts/logout/")
    assert client.get(link).status_code == 404  # single use
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="medsync.member.invited").count() == 1
        assert AuditEvent.objects.filter(action="medsync.member.joined").count() == 1


def test_adding_someone_already_on_the_team_is_refused(client, maple, login):
    login(maple.owner)
    page = client.post("/team/", {"email": maple.pharmacist.email, "role": "technician"})
    assert "already on the team" in page.content.decode()
    with tenant_scope(maple.organization):
        assert Membership.objects.get(user=maple.pharmacist).role == "pharmacist"


def test_changing_roles_and_the_last_owner_rule(client, maple, login):
    login(maple.owner)
    with tenant_scope(maple.organization):
        tech = Membership.objects.get(user=maple.technician)
        owner = Membership.objects.get(user=maple.owner)
    client.post(f"/team/{tech.public_id}/", {"role": "pharmacist"})
    client.post(f"/team/{owner.public_id}/", {"role": "technician"})
    with tenant_scope(maple.organization):
        assert Membership.objects.get(pk=tech.pk).role == "pharmacist"
        assert Membership.objects.get(pk=owner.pk).role == "owner"  # the last owner stays


def test_removing_a_member(client, maple, login):
    login(maple.owner)
    with tenant_scope(maple.organization):
        tech = Membership.objects.get(user=maple.technician)
    client.post(f"/team/{tech.public_id}/", {"action": "remove"})
    with tenant_scope(maple.organization):
        assert not Membership.objects.filter(pk=tech.pk).exists()
    assert User.objects.filter(pk=maple.technician.pk).exists()  # the person keeps their login


def test_a_pharmacist_cannot_manage_the_team(client, maple, login):
    login(maple.pharmacist)
    with tenant_scope(maple.organization):
        tech = Membership.objects.get(user=maple.technician)
    assert client.post("/team/", {"email": "x@y.test", "role": "owner"}).status_code == 403
    assert client.post(f"/team/{tech.public_id}/", {"action": "remove"}).status_code == 403


def test_birchs_owner_cannot_touch_maples_members(client, maple, birch, login):
    from tests.factories import MembershipFactory, UserFactory

    birch_owner = UserFactory(email="owner@birch.test")
    MembershipFactory(organization=birch.organization, user=birch_owner, role="owner")
    with tenant_scope(maple.organization):
        tech = Membership.objects.get(user=maple.technician)
    login(birch_owner)
    assert client.post(f"/team/{tech.public_id}/", {"action": "remove"}).status_code == 404
    with tenant_scope(maple.organization):
        assert Membership.objects.filter(pk=tech.pk).exists()


def test_the_team_forms_refuse_bad_input_and_change_nothing(client, maple, login):
    login(maple.owner)
    page = client.post("/team/", {"email": "not-an-email", "role": "wizard"})
    assert page.status_code == 200
    assert set(page.context["errors"]) == {"email", "role"}
    assert mail.outbox == []
    with tenant_scope(maple.organization):
        membership = Membership.objects.get(user=maple.technician)
    response = client.post(f"/team/{membership.public_id}/", {"role": "wizard"}, follow=True)
    assert "Select a valid choice" in response.content.decode()
    with tenant_scope(maple.organization):
        membership.refresh_from_db()
        assert membership.role == "technician"
