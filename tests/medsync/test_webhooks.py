"""Webhooks: signed, retried with backoff, per organization; inbound pushes verified."""

import datetime as dt
import json
import time

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scopes_disabled

from medsync import webhooks
from medsync.models import AuditEvent, DeliveryStatus, WebhookDelivery, WebhookSubscription
from medsync.tenancy import tenant_scope
from medsync.webhooks import signing
from medsync.webhooks.services import (
    MAX_ATTEMPTS,
    backoff_seconds,
    webhook_deliver,
    webhook_subscription_create,
)
from patients.models import Fill
from tests.factories import (
    InboundEndpointFactory,
    PatientFactory,
    PrescriptionFactory,
    WebhookSubscriptionFactory,
)

pytestmark = pytest.mark.django_db


def _deliveries(**filters):
    with scopes_disabled():
        return list(WebhookDelivery.objects.filter(**filters).order_by("id"))


def test_a_delivery_is_signed_and_verifies_with_the_subscription_secret(maple, hook_server):
    subscription = WebhookSubscriptionFactory(
        organization=maple.organization, url=hook_server.url + "/maple"
    )
    queued = webhooks.emit(maple.organization, "cycle.ready", {"cycle": "abc"})
    assert queued == 1
    [delivery] = _deliveries()
    with tenant_scope(maple.organization):
        assert webhook_deliver(delivery_id=str(delivery.public_id)) == ("delivered", None)
    [(path, headers, body)] = hook_server.received
    assert path == "/maple"
    assert signing.verify(subscription.secret, headers[signing.HEADER], body, now=int(time.time()))
    with pytest.raises(signing.SignatureError):
        signing.verify("whsec_wrong", headers[signing.HEADER], body, now=int(time.time()))
    envelope = json.loads(body)
    assert envelope["type"] == "cycle.ready" and envelope["data"] == {"cycle": "abc"}
    assert envelope["organization"] == str(maple.organization.public_id)
    assert headers["X-MedSync-Event"] == "cycle.ready"
    [delivery] = _deliveries()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.last_status_code == 200
    with tenant_scope(maple.organization):  # run twice = once
        assert webhook_deliver(delivery_id=str(delivery.public_id))[0] == "skipped"
    assert len(hook_server.received) == 1


def test_a_500_is_retried_with_backoff_then_delivered(maple, hook_server):
    WebhookSubscriptionFactory(organization=maple.organization, url=hook_server.url)
    hook_server.statuses[:] = [500, 503]
    webhooks.emit(maple.organization, "cycle.picked_up", {"cycle": "x"})
    [delivery] = _deliveries()
    delivery_id = str(delivery.public_id)
    start = timezone.now()
    with tenant_scope(maple.organization):
        assert webhook_deliver(delivery_id=delivery_id) == ("retry", backoff_seconds(1))
        assert webhook_deliver(delivery_id=delivery_id)[0] == "skipped"  # not due yet
        with time_machine.travel(start + dt.timedelta(seconds=backoff_seconds(1) + 1)):
            assert webhook_deliver(delivery_id=delivery_id) == ("retry", backoff_seconds(2))
        with time_machine.travel(start + dt.timedelta(hours=2)):
            assert webhook_deliver(delivery_id=delivery_id) == ("delivered", None)
    [delivery] = _deliveries()
    assert delivery.attempts == 3 and delivery.status == DeliveryStatus.DELIVERED
    assert len(hook_server.received) == 3
    bodies = {body for _, _, body in hook_server.received}
    assert len(bodies) == 1  # the same event each time; only the signature's time moves
    assert backoff_seconds(2) == 2 * backoff_seconds(1)


def test_a_delivery_gives_up_after_the_last_attempt(maple, hook_server):
    WebhookSubscriptionFactory(organization=maple.organization, url=hook_server.url)
    hook_server.statuses[:] = [500] * MAX_ATTEMPTS
    webhooks.emit(maple.organization, "cycle.ready", {})
    [delivery] = _deliveries()
    with tenant_scope(maple.organization):
        for attempt in range(MAX_ATTEMPTS):
            with time_machine.travel(timezone.now() + dt.timedelta(hours=2 * (attempt + 1))):
                outcome, _ = webhook_deliver(delivery_id=str(delivery.public_id))
    assert outcome == "failed"
    [delivery] = _deliveries()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error == "HTTP 500"


