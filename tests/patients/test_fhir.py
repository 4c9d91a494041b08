"""FHIR R4 in and out: a Bundle goes through the same preview and confirm as CSV, with
per-resource errors; a patient's record comes out as a Bundle valid against R4; the sample
bundle round-trips."""

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from fhir.resources.R4B.bundle import Bundle

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.catalog import drug_catalog_load
from patients.imports import ImportFileInput, run_import
from patients.models import Coverage, Fill, Patient, Prescriber, Prescription
from patients.services import PATIENT_VIEWED
from tests.factories import PharmacyFactory

pytestmark = pytest.mark.django_db
TODAY = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
SAMPLE = Path(__file__).parents[2] / "patients" / "samples" / "fhir_bundle.json"


@pytest.fixture
def store(maple):
    drug_catalog_load()  # a transactional test before this one may have flushed the catalog
    PharmacyFactory(organization=maple.organization, ncpdp_id="5012345", state="WI")
    return maple


def sample() -> dict:
    return json.loads(SAMPLE.read_text())


def bundle_import(organization, bundle, apply=True):
    text = bundle if isinstance(bundle, str) else json.dumps(bundle)
    with time_machine.travel(TODAY, tick=False), tenant_scope(organization):
        [result] = run_import(organization, [ImportFileInput("bundle.json", text)], apply=apply)
    return result


def test_the_sample_bundle_validates_against_r4_and_imports_without_a_rejection(store):
    Bundle.model_validate(sample())
    preview = bundle_import(store.organization, sample(), apply=False)
    assert preview.kind == "fhir"
    assert (preview.created, preview.rejected) == (8, 0), preview.errors
    with tenant_scope(store.organization):
        assert not Patient.objects.exists()
    result = bundle_import(store.organization, sample())
    assert (result.created, result.rejected) == (8, 0)
    with tenant_scope(store.organization):
        margaret = Patient.objects.get(mrn="F-2001")
        assert (margaret.first_name, margaret.phone, margaret.sex) == (
            "Margaret",
            "+16085550171",
            "F",
        )
        coverage = Coverage.objects.get(patient=margaret)
        assert (coverage.bin, coverage.pcn, coverage.member_id) == ("610014", "MEDDPRIME", "V2001")
        assert coverage.copay_amount == Decimal("10.00")
        twice = Prescription.objects.get(rx_number="3200002")
        assert twice.daily_dose == 2 and twice.quantity_per_fill == 60  # 1 tablet x 2 a day
        assert twice.prescriber.npi == "1457390163"
        assert Prescriber.objects.count() == 1
        handed = Fill.objects.get(prescription=twice, fill_date=dt.date(2026, 9, 3))
        assert handed.picked_up_at == dt.datetime(2026, 9, 3, 20, 20, tzinfo=dt.UTC)
        assert handed.fill_number == 1


def test_bad_resources_are_rejected_by_entry_and_path_and_the_rest_import(store):
    bundle = sample()
    entries = bundle["entry"]
    second = copy.deepcopy(entries[0])
    second["fullUrl"] = "urn:uuid:8d3c6b2e-0009-4a51-9a52-000000000009"
    second["resource"]["birthDate"] = "not-a-date"  # fails the R4 structure
    second["resource"]["identifier"][0]["value"] = "F-2002"
    entries.append(second)
    # The first prescription's drug only as RxNorm; the second's quantity beyond its column.
    entries[3]["resource"]["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "617310"}]
    }
    entries[6]["resource"]["dispenseRequest"]["quantity"]["value"] = 99999999999
    result = bundle_import(store.organization, bundle)
    reasons = {p.line: p.reason for p in result.errors}
    assert reasons[9].startswith("Bundle.entry[9].resource (Patient).birthDate:")
    assert "RxNorm 617310 but no NDC coding" in reasons[3]
    assert reasons[6].startswith(
        "Bundle.entry[6].resource (MedicationRequest): quantity 99999999999"
    )
    with tenant_scope(store.organization):
        assert list(Patient.objects.values_list("mrn", flat=True)) == ["F-2001"]
        assert list(Prescription.objects.values_list("rx_number", flat=True)) == []
    assert "rx_number 3200001 matches no prescription" in reasons[4]
    assert result.created == 2  # the patient and the coverage


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "The file is not JSON"),
        ('{"resourceType": "Patient"}', "not a FHIR Bundle"),
        ('{"resourceType": "Bundle", "type": "searchset"}', "Bundle.type must be"),
    ],
)
def test_a_file_that_is_no_bundle_is_rejected_whole(store, text, reason):
    result = bundle_import(store.organization, text)
    assert reason in result.errors[0].reason
    assert result.created == 0


