"""Issue 10, the records side: coverage on every prescription (defect 1), prices and cost
sharing (defect 2), API validation (defect 12), PDC flags and quantity remaining (defect 11)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from medsync.tenancy import tenant_scope
from patients.imports import ImportFileInput, run_import
from patients.models import Coverage, Patient, Prescription, PriceListEntry
from tests.factories import CoverageFactory, PatientFactory, valid_npi
from tests.patients.test_imports import COVERAGE, PATIENTS, at_main_st, prescriptions_csv

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


def _error(response):
    return response.json()["error"]


def _import(org, files, apply=True):
    with time_machine.travel(TODAY, tick=False), tenant_scope(org):
        return {r.kind: r for r in run_import(org, files, apply=apply)}


def test_imported_prescriptions_bill_the_primary_coverage_and_track_quantity(maple, catalog):
    ncpdp = maple.pharmacies[0].ncpdp_id
    files = [
        ImportFileInput("patients.csv", PATIENTS),
        ImportFileInput("coverage.csv", COVERAGE),
        ImportFileInput("rx.csv", at_main_st(prescriptions_csv(valid_npi(777)), ncpdp)),
    ]
    results = _import(maple.organization, files)
    assert results["prescriptions"].rejected == 0, results["prescriptions"].errors
    with tenant_scope(maple.organization):
        by_number = {rx.rx_number: rx for rx in Prescription.objects.select_related("coverage")}
        # Before: coverage was never set on an imported prescription.
        assert by_number["1000001"].coverage.payer_name == "Acme Part D"
        assert by_number["1000003"].coverage.payer_name == "Blue Commercial"
        # 30 a fill, 11 refills: 360 authorized; 9 refills left: 270 remaining.
        assert by_number["1000001"].quantity_authorized_total == Decimal("360")
        assert by_number["1000001"].quantity_remaining == Decimal("270")
        # 90 a fill, 3 refills, none used yet: the original fill counts (4 x 90).
        assert by_number["1000003"].quantity_remaining == Decimal("360")


def test_a_coverage_column_names_the_coverage_or_rejects_the_row(maple, catalog):
    ncpdp = maple.pharmacies[0].ncpdp_id
    base = [ImportFileInput("patients.csv", PATIENTS), ImportFileInput("cov.csv", COVERAGE)]
    _import(maple.organization, base)
    with tenant_scope(maple.organization):
        patient = Patient.objects.get(mrn="P001")
        CoverageFactory(
            patient=patient,
            organization=maple.organization,
            payer_name="Second Plan",
            bin="004336",
            member_id="SEC1",
            priority=2,
        )
    rx = (
        "rx_number,mrn,ndc,sig,daily_dose,quantity,days_supply,refills_authorized,"
        "written_date,pharmacy_ncpdp,coverage_member_id\n"
        f"2000001,P001,00093-7155-98,Take 1 tablet daily,1,30,30,5,2026-06-01,{ncpdp},SEC1\n"
        f"2000002,P001,00093-7155-98,Take 1 tablet daily,1,30,30,5,2026-06-01,{ncpdp},NOPE\n"
    )
    result = _import(maple.organization, [ImportFileInput("rx.csv", rx)])["prescriptions"]
    assert result.created == 1 and result.rejected == 1
    assert "coverage_member_id NOPE matches none" in result.errors[0].reason
    with tenant_scope(maple.organization):
        assert Prescription.objects.get(rx_number="2000001").coverage.payer_name == "Second Plan"


def test_price_list_and_pdc_flags_import(maple):
    ncpdp = maple.pharmacies[0].ncpdp_id
    prices = (
        "ndc,acquisition_cost,usual_and_customary,pharmacy_ncpdp\n"
        f"00093-7155-98,0.05,$0.30,{ncpdp}\n"
        f"bad,0.05,0.30,{ncpdp}\n"
    )
    patients = PATIENTS.replace(
        "mrn,first_name,last_name,date_of_birth,phone,sex,state,household",
        "mrn,first_name,last_name,date_of_birth,phone,sex,state,household,hospice,esrd",
    )
    patients = patients.replace("Lovelace home\n", "Lovelace home,yes,\n").replace(
        "M,WI,\n", "M,WI,,no,Y\n"
    )
    results = _import(
        maple.organization,
        [ImportFileInput("prices.csv", prices), ImportFileInput("patients.csv", patients)],
    )
    assert (results["prices"].created, results["prices"].rejected) == (1, 1)
    with tenant_scope(maple.organization):
        entry = PriceListEntry.objects.get()
        assert (entry.ndc, entry.acquisition_cost, entry.usual_and_customary) == (
            "00093715598",
            Decimal("0.05"),
            Decimal("0.30"),
        )
        flags = {p.mrn: (p.hospice, p.esrd) for p in Patient.objects.all()}
        assert flags == {"P001": (True, False), "P002": (False, True)}


@pytest.fixture
def catalog(db):
    from tests.factories import DrugFactory

    DrugFactory(ndc="00093715598", name="Atorvastatin")
    DrugFactory(ndc="00093715698", name="Tramadol")


def rx_body(patient, maple, **extra):
    return {
        "rx_number": "5550009",
        "patient": str(patient.public_id),
        "drug": "00093-7155-98",
        "pharmacy_id": str(maple.pharmacies[0].public_id),
        "sig_text": "Take 1 tablet daily",
        "daily_dose": "1",
        "quantity_per_fill": "30",
        "days_supply": 30,
        "refills_authorized": 5,
        "refills_remaining": 5,
        "written_date": "2026-03-01",
        "expiration_date": "2027-03-01",
        **extra,
    }


def test_the_prescription_api_reads_and_writes_the_coverage(api_client_for, maple, catalog):
    client = api_client_for(maple.pharmacist)
    ada = PatientFactory(organization=maple.organization)
    bob = PatientFactory(organization=maple.organization)
    with tenant_scope(maple.organization):
        mine = CoverageFactory(patient=ada, organization=maple.organization)
        theirs = CoverageFactory(patient=bob, organization=maple.organization)
    response = client.post(
        "/api/v1/prescriptions/",
        rx_body(ada, maple, coverage=str(theirs.public_id)),
        format="json",
    )
    assert response.status_code == 400
    assert "coverage" in _error(response)["fields"]
    response = client.post(
        "/api/v1/prescriptions/", rx_body(ada, maple, coverage=str(mine.public_id)), format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["coverage"] == str(mine.public_id)
    rx_id = response.json()["id"]
    response = client.patch(f"/api/v1/prescriptions/{rx_id}/", {"coverage": None}, format="json")
    assert response.status_code == 200 and response.json()["coverage"] is None


def test_a_future_date_of_birth_is_refused_naming_the_field(api_client_for, maple):
    with time_machine.travel(TODAY, tick=False):
        response = api_client_for(maple.pharmacist).post(
            "/api/v1/patients/",
            {
                "first_name": "Fut",
                "last_name": "Ure",
                "date_of_birth": "2026-12-01",
                "phone": "608-555-0199",
            },
            format="json",
        )
    assert response.status_code == 400
    assert "date_of_birth" in _error(response)["fields"]


def test_the_patient_api_sets_hospice_and_esrd(api_client_for, maple):
    patient = PatientFactory(organization=maple.organization)
    response = api_client_for(maple.pharmacist).patch(
        f"/api/v1/patients/{patient.public_id}/", {"hospice": True, "esrd": True}, format="json"
    )
    assert response.status_code == 200, response.json()
    with tenant_scope(maple.organization):
        patient.refresh_from_db()
    assert (patient.hospice, patient.esrd) == (True, True)


def test_a_coverage_without_a_bin_is_a_400_naming_bin(api_client_for, maple):
    patient = PatientFactory(organization=maple.organization)
    body = {
        "patient": str(patient.public_id),
        "payer_name": "Acme Part D",
        "plan_type": "medicare_part_d",
        "copay_amount": "10.00",
        "effective_from": "2026-01-01",
        "rules_state": "WI",
        "coinsurance_minimum": "1.00",
    }
    response = api_client_for(maple.pharmacist).post("/api/v1/coverages/", body, format="json")
    assert response.status_code == 400
    fields = _error(response)["fields"]
    assert "BIN" in fields["bin"][0]
    response = api_client_for(maple.pharmacist).post(
        "/api/v1/coverages/", {**body, "bin": "610014"}, format="json"
    )
    assert response.status_code == 201, response.json()
    with tenant_scope(maple.organization):
        assert Coverage.objects.get().coinsurance_minimum == Decimal("1.00")
