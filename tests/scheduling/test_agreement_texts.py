""" "Send by text" on the agreement page: a one-time signing link as an automated text
whose body holds the pharmacy, the first name and the link only; consent is messaging's
rule; another organization's patient is a 404."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from medsync.models import AuditEvent
from medsync.tenancy import scopes_disabled, tenant_scope
from messaging.models import Message, MessageStatus, SkipReason
from patients.models import AgreementLink
from tests.messaging import conftest as messaging_fixtures

pytestmark = pytest.mark.django_db

_messaging_defaults = messaging_fixtures._messaging_defaults
sms_maple = messaging_fixtures.sms_maple
sms_birch = messaging_fixtures.sms_birch
make_patient = messaging_fixtures.make_patient

# Tuesday 2026-03-03, 10:00 in Madison: inside the texting window.
TUESDAY_10AM = dt.datetime(2026, 3, 3, 16, 0, tzinfo=dt.UTC)


def send(client, patient, kind="cmr_consent"):
    return client.post(f"/patients/{patient.public_id}/agreements/{kind}/send-link/")


@time_machine.travel(TUESDAY_10AM)
def test_the_text_holds_the_first_name_and_a_working_link_only(
    client, login, sms_maple, make_patient
):
    patient = make_patient(sms_maple, first_name="Ana", last_name="Quintero")
    login(sms_maple.pharmacist)
    page = client.get(f"/patients/{patient.public_id}/agreements/cmr_consent/")
    assert 'data-testid="agreement-send-link"' in page.content.decode()

    response = send(client, patient)
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.public_id}/agreements/cmr_consent/"

    with tenant_scope(sms_maple.organization):
        message = Message.objects.get(kind="agreement_link")
        link_row = AgreementLink.objects.get()
    assert message.status == MessageStatus.QUEUED
    assert message.patient_id == patient.pk
    assert message.dedupe_key == f"agreement:{link_row.public_id}:link"
    url = re.search(r"https?://\S+", message.body).group(0)
    assert message.body == f"Maple Main St: Ana, please review and sign: {url} STOP to end"
    assert url.startswith("http://testserver/sign/")
    assert "Quintero" not in message.body and str(patient.public_id) not in message.body
    assert "cmr" not in message.body.lower() and "medication" not in message.body.lower()
    assert len(message.body) <= 160
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="patients.agreement_link.issued").count() == 1

    client.logout()
    public = client.get(url.split("testserver")[1])
    assert public.status_code == 200 and "Quintero" not in public.content.decode()


@time_machine.travel(TUESDAY_10AM)
def test_a_patient_without_sms_consent_is_not_texted(client, login, sms_maple, make_patient):
    patient = make_patient(sms_maple, consent=False)
    login(sms_maple.pharmacist)
    response = send(client, patient)
    assert response.status_code == 302
    with tenant_scope(sms_maple.organization):
        row = Message.objects.get(kind="agreement_link")
    assert row.status == MessageStatus.SKIPPED
    assert row.skip_reason == SkipReason.NO_CONSENT
    page = client.get(response["Location"]).content.decode()
    assert "Not texted" in page


@time_machine.travel(TUESDAY_10AM)
def test_another_organizations_patient_or_an_unknown_kind_is_a_404(
    client, login, sms_maple, sms_birch, make_patient
):
    maple_patient = make_patient(sms_maple)
    birch_patient = make_patient(sms_birch)
    login(sms_birch.pharmacist)
    assert send(client, maple_patient).status_code == 404
    assert send(client, birch_patient, kind="no_such_kind").status_code == 404
    assert (
        client.get(
            f"/patients/{birch_patient.public_id}/agreements/cmr_consent/send-link/"
        ).status_code
        == 405
    )
    with scopes_disabled():
        assert not Message.objects.filter(kind="agreement_link").exists()
        assert not AgreementLink.objects.exists()


@time_machine.travel(TUESDAY_10AM)
def test_a_link_not_texted_for_lack_of_consent_is_not_sent_later(
    client, login, sms_maple, make_patient
):
    from messaging import services as messaging_services

    patient = make_patient(sms_maple, consent=False)
    login(sms_maple.pharmacist)
    send(client, patient)
    with tenant_scope(sms_maple.organization):
        messaging_services.sms_consent_grant(
            patient=patient, method="verbal", actor=sms_maple.pharmacist
        )
        assert Message.objects.get(kind="agreement_link").status == MessageStatus.SKIPPED
