"""Platform core: users, organizations, pharmacies, memberships."""

from __future__ import annotations

import factory

from medsync.models import (
    InboundEndpoint,
    Membership,
    Organization,
    Pharmacy,
    User,
    WebhookEvent,
    WebhookSubscription,
)
from medsync.roles import Role
from medsync.validators import npi_check_digit_ok

TEST_PASSWORD = "correct-horse-battery-9"


def valid_npi(n: int) -> str:
    """The n-th valid NPI starting 1 (Luhn check digit over the 80840 prefix)."""
    payload = f"1{n:08d}"
    for check in range(10):
        if npi_check_digit_ok(payload + str(check)):
            return payload + str(check)
    raise AssertionError("unreachable: some check digit always fits")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")

    @classmethod
    def _create(cls, model_class, *args, password=TEST_PASSWORD, **kwargs):
        return model_class.objects.create_user(*args, password=password, **kwargs)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class PharmacyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pharmacy

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Pharmacy {n}")
    ncpdp_id = factory.Sequence(lambda n: f"{4000000 + n}")
    npi = factory.Sequence(valid_npi)
    address_line1 = "1 Test St"
    city = "Madison"
    state = "WI"
    postal_code = "53703"
    time_zone = "America/Chicago"
    phone = "+16085550134"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.PHARMACIST


class WebhookSubscriptionFactory(factory.django.DjangoModelFactory):
    """A subscription to every event; `url` is usually a local test server's."""

    class Meta:
        model = WebhookSubscription

    organization = factory.SubFactory(OrganizationFactory)
    url = "http://127.0.0.1:9/hook"
    events = factory.LazyFunction(lambda: list(WebhookEvent.values))
    secret = factory.Sequence(lambda n: f"whsec_test_{n:04d}")


class InboundEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InboundEndpoint

    organization = factory.SubFactory(OrganizationFactory)
    secret = factory.Sequence(lambda n: f"whsec_inbound_{n:04d}")
