"""factory_boy factories for patient records. Pass organization= explicitly (no scope needed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from patients.models import (
    Coverage,
    DosageForm,
    Drug,
    Fill,
    Patient,
    PlanType,
    Prescriber,
    Prescription,
    TherapeuticClass,
)
from tests.factories import OrganizationFactory, PharmacyFactory, valid_npi


class DrugFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Drug
        django_get_or_create = ("ndc",)

    ndc = factory.Sequence(lambda n: f"9{n:010d}")
    name = factory.Sequence(lambda n: f"Testastatin {n}")
    generic_name = factory.SelfAttribute("name")
    strength = "20 mg"
    dosage_form = DosageForm.TABLET
    package_size = Decimal("90")
    package_unit = "EA"
    therapeutic_classes = factory.LazyFunction(lambda: [TherapeuticClass.STATIN])


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    organization = factory.SubFactory(OrganizationFactory)
    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = dt.date(1950, 5, 17)
    phone = factory.Sequence(lambda n: f"+1608555{n % 10000:04d}")
    state = "WI"


class PrescriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prescriber

    organization = factory.SubFactory(OrganizationFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    npi = factory.Sequence(lambda n: valid_npi(50000 + n))


class CoverageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coverage

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    payer_name = "Acme Part D"
    bin = "610014"
    pcn = "MEDDPRIME"
    group = "PDPGRP"
    member_id = factory.Sequence(lambda n: f"M{n:08d}")
    plan_type = PlanType.MEDICARE_PART_D
    copay_amount = Decimal("10.00")
    effective_from = dt.date(2026, 1, 1)
    rules_state = "WI"


class PrescriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prescription

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    pharmacy = factory.SubFactory(
        PharmacyFactory, organization=factory.SelfAttribute("..organization")
    )
    rx_number = factory.Sequence(lambda n: f"{7000000 + n}")
    drug = factory.SubFactory(DrugFactory)
    sig_text = "Take 1 tablet by mouth daily"
    daily_dose = Decimal("1")
    quantity_per_fill = Decimal("30")
    days_supply = 30
    refills_authorized = 11
    refills_remaining = 8
    written_date = dt.date(2026, 1, 5)
    expiration_date = dt.date(2027, 1, 5)


class FillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fill

    prescription = factory.SubFactory(PrescriptionFactory)
    organization = factory.SelfAttribute("prescription.organization")
    fill_date = dt.date(2026, 10, 1)
    quantity = Decimal("30")
    days_supply = 30
    fill_number = 1
