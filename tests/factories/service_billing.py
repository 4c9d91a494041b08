"""Appointments and service billing: payers, NPIs, fee schedules, appointments.

`billing_setup(pharmacy, pharmacist)` gives a pharmacy what billing a service needs: a tax ID,
the pharmacist's NPI, a medical payer and a fee schedule for MTM and a flu shot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import factory

from billing.models import (
    MedicalPayer,
    PharmacistProvider,
    PharmacyBillingProfile,
    ServiceFee,
)
from scheduling.models import Appointment, AppointmentKind
from tests.factories.platform import OrganizationFactory, valid_npi

DEFAULT_FEES = {"99605": "75.00", "99606": "60.00", "99607": "50.00", "90471": "25.50"}


class MedicalPayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MedicalPayer

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Acme Medical {n}")
    payer_id = factory.Sequence(lambda n: f"ACME{n}")


class PharmacistProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PharmacistProvider

    npi = factory.Sequence(lambda n: valid_npi(70000 + n))
    first_name = "Ann"
    last_name = factory.Sequence(lambda n: f"Lee{n}")


class ServiceFeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceFee

    organization = factory.SelfAttribute("pharmacy.organization")
    code = "99605"
    charge = Decimal("75.00")


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A 40-minute CMR tomorrow at 10:00 UTC."""

    class Meta:
        model = Appointment

    organization = factory.SelfAttribute("pharmacy.organization")
    kind = AppointmentKind.CMR
    starts_at = factory.LazyFunction(
        lambda: dt.datetime.combine(
            dt.date.today() + dt.timedelta(days=1), dt.time(10), tzinfo=dt.UTC
        )
    )
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + dt.timedelta(minutes=40))
    booked_by = factory.SelfAttribute("pharmacist")


@dataclass
class BillingSetup:
    payer: MedicalPayer
    provider: PharmacistProvider
    profile: PharmacyBillingProfile


def billing_setup(pharmacy, pharmacist, *, fees: dict | None = None) -> BillingSetup:
    organization = pharmacy.organization
    payer = MedicalPayerFactory(organization=organization)
    provider = PharmacistProviderFactory(organization=organization, user=pharmacist)
    profile = PharmacyBillingProfile.objects.create(
        organization=organization, pharmacy=pharmacy, tax_id="391234567"
    )
    for code, charge in (fees or DEFAULT_FEES).items():
        ServiceFeeFactory(pharmacy=pharmacy, code=code, charge=Decimal(charge))
    return BillingSetup(payer, provider, profile)
