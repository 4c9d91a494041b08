"""The staff inbox, a patient's texting page and the templates pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from messaging import services
from messaging.models import (
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    MessageTemplate,
    SmsConsent,
    SmsNumber,
)

pytestmark = pytest.mark.django_db

TUESDAY_10AM = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 10:00 in Madison
TUESDAY_11PM = datetime(2026, 3, 4, 5, 0, tzinfo=UTC)  # 23:00 in Madison


def receive(tenant, patient_or_phone, body):
    phone = getattr(patient_or_phone, "phone", patient_or_phone)
    with tenant_scope(tenant.organization):
        return services.inbound_message_receive(
            pharmacy=tenant.pharmacies[0],
            from_number=phone,
            to_number=tenant.pharmacies[0].sms_number,
            body=body,
            provider_sid=f"SMtest{phone}{body}{Message.objects.count()}",
        )


# --- The inbox --------------------------------------------------------------------------------


def test_the_inbox_lists_conversations_with_unread_counts(login, sms_maple, make_patient):
    ana = make_patient(sms_maple, first_name="Ana", last_name="Alvarez")
    ben = make_patient(sms_maple, first_name="Ben", last_name="Brown")
    receive(sms_maple, ana, "Can I come Friday?")
    receive(sms_maple, ana, "Or Saturday")
    receive(sms_maple, ben, "HELP")  # answered automatically: not unread
    client = login(sms_maple.pharmacist)
    response = client.get("/inbox/")
    assert response.status_code == 200
    rows = response.context["page"].object_list
    assert [(c.patient.first_name, c.unread) for c in rows] == [("Ana", 2)]
    assert response.context["unread_total"] == 2
    everything = client.get("/inbox/?view=all").context["page"].object_list
    assert {c.patient.first_name for c in everything} == {"Ana", "Ben"}


def test_the_inbox_costs_a_fixed_number_of_queries(
    login, sms_maple, make_patient, django_assert_max_num_queries
):
    client = login(sms_maple.pharmacist)
    for n in range(3):
        receive(sms_maple, make_patient(sms_maple), f"question {n}")
    with django_assert_max_num_queries(14):
        small = client.get("/inbox/")
    for n in range(12):
        receive(sms_maple, make_patient(sms_maple), f"more {n}")
    with django_assert_max_num_queries(14):
        large = client.get("/inbox/")
    assert len(small.context["page"].object_list) == 3
    assert len(large.context["page"].object_list) == 15


def test_a_technician_may_not_open_the_inbox(login, sms_maple):
    assert login(sms_maple.technician).get("/inbox/").status_code == 403


def test_another_orgs_conversation_is_a_404_and_never_listed(
    login, sms_maple, sms_birch, make_patient
):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "hello")
    with tenant_scope(sms_maple.organization):
        conversation = Conversation.objects.get()
    client = login(sms_birch.pharmacist)
    assert client.get(f"/inbox/{conversation.public_id}/").status_code == 404
    assert client.post(f"/inbox/{conversation.public_id}/reply/", {"body": "hi"}).status_code == 404
    assert client.post(f"/inbox/{conversation.public_id}/close/").status_code == 404
    assert list(client.get("/inbox/?view=all").context["page"].object_list) == []
    with tenant_scope(sms_maple.organization):
        conversation.refresh_from_db()
        assert conversation.status == ConversationStatus.OPEN
        assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def test_opening_a_conversation_marks_it_read_and_audits_the_view(login, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "question")
    with tenant_scope(sms_maple.organization):
        conversation = Conversation.objects.get()
    client = login(sms_maple.pharmacist)
    response = client.get(f"/inbox/{conversation.public_id}/")
    assert response.status_code == 200
    assert b"question" in response.content
    with tenant_scope(sms_maple.organization):
        message = Message.objects.get(direction=Direction.INBOUND)
        assert message.read_at is not None
        assert message.read_by == sms_maple.pharmacist
        assert AuditEvent.objects.filter(
            action="patients.patient.viewed",
            actor=sms_maple.pharmacist,
            object_id=str(patient.public_id),
        ).exists()


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_a_reply_is_queued_from_the_pharmacy_number(login, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "Can I come Friday?")
    with tenant_scope(sms_maple.organization):
        conversation = Conversation.objects.get()
    client = login(sms_maple.pharmacist)
    response = client.post(
        f"/inbox/{conversation.public_id}/reply/",
        {"body": "Friday works, see you then."},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    with tenant_scope(sms_maple.organization):
        reply = Message.objects.get(kind=MessageKind.MANUAL)
        assert reply.body == "Friday works, see you then."
        assert reply.status == MessageStatus.QUEUED
        assert reply.sent_by == sms_maple.pharmacist
        assert reply.to_number == patient.phone
        assert reply.from_number == "+16085550100"
    assert b"Friday works" in response.content


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_a_reply_to_an_opted_out_patient_is_refused(login, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "STOP")
    with tenant_scope(sms_maple.organization):
        conversation = Conversation.objects.get()
    response = login(sms_maple.pharmacist).post(
        f"/inbox/{conversation.public_id}/reply/", {"body": "Are you sure?"}, HTTP_HX_REQUEST="true"
    )
    assert b"opted out" in response.content
    with tenant_scope(sms_maple.organization):
        assert not Message.objects.filter(kind=MessageKind.MANUAL).exists()


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_a_reply_naming_a_drug_is_refused(login, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "question")
    with tenant_scope(sms_maple.organization):
        conversation = Conversation.objects.get()
    response = login(sms_maple.pharmacist).post(
        f"/inbox/{conversation.public_id}/reply/",
        {"body": "Your atorvastatin is ready"},
        HTTP_HX_REQUEST="true",
    )
    assert b"must not name drugs" in response.content
    with tenant_scope(sms_maple.organization):
        assert not Message.objects.filter(kind=MessageKind.MANUAL).exists()


@time_machine.travel(TUESDAY_11PM, tick=False)
def test_outside_the_window_the_sender_is_warned_then_chooses(login, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "late question")
    with tenant_scope(sms_maple.organization):
        conversation = Conversation.objects.get()
    client = login(sms_maple.pharmacist)
    url = f"/inbox/{conversation.public_id}/reply/"
    warned = client.post(url, {"body": "Answer tomorrow"}, HTTP_HX_REQUEST="true")
    assert b"outside the patient" in warned.content
    assert b"Hold until the window opens" in warned.content
    with tenant_scope(sms_maple.organization):
        assert not Message.objects.filter(kind=MessageKind.MANUAL).exists()
    client.post(url, {"body": "Answer tomorrow", "outside_window": "hold"}, HTTP_HX_REQUEST="true")
    client.post(url, {"body": "Urgent: call us", "outside_window": "send"}, HTTP_HX_REQUEST="true")
    with tenant_scope(sms_maple.organization):
        held, urgent = Message.objects.filter(kind=MessageKind.MANUAL).order_by("id")
        assert held.due_at == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)  # 08:00 CST
        assert held.defer_reason == "held_by_staff"
        assert urgent.due_at == TUESDAY_11PM and urgent.allow_quiet_hours
        result = services.messages_dispatch_due(time_budget=2)
        assert result.sent == 1
        urgent.refresh_from_db()
        assert urgent.status == MessageStatus.SENT


def test_assign_close_and_a_new_text_reopens(login, sms_maple, sms_birch, make_patient):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "question")
    with tenant_scope(sms_maple.organization):
        conversation = Conversation.objects.get()
    client = login(sms_maple.pharmacist)
    base = f"/inbox/{conversation.public_id}"
    assert client.post(f"{base}/assign/", {"assignee": "me"}).status_code == 302
    birch_user = str(sms_birch.pharmacist.public_id)
    assert client.post(f"{base}/assign/", {"assignee": birch_user}).status_code == 404
    with tenant_scope(sms_maple.organization):
        conversation.refresh_from_db()
        assert conversation.assigned_to == sms_maple.pharmacist
    mine = client.get("/inbox/?view=mine").context["page"].object_list
    assert [c.pk for c in mine] == [conversation.pk]
    assert client.post(f"{base}/close/").status_code == 302
    with tenant_scope(sms_maple.organization):
        conversation.refresh_from_db()
        assert conversation.status == ConversationStatus.CLOSED
        assert not Message.objects.filter(read_at__isnull=True).exists()
    receive(sms_maple, patient, "one more thing")
    with tenant_scope(sms_maple.organization):
        conversation.refresh_from_db()
        assert conversation.status == ConversationStatus.OPEN


def test_in_development_staff_can_simulate_a_reply(login, sms_maple, make_patient, settings):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "hi")
    with tenant_scope(sms_maple.organization):
        conversation = Conversation.objects.get()
    client = login(sms_maple.pharmacist)
    url = f"/inbox/{conversation.public_id}/simulate/"
    assert client.post(url, {"body": "X"}, HTTP_HX_REQUEST="true").status_code == 200
    with tenant_scope(sms_maple.organization):
        simulated = Message.objects.filter(direction=Direction.INBOUND).order_by("id").last()
        assert simulated.body == "X" and simulated.intent == "change"
        assert simulated.provider_sid.startswith("SMsimulated")
    settings.MESSAGING_SIMULATOR_ENABLED = False
    assert client.post(url, {"body": "C"}).status_code == 404


# --- A patient's texting page -----------------------------------------------------------------


def test_staff_record_consent_and_the_log_shows_who_and_how(login, sms_maple, make_patient):
    patient = make_patient(sms_maple, consent=False)
    client = login(sms_maple.pharmacist)
    page = f"/patients/{patient.public_id}/texting/"
    assert b"No consent on file" in client.get(page).content
    response = client.post(f"{page}consent/", {"action": "grant", "method": "written"})
    assert response.status_code == 302
    with tenant_scope(sms_maple.organization):
        consent = SmsConsent.objects.get(patient=patient)
        assert consent.granted and consent.method == "written"
        assert consent.recorded_by == sms_maple.pharmacist
        assert consent.phone == patient.phone
    shown = client.get(page)
    assert b"Agreed to treatment texts" in shown.content
    assert [e.kind for e in shown.context["events"]] == ["granted"]


def test_preferences_reject_a_window_that_closes_before_it_opens(login, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    client = login(sms_maple.pharmacist)
    page = f"/patients/{patient.public_id}/texting/"
    response = client.post(
        f"{page}consent/",
        {"action": "preferences", "language": "es", "quiet_start": "20:00", "quiet_end": "09:00"},
        follow=True,
    )
    assert b"must open before it closes" in response.content
    with tenant_scope(sms_maple.organization):
        consent = SmsConsent.objects.get(patient=patient)
        assert consent.language == "" and consent.quiet_start.hour == 8


def test_a_technician_sees_but_cannot_change_consent(login, sms_maple, make_patient):
    patient = make_patient(sms_maple, consent=False)
    client = login(sms_maple.technician)
    page = f"/patients/{patient.public_id}/texting/"
    assert client.get(page).status_code == 200
    assert (
        client.post(f"{page}consent/", {"action": "grant", "method": "verbal"}).status_code == 403
    )
    with tenant_scope(sms_maple.organization):
        assert not SmsConsent.objects.filter(patient=patient, granted=True).exists()


def test_another_orgs_patient_texting_page_is_a_404(login, sms_maple, sms_birch, make_patient):
    patient = make_patient(sms_maple, consent=False)
    client = login(sms_birch.pharmacist)
    page = f"/patients/{patient.public_id}/texting/"
    assert client.get(page).status_code == 404
    assert (
        client.post(f"{page}consent/", {"action": "grant", "method": "verbal"}).status_code == 404
    )
    with tenant_scope(sms_maple.organization):
        assert not SmsConsent.objects.filter(patient=patient).exists()


def test_the_patient_record_shows_the_texting_panel(login, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "STOP")
    response = login(sms_maple.pharmacist).get(f"/patients/{patient.public_id}/")
    assert response.status_code == 200
    assert b'data-testid="texting-panel"' in response.content
    assert b"Opted out of texts" in response.content
    assert f"/patients/{patient.public_id}/texting/".encode() in response.content


# --- Templates --------------------------------------------------------------------------------


def test_an_owner_saves_a_valid_template_and_it_is_used(login, sms_maple, make_patient):
    client = login(sms_maple.owner)
    url = "/texting/templates/ready_for_pickup/en/"
    body = "{pharmacy_name}: {first_name}, your order is ready. Call {pharmacy_phone}. STOP to end"
    assert client.post(url, {"body": body}).status_code == 302
    patient = make_patient(sms_maple, first_name="Ana")
    with tenant_scope(sms_maple.organization):
        assert MessageTemplate.objects.get(kind="ready_for_pickup", language="en").body == body
        message = services.automated_message_request(
            patient=patient, kind="ready_for_pickup", dedupe_key="k", context={}
        )
    assert (
        message.body == "Maple Main St: Ana, your order is ready. Call (608) 555-0134. STOP to end"
    )


def test_an_invalid_template_shows_each_problem_and_saves_nothing(login, sms_maple):
    client = login(sms_maple.owner)
    response = client.post(
        "/texting/templates/prep_reminder/en/",
        {"body": "{first_name}, your {medication} for {condition} is due {anchor_date}."},
    )
    assert response.status_code == 200
    errors = response.context["check"].errors["body"]
    assert any("{medication} could put a drug name" in e for e in errors)
    assert any("{condition} could put a drug name" in e for e in errors)
    with tenant_scope(sms_maple.organization):
        assert not MessageTemplate.objects.exists()


def test_a_template_naming_a_drug_or_too_long_is_refused(login, sms_maple):
    client = login(sms_maple.owner)
    drug = client.post(
        "/texting/templates/ready_for_pickup/en/",
        {"body": "{first_name}, your atorvastatin is ready. STOP to end"},
    )
    assert drug.status_code == 200, drug
    assert any("atorvastatin" in e for e in drug.context["check"].errors["body"])
    long = client.post(
        "/texting/templates/ready_for_pickup/en/",
        {"body": "{pharmacy_name}: {first_name} " + "w" * 130 + " STOP"},
    )
    # Checked with this organization's longest pharmacy name (13) and a 15-letter first name.
    assert long.status_code == 200
    assert any("the limit is 160" in e for e in long.context["check"].errors["body"])


def test_the_preview_updates_as_you_type(login, sms_maple):
    client = login(sms_maple.pharmacist)
    ok = client.post(
        "/texting/templates/help_reply/es/preview/",
        {"body": "{pharmacy_name}: ayuda al {pharmacy_phone}."},
    )
    assert ok.status_code == 200
    assert b"Maple Elm Ave: ayuda al (608) 555-0134." in ok.content  # the org's own pharmacy
    bad = client.post("/texting/templates/help_reply/es/preview/", {"body": "{dob}"})
    assert b"could put a drug name" in bad.content


def test_a_pharmacist_previews_but_may_not_change_templates(login, sms_maple):
    client = login(sms_maple.pharmacist)
    assert client.get("/texting/templates/").status_code == 200
    assert client.get("/texting/templates/prep_reminder/en/").status_code == 200
    assert (
        client.post("/texting/templates/prep_reminder/en/", {"body": "x STOP"}).status_code == 403
    )
    assert client.get("/texting/templates/nonsense/en/").status_code == 404
    with tenant_scope(sms_maple.organization):
        assert not MessageTemplate.objects.exists()


def test_a_templates_org_is_its_own(login, sms_maple, sms_birch, make_patient):
    login(sms_maple.owner).post(
        "/texting/templates/ready_for_pickup/en/",
        {"body": "{pharmacy_name}: ready, {first_name}. STOP to end"},
    )
    birch_patient = make_patient(sms_birch, first_name="Bea")
    with tenant_scope(sms_birch.organization):
        message = services.automated_message_request(
            patient=birch_patient, kind="ready_for_pickup", dedupe_key="k", context={}
        )
    assert message.body.startswith("Birch Rx: Bea, your refills are ready for pickup.")
    with tenant_scope(sms_maple.organization):
        assert SmsNumber.objects.count() == 0


def test_the_dashboard_card_counts_unread_replies_and_links_the_inbox(
    login, sms_maple, make_patient
):
    patient = make_patient(sms_maple)
    receive(sms_maple, patient, "question one")
    receive(sms_maple, patient, "question two")
    response = login(sms_maple.pharmacist).get("/dashboard/")
    assert response.status_code == 200
    assert b'data-card="texts"' in response.content
    assert b'data-testid="card-texts-1">2<' in response.content
    assert b'href="/inbox/"' in response.content


def test_the_inbox_is_in_the_navigation_only_for_those_who_answer(login, sms_maple):
    assert b'href="/inbox/">Inbox<' in login(sms_maple.pharmacist).get("/dashboard/").content


def test_a_technician_sees_no_inbox_link(login, sms_maple):
    assert b'href="/inbox/"' not in login(sms_maple.technician).get("/fill-queue/").content


def test_listing_the_inbox_is_audited_but_its_refresh_is_not(login, sms_maple, make_patient):
    receive(sms_maple, make_patient(sms_maple), "hello")
    client = login(sms_maple.pharmacist)
    client.get("/inbox/")
    client.get("/inbox/?partial=list", HTTP_HX_REQUEST="true")
    with tenant_scope(sms_maple.organization):
        events = AuditEvent.objects.filter(action="messaging.conversation.listed")
        assert [(e.actor, e.metadata["count"]) for e in events] == [(sms_maple.pharmacist, 1)]
