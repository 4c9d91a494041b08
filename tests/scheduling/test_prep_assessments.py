"""The prep call runs the assessments attached to it: the five questions are the shipped
prep-contact assessment, others are asked beside them, each response keeps its version, and a
flagged answer opens a follow-up that quotes it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from medsync.tenancy import tenant_scope
from patients.assessment_services import assessment_library_install, assessment_template_save
from patients.models import AssessmentResponse, AssessmentTemplate, PatientStatus
from scheduling import sweeps
from scheduling.models import FollowUpTask, PrepContact, SyncCycle
from tests.factories import ImmunizationFactory
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db

NO_CHANGES = {
    "channel": "phone",
    "outcome": "confirmed",
    "new_medications": "no",
    "stopped_medications": "no",
    "dose_changes": "no",
    "hospital_stay": "no",
    "side_effects": "no",
}
STEADI_NO = {
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


@pytest.fixture
def cycle(maple):
    """A Maple patient's cycle on the prep worklist (anchor Thu 3/12, today 3/5), with STEADI
    attached to the prep call."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), tick=False) as clock:
        pharmacy = maple.pharmacies[0]
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 12)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
        clock.move_to(dt.datetime(2026, 3, 5, 15, 0, tzinfo=dt.UTC))  # anchor - 7 days
        with tenant_scope(maple.organization):
            sweeps.cycles_open_prep()
            assessment_library_install()
            steadi = AssessmentTemplate.objects.get(key="steadi")
            assessment_template_save(template=steadi, actor=None, attach_to_prep=True)
            return SyncCycle.objects.select_related("patient").get()


@pytest.fixture
def calling(client, login, maple, cycle):
    login(maple.pharmacist)
    with time_machine.travel(dt.datetime(2026, 3, 5, 15, 0, tzinfo=dt.UTC), tick=False):
        yield client


def _post(client, cycle, data):
    return client.post(
        f"/sync/cycles/{cycle.public_id}/prep-contact/", data, HTTP_HX_REQUEST="true"
    ).content.decode()


def test_the_card_asks_the_prep_contact_assessment_and_the_attached_ones(calling, cycle):
    page = calling.get("/sync/prep/").content.decode()
    assert "Any hospital stays or ER visits?" in page  # the prep-contact assessment's text
    assert 'data-testid="assessment-steadi"' in page and "I have fallen in the past year." in page
    assert 'name="a-steadi-falls_count"' in page
    assert 'data-testid="assessment-phq"' not in page  # not attached


def test_a_fall_at_the_prep_call_becomes_a_follow_up_quoting_the_answer(calling, maple, cycle):
    answers = {
        **NO_CHANGES,
        **STEADI_NO,
        "a-steadi-fallen": "yes",
        "a-steadi-falls_count": "2",
        "a-steadi-fall_injury": "no",
    }
    assert "recorded" in _post(calling, cycle, answers)
    with tenant_scope(maple.organization):
        responses = {
            r.version.template.key: r
            for r in AssessmentResponse.objects.select_related("version__template")
        }
        assert set(responses) == {"prep_contact", "steadi"}
        steadi = responses["steadi"]
        assert steadi.context == "prep_call" and steadi.cycle_public_id == cycle.public_id
        assert steadi.score == 2 and steadi.answers["falls_count"] == 2
        assert responses["prep_contact"].answers["hospital_stay"] is False
        task = FollowUpTask.objects.get(kind="assessment_flag")
        assert task.assessment_response == steadi and task.status == "open"
        assert '"I have fallen in the past year." Yes' in task.detail
        assert task.due_on == dt.date(2026, 3, 5)
    assert "flagged assessment answer" in calling.get("/sync/tasks/").content.decode()


def test_a_started_assessment_must_be_finished_and_nothing_is_written(calling, maple, cycle):
    answers = {**NO_CHANGES, "a-steadi-fallen": "yes"}
    page = _post(calling, cycle, answers)
    assert "Check the assessment answers" in page and "Were you hurt when you fell?" in page
    with tenant_scope(maple.organization):
        assert not PrepContact.objects.exists()
        assert not AssessmentResponse.objects.exists()
        assert not FollowUpTask.objects.exists()


