"""Each role reaches exactly what the role table allows, in pages and the API."""

import pytest

from medsync.roles import ROLE_LANDING_URL_NAME, ROLE_PERMISSIONS, Perm, Role, role_allows

# Every page and its required permission (None: any member).
PAGES = {
    "/dashboard/": Perm.VIEW_DASHBOARD,
    "/fill-queue/": Perm.VIEW_FILL_QUEUE,
    "/pharmacies/": Perm.VIEW_PHARMACIES,
    "/team/": Perm.MANAGE_MEMBERS,
    "/audit/": Perm.VIEW_AUDIT_LOG,
}
API = {
    "/api/v1/me/": None,
    "/api/v1/pharmacies/": Perm.VIEW_PHARMACIES,
}


def test_the_role_table():
    assert ROLE_PERMISSIONS[Role.OWNER] == frozenset(Perm)
    assert Perm.MANAGE_MEMBERS not in ROLE_PERMISSIONS[Role.PHARMACIST]
    assert Perm.VIEW_AUDIT_LOG not in ROLE_PERMISSIONS[Role.PHARMACIST]
    assert Perm.VERIFY_FILLS in ROLE_PERMISSIONS[Role.PHARMACIST]
    technician = ROLE_PERMISSIONS[Role.TECHNICIAN]
    assert Perm.VERIFY_FILLS not in technician  # the pharmacist's check, never the tech's
    assert Perm.MANAGE_ENROLLMENT not in technician
    assert Perm.PROCESS_FILLS in technician
    assert Perm.VIEW_DASHBOARD not in technician
    assert role_allows(None, Perm.VIEW_PHARMACIES) is False


def _user_for(maple, role):
    return {
        Role.OWNER: maple.owner,
        Role.PHARMACIST: maple.pharmacist,
        Role.TECHNICIAN: maple.technician,
    }[role]


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("url", list(PAGES))
def test_pages_follow_the_role_table(role, url, maple, login):
    client = login(_user_for(maple, role))
    response = client.get(url)
    expected = 200 if role_allows(role, PAGES[url]) else 403
    assert response.status_code == expected


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("url", list(API))
def test_api_follows_the_role_table(role, url, maple, api_client_for):
    response = api_client_for(_user_for(maple, role)).get(url)
    perm = API[url]
    expected = 200 if perm is None or role_allows(role, perm) else 403
    assert response.status_code == expected
    if expected == 403:
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_work(role, maple, login):
    client = login(_user_for(maple, role))
    response = client.get("/")
    landing = {"dashboard": "/dashboard/", "fill-queue": "/fill-queue/"}
    assert response.status_code == 302
    assert response["Location"] == landing[ROLE_LANDING_URL_NAME[role]]


@pytest.mark.django_db
def test_navigation_shows_only_what_the_role_allows(maple, login):
    technician_page = login(maple.technician).get("/fill-queue/").content.decode()
    assert 'href="/fill-queue/"' in technician_page
    assert 'href="/dashboard/"' not in technician_page
    assert 'href="/audit/"' not in technician_page


@pytest.mark.django_db
def test_owner_navigation_has_team_and_audit(maple, login):
    page = login(maple.owner).get("/dashboard/").content.decode()
    assert 'href="/team/"' in page and 'href="/audit/"' in page
