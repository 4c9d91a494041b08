"""Sync program rows for report tests and benchmarks: enrollments, cycles, prep contacts and
inpatient stays (pass the patient; the organization follows it)."""

from __future__ import annotations

import datetime as dt

import factory

from patients.models import InpatientStay
from scheduling.models import (
    ConsentMethod,
    ContactOutcome,
    CycleStatus,
    EnrollmentStatus,
    EventChannel,
    PrepContact,
    SyncCycle,
    SyncEnrollment,
)
from tests.factories.platform import PharmacyFactory
from tests.factories.records import PatientFactory


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 17, tzinfo=dt.UTC)


class SyncEnrollmentFactory(factory.django.DjangoModelFactory):
    """Enrolled on 2025-06-02 (noon Central) with consent in person, anchor the same day."""

    class Meta:
        model = SyncEnrollment

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    pharmacy = factory.SubFactory(
        PharmacyFactory, organization=factory.SelfAttribute("..organization")
    )
    status = EnrollmentStatus.ENROLLED
    consent_given_by = "The patient"
    consent_method = ConsentMethod.IN_PERSON
    consent_at = factory.SelfAttribute("enrolled_at")
    invited_at = factory.SelfAttribute("enrolled_at")
    enrolled_at = _at(dt.date(2025, 6, 2))
    anchor_date = factory.LazyAttribute(lambda o: o.enrolled_at.date())


class SyncCycleFactory(factory.django.DjangoModelFactory):
    """A cycle of the enrollment on `anchor_date` (prep 7 days before, pre-fill 3)."""

    class Meta:
        model = SyncCycle

    enrollment = factory.SubFactory(SyncEnrollmentFactory)
    organization = factory.SelfAttribute("enrollment.organization")
    patient = factory.SelfAttribute("enrollment.patient")
    pharmacy = factory.SelfAttribute("enrollment.pharmacy")
    anchor_date = dt.date(2025, 7, 2)
    prep_due_on = factory.LazyAttribute(lambda o: o.anchor_date - dt.timedelta(days=7))
    prefill_due_on = factory.LazyAttribute(lambda o: o.anchor_date - dt.timedelta(days=3))
    status = CycleStatus.SCHEDULED


class PrepContactFactory(factory.django.DjangoModelFactory):
    """A confirmed prep call by phone, 6 days before the cycle's anchor."""

    class Meta:
        model = PrepContact

    cycle = factory.SubFactory(SyncCycleFactory)
    organization = factory.SelfAttribute("cycle.organization")
    channel = EventChannel.PHONE
    outcome = ContactOutcome.CONFIRMED
    contacted_at = factory.LazyAttribute(lambda o: _at(o.cycle.anchor_date - dt.timedelta(days=6)))


class InpatientStayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InpatientStay

    patient = factory.SubFactory(PatientFactory)
    organization = factory.SelfAttribute("patient.organization")
    admitted_on = dt.date(2025, 3, 1)
    discharged_on = dt.date(2025, 3, 5)
