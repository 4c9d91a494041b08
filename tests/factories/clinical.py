"""Factories of the clinical record: conditions, allergies, immunizations."""

from __future__ import annotations

import datetime as dt

import factory

from patients.models import Allergy, Condition, Immunization
from tests.factories.records import PatientFactory


class ConditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Condition

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    icd10_code = "E11.9"
    description = "Type 2 diabetes mellitus without complications"


class AllergyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Allergy

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    substance = "Penicillin"
    reaction = "Hives"


class ImmunizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Immunization

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    vaccine = "influenza"
    administered_on = dt.date(2026, 9, 15)
