"""Assessments in a real browser: build one with a conditional question, ask it at a prep
call (the question appears only after the answer it depends on), and see the flagged answer
become a follow-up task."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from medsync.tenancy import tenant_scope
from patients.models import AssessmentResponse, AssessmentTemplate
from scheduling import sweeps
from scheduling.dates import local_today
from scheduling.models import FollowUpTask, SyncCycle
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db(transaction=True)


def test_build_an_assessment_ask_it_at_the_prep_call_and_follow_up_the_flag(
    page, maple, log_in, screenshot
):
    pharmacy = maple.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    synced = make_patient(
        pharmacy, due_dates=[today + dt.timedelta(days=2), today + dt.timedelta(days=9)]
    )
    enroll(pharmacy, synced, anchor=today + dt.timedelta(days=9))
    with tenant_scope(maple.organization):
        SyncCycle.objects.update(prep_due_on=today)
        sweeps.cycles_open_prep()
    log_in(page, maple.pharmacist)

    page.goto("/assessments/")
    page.get_by_test_id("new-assessment").click()
    page.get_by_label("Name").fill("Dizziness check")
    page.get_by_label("Ask at the prep call").check()
    field = lambda name: page.locator(f'[name="{name}"]')  # noqa: E731
    field("q-0-id").fill("dizzy")
    field("q-0-kind").select_option("yes_no")
    field("q-0-required").check()
    field("q-0-text").fill("Dizzy when you stand up?")
    field("q-1-id").fill("falls")
    field("q-1-kind").select_option("number")
    field("q-1-required").check()
    field("q-1-text").fill("How many falls this month?")
    field("q-1-if_question").fill("dizzy")
    field("q-1-if_op").select_option("equals")
    field("q-1-if_value").fill("yes")
    field("f-0-label").fill("Dizzy and falling")
    field("f-0-target").fill("falls")
    field("f-0-op").select_option("at_least")
    field("f-0-value").fill("1")
    page.get_by_test_id("save-assessment").click()
    expect(page.get_by_test_id("assessment-row-dizziness_check")).to_contain_text("Asked")

    page.goto("/sync/prep/")
    card = page.get_by_test_id("prep-card")
    expect(card).to_contain_text(synced.patient.last_name)
    for name in (
        "new_medications",
        "stopped_medications",
        "dose_changes",
        "hospital_stay",
        "side_effects",
    ):
        card.locator(f'input[name="{name}"][value="no"]').check()
    built = card.get_by_test_id("assessment-dizziness_check")
    falls = built.get_by_label("How many falls this month?")
    expect(falls).to_be_hidden()
    built.get_by_label("Yes").check()
    expect(falls).to_be_visible()
    falls.fill("2")
    screenshot(page, "prep-call-assessment")
    card.get_by_test_id("prep-outcome").select_option("confirmed")
    card.get_by_role("button", name="Record the call").click()
    expect(page.get_by_test_id("prep-recorded")).to_contain_text("recorded")

    page.goto("/sync/tasks/")
    expect(page.locator("main")).to_contain_text("Dizzy and falling")
    assert page.console_errors == [], page.console_errors
    with tenant_scope(maple.organization):
        task = FollowUpTask.objects.get(kind="assessment_flag")
        response = AssessmentResponse.objects.get(version__template__key="dizziness_check")
        assert task.assessment_response == response
        assert response.answers == {"dizzy": True, "falls": 2}
        assert AssessmentTemplate.objects.get(key="dizziness_check").current_version.number == 1


def test_a_patient_signs_the_cmr_consent_on_the_counter_signature_pad(page, maple, log_in):
    from patients.models import PatientAgreement
    from tests.factories import PatientFactory

    with tenant_scope(maple.organization):
        patient = PatientFactory(organization=maple.organization, home_pharmacy=maple.pharmacies[0])
    log_in(page, maple.pharmacist)
    page.goto(f"/patients/{patient.public_id}/agreements/cmr_consent/")
    pad = page.get_by_test_id("signature-pad")
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 100)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 20 + step * 25, box["y"] + 100 - (step % 3) * 30)
    page.mouse.up()
    page.get_by_label("Full name of the signer").fill(patient.full_name)
    page.get_by_label("The patient (or caregiver) read and agrees to this.").check()
    page.get_by_test_id("sign-agreement").click()
    expect(page.get_by_test_id("clinical-panel")).to_contain_text("signed")
    assert page.console_errors == [], page.console_errors
    with tenant_scope(maple.organization):
        agreement = PatientAgreement.objects.get()
    assert agreement.method == "signature_pad" and bytes(agreement.pdf).startswith(b"%PDF")
