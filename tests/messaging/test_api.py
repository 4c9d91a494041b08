"""/api/v1/messages/, /api/v1/conversations/, /api/v1/message-templates/."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from messaging import services
from messaging.models import Conversation, Message, MessageKind, MessageStatus, MessageTemplate

pytestmark = pytest.mark.django_db

TUESDAY_10AM = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
TUESDAY_11PM = datetime(2026, 3, 4, 5, 0, tzinfo=UTC)


def receive(tenant, patient, body, n=[0]):  # noqa: B006 - a counter for unique sids
    n[0] += 1
    with tenant_scope(tenant.organization):
        return services.inbound_message_receive(
            pharmacy=tenant.pharmacies[0],
            from_number=patient.phone,
            to_number=tenant.pharmacies[0].sms_number,
            body=body,
            provider_sid=f"SMapi{n[0]:030d}",
        )


def test_messages_filter_by_patient_and_audit_the_view(api_client_for, sms_maple, make_patient):
    ana, ben = make_patient(sms_maple), make_patient(sms_maple)
    receive(sms_maple, ana, "question from ana")
    receive(sms_maple, ben, "question from ben")
    api = api_client_for(sms_maple.pharmacist)
    response = api.get(f"/api/v1/messages/?patient={ana.public_id}")
    assert response.status_code == 200
    bodies = [m["body"] for m in response.json()["results"]]
    assert bodies == ["question from ana"]
    assert response.json()["results"][0]["patient"] == str(ana.public_id)
    with tenant_scope(sms_maple.organization):
        assert AuditEvent.objects.filter(
            action="patients.patient.viewed", object_id=str(ana.public_id)
        ).exists()


def test_the_messages_list_costs_a_fixed_number_of_queries(
    api_client_for, sms_maple, make_patient, django_assert_max_num_queries
):
    api = api_client_for(sms_maple.pharmacist)
    for n in range(3):
        receive(sms_maple, make_patient(sms_maple), f"q{n}")
    with django_assert_max_num_queries(12):
        assert len(api.get("/api/v1/messages/").json()["results"]) == 3
    for n in range(15):
        receive(sms_maple, make_patient(sms_maple), f"more{n}")
    with django_assert_max_num_queries(12):
        assert len(api.get("/api/v1/messages/").json()["results"]) == 18


def test_another_orgs_patient_or_message_is_a_404(
    api_client_for, sms_maple, sms_birch, make_patient
):
    birch_patient = make_patient(sms_birch)
    message = receive(sms_birch, birch_patient, "birch only")
    api = api_client_for(sms_maple.pharmacist)
    assert api.get(f"/api/v1/messages/?patient={birch_patient.public_id}").status_code == 404
    assert api.get(f"/api/v1/messages/{message.public_id}/").status_code == 404
    assert api.get("/api/v1/messages/").json()["results"] == []
    assert api.get("/api/v1/conversations/").json()["results"] == []
    sent = api.post(
        "/api/v1/messages/", {"patient": str(birch_patient.public_id), "body": "hi"}, format="json"
    )
    assert sent.status_code == 404
    assert sent.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
    with tenant_scope(sms_birch.organization):
        assert Message.objects.count() == 1


def test_a_bad_filter_gets_the_one_error_shape(api_client_for, sms_maple):
    api = api_client_for(sms_maple.pharmacist)
    response = api.get("/api/v1/messages/?patient=not-a-uuid")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["fields"] == {"patient": ["Give a public id (UUID)."]}


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_sending_a_manual_message(api_client_for, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    api = api_client_for(sms_maple.pharmacist)
    response = api.post(
        "/api/v1/messages/",
        {"patient": str(patient.public_id), "body": "Your refills are ready."},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "manual" and body["status"] == "queued"
    with tenant_scope(sms_maple.organization):
        message = Message.objects.get(public_id=body["id"])
        assert message.sent_by == sms_maple.pharmacist
        assert message.to_number == patient.phone


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_sending_to_an_opted_out_patient_is_a_409_and_nothing_is_queued(
    api_client_for, sms_maple, make_patient
):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "STOP")
    api = api_client_for(sms_maple.pharmacist)
    response = api.post(
        "/api/v1/messages/", {"patient": str(patient.public_id), "body": "hi"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "opted_out"
    with tenant_scope(sms_maple.organization):
        assert not Message.objects.filter(kind=MessageKind.MANUAL).exists()


@time_machine.travel(TUESDAY_11PM, tick=False)
def test_outside_the_window_the_api_warns_then_holds(api_client_for, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    api = api_client_for(sms_maple.pharmacist)
    payload = {"patient": str(patient.public_id), "body": "See you tomorrow"}
    warned = api.post("/api/v1/messages/", payload, format="json")
    assert warned.status_code == 409
    assert warned.json()["error"]["code"] == "quiet_hours"
    held = api.post("/api/v1/messages/", {**payload, "outside_window": "hold"}, format="json")
    assert held.status_code == 201
    assert held.json()["due_at"] == "2026-03-04T14:00:00Z"
    assert held.json()["defer_reason"] == "held_by_staff"


def test_a_technician_may_not_use_the_messages_api(api_client_for, sms_maple):
    api = api_client_for(sms_maple.technician)
    assert api.get("/api/v1/messages/").status_code == 403
    assert api.get("/api/v1/conversations/").status_code == 403


def test_conversations_with_unread_counts_and_actions(api_client_for, sms_maple, make_patient):
    patient = make_patient(sms_maple, first_name="Ana")
    receive(sms_maple, patient, "one")
    receive(sms_maple, patient, "two")
    api = api_client_for(sms_maple.pharmacist)
    [row] = api.get("/api/v1/conversations/?view=unread").json()["results"]
    assert row["unread"] == 2
    assert row["patient"]["first_name"] == "Ana"
    assert row["last_body"] == "two"
    base = f"/api/v1/conversations/{row['id']}"
    assigned = api.post(
        f"{base}/assign/", {"assignee": str(sms_maple.pharmacist.public_id)}, format="json"
    )
    assert assigned.json()["assigned_to"]["email"] == sms_maple.pharmacist.email
    assert api.post(f"{base}/read/").json()["unread"] == 0
    closed = api.post(f"{base}/close/")
    assert closed.json()["status"] == "closed"
    assert api.post(f"{base}/reopen/").json()["status"] == "open"
    with time_machine.travel(TUESDAY_10AM, tick=False):
        reply = api.post(f"{base}/reply/", {"body": "Yes, Friday is fine."}, format="json")
    assert reply.status_code == 201
    assert reply.json()["conversation"] == row["id"]


def test_assigning_to_someone_outside_the_org_is_refused(
    api_client_for, sms_maple, sms_birch, make_patient
):
    receive(sms_maple, make_patient(sms_maple), "hi")
    api = api_client_for(sms_maple.pharmacist)
    [row] = api.get("/api/v1/conversations/").json()["results"]
    response = api.post(
        f"/api/v1/conversations/{row['id']}/assign/",
        {"assignee": str(sms_birch.pharmacist.public_id)},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["assignee"]
    with tenant_scope(sms_maple.organization):
        assert Conversation.objects.get().assigned_to is None


def test_another_orgs_conversation_actions_are_404(
    api_client_for, sms_maple, sms_birch, make_patient
):
    receive(sms_birch, make_patient(sms_birch), "hi")
    with tenant_scope(sms_birch.organization):
        conversation = Conversation.objects.get()
    api = api_client_for(sms_maple.pharmacist)
    base = f"/api/v1/conversations/{conversation.public_id}"
    assert api.get(f"{base}/").status_code == 404
    assert api.post(f"{base}/close/").status_code == 404
    assert api.post(f"{base}/reply/", {"body": "x"}, format="json").status_code == 404
    with tenant_scope(sms_birch.organization):
        conversation.refresh_from_db()
        assert conversation.status == "open"


def test_templates_list_every_kind_in_both_languages(api_client_for, sms_maple):
    rows = api_client_for(sms_maple.pharmacist).get("/api/v1/message-templates/").json()
    assert len(rows) == 22  # 11 kinds x English and Spanish
    assert {r["kind"] for r in rows} >= {"appointment_reminder", "agreement_link"}
    prep = next(r for r in rows if r["kind"] == "prep_reminder" and r["language"] == "es")
    assert prep["automated"] and not prep["custom"]
    assert prep["longest_length"] <= 160


def test_an_owner_saves_and_resets_a_template_a_pharmacist_cannot(api_client_for, sms_maple):
    body = {
        "kind": "confirm_ack",
        "language": "en",
        "body": "{pharmacy_name}: got it, {first_name}!",
    }
    pharmacist = api_client_for(sms_maple.pharmacist)
    assert pharmacist.post("/api/v1/message-templates/", body, format="json").status_code == 403
    owner = api_client_for(sms_maple.owner)
    saved = owner.post("/api/v1/message-templates/", body, format="json")
    assert saved.status_code == 201
    assert saved.json()["custom"] is True
    with tenant_scope(sms_maple.organization):
        assert MessageTemplate.objects.get().body == body["body"]
    assert owner.delete("/api/v1/message-templates/confirm_ack/en/").status_code == 204
    with tenant_scope(sms_maple.organization):
        assert not MessageTemplate.objects.exists()


def test_an_invalid_template_is_a_400_with_field_errors(api_client_for, sms_maple):
    owner = api_client_for(sms_maple.owner)
    response = owner.post(
        "/api/v1/message-templates/",
        {"kind": "prep_reminder", "language": "en", "body": "{first_name}: {drug} due"},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "{drug} could put a drug name" in error["fields"]["body"][0]
    preview = owner.post(
        "/api/v1/message-templates/preview/",
        {"kind": "prep_reminder", "language": "en", "body": "{first_name}, due. STOP to end"},
        format="json",
    ).json()
    assert preview["ok"] is True and preview["segments"] == 1


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_a_queued_message_shows_its_state(api_client_for, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        message = services.automated_message_request(
            patient=patient, kind="prep_reminder", dedupe_key="k", context={}
        )
        services.messages_dispatch_due(time_budget=2)
    data = api_client_for(sms_maple.pharmacist).get(f"/api/v1/messages/{message.public_id}/")
    assert data.json()["status"] == MessageStatus.SENT
    assert data.json()["kind"] == "prep_reminder"
