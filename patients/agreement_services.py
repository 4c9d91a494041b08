"""Signing patient agreements: at the counter (a signature drawn on the screen, or a typed
name) or through a one-time link (a random token, only its hash stored, expiring, used once;
the link carries no patient data). Each signature is stored as a PDF (fpdf2) that says who
signed, when, how and before whom; an agreement is re-signed yearly."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import secrets
from functools import lru_cache
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from fpdf import FPDF
from PIL import Image

from medsync.models import User
from medsync.services import audit_record
from medsync.tenancy import current_organization, scopes_disabled, tenant_scope
from patients.agreement_models import (
    AgreementKind,
    AgreementLink,
    AgreementMethod,
    AgreementReminder,
    PatientAgreement,
)

TEXTS = Path(__file__).resolve().parent / "data" / "agreements"
LINK_VALID_FOR = dt.timedelta(hours=72)
VALID_FOR_DAYS = 365
MAX_SIGNATURE_BYTES = 300_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@lru_cache(maxsize=4)
def agreement_text(kind: str) -> dict:
    """{version, title, paragraphs} of an agreement kind (patients/data/agreements)."""
    if kind not in AgreementKind.values:
        raise ValidationError({"kind": ["Not an agreement kind."]})
    return json.loads((TEXTS / f"{kind}.json").read_text())


def agreement_paragraphs(kind: str, pharmacy_name: str) -> list[str]:
    return [p.replace("{pharmacy}", pharmacy_name) for p in agreement_text(kind)["paragraphs"]]


def _latin1(text: str) -> str:
    return (
        text.replace("\u2019", "'")
        .replace("\u2013", "-")
        .encode("latin-1", "replace")
        .decode("latin-1")
    )


def signature_png(data_url: str) -> bytes | None:
    """The PNG of a signature drawn on the canvas (a data: URL), or None when empty."""
    if not data_url:
        return None
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix) or len(data_url) > MAX_SIGNATURE_BYTES * 4 // 3 + 100:
        raise ValidationError({"signature": ["Draw the signature again."]})
    try:
        png = base64.b64decode(data_url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError({"signature": ["Draw the signature again."]}) from None
    if not png.startswith(PNG_MAGIC):
        raise ValidationError({"signature": ["Draw the signature again."]})
    try:
        with Image.open(io.BytesIO(png)) as image:
            image.verify()  # a broken or truncated PNG is refused here, not in the PDF
    except Exception:
        raise ValidationError({"signature": ["Draw the signature again."]}) from None
    return png


def agreement_pdf(
    *,
    kind: str,
    pharmacy_name: str,
    patient,
    signer_name: str,
    signed_at: dt.datetime,
    method: str,
    witness: str,
    signature: bytes | None,
) -> bytes:
    text = agreement_text(kind)
    pdf = FPDF(format="letter")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(0, 8, _latin1(text["title"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(
        0,
        6,
        _latin1(
            f"{pharmacy_name} - patient {patient.first_name} {patient.last_name}, born "
            f"{patient.date_of_birth:%m/%d/%Y} - text version {text['version']}"
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 11)
    for paragraph in agreement_paragraphs(kind, pharmacy_name):
        pdf.multi_cell(0, 6, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.ln(6)
    if signature:
        pdf.image(io.BytesIO(signature), w=70)
    pdf.set_font("Helvetica", "B", 11)
    pdf.multi_cell(0, 6, _latin1(f"Signed by: {signer_name}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    lines = [
        f"When: {timezone.localtime(signed_at):%m/%d/%Y %H:%M %Z}",
        f"How: {AgreementMethod(method).label}",
        f"Witness: {witness}" if witness else "Witness: none (signed by the patient's own link)",
        f"Valid until: {(signed_at.date() + dt.timedelta(days=VALID_FOR_DAYS)):%m/%d/%Y}",
    ]
    for line in lines:
        pdf.multi_cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _pharmacy_name(patient) -> str:
    if patient.home_pharmacy_id:
        return patient.home_pharmacy.name
    return patient.organization.name


@transaction.atomic
def agreement_sign(
    *,
    patient,
    kind: str,
    method: str,
    signer_name: str,
    agreed: bool,
    actor: User | None,
    signature: bytes | None = None,
    now: dt.datetime | None = None,
) -> PatientAgreement:
    """Record a signed agreement and its PDF. The signer types their name and ticks that they
    agree; a counter signature may add the drawn signature."""
    agreement_text(kind)
    if method not in AgreementMethod.values:
        raise ValidationError({"method": ["Not a signing method."]})
    signer_name = (signer_name or "").strip()
    if not signer_name or len(signer_name) > 200:
        raise ValidationError({"signer_name": ["Type the signer's full name."]})
    if not agreed:
        raise ValidationError({"agreed": ["Tick that the patient agrees."]})
    if method == AgreementMethod.SIGNATURE_PAD and not signature:
        raise ValidationError({"signature": ["Draw the signature, or sign with the typed name."]})
    now = now or timezone.now()
    witness = actor if getattr(actor, "is_authenticated", False) else None
    pdf = agreement_pdf(
        kind=kind,
        pharmacy_name=_pharmacy_name(patient),
        patient=patient,
        signer_name=signer_name,
        signed_at=now,
        method=method,
        witness=str(witness) if witness else "",
        signature=signature,
    )
    agreement = PatientAgreement.objects.create(
        patient=patient,
        kind=kind,
        method=method,
        signer_name=signer_name,
        text_version=agreement_text(kind)["version"],
        signed_at=now,
        witnessed_by=witness,
        valid_until=timezone.localtime(now).date() + dt.timedelta(days=VALID_FOR_DAYS),
        pdf=pdf,
    )
    AgreementReminder.objects.filter(patient=patient, kind=kind, resolved_at__isnull=True).update(
        resolved_at=now
    )
    audit_record(
        action="patients.agreement.signed",
        actor=witness,
        target=patient,
        metadata={"agreement": str(agreement.public_id), "kind": kind, "method": method},
    )
    return agreement


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def agreement_link_issue(
    *, patient, kind: str, actor: User | None, now: dt.datetime | None = None
) -> str:
    """A one-time signing link's token (shown once; only its hash is kept)."""
    agreement_text(kind)
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    link = AgreementLink.objects.create(
        patient=patient,
        kind=kind,
        token_hash=_hash(token),
        created_at=now,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        expires_at=now + LINK_VALID_FOR,
    )
    audit_record(
        action="patients.agreement_link.issued",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        target=patient,
        metadata={"link": str(link.public_id), "kind": kind},
    )
    return token


