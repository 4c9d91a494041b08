"""The sync engine's pages: fill queue, prep worklist, enrollment list and wizard, the
patient's sync panel, re-plans, follow-ups and settings."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.models import Fill, SyncDecision
from scheduling import selectors, sweeps
from scheduling.models import (
    CycleItem,
    CycleStatus,
    FollowUpTask,
    ItemState,
    PrepContact,
    ReplanProposal,
    SyncCycle,
    SyncEnrollment,
    SyncSettings,
)
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # Monday morning in Madison


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def patient_due(pharmacy, *days):
    return make_patient(pharmacy, due_dates=[dt.date(2026, 3, d) for d in days])


def test_the_fill_queue_shows_each_fill_and_moves_it_along(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    synced = patient_due(pharmacy, 5, 5)
    enroll(pharmacy, synced, anchor=dt.date(2026, 3, 5))  # due on the anchor: full fills
    with tenant_scope(maple.organization):
        sweeps.cycles_open_prefill()
        item = CycleItem.objects.filter(state=ItemState.PLANNED).first()
    login(maple.technician)
    page = client.get("/fill-queue/").content.decode()
    assert "To start and fill" in page and f"Rx {item.prescription.rx_number}" in page
    response = client.post(
        f"/fill-queue/items/{item.public_id}/fill/",
        {"ndc": item.prescription.drug.ndc},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Filled, to verify" in response
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.FILLED
        assert Fill.objects.filter(
            prescription=item.prescription, fill_date=item.fill_date
        ).exists()
    # Verifying is the pharmacist's: the technician is refused (403), nothing changes.
    refused = client.post(f"/fill-queue/items/{item.public_id}/verify/", HTTP_HX_REQUEST="true")
    assert refused.status_code == 403 and "Only a pharmacist" in refused.content.decode()
    assert client.post(f"/fill-queue/items/{item.public_id}/verify/").status_code == 403
    with tenant_scope(maple.organization):
        item.refresh_from_db()
        assert item.state == ItemState.FILLED


def test_the_fill_queue_refuses_another_orgs_item(client, login, maple, birch, frozen):
    theirs = patient_due(birch.pharmacies[0], 5)
    enroll(birch.pharmacies[0], theirs, anchor=dt.date(2026, 3, 5))
    with tenant_scope(birch.organization):
        sweeps.cycles_open_prefill()
        item = CycleItem.objects.get()
    login(maple.pharmacist)
    assert client.post(f"/fill-queue/items/{item.public_id}/fill/").status_code == 404
    assert "Nothing to fill today" in client.get("/fill-queue/").content.decode()
    with tenant_scope(birch.organization):
        item.refresh_from_db()
        assert item.state == ItemState.PLANNED


def test_a_technician_limited_to_main_st_does_not_see_elm_ave(client, login, maple, frozen):
    elm = maple.pharmacies[1]
    enroll(elm, patient_due(elm, 5), anchor=dt.date(2026, 3, 5))
    with tenant_scope(maple.organization):
        sweeps.cycles_open_prefill()
        item = CycleItem.objects.get()
    login(maple.technician)
    assert "Nothing to fill today" in client.get("/fill-queue/").content.decode()
    assert client.post(f"/fill-queue/items/{item.public_id}/bill/").status_code == 404


def test_handing_over_a_ready_bag_records_the_pickup(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    enroll(pharmacy, patient_due(pharmacy, 5), anchor=dt.date(2026, 3, 5))
    with tenant_scope(maple.organization):
        sweeps.cycles_open_prefill()
        item = CycleItem.objects.get()
    login(maple.pharmacist)
    client.post(f"/fill-queue/items/{item.public_id}/fill/", {"ndc": item.prescription.drug.ndc})
    client.post(f"/fill-queue/items/{item.public_id}/verify/")
    with tenant_scope(maple.organization):
        cycle = SyncCycle.objects.get()
        assert cycle.status == CycleStatus.READY
    page = client.get("/fill-queue/").content.decode()
    assert "Hand over (1 ready)" in page
    client.post(f"/sync/cycles/{cycle.public_id}/pickup/")
    with tenant_scope(maple.organization):
        cycle.refresh_from_db()
        assert cycle.status == CycleStatus.PICKED_UP
        assert cycle.events.filter(kind="picked_up").count() == 1
        fill = Fill.objects.get(prescription=item.prescription, fill_date=item.fill_date)
        assert fill.picked_up_at is not None


def test_the_technician_hands_over_only_the_ticked_fills(client, login, maple, birch, frozen):
    pharmacy = maple.pharmacies[0]
    synced = patient_due(pharmacy, 5, 5)
    enroll(pharmacy, synced, anchor=dt.date(2026, 3, 5))
    theirs = patient_due(birch.pharmacies[0], 5)
    enroll(birch.pharmacies[0], theirs, anchor=dt.date(2026, 3, 5))
    with tenant_scope(birch.organization):
        their_item = CycleItem.objects.get()
    with tenant_scope(maple.organization):
        sweeps.cycles_open_prefill()
        taken, left = CycleItem.objects.order_by("pk")
    login(maple.pharmacist)
    for item in (taken, left):
        client.post(
            f"/fill-queue/items/{item.public_id}/fill/", {"ndc": item.prescription.drug.ndc}
        )
        client.post(f"/fill-queue/items/{item.public_id}/verify/")
    with tenant_scope(maple.organization):
        cycle = SyncCycle.objects.get()
    page = client.get("/fill-queue/").content.decode()
    assert page.count('name="items"') == 2
    url = f"/sync/cycles/{cycle.public_id}/pickup/"
    nothing = client.post(url, {"partial": "1"}, follow=True).content.decode()
    assert "Tick the fills the patient is taking home." in nothing
    foreign = client.post(
        url, {"partial": "1", "items": [str(taken.public_id), str(their_item.public_id)]}
    )
    assert foreign.status_code == 302
    with tenant_scope(maple.organization):
        assert CycleItem.objects.filter(state="picked_up").count() == 0  # nothing half-done
    done = client.post(url, {"partial": "1", "items": [str(taken.public_id)]}, follow=True)
    assert "The rest stays on the shelf." in done.content.decode()
    with tenant_scope(maple.organization):
        cycle.refresh_from_db()
        assert cycle.status == CycleStatus.PARTLY_PICKED_UP
        assert dict(CycleItem.objects.values_list("pk", "state")) == {
            taken.pk: "picked_up",
            left.pk: "ready",
        }
    with tenant_scope(birch.organization):
        assert CycleItem.objects.get().state == "planned"


def test_the_prep_worklist_lists_due_calls_and_records_the_outcome(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    synced = patient_due(pharmacy, 5, 9, 12)
    enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    frozen.move_to(dt.datetime(2026, 3, 5, 15, 0, tzinfo=dt.UTC))  # anchor - 7 days
    with tenant_scope(maple.organization):
        sweeps.cycles_open_prep()
        cycle = SyncCycle.objects.get()
    login(maple.pharmacist)
    page = client.get("/sync/prep/").content.decode()
    assert synced.patient.last_name in page
    assert "Any hospital stays or ER visits?" in page
    response = client.post(
        f"/sync/cycles/{cycle.public_id}/prep-contact/",
        {
            "channel": "phone",
            "outcome": "changes_reported",
            "new_medications": "no",
            "stopped_medications": "no",
            "dose_changes": "no",
            "hospital_stay": "yes",
            "side_effects": "no",
            "notes": "In hospital last week for a fall.",
        },
        HTTP_HX_REQUEST="true",
    )
    assert "changes reported, recorded" in response.content.decode()
    with tenant_scope(maple.organization):
        contact = PrepContact.objects.get()
        assert contact.hospital_stay is True and contact.new_medications is False
        cycle.refresh_from_db()
        assert cycle.status == CycleStatus.CONTACTED and not cycle.prep_open
        proposal = ReplanProposal.objects.get()
        assert "hospital_stay" in proposal.reasons
    assert synced.patient.last_name not in client.get("/sync/prep/").content.decode()


def prep_due_cycle(maple, frozen) -> SyncCycle:
    """An enrolled patient's cycle on the prep worklist: anchor Thu 3/12, today 3/5."""
    pharmacy = maple.pharmacies[0]
    enroll(pharmacy, patient_due(pharmacy, 5, 12), anchor=dt.date(2026, 3, 12))
    frozen.move_to(dt.datetime(2026, 3, 5, 15, 0, tzinfo=dt.UTC))
    with tenant_scope(maple.organization):
        sweeps.cycles_open_prep()
        return SyncCycle.objects.get()


