"""The clinical panel of the patient page, taking an assessment on the record, the library
and the builder: entries validated and audited, tenants apart."""

from __future__ import annotations

import pytest

from medsync.models import AuditEvent
from medsync.tenancy import scopes_disabled, tenant_scope
from patients.assessment_services import assessment_library_install
from patients.models import AssessmentResponse, AssessmentTemplate, Condition, InpatientStay

pytestmark = pytest.mark.django_db

BUILT = {
    "name": "Dizziness check",
    "description": "Our own",
    "attach_to_prep": "1",
    "question_rows": "3",
    "q-0-id": "dizzy",
    "q-0-kind": "yes_no",
    "q-0-text": "Dizzy on standing?",
    "q-0-required": "1",
    "q-0-yes_points": "2",
    "q-1-id": "falls",
    "q-1-kind": "number",
    "q-1-text": "Falls this month?",
    "q-1-required": "1",
    "q-1-min": "0",
    "q-1-if_question": "dizzy",
    "q-1-if_op": "equals",
    "q-1-if_value": "yes",
    "q-2-id": "",
    "q-2-text": "",
    "flag_rows": "2",
    "f-0-label": "Dizzy and falling",
    "f-0-target": "falls",
    "f-0-op": "at_least",
    "f-0-value": "1",
    "f-1-label": "",
}


def test_the_patient_page_shows_the_clinical_panel_and_adds_a_condition(
    client, login, maple, ada, django_assert_max_num_queries
):
    login(maple.pharmacist)
    page = client.get(f"/patients/{ada.public_id}/").content.decode()
    assert f"/patients/{ada.public_id}/clinical/" in page  # loaded by htmx
    with django_assert_max_num_queries(20):
        panel = client.get(f"/patients/{ada.public_id}/clinical/").content.decode()
    assert 'data-testid="clinical-panel"' in panel and 'data-testid="vaccines-due"' in panel
    url = f"/patients/{ada.public_id}/clinical/condition/"
    bad = client.post(
        url,
        {"icd10_code": "diabetes", "description": "x", "status": "active"},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 400 and "ICD-10-CM" in bad.content.decode()
    good = client.post(
        url,
        {"icd10_code": "j449", "description": "COPD", "status": "active"},
        HTTP_HX_REQUEST="true",
    )
    assert good.status_code == 200 and "J44.9" in good.content.decode()
    with tenant_scope(maple.organization):
        assert list(Condition.objects.values_list("icd10_code", flat=True)) == ["J44.9"]
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="patients.condition.created").count() == 1