def test_an_event_never_goes_to_another_organization(maple, birch, hook_server):
    WebhookSubscriptionFactory(organization=maple.organization, url=hook_server.url + "/maple")
    WebhookSubscriptionFactory(organization=birch.organization, url=hook_server.url + "/birch")
    WebhookSubscriptionFactory(
        organization=maple.organization, url=hook_server.url + "/other", events=["claim.rejected"]
    )
    webhooks.emit(maple.organization, "enrollment.changed", {"enrollment": "e1"})
    deliveries = _deliveries()
    assert [d.organization_id for d in deliveries] == [maple.organization.pk]
    with tenant_scope(birch.organization):  # Birch's job cannot even find Maple's delivery
        assert webhook_deliver(delivery_id=str(deliveries[0].public_id))[0] == "skipped"
    with tenant_scope(maple.organization):
        webhook_deliver(delivery_id=str(deliveries[0].public_id))
    assert [path for path, _, _ in hook_server.received] == ["/maple"]


def test_emit_rejects_unknown_events_and_subscriptions_check_their_input(maple, settings):
    with pytest.raises(ValueError):
        webhooks.emit(maple.organization, "patient.deleted", {})
    settings.WEBHOOKS_ALLOW_HTTP = False
    with tenant_scope(maple.organization):
        with pytest.raises(Exception) as caught:
            webhook_subscription_create(url="http://example.com/h", events=["x"], actor=None)
        assert set(caught.value.message_dict) == {"url", "events"}
        subscription, secret = webhook_subscription_create(
            url="https://example.com/h", events=["cycle.ready"], actor=maple.owner
        )
        assert secret.startswith("whsec_") and subscription.secret == secret
        assert WebhookSubscription.objects.count() == 1


# --- the sync engine's events ---------------------------------------------------------------


def test_enrollment_changes_are_queued_by_the_scheduling_services(maple, hook_server):
    from scheduling import services
    from scheduling.models import SyncEnrollment
    from tests.scheduling.conftest import enroll, make_patient

    WebhookSubscriptionFactory(organization=maple.organization, url=hook_server.url)
    pharmacy = maple.pharmacies[0]
    today = timezone.localdate()
    synced = make_patient(pharmacy, due_dates=[today + dt.timedelta(days=3)])
    enroll(pharmacy, synced, anchor=today + dt.timedelta(days=3))
    with tenant_scope(maple.organization):
        enrollment = SyncEnrollment.objects.get()
        services.enrollment_pause(enrollment=enrollment, actor=None, reason="Hospital")
        services.enrollment_resume(enrollment=enrollment, actor=None)
        services.enrollment_disenroll(enrollment=enrollment, actor=None, reason="deceased")
    changes = [(d.event, d.payload["change"]) for d in _deliveries()]
    assert changes == [
        ("enrollment.changed", "enrolled"),
        ("enrollment.changed", "paused"),
        ("enrollment.changed", "resumed"),
        ("enrollment.changed", "disenrolled"),
    ]
    payload = _deliveries()[0].payload
    assert payload["patient"] == str(synced.patient.public_id)
    assert synced.patient.last_name not in json.dumps(payload)  # ids only


