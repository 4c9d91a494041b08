"""The sync engine's API: enrollments, cycles, anchor options and the plan preview."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from scheduling.models import CycleItem, SyncCycle, SyncEnrollment, SyncPlan
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # Monday 9:00 in Madison


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def four_drug_patient(pharmacy):
    return make_patient(
        pharmacy,
        due_dates=[
            dt.date(2026, 3, 5),
            dt.date(2026, 3, 10),
            dt.date(2026, 3, 12),
            dt.date(2026, 3, 20),
        ],
    )


def counts():
    with scopes_disabled():
        return (
            SyncEnrollment.objects.count(),
            SyncPlan.objects.count(),
            SyncCycle.objects.count(),
            CycleItem.objects.count(),
        )


def test_sync_plan_previews_each_fill_and_writes_nothing(maple, api_client_for):
    patient = four_drug_patient(maple.pharmacies[0])
    client = api_client_for(maple.pharmacist)
    before = counts()
    response = client.post(
        f"/api/v1/patients/{patient.patient.public_id}/sync-plan/",
        {
            "anchor_date": "2026-03-20",
            "cycle_days": 30,
            "prescriptions": [str(rx.public_id) for rx in patient.prescriptions],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["anchor_date"] == "2026-03-20"
    assert body["next_anchor_date"] == "2026-04-19"
    by_rx = {item["prescription"]: item for item in body["items"]}
    first, _, _, on_anchor = (by_rx[str(rx.public_id)] for rx in patient.prescriptions)
    # Due 3/5: 15 days to the anchor, one tablet a day, SCC 47, $10 x 15/30 (Part D solid oral).
    assert first["kind"] == "short"
    assert first["days_supply"] == 15
    assert Decimal(first["quantity"]) == 15
    assert first["scc_codes"] == [47]
    assert first["patient_pay"] == "5.00"
    # Due on the anchor: already aligned, a full fill.
    assert on_anchor["kind"] == "full" and on_anchor["fill_date"] == "2026-03-20"
    assert on_anchor["scc_codes"] == []
    assert counts() == before


def test_sync_plan_refuses_another_orgs_patient(maple, birch, api_client_for):
    patient = four_drug_patient(birch.pharmacies[0])
    response = api_client_for(maple.pharmacist).post(
        f"/api/v1/patients/{patient.patient.public_id}/sync-plan/",
        {
            "anchor_date": "2026-03-20",
            "cycle_days": 30,
            "prescriptions": [str(rx.public_id) for rx in patient.prescriptions],
        },
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_sync_plan_refuses_another_orgs_prescriptions(maple, birch, api_client_for):
    mine = four_drug_patient(maple.pharmacies[0])
    theirs = four_drug_patient(birch.pharmacies[0])
    response = api_client_for(maple.pharmacist).post(
        f"/api/v1/patients/{mine.patient.public_id}/sync-plan/",
        {
            "anchor_date": "2026-03-20",
            "cycle_days": 30,
            "prescriptions": [
                str(mine.prescriptions[0].public_id),
                str(theirs.prescriptions[0].public_id),
            ],
        },
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_sync_plan_refuses_a_past_anchor_with_a_clear_message(maple, api_client_for):
    patient = four_drug_patient(maple.pharmacies[0])
    response = api_client_for(maple.pharmacist).post(
        f"/api/v1/patients/{patient.patient.public_id}/sync-plan/",
        {
            "anchor_date": "2026-02-20",
            "cycle_days": 30,
            "prescriptions": [str(rx.public_id) for rx in patient.prescriptions],
        },
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "in the past" in error["message"]
    assert "anchor_date" in error["fields"]


def test_sync_plan_refuses_a_bad_cycle_length(maple, api_client_for):
    patient = four_drug_patient(maple.pharmacies[0])
    response = api_client_for(maple.pharmacist).post(
        f"/api/v1/patients/{patient.patient.public_id}/sync-plan/",
        {
            "anchor_date": "2026-03-20",
            "cycle_days": 45,
            "prescriptions": [str(rx.public_id) for rx in patient.prescriptions],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "cycle_days" in response.json()["error"]["fields"]


def test_a_technician_may_not_preview_plans(maple, api_client_for):
    patient = four_drug_patient(maple.pharmacies[0])
    response = api_client_for(maple.technician).post(
        f"/api/v1/patients/{patient.patient.public_id}/sync-plan/",
        {"anchor_date": "2026-03-20", "cycle_days": 30, "prescriptions": []},
        format="json",
    )
    assert response.status_code == 403


def test_anchor_options_explain_themselves(maple, api_client_for):
    patient = four_drug_patient(maple.pharmacies[0])
    response = api_client_for(maple.pharmacist).get(
        f"/api/v1/patients/{patient.patient.public_id}/anchor-options/?cycle_days=30&limit=3"
    )
    assert response.status_code == 200, response.json()
    options = response.json()["options"]
    assert len(options) == 3
    assert all(option["reasons"] or option["cautions"] for option in options)
    dates = [option["anchor_date"] for option in options]
    assert all("2026-03-03" <= d <= "2026-04-01" for d in dates)
    # The patient's record was read: an audit entry says who and how.
    with tenant_scope(maple.organization):
        assert AuditEvent.objects.filter(
            action="patients.patient.viewed", object_id=str(patient.patient.public_id)
        ).exists()


def test_anchor_options_refuse_another_orgs_patient(maple, birch, api_client_for):
    patient = four_drug_patient(birch.pharmacies[0])
    response = api_client_for(maple.pharmacist).get(
        f"/api/v1/patients/{patient.patient.public_id}/anchor-options/"
    )
    assert response.status_code == 404


def test_enrollments_and_cycles_list_only_my_organization(maple, birch, api_client_for):
    mine = four_drug_patient(maple.pharmacies[0])
    theirs = four_drug_patient(birch.pharmacies[0])
    enroll(maple.pharmacies[0], mine, anchor=dt.date(2026, 3, 20))
    enroll(birch.pharmacies[0], theirs, anchor=dt.date(2026, 3, 20))
    client = api_client_for(maple.pharmacist)
    enrollments = client.get("/api/v1/enrollments/").json()["results"]
    assert [e["patient"] for e in enrollments] == [str(mine.patient.public_id)]
    assert enrollments[0]["next_anchor_date"] == "2026-03-20"
    cycles = client.get("/api/v1/cycles/?status=scheduled&anchor_date=2026-03-20").json()
    assert [c["patient"] for c in cycles["results"]] == [str(mine.patient.public_id)]
    assert len(cycles["results"][0]["items"]) == 7  # three short fills and four anchor fills
    with tenant_scope(birch.organization):
        their_cycle = SyncCycle.objects.get()
        their_enrollment = SyncEnrollment.objects.get()
    assert client.get(f"/api/v1/cycles/{their_cycle.public_id}/").status_code == 404
    assert client.get(f"/api/v1/enrollments/{their_enrollment.public_id}/").status_code == 404
    assert (
        client.post(
            f"/api/v1/enrollments/{their_enrollment.public_id}/pause/", {"reason": "trip"}
        ).status_code
        == 404
    )


def test_cycle_filters_refuse_nonsense(maple, api_client_for):
    client = api_client_for(maple.pharmacist)
    assert client.get("/api/v1/cycles/?status=lost").status_code == 400
    response = client.get("/api/v1/cycles/?anchor_date=tomorrow")
    assert response.status_code == 400
    assert "anchor_date" in response.json()["error"]["fields"]


def test_cycle_list_costs_a_fixed_number_of_queries(maple, api_client_for):
    pharmacy = maple.pharmacies[0]
    client = api_client_for(maple.pharmacist)
    enroll(pharmacy, four_drug_patient(pharmacy), anchor=dt.date(2026, 3, 20))
    client.get("/api/v1/cycles/")  # the token's first use writes last_used_at
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/cycles/").status_code == 200
    for _ in range(4):
        enroll(pharmacy, four_drug_patient(pharmacy), anchor=dt.date(2026, 3, 21))
    with CaptureQueriesContext(connection) as five:
        assert len(client.get("/api/v1/cycles/").json()["results"]) == 5
    assert len(five) == len(one)


def test_enroll_pause_resume_disenroll_through_the_api(maple, api_client_for):
    patient = four_drug_patient(maple.pharmacies[0])
    client = api_client_for(maple.pharmacist)
    response = client.post(
        "/api/v1/enrollments/",
        {
            "patient": str(patient.patient.public_id),
            "prescriptions": [str(rx.public_id) for rx in patient.prescriptions],
            "anchor_date": "2026-03-20",
            "cycle_days": 30,
            "consent_given_by": "Patient, at the counter",
            "consent_method": "in_person",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    enrollment_id = response.json()["id"]
    assert response.json()["status"] == "enrolled"
    again = client.post(
        "/api/v1/enrollments/",
        {
            "patient": str(patient.patient.public_id),
            "prescriptions": [str(rx.public_id) for rx in patient.prescriptions],
            "anchor_date": "2026-03-21",
            "cycle_days": 30,
            "consent_given_by": "Patient",
            "consent_method": "phone",
        },
        format="json",
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "already_enrolled"
    paused = client.post(f"/api/v1/enrollments/{enrollment_id}/pause/", {"reason": "Hospital"})
    assert paused.json()["status"] == "paused"
    assert client.post(f"/api/v1/enrollments/{enrollment_id}/resume/").json()["status"] == (
        "enrolled"
    )
    gone = client.post(
        f"/api/v1/enrollments/{enrollment_id}/disenroll/", {"reason": "patient_request"}
    )
    assert gone.json()["status"] == "disenrolled"
    with tenant_scope(maple.organization):
        actions = set(
            AuditEvent.objects.filter(object_id=enrollment_id).values_list("action", flat=True)
        )
    assert {
        "scheduling.enrollment.enrolled",
        "scheduling.enrollment.paused",
        "scheduling.enrollment.resumed",
        "scheduling.enrollment.disenrolled",
    } <= actions


def test_the_schema_lists_the_sync_endpoints(maple, api_client_for):
    schema = api_client_for(maple.pharmacist).get("/api/v1/schema/?format=json").json()
    for path in (
        "/api/v1/enrollments/",
        "/api/v1/cycles/",
        "/api/v1/patients/{id}/anchor-options/",
        "/api/v1/patients/{id}/sync-plan/",
    ):
        assert path in schema["paths"]


def test_sync_plan_items_show_when_their_supply_starts(maple, api_client_for):
    """Issue 10: each item says the first day its supply is used (DOMAIN 2, carried forward).
    Due 3/5 with anchor 3/20: the short fill starts on its fill date. Due 3/22 with the anchor
    3/20: handed out on the anchor, two days before the supply on hand runs out."""
    patient = make_patient(
        maple.pharmacies[0], due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 22)]
    )
    client = api_client_for(maple.pharmacist)
    response = client.post(
        f"/api/v1/patients/{patient.patient.public_id}/sync-plan/",
        {
            "anchor_date": "2026-03-20",
            "cycle_days": 30,
            "prescriptions": [str(rx.public_id) for rx in patient.prescriptions],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    by_rx = {item["prescription"]: item for item in response.json()["items"]}
    early, late = (by_rx[str(rx.public_id)] for rx in patient.prescriptions)
    assert (early["fill_date"], early["supply_start"]) == ("2026-03-05", "2026-03-05")
    assert late["fill_date"] == "2026-03-20"
    assert late["supply_start"] == "2026-03-22", late
