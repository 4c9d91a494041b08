"""Patient records: drugs, patients, prescribers, coverage, prescriptions, fills.

Pass organization= (or a patient / prescription) explicitly: no tenant scope is needed to
build rows. Phones come from the fictional +1 608 556 exchange, which no test spells out,
so a number a test chooses never collides with a generated one.
"""

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
    SyncDecision,
    TherapeuticClass,
)
from tests.factories.platform import OrganizationFactory, PharmacyFactory, valid_npi


class DrugFactory(factory.django.DjangoModelFactory):
    """A statin tablet in bottles of 90."""

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


class SyncDrugFactory(DrugFactory):
    """A RAS antagonist tablet in bulk bottles of 1,000 (never a whole-package fill)."""

    ndc = factory.Sequence(lambda n: f"5{n:010d}")
    name = factory.Sequence(lambda n: f"Syncopril {n}")
    strength = "10 mg"
    package_size = Decimal("1000")
    therapeutic_classes = factory.LazyFunction(lambda: [TherapeuticClass.RAS_ANTAGONIST])


class InhalerFactory(DrugFactory):
    """A 200-puff maintenance inhaler: unit of use, dispensed whole."""

    ndc = factory.Sequence(lambda n: f"6{n:010d}")
    name = factory.Sequence(lambda n: f"Breathewell {n} HFA")
    strength = "90 mcg/actuation"
    dosage_form = DosageForm.INHALER
    package_size = Decimal("200")
    unit_of_use = True
    therapeutic_classes = factory.LazyFunction(lambda: [TherapeuticClass.COPD_INHALER])


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    organization = factory.SubFactory(OrganizationFactory)
    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = factory.Sequence(lambda n: f"Example{n}")
    date_of_birth = dt.date(1950, 5, 17)
    phone = factory.Sequence(lambda n: f"+1608556{n % 10000:04d}")
    state = "WI"
    preferred_language = "en"


class PrescriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prescriber

    organization = factory.SubFactory(OrganizationFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    npi = factory.Sequence(lambda n: valid_npi(50000 + n))


class CoverageFactory(factory.django.DjangoModelFactory):
    """A Part D plan with a $10 copay, in force since 2025."""

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
    effective_from = dt.date(2025, 1, 1)
    rules_state = "WI"


class PrescriptionFactory(factory.django.DjangoModelFactory):
    """One tablet a day, 30 a fill, 8 refills left; reconciliation not yet decided."""

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


class SyncPrescriptionFactory(PrescriptionFactory):
    """A maintenance prescription reconciliation has put in sync."""

    drug = factory.SubFactory(SyncDrugFactory)
    sync_decision = SyncDecision.SYNCED


class FillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fill

    prescription = factory.SubFactory(PrescriptionFactory)
    organization = factory.SelfAttribute("prescription.organization")
    fill_date = dt.date(2026, 10, 1)
    quantity = Decimal("30")
    days_supply = 30
    fill_number = 1
