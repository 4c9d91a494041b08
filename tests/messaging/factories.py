"""Factories for messaging tests (patients are made here: tests/patients/factories.py
belongs to another app's tests)."""

from __future__ import annotations

from datetime import date

import factory

from patients.models import Patient


class PatientFactory(factory.django.DjangoModelFactory):
    """Needs organization=...; phones are unique fictional +1 608 555 numbers."""

    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = "Example"
    date_of_birth = date(1950, 5, 17)
    phone = factory.Sequence(lambda n: f"+1608555{1000 + n % 9000:04d}")
    preferred_language = "en"
