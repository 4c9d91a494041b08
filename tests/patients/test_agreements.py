"""Patient agreements: signed at the counter (drawn or typed) or through a one-time link,
stored as a PDF that says who, when and how; links expire, work once and carry no PHI."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from medsync.models import AuditEvent
from medsync.tenancy import scopes_disabled, tenant_scope
from patients.agreement_services import agreement_link_issue, agreement_sign, agreements_due
from patients.models import AgreementLink, PatientAgreement

pytestmark = pytest.mark.django_db


def _png() -> str:
    """A small drawn signature, as the canvas sends it (base64 PNG)."""
    image = Image.new("RGB", (60, 20), "white")
    ImageDraw.Draw(image).line([(2, 15), (30, 3), (58, 15)], fill="black", width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _pdf_text(agreement) -> str:
    return "".join(
        page.extract_text() for page in PdfReader(io.BytesIO(bytes(agreement.pdf))).pages
    )


def test_a_drawn_signature_at_the_counter_is_stored_as_a_pdf_with_who_when_how(
    client, login, maple, ada
):
    login(maple.pharmacist)
    url = f"/patients/{ada.public_id}/agreements/sync_enrollment/"
    assert "Medication synchronization agreement" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "signature": f"data:image/png;base64,{_png()}",
            "signer_name": "Ada Lovelace",
            "agreed": "1",
        },
    )
    assert response.status_code == 302
    with tenant_scope(maple.organization):
        agreement = PatientAgreement.objects.get()
    assert agreement.method == "signature_pad" and agreement.witnessed_by == maple.pharmacist
    assert agreement.valid_until == dt.date.fromordinal(
        agreement.signed_at.date().toordinal() + 365
    )
    text = _pdf_text(agreement)
    assert "Signed by: Ada Lovelace" in text and "Signed on the counter screen" in text
    assert f"Witness: {maple.pharmacist}" in text
    pdf = client.get(f"/agreements/{agreement.public_id}/pdf/")
    assert pdf["Content-Type"] == "application/pdf" and bytes(pdf.content).startswith(b"%PDF")
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="patients.agreement.signed").count() == 1


def test_a_typed_name_without_the_tick_is_refused_and_nothing_is_stored(client, login, maple, ada):
    login(maple.pharmacist)
    response = client.post(
        f"/patients/{ada.public_id}/agreements/cmr_consent/", {"signer_name": "Ada Lovelace"}
    )
    assert (
        response.status_code == 400 and "Tick that the patient agrees" in response.content.decode()
    )
    bad_png = client.post(
        f"/patients/{ada.public_id}/agreements/cmr_consent/",
        {"signer_name": "Ada", "agreed": "1", "signature": "data:image/png;base64,bm90IGEgcG5n"},
    )
    assert bad_png.status_code == 400
    broken = base64.b64encode(base64.b64decode(_png())[:40]).decode()  # a truncated PNG
    response = client.post(
        f"/patients/{ada.public_id}/agreements/cmr_consent/",
        {"signer_name": "Ada", "agreed": "1", "signature": f"data:image/png;base64,{broken}"},
    )
    assert response.status_code == 400
    with tenant_scope(maple.organization):
        assert not PatientAgreement.objects.exists()


def test_a_one_time_link_signs_once_and_holds_no_patient_data(client, login, maple, ada):
    login(maple.pharmacist)
    page = client.post(
        f"/patients/{ada.public_id}/agreements/cmr_consent/", {"action": "link"}
    ).content.decode()
    link = re.search(r"<code>(http[^<]+)</code>", page).group(1)
    path = link.split("testserver")[1]
    assert "Ada" not in link and "Lovelace" not in link and str(ada.public_id) not in link
    client.logout()
    form = client.get(path)
    assert form.status_code == 200 and "Lovelace" not in form.content.decode()
    done = client.post(path, {"signer_name": "Ada Lovelace", "agreed": "1"})
    assert "Thank you" in done.content.decode()
    again = client.post(path, {"signer_name": "Someone Else", "agreed": "1"})
    assert again.status_code == 404
    with tenant_scope(maple.organization):
        agreement = PatientAgreement.objects.get()
        assert (agreement.method, agreement.patient_id, agreement.witnessed_by) == (
            "sms_link",
            ada.pk,
            None,
        )
        link_row = AgreementLink.objects.get()
        assert link_row.used_at is not None and link_row.agreement == agreement
        assert len(link_row.token_hash) == 64 and link_row.token_hash not in link


def test_an_expired_link_signs_nothing(client, maple, ada):
    with tenant_scope(maple.organization):
        token = agreement_link_issue(
            patient=ada,
            kind="sync_enrollment",
            actor=None,
            now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
    response = client.post(f"/sign/{token}/", {"signer_name": "Ada", "agreed": "1"})
    assert response.status_code == 404
    with tenant_scope(maple.organization):
        assert not PatientAgreement.objects.exists()


def test_birch_cannot_sign_for_or_read_maples_patient(client, login, maple, birch, ada):
    with tenant_scope(maple.organization):
        agreement = agreement_sign(
            patient=ada,
            kind="cmr_consent",
            method="typed_name",
            signer_name="Ada Lovelace",
            agreed=True,
            actor=None,
        )
    login(birch.pharmacist)
    assert client.get(f"/agreements/{agreement.public_id}/pdf/").status_code == 404
    assert (
        client.post(
            f"/patients/{ada.public_id}/agreements/cmr_consent/",
            {"signer_name": "X", "agreed": "1"},
        ).status_code
        == 404
    )
    with tenant_scope(maple.organization):
        assert PatientAgreement.objects.count() == 1


def test_an_agreement_is_due_for_re_signing_a_month_before_its_year_ends(maple, ada):
    with tenant_scope(maple.organization):
        signed = agreement_sign(
            patient=ada,
            kind="sync_enrollment",
            method="typed_name",
            signer_name="Ada",
            agreed=True,
            actor=None,
            now=dt.datetime(2025, 12, 1, 15, tzinfo=dt.UTC),
        )
    assert agreements_due([signed], dt.date(2026, 10, 31)) == []
    assert agreements_due([signed], dt.date(2026, 11, 1)) == ["sync_enrollment"]


def test_the_re_sign_sweep_opens_one_reminder_a_month_ahead_and_a_new_signature_closes_it(
    maple, ada
):
    from patients.agreement_services import agreement_reminders_open
    from patients.models import AgreementReminder

    with tenant_scope(maple.organization):
        signed = agreement_sign(
            patient=ada,
            kind="sync_enrollment",
            method="typed_name",
            signer_name="Ada",
            agreed=True,
            actor=None,
            now=dt.datetime(2025, 11, 20, 15, tzinfo=dt.UTC),
        )
        assert agreement_reminders_open(today=dt.date(2026, 10, 20)) == 0
        assert agreement_reminders_open(today=dt.date(2026, 10, 21)) == 1
        assert agreement_reminders_open(today=dt.date(2026, 10, 22)) == 0  # run twice = once
        reminder = AgreementReminder.objects.get()
        assert (reminder.agreement, reminder.due_on) == (signed, dt.date(2026, 11, 20))
        agreement_sign(
            patient=ada,
            kind="sync_enrollment",
            method="typed_name",
            signer_name="Ada",
            agreed=True,
            actor=None,
            now=dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC),
        )
        reminder.refresh_from_db()
        assert reminder.resolved_at is not None
        assert agreement_reminders_open(today=dt.date(2026, 11, 3)) == 0  # the new one is fresh
