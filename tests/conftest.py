"""Shared personas in two tenants: Maple Pharmacy (owner, pharmacist, technician
limited to Main St) and Birch Rx (pharmacist), plus a floater in both."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from medsync.models import MembershipPharmacy, Organization, Pharmacy, User
from medsync.roles import Role
from medsync.services import api_token_issue
from medsync.tenancy import tenant_scope
from tests.factories import (
    TEST_PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    PharmacyFactory,
    UserFactory,
)
from tests.medsync.totp import enroll_totp, totp_now

pytest_plugins = ["tests.worker"]


@dataclass
class Tenant:
    organization: Organization
    pharmacies: list[Pharmacy]
    owner: User | None = None
    pharmacist: User | None = None
    technician: User | None = None


@pytest.fixture(autouse=True)
def _no_login_lockout_between_tests(settings):
    # Lockout is tested on purpose in test_accounts; elsewhere failures must not leak.
    settings.AXES_ENABLED = True


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def maple(db) -> Tenant:
    organization = OrganizationFactory(name="Maple Pharmacy", slug="maple")
    main_st = PharmacyFactory(organization=organization, name="Maple Main St")
    elm_ave = PharmacyFactory(organization=organization, name="Maple Elm Ave")
    owner = UserFactory(email="owner@maple.test")
    pharmacist = UserFactory(email="pharmacist@maple.test")
    technician = UserFactory(email="tech@maple.test")
    MembershipFactory(organization=organization, user=owner, role=Role.OWNER)
    MembershipFactory(organization=organization, user=pharmacist, role=Role.PHARMACIST)
    tech_membership = MembershipFactory(
        organization=organization,
        user=technician,
        role=Role.TECHNICIAN,
        limited_to_pharmacies=True,
    )
    MembershipPharmacy.objects.create(
        organization=organization, membership=tech_membership, pharmacy=main_st
    )
    return Tenant(organization, [main_st, elm_ave], owner, pharmacist, technician)


@pytest.fixture
def birch(db) -> Tenant:
    organization = OrganizationFactory(name="Birch Rx", slug="birch")
    pharmacy = PharmacyFactory(
        organization=organization, name="Birch Rx", state="NC", time_zone="America/New_York"
    )
    pharmacist = UserFactory(email="pharmacist@birch.test")
    MembershipFactory(organization=organization, user=pharmacist, role=Role.PHARMACIST)
    return Tenant(organization, [pharmacy], pharmacist=pharmacist)


@pytest.fixture
def floater(maple, birch) -> User:
    """Pharmacist at Maple, technician at Birch."""
    user = UserFactory(email="floater@both.test")
    MembershipFactory(organization=maple.organization, user=user, role=Role.PHARMACIST)
    MembershipFactory(organization=birch.organization, user=user, role=Role.TECHNICIAN)
    return user


@pytest.fixture
def login(client):
    """Log a user into the Django test client with the real login page and the second
    factor (an authenticator with a known secret is set up for them if they have none)."""

    def _login(user: User, password: str = TEST_PASSWORD):
        device = enroll_totp(user)
        response = client.post("/accounts/login/", {"username": user.email, "password": password})
        assert response.status_code == 302, "login failed in a fixture"
        response = client.post("/accounts/mfa/verify/", {"code": totp_now(device)})
        assert response.status_code == 302, "the second factor failed in a fixture"
        return client

    return _login


@pytest.fixture
def admin_client(db, admin_user):
    """pytest-django's admin client, past the second factor the admin requires."""
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    response = client.post("/accounts/mfa/verify/", {"code": totp_now(enroll_totp(admin_user))})
    assert response.status_code == 302, "the second factor failed in a fixture"
    return client


@pytest.fixture
def api_client_for():
    def _client(user: User, organization: Organization | None = None) -> APIClient:
        _, raw = api_token_issue(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        if organization is not None:
            client.credentials(
                HTTP_AUTHORIZATION=f"Bearer {raw}",
                HTTP_X_ORGANIZATION=str(organization.public_id),
            )
        return client

    return _client


@pytest.fixture
def in_tenant():
    return tenant_scope
