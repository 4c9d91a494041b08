import pytest

from tests.factories import (
    CoverageFactory,
    DrugFactory,
    FillFactory,
    PatientFactory,
    PrescriptionFactory,
)


@pytest.fixture
def ada(maple):
    """A Maple patient with one statin prescription, two fills and Part D coverage."""
    patient = PatientFactory(
        organization=maple.organization,
        mrn="M-ADA",
        first_name="Ada",
        last_name="Lovelace",
        phone="+16085550101",
    )
    CoverageFactory(patient=patient)
    rx = PrescriptionFactory(
        patient=patient,
        pharmacy=maple.pharmacies[0],
        rx_number="5550001",
        drug=DrugFactory(ndc="00093715598", name="Atorvastatin"),
    )
    FillFactory(prescription=rx, fill_date="2026-09-01")
    FillFactory(prescription=rx, fill_date="2026-10-01")
    return patient


@pytest.fixture
def bob(birch):
    patient = PatientFactory(
        organization=birch.organization, mrn="B-BOB", first_name="Bob", last_name="Birchman"
    )
    rx = PrescriptionFactory(patient=patient, pharmacy=birch.pharmacies[0], rx_number="6660001")
    FillFactory(prescription=rx)
    CoverageFactory(patient=patient)
    return patient
