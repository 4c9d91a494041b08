"""Consent to texts, opt-out and opt-in of a number, numbers the carrier rejects.

Every change is a ConsentEvent row (the consent log) and an audit event. When a patient
may no longer be texted, their queued automated texts are kept as "not sent" with the
reason; when consent comes back, those still meaningful are queued again.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from medsync.models import User
from medsync.services import audit_record
from messaging.exceptions import MessagingError
from messaging.models import (
    AUTOMATED_KINDS,
    ConsentEvent,
    ConsentEventKind,
    ConsentMethod,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    SkipReason,
    SmsConsent,
    SmsNumber,
)
from messaging.selectors import patients_with_phone
from messaging.services.automated import automated_message_requeue
from patients.models import Patient

__all__ = [
    "phone_clear_invalid",
    "phone_mark_invalid",
    "phone_opt_in",
    "phone_opt_out",
    "sms_consent_grant",
    "sms_consent_withdraw",
    "sms_preferences_update",
]


def _consent_event(
    *,
    kind: str,
    patient: Patient | None = None,
    phone: str = "",
    method: str = "",
    keyword: str = "",
    actor: User | None = None,
    message: Message | None = None,
    note: str = "",
) -> ConsentEvent:
    return ConsentEvent.objects.create(
        patient=patient,
        phone=phone or (patient.phone if patient else ""),
        kind=kind,
        method=method,
        keyword=keyword[:40],
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        message=message,
        note=note[:300],
        occurred_at=timezone.now(),
    )


def _locked_consent(patient: Patient) -> SmsConsent:
    consent, _ = SmsConsent.objects.get_or_create(patient=patient)
    return SmsConsent.objects.select_for_update().get(pk=consent.pk)


@transaction.atomic
def sms_consent_grant(
    *,
    patient: Patient,
    method: str,
    actor: User | None,
    phone: str = "",
    note: str = "",
) -> SmsConsent:
    """Record that the patient agreed to treatment texts at `phone` (default: their phone)."""
    if method not in ConsentMethod.values:
        raise MessagingError(
            "Say how the patient consented.",
            code="invalid",
            fields={"method": [f"Choose one of: {', '.join(ConsentMethod.values)}."]},
        )
    phone = phone or patient.phone
    if not phone:
        raise MessagingError(
            "The patient has no phone number to text.",
            code="no_phone",
            fields={"phone": ["Add the patient's mobile number first."]},
        )
    if phone != patient.phone:
        raise MessagingError(
            "Consent covers the number the patient gave: record it on the patient first.",
            code="invalid",
            fields={"phone": ["This is not the patient's phone number."]},
        )
    consent = _locked_consent(patient)
    consent.granted = True
    consent.phone = phone
    consent.method = method
    consent.granted_at = timezone.now()
    consent.recorded_by = actor if getattr(actor, "is_authenticated", False) else None
    consent.withdrawn_at = None
    consent.save()
    _consent_event(
        kind=ConsentEventKind.GRANTED,
        patient=patient,
        phone=phone,
        method=method,
        actor=actor,
        note=note,
    )
    audit_record(
        action="messaging.consent.granted",
        actor=actor,
        target=patient,
        metadata={"method": method},
    )
    _revive_skipped(patient)
    return consent


@transaction.atomic
def sms_consent_withdraw(*, patient: Patient, actor: User | None, note: str = "") -> SmsConsent:
    """Staff record that the patient no longer wants texts (told in person or by phone)."""
    consent = _locked_consent(patient)
    consent.granted = False
    consent.withdrawn_at = timezone.now()
    consent.save()
    _consent_event(kind=ConsentEventKind.WITHDRAWN, patient=patient, actor=actor, note=note)
    audit_record(action="messaging.consent.withdrawn", actor=actor, target=patient)
    _skip_pending(patient=patient, reason=SkipReason.NO_CONSENT)
    return consent


@transaction.atomic
def sms_preferences_update(
    *, patient: Patient, actor: User | None, language: str, quiet_start, quiet_end
) -> SmsConsent:
    """The patient's language for texts and their send window."""
    if language not in ("", "en", "es"):
        raise MessagingError(
            "Texts exist in English and Spanish.",
            code="invalid",
            fields={"language": ["Use en, es or blank."]},
        )
    if quiet_start >= quiet_end:
        raise MessagingError(
            "The send window must open before it closes.",
            code="invalid",
            fields={"quiet_end": ["Choose a time after the start."]},
        )
    consent = _locked_consent(patient)
    consent.language = language
    consent.quiet_start = quiet_start
    consent.quiet_end = quiet_end
    consent.save()
    _consent_event(
        kind=ConsentEventKind.PREFERENCES,
        patient=patient,
        actor=actor,
        note=f"language={language or 'patient'} window={quiet_start:%H:%M}-{quiet_end:%H:%M}",
    )
    audit_record(action="messaging.preferences.updated", actor=actor, target=patient)
    return consent