def test_a_cycle_ready_and_picked_up_are_queued(maple, hook_server):
    from scheduling import services, sweeps
    from scheduling.models import CycleItem, ItemState, SyncCycle
    from tests.scheduling.conftest import enroll, make_patient

    def at(*args):
        return dt.datetime(*args, tzinfo=dt.UTC)

    pharmacy = maple.pharmacies[0]
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 5), dt.date(2026, 3, 12)])
        enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
    WebhookSubscriptionFactory(
        organization=maple.organization,
        url=hook_server.url,
        events=["cycle.ready", "cycle.picked_up"],
    )
    with time_machine.travel(at(2026, 3, 9, 15), tick=False), tenant_scope(maple.organization):
        sweeps.cycles_open_prefill()
        for item in CycleItem.objects.filter(state=ItemState.PLANNED):
            services.cycle_item_advance(item=item, actor=maple.pharmacist, action="fill")
            services.cycle_item_advance(item=item, actor=maple.pharmacist, action="verify")
        cycle = SyncCycle.objects.get()
        services.cycle_pickup_record(cycle=cycle, actor=maple.technician)
    deliveries = _deliveries()
    assert [(d.event, d.payload["status"]) for d in deliveries] == [
        ("cycle.ready", "ready"),
        ("cycle.picked_up", "picked_up"),
    ]
    assert deliveries[0].payload["cycle"] == str(cycle.public_id)


# --- inbound pushes --------------------------------------------------------------------------


def _push(client, endpoint, message, *, secret=None, timestamp=None):
    body = json.dumps(message).encode()
    header = signing.header_value(secret or endpoint.secret, timestamp or int(time.time()), body)
    return client.post(
        f"/webhooks/inbound/{endpoint.public_id}/",
        body,
        content_type="application/json",
        headers={signing.HEADER: header},
    )


def _an_rx(maple):
    with tenant_scope(maple.organization):
        return PrescriptionFactory(
            patient=PatientFactory(organization=maple.organization),
            pharmacy=maple.pharmacies[0],
        )


def _fill_data(rx, **changes):
    return {
        "rx_number": rx.rx_number,
        "pharmacy_ncpdp": rx.pharmacy.ncpdp_id,
        "fill_date": str(rx.written_date + dt.timedelta(days=1)),
        "quantity": "30",
        "days_supply": 30,
        "fill_number": 1,
        "scc_codes": [47],
        **changes,
    }


def test_a_signed_fill_push_is_saved_and_a_replay_refused(client, maple):
    endpoint = InboundEndpointFactory(organization=maple.organization)
    rx = _an_rx(maple)
    message = {"type": "fill.created", "data": _fill_data(rx)}
    timestamp = int(time.time())
    response = _push(client, endpoint, message, timestamp=timestamp)
    assert response.status_code == 201, response.json()
    assert response.json()["change"] == "created"
    with scopes_disabled():
        fill = Fill.objects.get(public_id=response.json()["id"])
        assert (fill.prescription_id, fill.scc_codes, fill.quantity) == (rx.pk, [47], 30)
        assert AuditEvent.objects.filter(action="medsync.webhook.inbound_received").count() == 1
    again = _push(client, endpoint, message, timestamp=timestamp)
    assert again.status_code == 409
    # The same fill pushed again (a new push, not a replay) changes nothing, as a re-import.
    same = _push(client, endpoint, message, timestamp=timestamp - 5)
    assert same.status_code == 201 and same.json() == {
        "id": str(fill.public_id),
        "change": "unchanged",
    }
    with scopes_disabled():
        assert Fill.objects.filter(prescription=rx).count() == 1


