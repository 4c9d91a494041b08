"""Small factories for the sync engine's tests (independent of tests/patients).

Pass organization= (or a patient) explicitly: no tenant scope is needed to build rows.
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
    Prescription,
    SyncDecision,
    TherapeuticClass,
)
from tests.factories import OrganizationFactory, PharmacyFactory


class SyncDrugFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Drug
        django_get_or_create = ("ndc",)

    ndc = factory.Sequence(lambda n: f"5{n:010d}")
    name = factory.Sequence(lambda n: f"Syncopril {n}")
    generic_name = factory.SelfAttribute("name")
    strength = "10 mg"
    dosage_form = DosageForm.TABLET
    package_size = Decimal("1000")
    package_unit = "EA"
    therapeutic_classes = factory.LazyFunction(lambda: [TherapeuticClass.RAS_ANTAGONIST])


class InhalerFactory(SyncDrugFactory):
    name = factory.Sequence(lambda n: f"Breathewell {n} HFA")
    strength = "90 mcg/actuation"
    dosage_form = DosageForm.INHALER
    package_size = Decimal("200")
    package_unit = "EA"
    unit_of_use = True
    therapeutic_classes = factory.LazyFunction(lambda: [TherapeuticClass.COPD_INHALER])


class SyncPatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    organization = factory.SubFactory(OrganizationFactory)
    mrn = factory.Sequence(lambda n: f"SYN{n:06d}")
    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = factory.Sequence(lambda n: f"Synctest{n}")
    date_of_birth = dt.date(1948, 3, 2)
    phone = factory.Sequence(lambda n: f"+1608556{n % 10000:04d}")
    state = "WI"


class SyncCoverageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coverage

    patient = factory.SubFactory(SyncPatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    payer_name = "Acme Part D"
    bin = "610014"
    pcn = "MEDDPRIME"
    group = "PDPGRP"
    member_id = factory.Sequence(lambda n: f"S{n:08d}")
    plan_type = PlanType.MEDICARE_PART_D
    copay_amount = Decimal("10.00")
    effective_from = dt.date(2025, 1, 1)
    rules_state = "WI"


class SyncPrescriptionFactory(factory.django.DjangoModelFactory):
    """A synced maintenance prescription, one tablet a day, 30 a fill."""

    class Meta:
        model = Prescription

    patient = factory.SubFactory(SyncPatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    pharmacy = factory.SubFactory(
        PharmacyFactory, organization=factory.SelfAttribute("..organization")
    )
    rx_number = factory.Sequence(lambda n: f"{8000000 + n}")
    drug = factory.SubFactory(SyncDrugFactory)
    sig_text = "Take 1 tablet by mouth daily"
    daily_dose = Decimal("1")
    quantity_per_fill = Decimal("30")
    days_supply = 30
    refills_authorized = 11
    refills_remaining = 8
    written_date = dt.date(2026, 1, 5)
    expiration_date = dt.date(2027, 1, 5)
    sync_decision = SyncDecision.SYNCED


class SyncFillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fill

    prescription = factory.SubFactory(SyncPrescriptionFactory)
    organization = factory.SelfAttribute("prescription.organization")
    fill_date = dt.date(2026, 10, 1)
    quantity = Decimal("30")
    days_supply = 30
    fill_number = 1
