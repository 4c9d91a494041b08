import pytest
from django_scopes import scopes_disabled

from medsync.models import AuditEvent


@pytest.mark.django_db
def test_a_member_of_two_organizations_switches_between_them(client, floater, maple, birch, login):
    login(floater)
    page = client.get("/dashboard/").content.decode()
    assert "Maple Pharmacy" in page and "Switch to Birch Rx" in page
    response = client.post(
        "/accounts/switch-organization/", {"organization": str(birch.organization.public_id)}
    )
    assert response.status_code == 302
    # At Birch the floater is a technician: lands on the fill queue, no dashboard.
    assert client.get("/").headers["Location"] == "/fill-queue/"
    assert client.get("/dashboard/").status_code == 403
    listing = client.get("/pharmacies/").content.decode()
    assert "Birch Rx" in listing and "Maple Main St" not in listing
    with scopes_disabled():
        event = AuditEvent.objects.get(action="medsync.organization.switched")
    assert event.organization == birch.organization and event.actor == floater


@pytest.mark.django_db
def test_switching_to_an_organization_you_do_not_belong_to_is_a_404(client, maple, birch, login):
    login(maple.pharmacist)
    response = client.post(
        "/accounts/switch-organization/", {"organization": str(birch.organization.public_id)}
    )
    assert response.status_code == 404
    listing = client.get("/pharmacies/").content.decode()
    assert "Maple Main St" in listing and "Birch Rx" not in listing


@pytest.mark.django_db
def test_switching_needs_a_post(client, floater, birch, login):
    login(floater)
    assert client.get("/accounts/switch-organization/").status_code == 405


def test_a_malformed_organization_id_is_a_404(client, floater, login):
    login(floater)
    assert (
        client.post("/accounts/switch-organization/", {"organization": "not-a-uuid"}).status_code
        == 404
    )
