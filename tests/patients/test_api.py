import pytest
from django_scopes import scopes_disabled

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.models import Fill, Patient, Prescription
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def _error(response):
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def test_it_creates_a_patient_with_a_normalised_phone(api_client_for, maple):
    client = api_client_for(maple.pharmacist)
    response = client.post(
        "/api/v1/patients/",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "date_of_birth": "1950-12-10",
            "phone": "(608) 555-0101",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["phone"] == "+16085550101" and body["mrn"].startswith("MS-")
    with tenant_scope(maple.organization):
        patient = Patient.objects.get(public_id=body["id"])
    assert patient.organization == maple.organization
    with scopes_disabled():
        assert AuditEvent.objects.filter(
            action="patients.patient.created", object_id=body["id"]
        ).exists()


def test_creating_a_patient_needs_the_four_fields(api_client_for, maple):
    response = api_client_for(maple.pharmacist).post("/api/v1/patients/", {}, format="json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) >= {"first_name", "last_name", "date_of_birth", "phone"}


def test_a_bad_phone_is_a_field_error(api_client_for, maple):
    response = api_client_for(maple.pharmacist).post(
        "/api/v1/patients/",
        {"first_name": "A", "last_name": "B", "date_of_birth": "1950-01-01", "phone": "12"},
        format="json",
    )
    assert _error(response)["fields"]["phone"]


def test_a_technician_may_read_but_not_write(api_client_for, maple, ada):
    client = api_client_for(maple.technician)
    assert client.get("/api/v1/patients/").status_code == 200
    response = client.post("/api/v1/patients/", {"first_name": "X"}, format="json")
    assert response.status_code == 403


def test_reading_a_patient_is_audited(api_client_for, maple, ada):
    client = api_client_for(maple.pharmacist)
    assert client.get(f"/api/v1/patients/{ada.public_id}/").status_code == 200
    with scopes_disabled():
        event = AuditEvent.objects.get(action="patients.patient.viewed")
    assert event.object_id == str(ada.public_id) and event.actor == maple.pharmacist
    assert event.metadata == {"via": "api"}


def test_search_by_name_dob_phone_and_rx(api_client_for, maple, ada):
    PatientFactory(organization=maple.organization, first_name="Alan", last_name="Turing")
    client = api_client_for(maple.pharmacist)

    def names(query):
        results = client.get("/api/v1/patients/", {"search": query}).json()["results"]
        return [r["last_name"] for r in results]

    assert names("love") == ["Lovelace"]
    assert names("ada lovelace") == ["Lovelace"]
    assert names("05/17/1950") == ["Lovelace", "Turing"]
    assert names("608-555-0101") == ["Lovelace"]
    assert names("5550001") == ["Lovelace"]
    assert names("nobody") == []


def test_birch_can_neither_list_read_change_delete_nor_reference_maples_records(
    api_client_for, birch, maple, ada, bob
):
    client = api_client_for(birch.pharmacist)
    with tenant_scope(maple.organization):
        rx = ada.prescriptions.get()
        fill = Fill.objects.filter(prescription=rx).first()
        coverage = ada.coverages.get()
    listed = client.get("/api/v1/patients/").json()["results"]
    assert [p["last_name"] for p in listed] == ["Birchman"]
    assert client.get("/api/v1/patients/", {"search": "Lovelace"}).json()["count"] == 0
    for url in [
        f"/api/v1/patients/{ada.public_id}/",
        f"/api/v1/prescriptions/{rx.public_id}/",
        f"/api/v1/fills/{fill.public_id}/",
        f"/api/v1/coverages/{coverage.public_id}/",
    ]:
        assert client.get(url).status_code == 404, url
        assert client.patch(url, {"sig_text": "x"}, format="json").status_code == 404, url
        assert client.delete(url).status_code == 404, url
    assert (
        client.get("/api/v1/prescriptions/", {"patient": str(ada.public_id)}).json()["count"] == 0
    )
    assert client.get("/api/v1/fills/", {"patient": str(ada.public_id)}).json()["count"] == 0
    # Referencing Maple's prescription from a Birch fill fails validation: nothing is made.
    response = client.post(
        "/api/v1/fills/",
        {
            "prescription": str(rx.public_id),
            "fill_date": "2026-11-01",
            "quantity": "30",
            "days_supply": 30,
            "fill_number": 3,
        },
        format="json",
    )
    assert response.status_code == 400 and "prescription" in _error(response)["fields"]
    with tenant_scope(maple.organization):
        assert Fill.objects.count() == 2
        assert Patient.objects.get(pk=ada.pk).status == "active"


def test_fill_validation_gives_field_errors(api_client_for, maple, ada):
    with tenant_scope(maple.organization):
        rx = ada.prescriptions.get()
    client = api_client_for(maple.pharmacist)
    response = client.post(
        "/api/v1/fills/",
        {
            "prescription": str(rx.public_id),
            "fill_date": "2025-01-01",
            "quantity": "-3",
            "days_supply": 0,
            "fill_number": 1,
        },
        format="json",
    )
    fields = _error(response)["fields"]
    assert "before the prescription was written" in fields["fill_date"][0]
    assert "quantity" in fields and "days_supply" in fields
    with tenant_scope(maple.organization):
        assert Fill.objects.count() == 2


def test_deleting_a_patient_marks_it_inactive(api_client_for, maple, ada):
    response = api_client_for(maple.pharmacist).delete(f"/api/v1/patients/{ada.public_id}/")
    assert response.status_code == 204
    with tenant_scope(maple.organization):
        assert Patient.objects.get(pk=ada.pk).status == "inactive"
        assert Fill.objects.count() == 2


def test_deleting_a_prescription_discontinues_it(api_client_for, maple, ada):
    with tenant_scope(maple.organization):
        rx = ada.prescriptions.get()
    api_client_for(maple.pharmacist).delete(f"/api/v1/prescriptions/{rx.public_id}/")
    with tenant_scope(maple.organization):
        assert Prescription.objects.get(pk=rx.pk).status == "discontinued"


def test_prescription_create_takes_an_ndc_in_any_form(api_client_for, maple, ada):
    client = api_client_for(maple.pharmacist)
    response = client.post(
        "/api/v1/prescriptions/",
        {
            "rx_number": "5550002",
            "patient": str(ada.public_id),
            "drug": "00093-7155-98",
            "pharmacy_id": str(maple.pharmacies[0].public_id),
            "sig_text": "1 daily",
            "daily_dose": "1",
            "quantity_per_fill": "30",
            "days_supply": 30,
            "refills_authorized": 5,
            "refills_remaining": 6,
            "written_date": "2026-03-01",
            "expiration_date": "2027-03-01",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "refills_remaining" in str(_error(response))  # the database check, as a field error
    response = client.post(
        "/api/v1/prescriptions/",
        {
            "rx_number": "5550002",
            "patient": str(ada.public_id),
            "drug": "00093-7155-98",
            "pharmacy_id": str(maple.pharmacies[0].public_id),
            "sig_text": "1 daily",
            "daily_dose": "1",
            "quantity_per_fill": "30",
            "days_supply": 30,
            "refills_authorized": 5,
            "refills_remaining": 5,
            "written_date": "2026-03-01",
            "expiration_date": "2027-03-01",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["drug"]["name"] == "Atorvastatin"


def test_drug_catalog_is_read_only_and_searchable_by_ndc(api_client_for, maple, ada):
    client = api_client_for(maple.technician)
    body = client.get("/api/v1/drugs/", {"search": "0093-7155-98"}).json()
    assert [d["ndc"] for d in body["results"]] == ["00093715598"]
    assert client.post("/api/v1/drugs/", {}, format="json").status_code == 405


def test_lists_cost_a_fixed_number_of_queries(
    api_client_for, maple, ada, django_assert_max_num_queries
):
    from tests.factories import FillFactory, PrescriptionFactory

    client = api_client_for(maple.pharmacist)
    with django_assert_max_num_queries(10):
        client.get("/api/v1/patients/")
    with django_assert_max_num_queries(10):
        client.get("/api/v1/fills/")
    for _ in range(25):
        patient = PatientFactory(organization=maple.organization)
        rx = PrescriptionFactory(patient=patient, pharmacy=maple.pharmacies[0])
        FillFactory(prescription=rx)
    with django_assert_max_num_queries(10):
        assert client.get("/api/v1/patients/").json()["count"] == 26
    with django_assert_max_num_queries(10):
        assert client.get("/api/v1/fills/").json()["count"] == 27
    with django_assert_max_num_queries(10):
        client.get("/api/v1/prescriptions/")


def test_coverage_bin_and_cost_sharing_are_validated(api_client_for, maple, ada):
    client = api_client_for(maple.pharmacist)
    response = client.post(
        "/api/v1/coverages/",
        {
            "patient": str(ada.public_id),
            "payer_name": "X",
            "bin": "12AB",
            "plan_type": "commercial",
            "copay_amount": "5.00",
            "coinsurance_percent": "20",
            "effective_from": "2026-01-01",
            "rules_state": "WI",
        },
        format="json",
    )
    fields = _error(response)["fields"]
    assert "bin" in fields and "6 digits" in fields["bin"][0]


def test_prescriber_npi_check_digit_is_verified(api_client_for, maple):
    response = api_client_for(maple.pharmacist).post(
        "/api/v1/prescribers/",
        {"first_name": "Grace", "last_name": "Hopper", "npi": "1234567890"},
        format="json",
    )
    assert "check digit" in _error(response)["fields"]["npi"][0]


@pytest.mark.parametrize(
    ("ndc", "message"),
    [("12345", "11 digits"), ("0009371559", "needs its hyphens"), ("99999-9999-99", "catalog")],
)
def test_prescription_ndc_errors_are_specific(api_client_for, maple, ada, ndc, message):
    response = api_client_for(maple.pharmacist).post(
        "/api/v1/prescriptions/",
        {
            "rx_number": "9",
            "patient": str(ada.public_id),
            "drug": ndc,
            "pharmacy_id": str(maple.pharmacies[0].public_id),
            "sig_text": "daily",
            "daily_dose": "1",
            "quantity_per_fill": "30",
            "days_supply": 30,
            "written_date": "2026-03-01",
            "expiration_date": "2027-03-01",
        },
        format="json",
    )
    assert message in _error(response)["fields"]["drug"][0]
