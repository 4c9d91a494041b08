"""The clinical record and assessments by API: writes validated and audited, bad input a 400
naming the field with nothing written, tenants apart, versions that never change a response."""

from __future__ import annotations

import pytest

from medsync.models import AuditEvent
from medsync.tenancy import scopes_disabled, tenant_scope
from patients.models import (
    AssessmentResponse,
    AssessmentTemplate,
    AssessmentVersion,
    Condition,
    Immunization,
    InpatientStay,
)
from tests.factories import ConditionFactory, ImmunizationFactory

pytestmark = pytest.mark.django_db

OWN = {
    "questions": [
        {"id": "dizzy", "kind": "yes_no", "text": "Dizzy on standing?", "required": True},
        {
            "id": "falls",
            "kind": "number",
            "text": "Falls this month?",
            "required": True,
            "min": 0,
            "show_if": {"question": "dizzy", "equals": "yes"},
        },
    ],
    "flags": [{"label": "Dizzy and falling", "when": {"question": "falls", "at_least": 1}}],
}


def _fields(response):
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def _count(model, org):
    with tenant_scope(org):
        return model.objects.count()


def _audited(action):
    with scopes_disabled():
        return AuditEvent.objects.filter(action=action).count()


def test_it_records_a_condition_with_its_code_written_with_the_dot(api_client_for, maple, ada):
    client = api_client_for(maple.pharmacist)
    response = client.post(
        "/api/v1/conditions/",
        {"patient": str(ada.public_id), "icd10_code": "e119", "description": "Type 2 diabetes"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    with tenant_scope(maple.organization):
        condition = Condition.objects.get()
    assert condition.icd10_code == "E11.9" and condition.recorded_by == maple.pharmacist
    assert _audited("patients.condition.created") == 1


@pytest.mark.parametrize("code", ["XYZ", "E1", "11.9", "E11.12345", "E11-9"])
def test_an_unknown_icd10_format_is_a_400_naming_the_field_and_writes_nothing(
    api_client_for, maple, ada, code
):
    response = api_client_for(maple.pharmacist).post(
        "/api/v1/conditions/",
        {"patient": str(ada.public_id), "icd10_code": code, "description": "x"},
        format="json",
    )
    assert "ICD-10-CM" in _fields(response)["icd10_code"][0]
    assert _count(Condition, maple.organization) == 0


def test_an_allergy_and_a_stay_are_recorded_and_a_stay_that_ends_before_it_begins_is_refused(
    api_client_for, maple, ada
):
    client = api_client_for(maple.pharmacist)
    response = client.post(
        "/api/v1/allergies/",
        {
            "patient": str(ada.public_id),
            "substance": "Penicillin",
            "reaction": "Hives",
            "severity": "moderate",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    bad = client.post(
        "/api/v1/inpatient-stays/",
        {"patient": str(ada.public_id), "admitted_on": "2026-10-10", "discharged_on": "2026-10-01"},
        format="json",
    )
    assert list(_fields(bad)) == ["discharged_on"]
    assert _count(InpatientStay, maple.organization) == 0
    good = client.post(
        "/api/v1/inpatient-stays/",
        {
            "patient": str(ada.public_id),
            "admitted_on": "2026-10-01",
            "discharged_on": "2026-10-05",
            "kind": "skilled_nursing",
        },
        format="json",
    )
    assert good.status_code == 201, good.json()
    with tenant_scope(maple.organization):
        stay = InpatientStay.objects.get()
    assert stay.source == "record" and stay.reported_by == maple.pharmacist


def test_an_immunization_of_an_unknown_vaccine_is_refused(api_client_for, maple, ada):
    client = api_client_for(maple.pharmacist)
    bad = client.post(
        "/api/v1/immunizations/",
        {"patient": str(ada.public_id), "vaccine": "smallpox", "administered_on": "2026-01-01"},
        format="json",
    )
    assert list(_fields(bad)) == ["vaccine"]
    good = client.post(
        "/api/v1/immunizations/",
        {
            "patient": str(ada.public_id),
            "vaccine": "zoster",
            "product": "Shingrix",
            "administered_on": "2026-01-01",
            "lot_number": "AB12",
            "source": "administered",
        },
        format="json",
    )
    assert good.status_code == 201, good.json()
    assert _count(Immunization, maple.organization) == 1


def test_birch_cannot_read_list_or_write_maples_clinical_records(api_client_for, maple, birch, ada):
    with tenant_scope(maple.organization):
        condition = ConditionFactory(patient=ada)
    client = api_client_for(birch.pharmacist)
    assert client.get(f"/api/v1/conditions/{condition.public_id}/").status_code == 404
    assert client.get("/api/v1/conditions/").json()["count"] == 0
    assert client.delete(f"/api/v1/conditions/{condition.public_id}/").status_code == 404
    response = client.post(
        "/api/v1/conditions/",
        {"patient": str(ada.public_id), "icd10_code": "I10", "description": "x"},
        format="json",
    )
    assert list(_fields(response)) == ["patient"]
    assert client.get(f"/api/v1/patients/{ada.public_id}/vaccines-due/").status_code == 404
    assert _count(Condition, maple.organization) == 1


def test_the_list_costs_a_fixed_number_of_queries(
    api_client_for, maple, ada, django_assert_max_num_queries
):
    with tenant_scope(maple.organization):
        for code in ("I10", "E11.9", "E78.5"):
            ConditionFactory(patient=ada, icd10_code=code)
    client = api_client_for(maple.pharmacist)
    with django_assert_max_num_queries(12):
        body = client.get(f"/api/v1/conditions/?patient={ada.public_id}").json()
    assert body["count"] == 3


def test_the_library_is_installed_once_with_version_one(api_client_for, maple):
    client = api_client_for(maple.pharmacist)
    first = client.get("/api/v1/assessment-templates/").json()
    second = client.get("/api/v1/assessment-templates/").json()
    keys = {t["key"] for t in second["results"]}
    assert keys == {
        "prep_contact",
        "phq",
        "steadi",
        "adherence_barriers",
        "smoking_status",
        "immunization_screening",
    }
    assert first["count"] == second["count"] == 6
    assert {t["version"] for t in second["results"]} == {1}
    assert _count(AssessmentVersion, maple.organization) == 6


def _create_own(client):
    response = client.post(
        "/api/v1/assessment-templates/",
        {"name": "Dizziness check", "definition": OWN, "attach_to_prep": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_bad_definition_is_a_400_naming_the_question_and_writes_nothing(api_client_for, maple):
    broken = {
        "questions": [OWN["questions"][1], OWN["questions"][0]]
    }  # condition before its question
    response = api_client_for(maple.pharmacist).post(
        "/api/v1/assessment-templates/", {"name": "Broken", "definition": broken}, format="json"
    )
    assert "questions[0].show_if" in _fields(response)["definition"][0]
    assert _count(AssessmentTemplate, maple.organization) == 0


def test_a_version_change_never_alters_a_completed_response(api_client_for, maple, ada):
    client = api_client_for(maple.pharmacist)
    own = _create_own(client)
    taken = client.post(
        "/api/v1/assessment-responses/",
        {
            "patient": str(ada.public_id),
            "template": own["id"],
            "answers": {"dizzy": "yes", "falls": 2},
        },
        format="json",
    )
    assert taken.status_code == 201, taken.json()
    assert taken.json()["flags"] == [
        {"label": "Dizzy and falling", "question": "falls", "answer": "2"}
    ]
    changed = {**OWN, "questions": [{**OWN["questions"][0], "text": "Dizzy at all?"}]}
    changed.pop("flags")
    updated = client.patch(
        f"/api/v1/assessment-templates/{own['id']}/", {"definition": changed}, format="json"
    )
    assert updated.status_code == 200 and updated.json()["version"] == 2
    again = client.get(f"/api/v1/assessment-responses/{taken.json()['id']}/").json()
    assert again["version"] == 1 and again["answers"] == {"dizzy": True, "falls": 2}
    with tenant_scope(maple.organization):
        response = AssessmentResponse.objects.select_related("version").get()
        assert response.version.definition["questions"][0]["text"] == "Dizzy on standing?"
        assert len(response.version.definition["questions"]) == 2
        with pytest.raises(ValueError):
            response.version.save()
    unchanged = client.patch(
        f"/api/v1/assessment-templates/{own['id']}/", {"definition": changed}, format="json"
    )
    assert unchanged.json()["version"] == 2  # the same questions keep their version


def test_an_answer_to_a_question_of_another_assessment_is_a_400_and_writes_nothing(
    api_client_for, maple, ada
):
    client = api_client_for(maple.pharmacist)
    own = _create_own(client)
    response = client.post(
        "/api/v1/assessment-responses/",
        {
            "patient": str(ada.public_id),
            "template": own["id"],
            "answers": {"dizzy": "no", "phq1": "3"},
        },
        format="json",
    )
    assert _fields(response)["answers"] == ["phq1: Not a question of this assessment."]
    assert _count(AssessmentResponse, maple.organization) == 0


def test_a_positive_phq2_requires_the_phq9_and_raises_a_flag(api_client_for, maple, ada):
    client = api_client_for(maple.pharmacist)
    phq = next(
        t
        for t in client.get("/api/v1/assessment-templates/").json()["results"]
        if t["key"] == "phq"
    )
    post = lambda answers: client.post(  # noqa: E731
        "/api/v1/assessment-responses/",
        {"patient": str(ada.public_id), "template": phq["id"], "answers": answers},
        format="json",
    )
    short = post({"phq1": "3", "phq2": "1"})
    assert "phq3: Required." in _fields(short)["answers"]
    full = post({"phq1": "3", "phq2": "1", **{f"phq{n}": "0" for n in range(3, 10)}})
    assert full.status_code == 201 and full.json()["score"] == 4
    assert full.json()["flags"][0]["label"].startswith("Positive PHQ-2")


def test_shipped_questions_are_read_only_and_the_prep_contact_stays_attached(api_client_for, maple):
    client = api_client_for(maple.pharmacist)
    templates = {t["key"]: t for t in client.get("/api/v1/assessment-templates/").json()["results"]}
    response = client.patch(
        f"/api/v1/assessment-templates/{templates['steadi']['id']}/",
        {"definition": OWN},
        format="json",
    )
    assert list(_fields(response)) == ["definition"]
    response = client.patch(
        f"/api/v1/assessment-templates/{templates['prep_contact']['id']}/",
        {"attach_to_prep": False},
        format="json",
    )
    assert list(_fields(response)) == ["attach_to_prep"]
    copy = client.post(f"/api/v1/assessment-templates/{templates['steadi']['id']}/copy/")
    assert copy.status_code == 201 and copy.json()["shipped"] is False
    assert copy.json()["definition"] == templates["steadi"]["definition"]


def test_birch_cannot_see_or_use_maples_assessments(api_client_for, maple, birch, ada, bob):
    own = _create_own(api_client_for(maple.pharmacist))
    client = api_client_for(birch.pharmacist)
    assert client.get(f"/api/v1/assessment-templates/{own['id']}/").status_code == 404
    response = client.post(
        "/api/v1/assessment-responses/",
        {"patient": str(bob.public_id), "template": own["id"], "answers": {"dizzy": "no"}},
        format="json",
    )
    assert list(_fields(response)) == ["template"]
    assert _count(AssessmentResponse, birch.organization) == 0


def test_vaccines_due_follow_the_schedule_the_pharmacy_saves(api_client_for, maple, ada):
    with tenant_scope(maple.organization):
        ImmunizationFactory(patient=ada, vaccine="influenza", administered_on="2026-09-10")
        ImmunizationFactory(patient=ada, vaccine="tdap", administered_on="2020-01-01")
    client = api_client_for(maple.pharmacist)
    url = f"/api/v1/patients/{ada.public_id}/vaccines-due/?on=2026-10-15"
    # Ada (factory birth date) is screened against the shipped schedule first.
    shipped_keys = {d["key"] for d in client.get(url).json()}
    assert "influenza" not in shipped_keys and "tdap" not in shipped_keys
    bad = client.put(
        "/api/v1/immunization-schedule/",
        {
            "document": {
                "vaccines": [{"key": "hepb", "name": "Hep B", "rule": "series", "min_age": 19}]
            }
        },
        format="json",
    )
    assert "vaccines[0].doses" in _fields(bad)["document"][0]
    own = {
        "vaccines": [{"key": "tdap", "name": "Tdap", "rule": "every", "years": 5, "min_age": 19}]
    }
    assert (
        client.put("/api/v1/immunization-schedule/", {"document": own}, format="json").status_code
        == 200
    )
    assert [d["key"] for d in client.get(url).json()] == ["tdap"]  # 2020 is over 5 years ago
    assert client.get("/api/v1/immunization-schedule/").json()["shipped"] is False
    assert _audited("patients.vaccines_due.screened") == 2