def agreement_link_find(token: str, now: dt.datetime | None = None) -> AgreementLink | None:
    """The live link of a token, from any organization (the named cross-tenant lookup of a
    public page: the token is all it has), or None when unknown, expired or used."""
    now = now or timezone.now()
    if not token or len(token) > 100:
        return None
    with scopes_disabled("patients.agreement_link_find"):
        link = (
            AgreementLink.objects.select_related("organization")
            .filter(token_hash=_hash(token), used_at__isnull=True, expires_at__gt=now)
            .first()
        )
    return link


def agreement_link_sign(
    *, token: str, signer_name: str, agreed: bool, now: dt.datetime | None = None
) -> PatientAgreement:
    """Sign through a link: once, before it expires (a conditional UPDATE claims it)."""
    now = now or timezone.now()
    link = agreement_link_find(token, now)
    if link is None:
        raise ValidationError({"token": ["This link has expired or was already used."]})
    with tenant_scope(link.organization), transaction.atomic():
        claimed = AgreementLink.objects.filter(
            pk=link.pk, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if claimed != 1:
            raise ValidationError({"token": ["This link has expired or was already used."]})
        patient = link.patient
        agreement = agreement_sign(
            patient=patient,
            kind=link.kind,
            method=AgreementMethod.SMS_LINK,
            signer_name=signer_name,
            agreed=agreed,
            actor=None,
            now=now,
        )
        AgreementLink.objects.filter(pk=link.pk).update(agreement=agreement)
    return agreement


REMIND_DAYS_BEFORE = 30


@transaction.atomic
def agreement_reminders_open(*, today: dt.date, now: dt.datetime | None = None) -> int:
    """The daily sweep: open a re-sign reminder for each patient's latest agreement of a kind
    that runs out within REMIND_DAYS_BEFORE days. Safe to run twice (one reminder per
    agreement, by a unique key); returns how many it opened."""
    now = now or timezone.now()
    latest = (
        PatientAgreement.objects.order_by("patient_id", "kind", "-signed_at")
        .distinct("patient_id", "kind")
        .values("pk", "patient_id", "kind", "valid_until")
    )
    due = [
        row for row in latest if row["valid_until"] <= today + dt.timedelta(days=REMIND_DAYS_BEFORE)
    ]
    if not due:
        return 0
    organization = current_organization()  # bulk_create does not call save()
    already = set(
        AgreementReminder.objects.filter(agreement_id__in=[r["pk"] for r in due]).values_list(
            "agreement_id", flat=True
        )
    )
    created = AgreementReminder.objects.bulk_create(
        [
            AgreementReminder(
                organization=organization,
                patient_id=row["patient_id"],
                agreement_id=row["pk"],
                kind=row["kind"],
                due_on=row["valid_until"],
                created_at=now,
            )
            for row in due
            if row["pk"] not in already
        ],
        ignore_conflicts=True,
    )
    if created:
        audit_record(
            action="patients.agreement_reminders.opened",
            metadata={"count": len(created)},
        )
    return len(created)


def agreements_due(patients_agreements: list[PatientAgreement], today: dt.date) -> list[str]:
    """Kinds whose latest signature runs out within 30 days (or has run out)."""
    latest: dict[str, PatientAgreement] = {}
    for agreement in sorted(patients_agreements, key=lambda a: a.signed_at):
        latest[agreement.kind] = agreement
    return [
        kind
        for kind, agreement in latest.items()
        if agreement.valid_until <= today + dt.timedelta(days=30)
    ]
