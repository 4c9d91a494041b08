"""Helpers for the sync engine's tests: a patient with prescriptions and fill history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from medsync.tenancy import tenant_scope
from scheduling import services
from tests.factories import (
    CoverageFactory,
    FillFactory,
    PatientFactory,
    SyncPrescriptionFactory,
)


@dataclass
class SyncPatient:
    patient: object
    prescriptions: list
    coverage: object


def make_patient(
    pharmacy,
    *,
    due_dates: list[dt.date],
    copay: Decimal | None = Decimal("10.00"),
    coinsurance: Decimal | None = None,
    days_supply: int = 30,
    **patient_fields,
) -> SyncPatient:
    """A patient of `pharmacy` with one synced Rx per due date (last fill = due - 30 days)."""
    organization = pharmacy.organization
    patient = PatientFactory(organization=organization, home_pharmacy=pharmacy, **patient_fields)
    coverage = CoverageFactory(
        patient=patient,
        copay_amount=copay if coinsurance is None else None,
        coinsurance_percent=coinsurance,
    )
    prescriptions = []
    for due in due_dates:
        rx = SyncPrescriptionFactory(patient=patient, pharmacy=pharmacy, coverage=coverage)
        FillFactory(
            prescription=rx,
            fill_date=due - dt.timedelta(days=days_supply),
            days_supply=days_supply,
            quantity=Decimal(days_supply),
        )
        prescriptions.append(rx)
    return SyncPatient(patient, prescriptions, coverage)


def enroll(pharmacy, sync_patient: SyncPatient, *, anchor: dt.date, actor=None, **kwargs):
    with tenant_scope(pharmacy.organization):
        return services.enrollment_enroll(
            patient=sync_patient.patient,
            actor=actor,
            prescriptions=sync_patient.prescriptions,
            anchor_date=anchor,
            cycle_days=kwargs.pop("cycle_days", 30),
            consent_given_by=kwargs.pop("consent_given_by", "The patient"),
            consent_method=kwargs.pop("consent_method", "in_person"),
            pharmacy=pharmacy,
            **kwargs,
        )


@pytest.fixture
def make_sync_patient():
    return make_patient


@pytest.fixture
def enroll_patient():
    return enroll