def test_answers_for_an_assessment_not_attached_are_refused(calling, maple, cycle):
    page = _post(calling, cycle, {**NO_CHANGES, "a-phq-phq1": "3"})
    assert "Not an assessment of the prep call" in page
    with tenant_scope(maple.organization):
        assert not PrepContact.objects.exists()


def test_an_attached_assessment_not_asked_this_time_is_skipped(calling, maple, cycle):
    assert "recorded" in _post(calling, cycle, NO_CHANGES)
    with tenant_scope(maple.organization):
        assert PrepContact.objects.count() == 1
        keys = list(AssessmentResponse.objects.values_list("version__template__key", flat=True))
        assert keys == ["prep_contact"] and not FollowUpTask.objects.exists()


def test_the_card_lists_the_vaccines_due_when_the_screening_runs(calling, maple, cycle):
    with tenant_scope(maple.organization):
        screening = AssessmentTemplate.objects.get(key="immunization_screening")
        assessment_template_save(template=screening, actor=None, attach_to_prep=True)
        ImmunizationFactory(
            patient=cycle.patient, vaccine="influenza", administered_on="2025-03-01"
        )
        ImmunizationFactory(patient=cycle.patient, vaccine="tdap", administered_on="2024-01-01")
    page = calling.get("/sync/prep/").content.decode()
    assert 'data-testid="vaccines-due"' in page
    due = page.split('data-testid="vaccines-due"')[1].split("</p>")[0]
    assert "Influenza" in due and "Tdap" not in due


def test_an_sms_confirmation_records_no_prep_assessment(maple, cycle):
    from scheduling.services import prep_contact_record

    with tenant_scope(maple.organization):
        prep_contact_record(cycle=cycle, actor=None, channel="sms", outcome="confirmed")
        assert not AssessmentResponse.objects.exists()
        assert cycle.patient.status == PatientStatus.ACTIVE


def test_the_worklist_costs_the_same_for_one_card_or_four_with_assessments_and_screening(
    calling, maple, cycle
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with tenant_scope(maple.organization):
        screening = AssessmentTemplate.objects.get(key="immunization_screening")
        assessment_template_save(template=screening, actor=None, attach_to_prep=True)
    calling.get("/sync/prep/")
    with CaptureQueriesContext(connection) as one:
        calling.get("/sync/prep/")
    pharmacy = maple.pharmacies[0]
    with time_machine.travel(dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), tick=False):
        for _ in range(3):  # enrolled a week before, like the first
            synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 12)])
            enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    with tenant_scope(maple.organization):
        sweeps.cycles_open_prep()
    with CaptureQueriesContext(connection) as four:
        page = calling.get("/sync/prep/").content.decode()
    assert page.count('data-testid="prep-card"') == 4
    assert page.count('data-testid="vaccines-due"') == 4
    # Reads are the same; only the access log grows, one audit row per patient shown.
    assert len(_reads(four)) == len(_reads(one))


def _reads(captured) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if "medsync_auditevent" not in q["sql"] and "SAVEPOINT" not in q["sql"]
    ]


def test_the_card_says_which_agreement_to_re_sign(calling, maple, cycle):
    from patients.agreement_services import agreement_reminders_open, agreement_sign

    with tenant_scope(maple.organization):
        agreement_sign(
            patient=cycle.patient,
            kind="cmr_consent",
            method="typed_name",
            signer_name="Pat",
            agreed=True,
            actor=None,
            now=dt.datetime(2025, 3, 20, 15, tzinfo=dt.UTC),
        )
        assert agreement_reminders_open(today=dt.date(2026, 3, 5)) == 1
    page = calling.get("/sync/prep/").content.decode()
    assert 'data-testid="agreements-to-resign"' in page
    assert "Consent to a comprehensive medication review" in page