def _number_for_update(phone: str) -> SmsNumber:
    number, _ = SmsNumber.objects.get_or_create(phone=phone)
    return SmsNumber.objects.select_for_update().get(pk=number.pk)


def phone_opt_out(
    *, phone: str, kind: str, keyword: str = "", message: Message | None = None, note: str = ""
) -> bool:
    """Opt a number out (all its patients in this organization). True when it changed."""
    number = _number_for_update(phone)
    if number.opted_out_at is not None:
        return False
    number.opted_out_at = timezone.now()
    number.save(update_fields=["opted_out_at", "updated_at"])
    patients = patients_with_phone(phone)
    for patient in patients or [None]:
        _consent_event(
            kind=kind, patient=patient, phone=phone, keyword=keyword, message=message, note=note
        )
    for patient in patients:
        _skip_pending(patient=patient, reason=SkipReason.OPTED_OUT)
    audit_record(
        action="messaging.number.opted_out",
        target=number,
        metadata={"source": kind, "patients": [str(p.public_id) for p in patients]},
    )
    return True


def phone_opt_in(*, phone: str, keyword: str, message: Message | None) -> bool:
    """START / UNSTOP / YES: the number may be texted again; its patients consent by text."""
    number = _number_for_update(phone)
    changed = number.opted_out_at is not None
    number.opted_out_at = None
    number.save(update_fields=["opted_out_at", "updated_at"])
    for patient in patients_with_phone(phone):
        consent = _locked_consent(patient)
        if not (consent.granted and consent.phone == phone):
            changed = True
            consent.granted = True
            consent.phone = phone
            consent.method = ConsentMethod.SMS_KEYWORD
            consent.granted_at = timezone.now()
            consent.recorded_by = None
            consent.withdrawn_at = None
            consent.save()
        _consent_event(
            kind=ConsentEventKind.OPTED_IN,
            patient=patient,
            phone=phone,
            method=ConsentMethod.SMS_KEYWORD,
            keyword=keyword,
            message=message,
        )
        _revive_skipped(patient)
    if changed:
        audit_record(action="messaging.number.opted_in", target=number, metadata={})
    return changed


def phone_mark_invalid(*, phone: str, code: str, message: Message | None) -> None:
    """The carrier says the number cannot take texts: stop texting it until staff check."""
    number = _number_for_update(phone)
    if number.invalid_at is None:
        number.invalid_at = timezone.now()
        number.invalid_reason = f"Provider error {code}"
        number.save(update_fields=["invalid_at", "invalid_reason", "updated_at"])
        patients = patients_with_phone(phone)
        for patient in patients or [None]:
            _consent_event(
                kind=ConsentEventKind.NUMBER_INVALID,
                patient=patient,
                phone=phone,
                message=message,
                note=number.invalid_reason,
            )
        for patient in patients:
            _skip_pending(patient=patient, reason=SkipReason.INVALID_NUMBER)
        audit_record(action="messaging.number.invalid", target=number, metadata={"code": code})


@transaction.atomic
def phone_clear_invalid(*, phone: str, actor: User) -> None:
    """Staff checked the number with the patient: try texting it again."""
    number = _number_for_update(phone)
    number.invalid_at = None
    number.invalid_reason = ""
    number.save(update_fields=["invalid_at", "invalid_reason", "updated_at"])
    audit_record(action="messaging.number.invalid_cleared", actor=actor, target=number)


def _skip_pending(*, patient: Patient, reason: str) -> int:
    """Queued automated texts of a patient who may no longer be texted: kept, marked why."""
    return Message.objects.filter(
        patient=patient,
        direction=Direction.OUTBOUND,
        status=MessageStatus.QUEUED,
        kind__in=AUTOMATED_KINDS,
    ).update(status=MessageStatus.SKIPPED, skip_reason=reason, due_at=None, defer_reason="")


def _revive_skipped(patient: Patient) -> None:
    """Consent is back: automated texts skipped for consent, still meaningful, queue again.

    Only texts for dates not yet past are revived: a week-old prep reminder is not, nor a
    reminder of an appointment already begun; a signing link is never sent late (staff
    send a new one).
    """
    now = timezone.now()
    today = now.date()
    for message in Message.objects.filter(
        patient=patient,
        direction=Direction.OUTBOUND,
        status=MessageStatus.SKIPPED,
        kind__in=AUTOMATED_KINDS,
        skip_reason__in=[
            SkipReason.NO_CONSENT,
            SkipReason.OPTED_OUT,
            SkipReason.CONSENT_FOR_OTHER_NUMBER,
        ],
        created_at__gte=now - timedelta(days=14),
    ).exclude(kind=MessageKind.AGREEMENT_LINK):
        starts = message.context.get("appointment_time")
        if starts and datetime.fromisoformat(starts) <= now:
            continue
        anchor = message.context.get("anchor_date") or message.context.get("pickup_by")
        if anchor and date.fromisoformat(anchor[:10]) < today:
            continue
        automated_message_requeue(message=message, patient=patient)