def test_forged_stale_and_invalid_pushes_are_refused_and_write_nothing(client, maple, birch):
    endpoint = InboundEndpointFactory(organization=maple.organization)
    rx = _an_rx(maple)
    data = _fill_data(rx)
    message = {"type": "fill.created", "data": data}
    forged = _push(client, endpoint, message, secret="whsec_guessed")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_signature"
    stale = _push(client, endpoint, message, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401
    unsigned = client.post(
        f"/webhooks/inbound/{endpoint.public_id}/", b"{}", content_type="application/json"
    )
    assert unsigned.status_code == 401
    # The import's checks, with the import's reasons: a negative quantity, a value beyond the
    # column's precision, a column the layout does not have, a required one left out.
    for bad, says in (
        ({**data, "quantity": "-1"}, "quantity"),
        ({**data, "quantity": "99999999999"}, "quantity"),
        ({**data, "colour": "blue"}, "colour"),
        ({k: v for k, v in data.items() if k != "fill_date"}, "fill_date"),
    ):
        refused = _push(client, endpoint, {"type": "fill.created", "data": bad})
        assert refused.status_code == 400, bad
        error = refused.json()["error"]
        assert says in json.dumps(error["fields"]), (says, error)
    unknown = _push(client, endpoint, {"type": "patient.deleted", "data": {}})
    assert unknown.status_code == 400
    # Birch's endpoint cannot reach Maple's prescription: not found in Birch's tenant.
    birch_endpoint = InboundEndpointFactory(organization=birch.organization)
    crossed = _push(client, birch_endpoint, message)
    assert crossed.status_code == 400
    with scopes_disabled():
        assert not Fill.objects.filter(prescription=rx).exists()
    missing = client.post(
        "/webhooks/inbound/00000000-0000-0000-0000-000000000000/", b"{}", "application/json"
    )
    assert missing.status_code == 404


def test_a_prescription_push_is_checked_and_written_as_an_import_row(client, maple):
    from patients.models import Prescription
    from tests.factories import SyncDrugFactory

    endpoint = InboundEndpointFactory(organization=maple.organization)
    with tenant_scope(maple.organization):
        patient = PatientFactory(organization=maple.organization)
        drug = SyncDrugFactory()
    data = {
        "rx_number": "RX-PUSH-1",
        "pharmacy_ncpdp": maple.pharmacies[0].ncpdp_id,
        "mrn": patient.mrn,
        "ndc": drug.ndc,
        "sig": "Take 1 tablet by mouth daily",
        "daily_dose": "1",
        "quantity": "30",
        "days_supply": 30,
        "refills_authorized": 5,
        "refills_remaining": 5,
        "written_date": str(timezone.localdate()),
    }
    message = {"type": "prescription.created", "data": data}
    response = _push(client, endpoint, message)
    assert response.status_code == 201, response.json()
    with scopes_disabled():
        rx = Prescription.objects.get(public_id=response.json()["id"])
        assert (rx.patient_id, rx.drug_id, rx.refills_remaining) == (patient.pk, drug.pk, 5)
    # A later push of the same rx number updates it, as a re-import of the file would.
    changed = _push(
        client,
        endpoint,
        {**message, "data": {**data, "refills_remaining": 4}},
        timestamp=int(time.time()) - 5,
    )
    assert changed.status_code == 201 and changed.json()["change"] == "updated"
    with scopes_disabled():
        assert Prescription.objects.get(pk=rx.pk).refills_remaining == 4
    stranger = _push(
        client,
        endpoint,
        {**message, "data": {**data, "mrn": "NOBODY-1"}},
        timestamp=int(time.time()) - 6,
    )
    assert stranger.status_code == 400 and "NOBODY-1" in json.dumps(stranger.json())


# --- the page ---------------------------------------------------------------------------------


def test_the_webhooks_page_is_for_owners_and_shows_a_secret_once(client, maple, birch, login):
    login(maple.pharmacist)
    assert client.get("/settings/webhooks/").status_code == 403
    client.logout()
    login(maple.owner)
    page = client.get("/settings/webhooks/").content.decode()
    assert "Nothing sent yet" in page
    response = client.post(
        "/settings/webhooks/", {"url": "https://pms.example.com/hooks", "events": ["cycle.ready"]}
    )
    with scopes_disabled():
        subscription = WebhookSubscription.objects.get()
    assert subscription.secret in response.content.decode()
    assert subscription.secret not in client.get("/settings/webhooks/").content.decode()
    inbound = client.post("/settings/webhooks/inbound/").content.decode()
    assert "/webhooks/inbound/" in inbound and "whsec_" in inbound
    birch_sub = WebhookSubscriptionFactory(organization=birch.organization)
    assert client.post(f"/settings/webhooks/{birch_sub.public_id}/disable/").status_code == 404
    with scopes_disabled():
        assert WebhookSubscription.objects.get(pk=birch_sub.pk).is_active
