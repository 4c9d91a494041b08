"""Twilio webhooks signed with twilio.request_validator.RequestValidator: inbound texts,
keywords, de-duplication, status callbacks, and tenant isolation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from twilio.request_validator import RequestValidator

from medsync.tenancy import tenant_scope
from messaging import gateways, registry, services
from messaging.models import (
    ConsentEventKind,
    Conversation,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    SmsConsent,
    SmsNumber,
    StatusCallback,
)
from messaging.services import delivery
from tests.messaging.conftest import BIRCH_SMS, BIRCH_TOKEN, MAPLE_SMS, MAPLE_TOKEN

pytestmark = pytest.mark.django_db

INBOUND = "/webhooks/twilio/sms/"
STATUS = "/webhooks/twilio/status/"
TUESDAY_10AM = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
sid_counter = iter(range(10_000, 99_999))


def signed_post(client, path, params, *, token, url=None, **extra):
    url = url or f"http://testserver{path}"
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


def text(client, body, *, sender, to=MAPLE_SMS, token=MAPLE_TOKEN, sid=None):
    params = {
        "MessageSid": sid or f"SM{next(sid_counter):032d}",
        "AccountSid": "AC" + "a" * 32,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }
    return signed_post(client, INBOUND, params, token=token)


class SpyGateway(gateways.ConsoleGateway):
    calls: list = []

    def send(self, outgoing):
        SpyGateway.calls.append(outgoing)
        return super().send(outgoing)


@pytest.fixture
def spy(monkeypatch):
    SpyGateway.calls = []
    monkeypatch.setattr(delivery, "gateway_for", lambda **kwargs: SpyGateway())
    return SpyGateway


# --- Signatures -------------------------------------------------------------------------------


def test_a_correctly_signed_text_is_accepted(client, sms_maple, make_patient):
    patient = make_patient(sms_maple, phone="+16085551234")
    response = text(client, "Can I come Friday?", sender=patient.phone)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in response.content
    with tenant_scope(sms_maple.organization):
        [message] = Message.objects.filter(direction=Direction.INBOUND)
        assert message.patient == patient
        assert message.body == "Can I come Friday?"
        assert message.read_at is None  # unread in the staff inbox
        assert message.conversation.patient == patient


def test_a_changed_body_url_or_token_gets_403_and_changes_nothing(client, sms_maple):
    params = {"MessageSid": "SM" + "9" * 32, "From": "+16085551234", "To": MAPLE_SMS, "Body": "C"}
    good = RequestValidator(MAPLE_TOKEN).compute_signature(f"http://testserver{INBOUND}", params)
    tampered = {**params, "Body": "STOP"}
    assert client.post(INBOUND, tampered, HTTP_X_TWILIO_SIGNATURE=good).status_code == 403, (
        "changed body"
    )
    other_url = RequestValidator(MAPLE_TOKEN).compute_signature(
        "http://testserver/webhooks/twilio/other/", params
    )
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=other_url).status_code == 403
    wrong_token = RequestValidator("not-the-token").compute_signature(
        f"http://testserver{INBOUND}", params
    )
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=wrong_token).status_code == 403
    assert client.post(INBOUND, params).status_code == 403  # no signature at all
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=good).status_code == 200
    with tenant_scope(sms_maple.organization):
        assert Message.objects.count() == 1
        assert not SmsNumber.objects.filter(opted_out_at__isnull=False).exists()


def test_a_text_to_a_number_we_do_not_own_gets_403(client, sms_maple):
    response = text(client, "hi", sender="+16085551234", to="+19995550000")
    assert response.status_code == 403


def test_behind_a_tls_proxy_the_https_url_is_validated(client, sms_maple, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    params = {"MessageSid": "SM" + "7" * 32, "From": "+16085551234", "To": MAPLE_SMS, "Body": "hi"}
    https = f"https://testserver{INBOUND}"
    signature = RequestValidator(MAPLE_TOKEN).compute_signature(https, params)
    # The proxy spoke https to Twilio and plain http to us.
    ok = client.post(
        INBOUND, params, HTTP_X_TWILIO_SIGNATURE=signature, HTTP_X_FORWARDED_PROTO="https"
    )
    assert ok.status_code == 200
    # The same request without the proxy's header is checked against http:// and fails.
    params["MessageSid"] = "SM" + "6" * 32
    signature = RequestValidator(MAPLE_TOKEN).compute_signature(https, params)
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403


def test_a_configured_public_url_is_what_the_signature_covers(client, sms_maple, settings):
    settings.MESSAGING_PUBLIC_BASE_URL = "https://medsync.example.com"
    params = {"MessageSid": "SM" + "5" * 32, "From": "+16085551234", "To": MAPLE_SMS, "Body": "hi"}
    public = "https://medsync.example.com/webhooks/twilio/sms/"
    signature = RequestValidator(MAPLE_TOKEN).compute_signature(public, params)
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 200
    internal = RequestValidator(MAPLE_TOKEN).compute_signature(
        f"http://testserver{INBOUND}", params
    )
    assert client.post(INBOUND, params, HTTP_X_TWILIO_SIGNATURE=internal).status_code == 403


def test_get_is_not_allowed(client, sms_maple):
    assert client.get(INBOUND).status_code == 405


# --- De-duplication ---------------------------------------------------------------------------


def test_the_same_message_sid_twice_creates_one_message(client, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    sid = "SM" + "4" * 32
    assert text(client, "HELP", sender=patient.phone, sid=sid).status_code == 200
    assert text(client, "HELP", sender=patient.phone, sid=sid).status_code == 200
    with tenant_scope(sms_maple.organization):
        assert Message.objects.filter(direction=Direction.INBOUND).count() == 1
        assert Message.objects.filter(kind=MessageKind.HELP_REPLY).count() == 1


# --- Keywords ---------------------------------------------------------------------------------


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_stop_then_a_due_reminder_sends_nothing_and_never_calls_the_gateway(
    client, sms_maple, make_patient, spy
):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        reminder = services.automated_message_request(
            patient=patient,
            kind="prep_reminder",
            dedupe_key="cycle:1:prep_reminder",
            context={"anchor_date": date(2026, 3, 12)},
        )
    assert text(client, "Stop", sender=patient.phone).status_code == 200
    assert text(client, "STOP", sender=patient.phone).status_code == 200  # once is enough
    with tenant_scope(sms_maple.organization):
        number = SmsNumber.objects.get(phone=patient.phone)
        assert number.opted_out_at is not None
        reminder.refresh_from_db()
        assert reminder.status == MessageStatus.SKIPPED
        assert reminder.skip_reason == "opted_out"
        # A reminder asked for after STOP is not queued either.
        assert (
            services.automated_message_request(
                patient=patient, kind="ready_for_pickup", dedupe_key="cycle:1:ready", context={}
            )
            is None
        )
        services.messages_dispatch_due(time_budget=2)
        confirmations = Message.objects.filter(kind=MessageKind.OPT_OUT_CONFIRMATION)
        assert confirmations.count() == 1
        assert patient.sms_consent_events.filter(kind=ConsentEventKind.OPTED_OUT).count() == 1
    # The only text that reached the gateway is the one opt-out confirmation.
    assert [call.body for call in spy.calls] == [confirmations.get().body]
    assert "START" in spy.calls[0].body


@time_machine.travel(TUESDAY_10AM, tick=False)
def test_start_re_enables_texts(client, sms_maple, make_patient, spy):
    patient = make_patient(sms_maple)
    text(client, "STOP", sender=patient.phone)
    text(client, "start", sender=patient.phone)
    with tenant_scope(sms_maple.organization):
        assert SmsNumber.objects.get(phone=patient.phone).opted_out_at is None
        assert SmsConsent.objects.get(patient=patient).granted
        reminder = services.automated_message_request(
            patient=patient, kind="prep_reminder", dedupe_key="k", context={}
        )
        assert reminder.status == MessageStatus.QUEUED
        services.messages_dispatch_due(time_budget=2)
        kinds = list(
            Message.objects.filter(direction=Direction.OUTBOUND)
            .order_by("id")
            .values_list("kind", "status")
        )
    assert kinds == [
        ("opt_out_confirmation", "sent"),
        ("opt_in_confirmation", "sent"),
        ("prep_reminder", "sent"),
    ]


def test_start_from_a_patient_without_consent_records_consent_by_text(
    client, sms_maple, make_patient
):
    patient = make_patient(sms_maple, consent=False)
    text(client, "START", sender=patient.phone)
    with tenant_scope(sms_maple.organization):
        consent = SmsConsent.objects.get(patient=patient)
        assert consent.granted and consent.method == "sms_keyword"
        assert consent.phone == patient.phone


def test_help_answers_with_pharmacy_name_phone_and_how_to_stop(client, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    text(client, "HELP", sender=patient.phone)
    text(client, "ayuda", sender=patient.phone)
    with tenant_scope(sms_maple.organization):
        english, spanish = Message.objects.filter(kind=MessageKind.HELP_REPLY).order_by("id")
        inbound = Message.objects.filter(direction=Direction.INBOUND)
        assert all(m.read_at is not None for m in inbound)  # answered: nothing for staff
    assert "Maple Main St" in english.body
    assert "(608) 555-0134" in english.body
    assert "STOP" in english.body and "Msg & data rates may apply" in english.body
    assert "STOP para salir" in spanish.body
    assert english.to_number == patient.phone
    assert english.from_number == MAPLE_SMS


def test_c_and_x_go_to_the_registered_handler(client, sms_maple, make_patient):
    patient = make_patient(sms_maple)
    calls = []

    def handler(who, intent, message):
        calls.append((who.pk, intent, message.body))
        return True

    registry.register_reply_handler(handler)
    text(client, "C", sender=patient.phone)
    text(client, "x", sender=patient.phone)
    assert calls == [(patient.pk, "confirm", "C"), (patient.pk, "change", "x")]
    with tenant_scope(sms_maple.organization):
        inbound = list(Message.objects.filter(direction=Direction.INBOUND).order_by("id"))
        assert [(m.intent, m.intent_applied, m.read_at is not None) for m in inbound] == [
            ("confirm", True, True),
            ("change", True, True),
        ]
        acks = list(
            Message.objects.filter(kind__in=["confirm_ack", "change_ack"]).values_list(
                "kind", flat=True
            )
        )
        assert acks == ["confirm_ack", "change_ack"]


def test_without_a_handler_c_lands_unread_in_the_inbox_with_the_intent(
    client, sms_maple, make_patient
):
    patient = make_patient(sms_maple)
    text(client, "c", sender=patient.phone)
    with tenant_scope(sms_maple.organization):
        [message] = Message.objects.filter(direction=Direction.INBOUND)
        assert message.intent == "confirm"
        assert not message.intent_applied
        assert message.read_at is None
        assert not Message.objects.filter(kind="confirm_ack").exists()


def test_a_handler_that_finds_no_open_cycle_leaves_the_reply_for_staff(
    client, sms_maple, make_patient
):
    patient = make_patient(sms_maple)
    registry.register_reply_handler(lambda who, intent, message: False)
    text(client, "X", sender=patient.phone)
    with tenant_scope(sms_maple.organization):
        [message] = Message.objects.filter(direction=Direction.INBOUND)
        assert message.intent == "change" and message.read_at is None


def test_a_failing_handler_does_not_lose_the_reply(client, sms_maple, make_patient):
    patient = make_patient(sms_maple)

    def broken(who, intent, message):
        raise RuntimeError("bug in the handler")

    registry.register_reply_handler(broken)
    assert text(client, "C", sender=patient.phone).status_code == 200
    with tenant_scope(sms_maple.organization):
        [message] = Message.objects.filter(direction=Direction.INBOUND)
        assert message.read_at is None and message.intent == "confirm"


def test_yes_confirms_only_while_a_prep_question_is_open(client, sms_maple, make_patient):
    open_for = set()
    patient = make_patient(sms_maple)
    other = make_patient(sms_maple)
    open_for.add(patient.pk)
    applied = []
    registry.register_open_prep_question_check(lambda who: who.pk in open_for)
    registry.register_reply_handler(lambda who, intent, m: applied.append((who.pk, intent)) or True)
    text(client, "Yes", sender=patient.phone)
    text(client, "yes", sender=other.phone)
    assert applied == [(patient.pk, "confirm")]
    with tenant_scope(sms_maple.organization):
        unread = Message.objects.filter(direction=Direction.INBOUND, read_at__isnull=True)
        assert [m.patient_id for m in unread] == [other.pk]


def test_an_unknown_sender_lands_in_the_inbox_as_unknown(client, sms_maple):
    text(client, "Who is this?", sender="+16085559876")
    with tenant_scope(sms_maple.organization):
        conversation = Conversation.objects.get(phone="+16085559876")
        assert conversation.patient is None
        assert conversation.pharmacy == sms_maple.pharmacies[0]
        [message] = conversation.messages.all()
        assert message.read_at is None and message.patient is None


def test_stop_from_an_unknown_number_still_protects_it(client, sms_maple, make_patient):
    text(client, "STOP", sender="+16085559876")
    patient = make_patient(sms_maple, phone="+16085559876")  # registered later
    with tenant_scope(sms_maple.organization):
        assert (
            services.automated_message_request(
                patient=patient, kind="prep_reminder", dedupe_key="k", context={}
            )
            is None
        )


# --- Tenants ----------------------------------------------------------------------------------


def test_a_webhook_to_birchs_number_never_reads_or_changes_maples_patients(
    client, sms_maple, sms_birch, make_patient
):
    shared_phone = "+16085554321"
    maple_patient = make_patient(sms_maple, phone=shared_phone, first_name="Maple")
    birch_patient = make_patient(sms_birch, phone=shared_phone, first_name="Birch")
    calls = []
    registry.register_reply_handler(lambda who, intent, m: calls.append(who.pk) or True)
    # Maple's token cannot sign for Birch's number.
    assert text(client, "C", sender=shared_phone, to=BIRCH_SMS).status_code == 403
    assert (
        text(client, "C", sender=shared_phone, to=BIRCH_SMS, token=BIRCH_TOKEN).status_code == 200
    )
    assert calls == [birch_patient.pk]
    text(client, "STOP", sender=shared_phone, to=BIRCH_SMS, token=BIRCH_TOKEN)
    with tenant_scope(sms_birch.organization):
        assert SmsNumber.objects.get(phone=shared_phone).opted_out_at is not None
        assert Message.objects.filter(direction=Direction.INBOUND).count() == 2
        assert {m.patient_id for m in Message.objects.all()} == {birch_patient.pk}
    with tenant_scope(sms_maple.organization):
        assert not SmsNumber.objects.filter(phone=shared_phone).exists()
        assert not Message.objects.exists()
        assert SmsConsent.objects.get(patient=maple_patient).granted
        assert not maple_patient.sms_consent_events.exclude(kind="granted").exists()


# --- Status callbacks -------------------------------------------------------------------------


@pytest.fixture
def sent_message(sms_maple, make_patient):
    patient = make_patient(sms_maple)
    with time_machine.travel(TUESDAY_10AM, tick=False), tenant_scope(sms_maple.organization):
        message = services.automated_message_request(
            patient=patient, kind="prep_reminder", dedupe_key="k", context={}
        )
        services.messages_dispatch_due(time_budget=2)
        message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    return message


def callback(client, message_sid, status, *, token=MAPLE_TOKEN, error_code="", sender=MAPLE_SMS):
    params = {
        "MessageSid": message_sid,
        "MessageStatus": status,
        "AccountSid": "AC" + "a" * 32,
        "From": sender,
        "To": "+16085551234",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return signed_post(client, STATUS, params, token=token)


def test_status_callbacks_out_of_order_keep_the_furthest_status(client, sms_maple, sent_message):
    sid = sent_message.provider_sid
    assert callback(client, sid, "delivered").status_code == 204
    assert callback(client, sid, "sent").status_code == 204  # late
    assert callback(client, sid, "queued").status_code == 204  # later still
    assert callback(client, sid, "delivered").status_code == 204  # again
    with tenant_scope(sms_maple.organization):
        sent_message.refresh_from_db()
        assert sent_message.status == MessageStatus.DELIVERED
        assert sent_message.delivered_at is not None
        assert StatusCallback.objects.filter(provider_sid=sid).count() == 3  # one per status


def test_undelivered_with_21610_opts_the_number_out(client, sms_maple, sent_message):
    callback(client, sent_message.provider_sid, "undelivered", error_code="21610")
    with tenant_scope(sms_maple.organization):
        sent_message.refresh_from_db()
        assert sent_message.status == MessageStatus.UNDELIVERED
        assert SmsNumber.objects.get(phone=sent_message.to_number).opted_out_at is not None


def test_a_status_callback_with_a_bad_signature_changes_nothing(
    client, sms_maple, sms_birch, sent_message
):
    assert (
        callback(client, sent_message.provider_sid, "failed", token=BIRCH_TOKEN).status_code == 403
    )
    with tenant_scope(sms_maple.organization):
        sent_message.refresh_from_db()
        assert sent_message.status == MessageStatus.SENT
        assert not StatusCallback.objects.exists()


def test_a_callback_that_beats_the_send_record_is_applied_when_the_send_is_recorded(
    client, sms_maple, make_patient
):
    patient = make_patient(sms_maple)
    early_sid = "SM" + "e" * 32
    assert callback(client, early_sid, "delivered").status_code == 204
    with time_machine.travel(TUESDAY_10AM, tick=False), tenant_scope(sms_maple.organization):
        message = services.automated_message_request(
            patient=patient, kind="prep_reminder", dedupe_key="k", context={}
        )
        services.messages_dispatch_due(max_messages=0)
        outcome, claimed, _ = services.message_claim_next(now=TUESDAY_10AM, busy=set())
        assert outcome == "claimed"
        services.message_mark_sent(message=claimed, provider_sid=early_sid)
        message.refresh_from_db()
        assert message.status == MessageStatus.DELIVERED