def test_a_stay_entered_on_the_page_is_recorded_for_pdc(client, login, maple, ada):
    login(maple.pharmacist)
    url = f"/patients/{ada.public_id}/clinical/stay/"
    bad = client.post(
        url,
        {"kind": "hospital", "admitted_on": "2026-10-05", "discharged_on": "2026-10-01"},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 400
    client.post(
        url,
        {"kind": "hospital", "admitted_on": "2026-10-01", "discharged_on": "2026-10-05"},
        HTTP_HX_REQUEST="true",
    )
    with tenant_scope(maple.organization):
        stay = InpatientStay.objects.get()
    assert (stay.source, stay.reported_by) == ("record", maple.pharmacist)


def test_birch_cannot_add_to_maples_patient(client, login, maple, birch, ada):
    login(birch.pharmacist)
    response = client.post(
        f"/patients/{ada.public_id}/clinical/condition/",
        {"icd10_code": "I10", "description": "x", "status": "active"},
    )
    assert response.status_code == 404
    with tenant_scope(maple.organization):
        assert not Condition.objects.exists()


def test_a_technician_cannot_add_to_the_record(client, login, maple, ada):
    login(maple.technician)
    response = client.post(
        f"/patients/{ada.public_id}/clinical/allergy/",
        {"substance": "Sulfa", "kind": "allergy", "severity": "mild"},
    )
    assert response.status_code in (302, 403)
    with tenant_scope(maple.organization):
        assert not AssessmentResponse.objects.exists()


def test_the_builder_saves_a_conditional_question_and_a_flag_then_versions_a_change(
    client, login, maple
):
    login(maple.pharmacist)
    response = client.post("/assessments/new/", BUILT)
    assert response.status_code == 302, response.content.decode()
    with tenant_scope(maple.organization):
        built = AssessmentTemplate.objects.select_related("current_version").get(
            name="Dizziness check"
        )
        definition = built.current_version.definition
    assert built.attach_to_prep and built.current_version.number == 1
    assert definition["questions"][1]["show_if"] == {"question": "dizzy", "equals": "yes"}
    assert definition["questions"][0]["score"] == {"yes": 2}
    assert definition["flags"] == [
        {"label": "Dizzy and falling", "when": {"question": "falls", "at_least": 1}}
    ]
    page = client.get(f"/assessments/{built.public_id}/").content.decode()
    assert 'value="Dizzy on standing?"' in page
    changed = {**BUILT, "q-0-text": "Dizzy or light-headed?"}
    client.post(f"/assessments/{built.public_id}/", changed)
    with tenant_scope(maple.organization):
        built.refresh_from_db()
        assert built.current_version.number == 2
        assert built.versions.count() == 2


def test_the_builder_refuses_a_condition_on_a_later_question_and_saves_nothing(
    client, login, maple
):
    login(maple.pharmacist)
    broken = {**BUILT, "q-0-if_question": "falls", "q-0-if_op": "equals", "q-0-if_value": "1"}
    response = client.post("/assessments/new/", broken)
    assert response.status_code == 400
    assert "questions[0].show_if" in response.content.decode()
    with tenant_scope(maple.organization):
        assert not AssessmentTemplate.objects.filter(shipped=False).exists()


def test_taking_an_assessment_on_the_record_keeps_its_flags(client, login, maple, ada):
    with tenant_scope(maple.organization):
        assessment_library_install()
        steadi = AssessmentTemplate.objects.get(key="steadi")
    login(maple.pharmacist)
    url = f"/patients/{ada.public_id}/assessments/{steadi.public_id}/"
    assert "I have fallen in the past year." in client.get(url).content.decode()
    answers = {
        f"a-steadi-{q}": "no"
        for q in [
            "cane",
            "unsteady",
            "furniture",
            "worried",
            "push_up",
            "curb",
            "toilet",
            "feet",
            "dizzy_meds",
            "sleep_meds",
            "sad",
        ]
    }
    missing = client.post(url, {**answers, "a-steadi-fallen": "yes"})
    assert missing.status_code == 400
    response = client.post(
        url,
        {
            **answers,
            "a-steadi-fallen": "yes",
            "a-steadi-fall_injury": "yes",
            "a-steadi-worried": "yes",
            "a-steadi-unsteady": "yes",
        },
    )
    assert response.status_code == 302
    with tenant_scope(maple.organization):
        taken = AssessmentResponse.objects.get()
    assert taken.score == 4 and taken.context == "record"
    assert {f["label"] for f in taken.flags} == {
        "Fall risk: STEADI score 4 or more",
        "Fell in the past year",
    }
    page = client.get(f"/patients/{ada.public_id}/clinical/").content.decode()
    assert "Fell in the past year" in page


def test_the_library_page_attaches_an_assessment_to_the_prep_call(
    client, login, maple, django_assert_max_num_queries
):
    login(maple.pharmacist)
    client.get("/assessments/")  # installs the library
    with django_assert_max_num_queries(25):
        page = client.get("/assessments/").content.decode()
    assert "PHQ-2" in page and "STEADI" in page
    with tenant_scope(maple.organization):
        phq = AssessmentTemplate.objects.get(key="phq")
    client.post(f"/assessments/{phq.public_id}/settings/", {"action": "attach"})
    with tenant_scope(maple.organization):
        phq.refresh_from_db()
        assert phq.attach_to_prep


def test_birch_cannot_open_or_change_maples_assessment(client, login, maple, birch):
    with tenant_scope(maple.organization):
        assessment_library_install()
        phq = AssessmentTemplate.objects.get(key="phq")
    login(birch.pharmacist)
    assert client.get(f"/assessments/{phq.public_id}/").status_code == 404
    assert (
        client.post(f"/assessments/{phq.public_id}/settings/", {"action": "attach"}).status_code
        == 404
    )
    with tenant_scope(maple.organization):
        phq.refresh_from_db()
        assert not phq.attach_to_prep


def test_a_member_limited_to_main_st_cannot_assess_or_read_an_elm_ave_patient(client, login, maple):
    from medsync.models import MembershipPharmacy
    from medsync.roles import Role
    from tests.factories import MembershipFactory, PatientFactory, UserFactory

    main_st, elm = maple.pharmacies
    limited = UserFactory(email="limited@maple.test")
    membership = MembershipFactory(
        organization=maple.organization,
        user=limited,
        role=Role.PHARMACIST,
        limited_to_pharmacies=True,
    )
    MembershipPharmacy.objects.create(
        organization=maple.organization, membership=membership, pharmacy=main_st
    )
    with tenant_scope(maple.organization):
        assessment_library_install()
        steadi = AssessmentTemplate.objects.get(key="steadi")
        ours = PatientFactory(organization=maple.organization, home_pharmacy=main_st)
        theirs = PatientFactory(organization=maple.organization, home_pharmacy=elm)
    login(limited)
    assert (
        client.get(f"/patients/{ours.public_id}/assessments/{steadi.public_id}/").status_code == 200
    )
    url = f"/patients/{theirs.public_id}/assessments/{steadi.public_id}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"a-steadi-fallen": "no"}).status_code == 404
    with tenant_scope(maple.organization):
        assert not AssessmentResponse.objects.exists()
