"""Issue 14, problem 6: background polling neither keeps a session alive nor reads texts."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from medsync.tenancy import tenant_scope
from messaging import services
from messaging.models import Conversation, Direction, Message

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 25, 14, 0, tzinfo=dt.UTC)
POLL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/inbox/"}


def _poll_inbox(client):
    return client.get("/inbox/?view=unread&partial=list&poll=1", **POLL)


def _signed_in(response) -> bool:
    """htmx's answer to a poll: the list (200), not the order to load the login page."""
    return response.status_code == 200 and "HX-Redirect" not in response


def test_only_polling_for_longer_than_the_idle_timeout_signs_the_user_out(
    client, maple, login, settings
):
    assert settings.SESSION_IDLE_MINUTES == 15
    with time_machine.travel(START, tick=False) as traveller:
        login(maple.pharmacist)
        for _ in range(3):  # a screen left open: the list refreshes, nobody touches it
            traveller.shift(dt.timedelta(minutes=4))
            assert _signed_in(_poll_inbox(client))
        traveller.shift(dt.timedelta(minutes=4))  # 16 minutes after the last person's request
        ended = _poll_inbox(client)
        page = client.get("/dashboard/")
    assert not _signed_in(ended)
    assert ended["HX-Redirect"] == "/accounts/login/?next=/inbox/"
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")


def test_a_person_acting_keeps_the_session_alive_between_polls(client, maple, login):
    with time_machine.travel(START, tick=False) as traveller:
        login(maple.pharmacist)
        traveller.shift(dt.timedelta(minutes=10))
        assert _signed_in(_poll_inbox(client))
        traveller.shift(dt.timedelta(minutes=4))
        assert client.get("/inbox/").status_code == 200  # a click: activity
        traveller.shift(dt.timedelta(minutes=14))
        assert _signed_in(_poll_inbox(client))
        assert client.get("/dashboard/").status_code == 200


def test_a_poll_after_the_session_ended_asks_htmx_to_load_the_login_page(client, maple, login):
    with time_machine.travel(START, tick=False) as traveller:
        login(maple.pharmacist)
        traveller.shift(dt.timedelta(minutes=16))
        response = _poll_inbox(client)
    assert not _signed_in(response)
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")


def test_the_conversation_poll_does_not_mark_new_texts_read(client, sms_maple, login, make_patient):
    patient = make_patient(sms_maple)
    with tenant_scope(sms_maple.organization):
        services.inbound_message_receive(
            pharmacy=sms_maple.pharmacies[0],
            from_number=patient.phone,
            to_number=sms_maple.pharmacies[0].sms_number,
            body="Is my order ready?",
            provider_sid="SMpoll0001",
        )
        conversation = Conversation.objects.get()
    login(sms_maple.pharmacist)
    url = f"/inbox/{conversation.public_id}/"
    polled = client.get(f"{url}?partial=thread&poll=1", **POLL)
    assert polled.status_code == 200
    assert b"Is my order ready?" in polled.content
    with tenant_scope(sms_maple.organization):
        message = Message.objects.get(direction=Direction.INBOUND)
        assert message.read_at is None  # nobody read it: the screen refreshed itself
    assert client.get(url).status_code == 200  # a person opens it
    with tenant_scope(sms_maple.organization):
        message.refresh_from_db()
        assert message.read_at is not None
        assert message.read_by == sms_maple.pharmacist


def test_the_polling_elements_mark_their_requests_as_polls(client, sms_maple, login):
    login(sms_maple.pharmacist)
    inbox = client.get("/inbox/").content.decode()
    assert "partial=list&amp;poll=1" in inbox


def test_a_token_call_creates_no_session(api_client_for, maple):
    from importlib import import_module

    from django.conf import settings

    Session = import_module(settings.SESSION_ENGINE).SessionStore.get_model_class()
    before = Session.objects.count()
    api = api_client_for(maple.pharmacist)
    assert api.get("/api/v1/me/").status_code == 200
    assert "sessionid" not in api.cookies
    assert Session.objects.count() == before


def test_poll_1_on_an_api_call_is_an_ordinary_call(api_client_for, maple):
    api = api_client_for(maple.pharmacist)
    assert api.get("/api/v1/me/?poll=1").status_code == 200