def test_side_effects_reported_at_the_prep_call_reach_the_pharmacist(client, login, maple, frozen):
    cycle = prep_due_cycle(maple, frozen)
    login(maple.pharmacist)
    answers = {
        "channel": "phone",
        "outcome": "confirmed",
        "new_medications": "no",
        "stopped_medications": "no",
        "dose_changes": "no",
        "hospital_stay": "no",
        "side_effects": "yes",
        "notes": "Dizzy in the mornings.",
    }
    url = f"/sync/cycles/{cycle.public_id}/prep-contact/"
    client.post(url, answers, HTTP_HX_REQUEST="true")
    client.post(url, answers, HTTP_HX_REQUEST="true")  # recorded twice: still one task
    with tenant_scope(maple.organization):
        cycle.refresh_from_db()
        assert cycle.contact_outcome == "confirmed"
        assert not ReplanProposal.objects.exists()  # no change to the plan
        task = FollowUpTask.objects.get()
        assert (task.kind, task.status, task.due_on) == (
            "side_effects",
            "open",
            dt.date(2026, 3, 5),
        )
        assert task.detail == "Dizzy in the mornings."
    assert "Pharmacist to review side effects" in client.get("/sync/tasks/").content.decode()


def test_a_prep_outcome_with_questions_unanswered_is_refused(client, login, maple, frozen):
    cycle = prep_due_cycle(maple, frozen)
    login(maple.pharmacist)
    response = client.post(
        f"/sync/cycles/{cycle.public_id}/prep-contact/",
        {"channel": "phone", "outcome": "confirmed"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Ask every prep question" in response
    with tenant_scope(maple.organization):
        assert not PrepContact.objects.exists()


def test_the_prep_worklist_of_another_org_is_invisible(client, login, maple, birch, frozen):
    theirs = patient_due(birch.pharmacies[0], 5, 12)
    enroll(birch.pharmacies[0], theirs, anchor=dt.date(2026, 3, 12))
    frozen.move_to(dt.datetime(2026, 3, 5, 15, 0, tzinfo=dt.UTC))
    with tenant_scope(birch.organization):
        sweeps.cycles_open_prep()
        cycle = SyncCycle.objects.get()
    login(maple.pharmacist)
    assert theirs.patient.last_name not in client.get("/sync/prep/").content.decode()
    assert (
        client.post(
            f"/sync/cycles/{cycle.public_id}/prep-contact/",
            {"channel": "phone", "outcome": "unreachable"},
        ).status_code
        == 404
    )


def test_the_enrollment_wizard_proposes_anchors_shows_the_plan_and_enrolls(
    client, login, maple, frozen
):
    pharmacy = maple.pharmacies[0]
    synced = patient_due(pharmacy, 5, 10, 12, 20)
    ids = [str(rx.public_id) for rx in synced.prescriptions]
    login(maple.pharmacist)
    url = f"/sync/enroll/{synced.patient.public_id}/"
    first = client.get(url).content.decode()
    assert all(f'value="{i}"' in first for i in ids)
    anchors = client.post(
        url, {"prescriptions": ids, "cycle_days": "30", "step": "anchors"}
    ).content.decode()
    offered = re.findall(r'name="anchor_date" value="(\d{4}-\d\d-\d\d)"', anchors)
    assert len(offered) >= 3
    plan = client.post(
        url,
        {"prescriptions": ids, "cycle_days": "30", "anchor_date": "2026-03-20", "step": "plan"},
    ).content.decode()
    assert "The plan for Friday, March 20" in plan
    assert "SCC 47" in plan and "SCC 48" in plan and "$5.00" in plan
    with tenant_scope(maple.organization):
        assert not SyncEnrollment.objects.exists()  # previews write nothing
    done = client.post(
        url,
        {
            "prescriptions": ids,
            "cycle_days": "30",
            "anchor_date": "2026-03-20",
            "consent_given_by": "Patient",
            "consent_relationship": "self",
            "consent_method": "in_person",
            "fulfillment": "pickup",
            "contact_channel": "sms",
            "step": "confirm",
        },
    )
    assert done.status_code == 302
    assert done.url == f"/sync/patients/{synced.patient.public_id}/"
    with tenant_scope(maple.organization):
        enrollment = SyncEnrollment.objects.get()
        assert enrollment.anchor_date == dt.date(2026, 3, 20)
        assert enrollment.consent_recorded_by == maple.pharmacist
        assert AuditEvent.objects.filter(action="scheduling.enrollment.enrolled").count() == 1
    panel = client.get(done.url).content.decode()
    assert "Enrolled" in panel and "Fri Mar 20, 2026" in panel
    # The plan history says what the patient pays for each short fill (issue 10).
    history = panel[panel.index('data-testid="plan-history"') :]
    assert "(patient pays $5.00)" in history


def test_the_wizard_scores_a_date_the_pharmacist_types(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    synced = patient_due(pharmacy, 5, 10, 12, 20)
    ids = [str(rx.public_id) for rx in synced.prescriptions]
    login(maple.pharmacist)
    url = f"/sync/enroll/{synced.patient.public_id}/"
    anchors = client.post(
        url, {"prescriptions": ids, "cycle_days": "30", "step": "anchors"}
    ).content.decode()
    offered = set(re.findall(r'name="anchor_date" value="(\d{4}-\d\d-\d\d)"', anchors))
    typed = "2026-03-29"  # a Sunday far from every due date: extra trips, many short fills
    assert typed not in offered
    plan = client.post(
        url,
        {"prescriptions": ids, "cycle_days": "30", "anchor_custom": typed, "step": "plan"},
    ).content.decode()
    assert "The plan for Sunday, March 29" in plan
    assert "The date you typed, Sunday, March 29" in plan
    score = re.search(r"scores ([\d.]+) penalty points against ([\d.]+) for this date", plan)
    assert score and float(score.group(1)) < float(score.group(2))
    chosen = client.post(
        url,
        {
            "prescriptions": ids,
            "cycle_days": "30",
            "anchor_date": sorted(offered)[0],
            "step": "plan",
        },
    ).content.decode()
    assert "The date you typed" not in chosen  # a proposal already carries its reasons


def test_the_wizard_refuses_an_excluded_prescription(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    synced = patient_due(pharmacy, 5, 10)
    rx = synced.prescriptions[1]
    rx.sync_decision = SyncDecision.EXCLUDED
    rx.sync_exclusion_reason = "prn"
    rx.save()
    login(maple.pharmacist)
    page = client.post(
        f"/sync/enroll/{synced.patient.public_id}/",
        {"prescriptions": [str(r.public_id) for r in synced.prescriptions], "step": "anchors"},
    ).content.decode()
    # Issue 10 defect 7: syncing it anyway takes the override note the medication list asks for.
    assert "is excluded from sync" in page and "add a note saying why" in page


def test_the_wizard_of_another_orgs_patient_is_a_404(client, login, maple, birch, frozen):
    theirs = patient_due(birch.pharmacies[0], 5)
    login(maple.pharmacist)
    assert client.get(f"/sync/enroll/{theirs.patient.public_id}/").status_code == 404
    assert client.get(f"/sync/patients/{theirs.patient.public_id}/").status_code == 404
    assert client.get(f"/sync/patients/{theirs.patient.public_id}/panel/").status_code == 404


def test_a_technician_cannot_open_the_wizard_or_the_worklist(client, login, maple, frozen):
    synced = patient_due(maple.pharmacies[0], 5)
    login(maple.technician)
    assert client.get(f"/sync/enroll/{synced.patient.public_id}/").status_code == 403
    assert client.get("/sync/prep/").status_code == 403
    assert client.get("/sync/enrollments/").status_code == 403


def test_the_enrollment_list_filters_and_paginates(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    patients = [patient_due(pharmacy, 5, 9) for _ in range(3)]
    for synced in patients:
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 9))
    with tenant_scope(maple.organization):
        from scheduling import services

        services.enrollment_pause(
            enrollment=SyncEnrollment.objects.get(patient=patients[0].patient),
            actor=maple.pharmacist,
            reason="Traveling",
        )
    login(maple.pharmacist)
    paused = client.get("/sync/enrollments/?status=paused").content.decode()
    assert patients[0].patient.last_name in paused
    assert patients[1].patient.last_name not in paused
    search = client.get(f"/sync/enrollments/?q={patients[2].patient.last_name}").content.decode()
    assert patients[2].patient.last_name in search and patients[1].patient.last_name not in search


def test_the_sync_panel_selector_costs_a_fixed_number_of_queries(maple, frozen):
    pharmacy = maple.pharmacies[0]
    small = patient_due(pharmacy, 5)
    large = patient_due(pharmacy, 5, 6, 7, 8, 9, 10)
    enroll(pharmacy, small, anchor=dt.date(2026, 3, 10))
    enroll(pharmacy, large, anchor=dt.date(2026, 3, 10))
    with tenant_scope(maple.organization):
        with CaptureQueriesContext(connection) as one:
            selectors.patient_sync_panel(patient=small.patient)
        with CaptureQueriesContext(connection) as six:
            panel = selectors.patient_sync_panel(patient=large.patient)
        assert len(six) == len(one)
        assert panel.next_anchor == dt.date(2026, 3, 10)
        assert len(panel.current_cycle.items.all()) == 11  # 5 short fills + 6 anchor fills


def test_the_patient_panel_audits_the_read(client, login, maple, frozen):
    synced = patient_due(maple.pharmacies[0], 5)
    login(maple.technician)
    page = client.get(f"/sync/patients/{synced.patient.public_id}/panel/").content.decode()
    assert "Not in the sync program" in page
    assert "Start enrollment" not in page  # technicians do not enroll
    with tenant_scope(maple.organization):
        assert AuditEvent.objects.filter(
            action="patients.patient.viewed",
            object_id=str(synced.patient.public_id),
            actor=maple.technician,
        ).exists()


def test_a_pharmacist_approves_a_replan_from_the_page(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    synced = patient_due(pharmacy, 5, 9)
    enroll(pharmacy, synced, anchor=dt.date(2026, 3, 9))
    with tenant_scope(maple.organization):
        rx = synced.prescriptions[0]
        rx.daily_dose = 2
        rx.quantity_per_fill = 60  # the new order: 2 a day, #60 (a fill never exceeds it)
        rx.save()
        sweeps.replans_detect()
        proposal = ReplanProposal.objects.get()
    login(maple.pharmacist)
    page = client.get("/sync/replans/").content.decode()
    assert "Dose change" in page
    client.post(f"/sync/replans/{proposal.public_id}/approve/", {"anchor_date": "2026-03-09"})
    with tenant_scope(maple.organization):
        proposal.refresh_from_db()
        assert proposal.status == "approved"
        full = CycleItem.objects.get(prescription=rx, fill_date=dt.date(2026, 3, 9))
        assert full.quantity == 60  # two a day for 30 days


def test_follow_ups_list_and_close(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    enroll(pharmacy, patient_due(pharmacy, 3), anchor=dt.date(2026, 3, 3))
    frozen.move_to(dt.datetime(2026, 3, 4, 15, 0, tzinfo=dt.UTC))
    with tenant_scope(maple.organization):
        sweeps.cycles_open_prefill()
        sweeps.cycles_check_pickups()
        task = FollowUpTask.objects.get(kind="missed_pickup")
    login(maple.pharmacist)
    assert "Call about a missed pickup" in client.get("/sync/tasks/").content.decode()
    client.post(f"/sync/tasks/{task.public_id}/done/", {"note": "Coming Friday"})
    with tenant_scope(maple.organization):
        task.refresh_from_db()
        assert task.status == "done" and task.resolved_by == maple.pharmacist


def test_the_owner_changes_sync_settings(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    login(maple.owner)
    response = client.post(
        "/sync/settings/",
        {
            "pharmacy": str(pharmacy.public_id),
            "prep_days": "5",
            "prefill_days": "2",
            "missed_after_days": "2",
            "rts_warning_days": "3",
            "closed_weekdays": ["6"],
        },
    )
    assert response.status_code == 302
    with tenant_scope(maple.organization):
        row = SyncSettings.objects.get(pharmacy=pharmacy)
        assert (row.prep_days, row.prefill_days, row.closed_weekdays) == (5, 2, [6])
    bad = client.post(
        "/sync/settings/",
        {
            "pharmacy": str(pharmacy.public_id),
            "prep_days": "2",
            "prefill_days": "3",
            "missed_after_days": "1",
            "rts_warning_days": "3",
        },
        follow=True,
    ).content.decode()
    assert "not before the prep call" in bad
    client.logout()
    login(maple.pharmacist)
    assert client.get("/sync/settings/").status_code == 403


def test_sync_pages_have_no_inline_script_or_style(client, login, maple, frozen):
    pharmacy = maple.pharmacies[0]
    synced = patient_due(pharmacy, 5, 9)
    enroll(pharmacy, synced, anchor=dt.date(2026, 3, 9))
    login(maple.owner)
    for url in (
        "/fill-queue/",
        "/sync/prep/",
        "/sync/enrollments/",
        "/sync/replans/",
        "/sync/tasks/",
        "/sync/settings/",
        f"/sync/patients/{synced.patient.public_id}/",
        f"/sync/enroll/{synced.patient.public_id}/",
    ):
        page = client.get(url).content.decode()
        assert "style=" not in page, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url


def test_no_scoped_query_leaks_outside_a_tenant(maple):
    with scopes_disabled():
        assert SyncCycle.objects.count() == 0


def test_the_empty_enrollment_list_points_to_the_eligibility_finder(client, login, maple):
    login(maple.pharmacist)
    page = client.get("/sync/enrollments/").content.decode()
    assert "No enrollments" in page
    assert 'href="/reports/eligibility/"' in page
    filtered = client.get("/sync/enrollments/?status=paused").content.decode()
    assert "No enrollments match" in filtered and 'href="/sync/enrollments/"' in filtered


def test_a_hospital_stay_told_at_the_prep_call_is_recorded_once_for_pdc(
    client, login, maple, frozen
):
    """Issue 10 defect 11: the stay's dates given at the prep call make one InpatientStay row
    (source: prep call) linked to the contact; the adherence selector then reads it."""
    from patients.models import InpatientStay

    cycle = prep_due_cycle(maple, frozen)  # today 3/5
    login(maple.pharmacist)
    answers = {
        "channel": "phone",
        "outcome": "changes_reported",
        "new_medications": "no",
        "stopped_medications": "no",
        "dose_changes": "no",
        "hospital_stay": "yes",
        "side_effects": "no",
        "stay_admitted_on": "2026-02-24",
        "stay_discharged_on": "2026-02-27",
    }
    client.post(f"/sync/cycles/{cycle.public_id}/prep-contact/", answers, HTTP_HX_REQUEST="true")
    with tenant_scope(maple.organization):
        stay = InpatientStay.objects.get()
        assert stay.admitted_on == dt.date(2026, 2, 24)
        assert stay.discharged_on == dt.date(2026, 2, 27)
        assert (stay.source, stay.reported_by) == ("prep_call", maple.pharmacist)
        assert stay.patient_id == cycle.patient_id
        assert PrepContact.objects.get().inpatient_stay == stay
    # A discharge before the admission is refused with the field named; no second stay.
    bad = {**answers, "stay_discharged_on": "2026-02-20"}
    response = client.post(
        f"/sync/cycles/{cycle.public_id}/prep-contact/", bad, HTTP_HX_REQUEST="true"
    )
    assert "The discharge date is between the admission and today." in response.content.decode()
    with tenant_scope(maple.organization):
        assert InpatientStay.objects.count() == 1