def test_the_export_round_trips_the_worked_patient(store, api_client_for):
    bundle_import(store.organization, sample())
    with tenant_scope(store.organization):
        margaret = Patient.objects.get(mrn="F-2001")
    client = api_client_for(store.pharmacist)
    response = client.get(f"/api/v1/patients/{margaret.public_id}/fhir/")
    assert response.status_code == 200
    exported = response.json()
    Bundle.model_validate(exported)
    kinds = sorted(e["resource"]["resourceType"] for e in exported["entry"])
    assert kinds == sorted(e["resource"]["resourceType"] for e in sample()["entry"])

    # Compare what matters with the bundle that came in.
    def requests(bundle):
        return sorted(
            (
                r["identifier"][0]["value"],
                r["medicationCodeableConcept"]["coding"][0]["code"],
                r["dispenseRequest"]["quantity"]["value"],
                r["authoredOn"],
                r["dosageInstruction"][0]["text"],
            )
            for r in (e["resource"] for e in bundle["entry"])
            if r["resourceType"] == "MedicationRequest"
        )

    assert requests(exported) == requests(sample())
    # Importing the export back changes nothing.
    again = bundle_import(store.organization, exported)
    assert (again.created, again.updated, again.rejected) == (0, 0, 0), again.errors
    assert again.unchanged == 8
    with tenant_scope(store.organization):
        assert AuditEvent.objects.filter(action="patients.fhir.exported").count() == 1
        viewed = AuditEvent.objects.filter(action=PATIENT_VIEWED, object_id=str(margaret.public_id))
        assert viewed.filter(metadata__via="fhir").count() == 1


def test_birch_gets_a_404_for_maples_patient_and_its_import_never_touches_maple(
    store, birch, api_client_for
):
    bundle_import(store.organization, sample())
    with tenant_scope(store.organization):
        margaret = Patient.objects.get(mrn="F-2001")
        before = Prescription.objects.count()
    response = api_client_for(birch.pharmacist).get(f"/api/v1/patients/{margaret.public_id}/fhir/")
    assert response.status_code == 404
    # Birch imports the same bundle: its rows are Birch's, Maple's are untouched.
    PharmacyFactory(organization=birch.organization, ncpdp_id="5012399", state="NC")
    result = bundle_import(birch.organization, sample())
    assert result.created == 0 or result.rejected > 0  # Birch has two pharmacies, none 5012345
    with tenant_scope(store.organization):
        assert Prescription.objects.count() == before
        assert Patient.objects.count() == 1


def test_a_limited_technician_cannot_export_a_patient_of_another_store(store, api_client_for):
    bundle_import(store.organization, sample())
    with tenant_scope(store.organization):
        margaret = Patient.objects.get(mrn="F-2001")
        elm = store.pharmacies[1]
        Patient.objects.filter(pk=margaret.pk).update(home_pharmacy=elm)
    response = api_client_for(store.technician).get(f"/api/v1/patients/{margaret.public_id}/fhir/")
    assert response.status_code == 404


def test_the_import_command_takes_a_bundle(store, capsys):
    from django.core.management import call_command

    with time_machine.travel(TODAY, tick=False):
        call_command("import_records", "--org", "maple", str(SAMPLE))
    out = capsys.readouterr().out
    assert "fhir_bundle.json (fhir, 8 rows)" in out and "0 rejected" in out, out
    with tenant_scope(store.organization):
        assert Fill.objects.count() == 4
