"""Every write of the messaging app.

Contract with the sync engine (scheduling imports messaging, never the reverse):

    automated_message_request(*, patient, kind, dedupe_key, context) -> OutboundMessage | None

kind: one of AUTOMATED_KIND_NAMES. dedupe_key: e.g. f"cycle:{cycle.public_id}:prep_reminder";
at most one message per (organization, dedupe_key), enforced by a unique constraint.
context: {"anchor_date": date, "pickup_by": date, "pharmacy_id": <Pharmacy pk or public id>,
"send_after": datetime} (all optional). Consent, opt-out, quiet hours and the 1/day 3/week
limits are respected: a message that may not go now is stored with a later due time
(deferred, never dropped). Returns the row, or None when the patient may not be texted (no
consent, opted out, invalid number, ...): that row is kept as "not sent" with the reason,
and asking again with the same key once consent exists queues it. Sending is enqueued on
commit.
"""

from __future__ import annotations

import logging
import re
import time as time_module
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from medsync.models import Membership, Organization, Pharmacy, User
from medsync.services import audit_record
from medsync.tenancy import current_organization
from messaging import registry, rules
from messaging.defaults import DEFAULT_TEMPLATES
from messaging.exceptions import MessagingError
from messaging.gateways import (
    ERROR_OPTED_OUT,
    INVALID_NUMBER_CODES,
    OutgoingText,
    PermanentGatewayError,
    SmsGateway,
    TransientGatewayError,
    auth_token_from_env,
    gateway_for,
)
from messaging.models import (
    AUTOMATED_KINDS,
    STATUS_RANK,
    ConsentEvent,
    ConsentEventKind,
    ConsentMethod,
    Conversation,
    ConversationStatus,
    DeferReason,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    MessageTemplate,
    OutboundMessage,
    PharmacySmsConfig,
    SenderClock,
    SkipReason,
    SmsConsent,
    SmsNumber,
    StatusCallback,
)
from patients.models import Drug, Patient, PatientStatus

logger = logging.getLogger(__name__)

KIND_PREP_REMINDER = "prep_reminder"
KIND_READY_FOR_PICKUP = "ready_for_pickup"
KIND_MISSED_PICKUP = "missed_pickup"
KIND_RTS_WARNING = "rts_warning"
AUTOMATED_KIND_NAMES = (
    KIND_PREP_REMINDER,
    KIND_READY_FOR_PICKUP,
    KIND_MISSED_PICKUP,
    KIND_RTS_WARNING,
)
MANUAL_MAX_CHARS = 320
# Statuses that mean the text went (or is going) out: they count toward the limits.
GONE_OUT = (
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.READ,
)
PLANNED = (MessageStatus.QUEUED, *GONE_OUT)

__all__ = ["OutboundMessage", "automated_message_request"]


# =============================================================================
# Lookups used by the writes below (reads shared with pages live in selectors.py)
# =============================================================================


def patient_time_zone(patient: Patient) -> ZoneInfo:
    pharmacy = patient.home_pharmacy
    if pharmacy is None:
        pharmacy = Pharmacy.objects.filter(is_active=True).order_by("id").first()
    return ZoneInfo(pharmacy.time_zone if pharmacy else settings.MESSAGING_DEFAULT_TIME_ZONE)


def patient_language(patient: Patient, consent: SmsConsent | None) -> str:
    if consent is not None and consent.language:
        return consent.language
    language = (patient.preferred_language or "en").lower()[:2]
    return language if language in ("en", "es") else "en"


def quiet_window(consent: SmsConsent | None):
    if consent is None:
        from datetime import time

        return time(settings.MESSAGING_QUIET_HOURS_START), time(settings.MESSAGING_QUIET_HOURS_END)
    return consent.quiet_start, consent.quiet_end


def _resolve_pharmacy(value) -> Pharmacy | None:
    if value is None or value == "":
        return None
    if isinstance(value, Pharmacy):
        return value
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return Pharmacy.objects.filter(pk=int(value)).first()
    try:
        return Pharmacy.objects.filter(public_id=uuid.UUID(str(value))).first()
    except ValueError:
        return None


def sending_pharmacy(patient: Patient, hint=None) -> Pharmacy | None:
    """The pharmacy a text to this patient comes from: asked for, home, else the first."""
    for candidate in (_resolve_pharmacy(hint), patient.home_pharmacy):
        if candidate is not None and candidate.is_active:
            return candidate
    return Pharmacy.objects.filter(is_active=True).exclude(sms_number="").order_by("id").first()


def sms_config(pharmacy: Pharmacy | None) -> PharmacySmsConfig | None:
    if pharmacy is None:
        return None
    cached = getattr(pharmacy, "_messaging_sms_config", _MISSING)
    if cached is not _MISSING:
        return cached
    try:
        config = pharmacy.sms_config  # select_related in the claim: no query then
    except PharmacySmsConfig.DoesNotExist:
        config = None
    pharmacy._messaging_sms_config = config  # for this instance's lifetime (one request/job)
    return config


_MISSING = object()


def sender_of(pharmacy: Pharmacy | None) -> str:
    """What goes in From: the messaging service SID when configured, else the SMS number."""
    if pharmacy is None:
        return ""
    config = sms_config(pharmacy)
    if config is not None and config.messaging_service_sid:
        return config.messaging_service_sid
    return pharmacy.sms_number


def credentials_for(pharmacy: Pharmacy | None) -> tuple[str, str]:
    """(account SID, auth token): the pharmacy's settings, else the global ones.

    The token never lives in the database: the pharmacy's settings name the environment
    variable that holds it.
    """
    config = sms_config(pharmacy)
    account_sid = (config.account_sid if config else "") or settings.TWILIO_ACCOUNT_SID
    token = auth_token_from_env(config.auth_token_env) if config else ""
    return account_sid, token or settings.TWILIO_AUTH_TOKEN


def _sender_rate(pharmacy: Pharmacy | None) -> float:
    config = sms_config(pharmacy)
    if config is not None and config.max_per_second is not None:
        return float(config.max_per_second)
    return float(settings.MESSAGING_SENDER_RATE)


def number_state(phone: str) -> SmsNumber | None:
    return SmsNumber.objects.filter(phone=phone).first() if phone else None


def consent_of(patient: Patient) -> SmsConsent | None:
    return SmsConsent.objects.filter(patient=patient).first()


def automated_skip_reason(
    patient: Patient, consent: SmsConsent | None, number: SmsNumber | None, pharmacy
) -> str:
    """Why an automated text may not go to this patient now ('' when it may)."""
    if patient.status != PatientStatus.ACTIVE:
        return SkipReason.PATIENT_INACTIVE
    if not patient.phone:
        return SkipReason.NO_PHONE
    if number is not None and number.opted_out_at is not None:
        return SkipReason.OPTED_OUT
    if number is not None and number.invalid_at is not None:
        return SkipReason.INVALID_NUMBER
    if consent is None or not consent.granted:
        return SkipReason.NO_CONSENT
    if consent.phone != patient.phone:
        return SkipReason.CONSENT_FOR_OTHER_NUMBER
    if not sender_of(pharmacy):
        return SkipReason.NO_SENDER
    return ""


@transaction.atomic
def pharmacy_sms_config_save(
    *,
    pharmacy: Pharmacy,
    actor: User | None,
    account_sid: str = "",
    auth_token_env: str = "",
    messaging_service_sid: str = "",
    max_per_second=None,
) -> PharmacySmsConfig:
    """Set how one pharmacy sends through Twilio. The token stays in the environment: only
    the NAME of the variable holding it is stored."""
    from django.core.exceptions import ValidationError

    config = PharmacySmsConfig.objects.filter(pharmacy=pharmacy).first() or PharmacySmsConfig(
        pharmacy=pharmacy
    )
    config.account_sid = account_sid.strip()
    config.auth_token_env = auth_token_env.strip()
    config.messaging_service_sid = messaging_service_sid.strip()
    config.max_per_second = max_per_second
    try:
        config.full_clean(exclude=["organization", "pharmacy"])
    except ValidationError as exc:
        raise MessagingError(
            "The SMS settings are not valid.", code="invalid", fields=exc.message_dict
        ) from None
    if max_per_second is not None and max_per_second <= 0:
        raise MessagingError(
            "Throughput must be above 0.",
            code="invalid",
            fields={"max_per_second": ["Leave it blank for the default."]},
        )
    config.save()
    audit_record(
        action="messaging.sms_config.saved",
        actor=actor,
        target=pharmacy,
        metadata={
            "account_sid": config.account_sid,
            "auth_token_env": config.auth_token_env,
            "token_present": bool(auth_token_from_env(config.auth_token_env)),
            "messaging_service_sid": config.messaging_service_sid,
        },
    )
    return config


# =============================================================================
# Templates
# =============================================================================


def template_body(kind: str, language: str) -> str:
    override = MessageTemplate.objects.filter(kind=kind, language=language).first()
    if override is not None:
        return override.body
    return DEFAULT_TEMPLATES.get((kind, language)) or DEFAULT_TEMPLATES[(kind, "en")]


def longest_pharmacy_name() -> int:
    names = Pharmacy.objects.filter(is_active=True).values_list("name", flat=True)
    return min(rules.PHARMACY_NAME_MAX, max((len(n) for n in names), default=1))


def phi_words_in(text: str) -> list[str]:
    """Drug names (the catalog) and condition words found in free text."""
    found = set(rules.words(text)) & rules.CONDITION_WORDS
    candidates = sorted(w for w in rules.words(text) if len(w) >= 4)
    if candidates:
        pattern = r"^(" + "|".join(re.escape(w) for w in candidates) + r")([^a-z]|$)"
        for name, generic in Drug.objects.filter(
            Q(name__iregex=pattern) | Q(generic_name__iregex=pattern)
        ).values_list("name", "generic_name")[:20]:
            for value in (name, generic):
                first = re.split(r"[^a-záéíóúñü]", value.casefold())[0]
                if first in candidates:
                    found.add(first)
    return sorted(found)


def template_check(*, kind: str, language: str, body: str) -> rules.TemplateCheck:
    return rules.check_template(
        body,
        language=language,
        automated=kind in AUTOMATED_KINDS,
        pharmacy_name_max=longest_pharmacy_name(),
        forbidden_words=phi_words_in(body),
    )


@transaction.atomic
def template_save(*, kind: str, language: str, body: str, actor: User) -> MessageTemplate:
    """Create or replace the organization's wording of one kind of text, validated."""
    if kind not in {k for k, _ in DEFAULT_TEMPLATES}:
        raise MessagingError(
            f"{kind!r} is not a kind of text with a template.",
            code="invalid",
            fields={"kind": ["Choose one of the listed kinds."]},
        )
    if language not in ("en", "es"):
        raise MessagingError(
            "Templates exist in English (en) and Spanish (es).",
            code="invalid",
            fields={"language": ["Use en or es."]},
        )
    body = body.strip()
    check = template_check(kind=kind, language=language, body=body)
    if not check.ok:
        raise MessagingError("The template is not valid.", code="invalid", fields=check.errors)
    template, created = MessageTemplate.objects.update_or_create(
        kind=kind, language=language, defaults={"body": body, "updated_by": actor}
    )
    audit_record(
        action="messaging.template.created" if created else "messaging.template.updated",
        actor=actor,
        target=template,
        metadata={"kind": kind, "language": language, "length": check.longest_length},
    )
    return template


@transaction.atomic
def template_reset(*, kind: str, language: str, actor: User) -> None:
    """Go back to the built-in wording."""
    template = MessageTemplate.objects.filter(kind=kind, language=language).first()
    if template is None:
        return
    audit_record(
        action="messaging.template.reset",
        actor=actor,
        target=template,
        metadata={"kind": kind, "language": language},
    )
    template.delete()


def template_values(
    *, patient: Patient | None, pharmacy: Pharmacy | None, language: str, context: dict
) -> dict[str, str]:
    values = {
        "first_name": rules.clip(patient.first_name if patient else "", rules.FIRST_NAME_MAX),
        "pharmacy_name": rules.clip(pharmacy.name if pharmacy else "", rules.PHARMACY_NAME_MAX),
        "pharmacy_phone": rules.format_phone(pharmacy.phone if pharmacy else ""),
        "reply_options": rules.REPLY_OPTIONS.get(language, rules.REPLY_OPTIONS["en"]),
        "anchor_date": "",
        "pickup_by": "",
    }
    for key in ("anchor_date", "pickup_by"):
        value = context.get(key)
        if isinstance(value, str) and value:
            value = date.fromisoformat(value[:10])
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            values[key] = rules.format_date(value, language)
    return values


def render_text(kind: str, language: str, values: dict[str, str]) -> str:
    body = template_body(kind, language)
    text = rules.render(body, values)
    if len(text) > rules.SMS_MAX_CHARS:
        # A pharmacy renamed after its templates were checked: shorten the name to fit.
        overflow = len(text) - rules.SMS_MAX_CHARS
        name = values["pharmacy_name"]
        values = {**values, "pharmacy_name": name[: max(8, len(name) - overflow)].rstrip()}
        text = rules.render(body, values)[: rules.SMS_MAX_CHARS]
    return text


# =============================================================================
# Consent, opt-out and opt-in
# =============================================================================


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


def _patients_with_phone(phone: str) -> list[Patient]:
    return list(Patient.objects.filter(phone=phone).select_related("home_pharmacy"))


def phone_opt_out(
    *, phone: str, kind: str, keyword: str = "", message: Message | None = None, note: str = ""
) -> bool:
    """Opt a number out (all its patients in this organization). True when it changed."""
    number = _number_for_update(phone)
    if number.opted_out_at is not None:
        return False
    number.opted_out_at = timezone.now()
    number.save(update_fields=["opted_out_at", "updated_at"])
    patients = _patients_with_phone(phone)
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
    for patient in _patients_with_phone(phone):
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
    number = _number_for_update(phone)
    if number.invalid_at is None:
        number.invalid_at = timezone.now()
        number.invalid_reason = f"Provider error {code}"
        number.save(update_fields=["invalid_at", "invalid_reason", "updated_at"])
        patients = _patients_with_phone(phone)
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

    Only texts for dates not yet past are revived: a week-old prep reminder is not.
    """
    today = timezone.now().date()
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
        created_at__gte=timezone.now() - timedelta(days=14),
    ):
        anchor = message.context.get("anchor_date") or message.context.get("pickup_by")
        if anchor and date.fromisoformat(anchor[:10]) < today:
            continue
        _requeue_if_allowed(message, patient)


# =============================================================================
# Automated texts: the contract with the sync engine
# =============================================================================


def _json_context(context: dict, pharmacy: Pharmacy | None) -> dict:
    out = {}
    for key in ("anchor_date", "pickup_by"):
        value = context.get(key)
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, str) and value:
            out[key] = date.fromisoformat(value[:10]).isoformat()
    if pharmacy is not None:
        out["pharmacy_id"] = str(pharmacy.public_id)
    send_after = context.get("send_after")
    if isinstance(send_after, datetime):
        out["send_after"] = send_after.isoformat()
    return out


@transaction.atomic
def automated_message_request(
    *, patient: Patient, kind: str, dedupe_key: str, context: dict | None = None
) -> OutboundMessage | None:
    """Ask for one automated text; see the module docstring for the contract."""
    context = dict(context or {})
    if kind not in AUTOMATED_KIND_NAMES:
        raise MessagingError(
            f"{kind!r} is not an automated kind of text.",
            code="invalid",
            fields={"kind": [f"Use one of {', '.join(AUTOMATED_KIND_NAMES)}."]},
        )
    dedupe_key = (dedupe_key or "").strip()
    if not dedupe_key or len(dedupe_key) > 200:
        raise MessagingError(
            "An automated text needs a dedupe key of 1 to 200 characters.",
            code="invalid",
            fields={"dedupe_key": ["e.g. cycle:<public id>:prep_reminder"]},
        )
    if patient.organization_id != current_organization().pk:
        raise MessagingError("This patient belongs to another organization.", code="not_found")

    existing = Message.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return _existing_request(existing, patient)

    pharmacy = sending_pharmacy(patient, context.get("pharmacy_id"))
    stored_context = _json_context(context, pharmacy)
    # Locked for the rest of the transaction: texts of one patient are planned one at a time.
    consent = SmsConsent.objects.select_for_update().filter(patient=patient).first()
    language = patient_language(patient, consent)
    body = render_text(
        kind,
        language,
        template_values(
            patient=patient, pharmacy=pharmacy, language=language, context=stored_context
        ),
    )
    message = Message(
        patient=patient,
        pharmacy=pharmacy,
        direction=Direction.OUTBOUND,
        kind=kind,
        to_number=patient.phone,
        from_number=sender_of(pharmacy),
        body=body,
        status=MessageStatus.SKIPPED,
        dedupe_key=dedupe_key,
        context=stored_context,
    )
    if patient.phone:
        message.conversation = conversation_for(
            phone=patient.phone, pharmacy=pharmacy, patient=patient
        )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        # Another worker asked for the same key at the same moment: theirs stands.
        return _existing_request(Message.objects.get(dedupe_key=dedupe_key), patient)
    return _requeue_if_allowed(message, patient, new=True, consent=consent)


def _existing_request(existing: Message, patient: Patient) -> Message | None:
    if existing.patient_id != patient.pk:
        raise MessagingError(
            "This dedupe key already belongs to a text for another patient.",
            code="conflict",
            fields={"dedupe_key": ["Keys are unique per organization."]},
        )
    if existing.status == MessageStatus.SKIPPED:
        return _requeue_if_allowed(existing, patient)
    return existing


def _requeue_if_allowed(message: Message, patient: Patient, *, new: bool = False, consent=_MISSING):
    """Queue a skipped automated text if the patient may be texted now; else record why."""
    pharmacy = message.pharmacy
    number = number_state(patient.phone)
    if consent is _MISSING:
        consent = SmsConsent.objects.select_for_update().filter(patient=patient).first()
    reason = automated_skip_reason(patient, consent, number, pharmacy)
    if reason:
        if new or message.skip_reason != reason:
            Message.objects.filter(pk=message.pk).update(skip_reason=reason)
            message.skip_reason = reason
            audit_record(
                action="messaging.message.skipped",
                target=message,
                metadata={"kind": message.kind, "reason": reason},
            )
        return None
    send_after = message.context.get("send_after")
    earliest = datetime.fromisoformat(send_after) if send_after else None
    plan = plan_automated(
        patient=patient, consent=consent, exclude_id=message.pk, not_before=earliest
    )
    message.status = MessageStatus.QUEUED
    message.skip_reason = ""
    message.due_at = plan.due_at
    message.slot_date = plan.slot_date
    message.defer_reason = plan.reason
    message.to_number = patient.phone
    message.from_number = sender_of(pharmacy)
    message.save(
        update_fields=[
            "status",
            "skip_reason",
            "due_at",
            "slot_date",
            "defer_reason",
            "to_number",
            "from_number",
        ]
    )
    audit_record(
        action="messaging.message.queued",
        target=message,
        metadata={
            "kind": message.kind,
            "due_at": plan.due_at.isoformat(),
            "deferred": plan.reason,
        },
    )
    enqueue_dispatch(current_organization())
    return message


@dataclass(frozen=True)
class Plan:
    due_at: datetime
    slot_date: date
    reason: str


def _counts(patient: Patient, statuses, exclude_id: int | None, since: date) -> dict[date, int]:
    rows = (
        Message.objects.filter(
            patient=patient,
            direction=Direction.OUTBOUND,
            kind__in=AUTOMATED_KINDS,
            status__in=statuses,
            slot_date__gte=since,
        )
        .exclude(pk=exclude_id)
        .values_list("slot_date", flat=True)
    )
    counts: dict[date, int] = {}
    for day in rows:
        counts[day] = counts.get(day, 0) + 1
    return counts


def plan_automated(
    *,
    patient: Patient,
    consent: SmsConsent | None,
    exclude_id: int | None = None,
    statuses=PLANNED,
    now: datetime | None = None,
    not_before: datetime | None = None,
) -> Plan:
    """The first moment an automated text may go: inside the window, within the limits."""
    now = now or timezone.now()
    start = max(now, not_before) if not_before else now
    tz = patient_time_zone(patient)
    window_start, window_end = quiet_window(consent)
    today = now.astimezone(tz).date()
    counts = _counts(patient, statuses, exclude_id, today - timedelta(days=rules.WEEK_DAYS))
    limits = {"daily": settings.MESSAGING_DAILY_LIMIT, "weekly": settings.MESSAGING_WEEKLY_LIMIT}
    start_day = start.astimezone(tz).date()
    earliest = start_day
    for _ in range(10):
        day = rules.first_fitting_day(earliest, counts, **limits)
        due = rules.earliest_on_day(day, start, tz, window_start, window_end)
        if due.astimezone(tz).date() == day:
            break
        earliest = due.astimezone(tz).date()  # the window on `day` had already closed
    if due <= start:
        reason = ""
    elif day > start_day:
        reason = rules.limit_reason(start_day, counts, **limits) or DeferReason.QUIET_HOURS
    else:
        reason = DeferReason.QUIET_HOURS
    return Plan(due_at=due, slot_date=day, reason=reason)


# =============================================================================
# Conversations and manual texts
# =============================================================================


def conversation_for(
    *, phone: str, pharmacy: Pharmacy | None = None, patient: Patient | None = None
) -> Conversation:
    conversation = Conversation.objects.filter(phone=phone).first()
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    phone=phone, pharmacy=pharmacy, patient=patient
                )
        except IntegrityError:
            conversation = Conversation.objects.get(phone=phone)
    changed = []
    if patient is not None and conversation.patient_id is None:
        conversation.patient = patient
        changed.append("patient")
    if pharmacy is not None and conversation.pharmacy_id is None:
        conversation.pharmacy = pharmacy
        changed.append("pharmacy")
    if changed:
        conversation.save(update_fields=changed)
    return conversation


def _touch_conversation(conversation: Conversation | None, *, inbound: bool, unread: bool):
    if conversation is None:
        return
    now = timezone.now()
    updates = {"last_message_at": now}
    if inbound:
        updates["last_inbound_at"] = now
    if unread and conversation.status == ConversationStatus.CLOSED:
        updates["status"] = ConversationStatus.OPEN
        updates["closed_at"] = None
    Conversation.objects.filter(pk=conversation.pk).update(**updates)


def manual_send_check(*, conversation: Conversation, body: str) -> tuple[str, str, bool]:
    """Validate a staff reply: (cleaned body, problem, outside_window). Raises on refusal."""
    body = (body or "").strip()
    if not body:
        raise MessagingError("Write a message first.", code="invalid", fields={"body": ["Empty."]})
    if len(body) > MANUAL_MAX_CHARS:
        raise MessagingError(
            f"Keep replies to {MANUAL_MAX_CHARS} characters (this one has {len(body)}).",
            code="invalid",
            fields={"body": [f"At most {MANUAL_MAX_CHARS} characters."]},
        )
    found = phi_words_in(body)
    if found:
        raise MessagingError(
            "Texts must not name drugs or conditions (found: "
            + ", ".join(found)
            + "). Call the patient for that.",
            code="phi",
            fields={"body": ["Remove drug and condition names."]},
        )
    number = number_state(conversation.phone)
    if number is not None and number.opted_out_at is not None:
        raise MessagingError(
            "This number opted out of texts (STOP). Call instead; the patient can text START "
            "to opt back in.",
            code="opted_out",
        )
    if number is not None and number.invalid_at is not None:
        raise MessagingError(
            "This number cannot receive texts (the carrier rejected it). Check it with the "
            "patient.",
            code="invalid_number",
        )
    patient = conversation.patient
    if patient is not None:
        if patient.status != PatientStatus.ACTIVE:
            raise MessagingError("This patient is not active.", code="patient_inactive")
        consent = consent_of(patient)
        consented = consent is not None and consent.granted and consent.phone == conversation.phone
        if not consented and conversation.last_inbound_at is None:
            raise MessagingError(
                "This patient has not agreed to texts and has not texted us. Record consent first.",
                code="no_consent",
            )
        tz = patient_time_zone(patient)
        window = quiet_window(consent)
    else:
        if conversation.last_inbound_at is None:
            raise MessagingError("Only reply to numbers that texted us.", code="no_consent")
        pharmacy = conversation.pharmacy
        tz = ZoneInfo(pharmacy.time_zone if pharmacy else settings.MESSAGING_DEFAULT_TIME_ZONE)
        window = quiet_window(None)
    outside = not rules.in_window(timezone.now(), tz, *window)
    return body, "", outside


QUIET_WARN = "warn"
QUIET_SEND = "send"
QUIET_HOLD = "hold"


@transaction.atomic
def message_send_manual(
    *, conversation: Conversation, body: str, actor: User, outside_window: str = QUIET_WARN
) -> Message:
    """A staff reply. Refused when opted out; outside the window the sender must choose to
    send now or hold it until the window opens (`outside_window`: warn, send or hold)."""
    body, _, outside = manual_send_check(conversation=conversation, body=body)
    now = timezone.now()
    due = now
    reason = ""
    if outside:
        if outside_window == QUIET_WARN:
            raise MessagingError(
                "It is outside the patient's texting hours. Send anyway, or hold it until "
                "the window opens.",
                code="quiet_hours",
            )
        if outside_window == QUIET_HOLD:
            patient = conversation.patient
            consent = consent_of(patient) if patient else None
            tz = (
                patient_time_zone(patient)
                if patient
                else ZoneInfo(
                    conversation.pharmacy.time_zone
                    if conversation.pharmacy
                    else settings.MESSAGING_DEFAULT_TIME_ZONE
                )
            )
            due = rules.next_window_start(now, tz, *quiet_window(consent))
            reason = DeferReason.HELD_BY_STAFF
    pharmacy = conversation.pharmacy or (
        conversation.patient and sending_pharmacy(conversation.patient)
    )
    if not sender_of(pharmacy):
        raise MessagingError("The pharmacy has no SMS number to send from.", code="no_sender")
    message = Message.objects.create(
        conversation=conversation,
        patient=conversation.patient,
        pharmacy=pharmacy,
        direction=Direction.OUTBOUND,
        kind=MessageKind.MANUAL,
        to_number=conversation.phone,
        from_number=sender_of(pharmacy),
        body=body,
        status=MessageStatus.QUEUED,
        due_at=due,
        defer_reason=reason,
        allow_quiet_hours=outside and outside_window == QUIET_SEND,
        sent_by=actor,
    )
    _touch_conversation(conversation, inbound=False, unread=False)
    audit_record(
        action="messaging.message.sent_by_staff",
        actor=actor,
        target=message,
        metadata={"outside_window": outside, "choice": outside_window if outside else ""},
    )
    enqueue_dispatch(current_organization())
    return message


def _reply(
    *, kind: str, conversation: Conversation, patient: Patient | None, pharmacy, language: str
) -> Message | None:
    """Queue a keyword reply (HELP, opt-out/in confirmation, acknowledgements): sent at once."""
    if not sender_of(pharmacy):
        return None
    body = render_text(
        kind,
        language,
        template_values(patient=patient, pharmacy=pharmacy, language=language, context={}),
    )
    return Message.objects.create(
        conversation=conversation,
        patient=patient,
        pharmacy=pharmacy,
        direction=Direction.OUTBOUND,
        kind=kind,
        to_number=conversation.phone,
        from_number=sender_of(pharmacy),
        body=body,
        status=MessageStatus.QUEUED,
        due_at=timezone.now(),
    )


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, actor: User) -> int:
    return Message.objects.filter(
        conversation=conversation, direction=Direction.INBOUND, read_at__isnull=True
    ).update(read_at=timezone.now(), read_by=actor)


@transaction.atomic
def conversation_assign(
    *, conversation: Conversation, assignee: User | None, actor: User
) -> Conversation:
    if assignee is not None and not Membership.objects.filter(user=assignee).exists():
        raise MessagingError(
            "Assign conversations to members of this organization.",
            code="invalid",
            fields={"assignee": ["Not a member of this organization."]},
        )
    conversation.assigned_to = assignee
    conversation.save(update_fields=["assigned_to"])
    audit_record(
        action="messaging.conversation.assigned",
        actor=actor,
        target=conversation,
        metadata={"assignee": str(assignee.public_id) if assignee else ""},
    )
    return conversation


@transaction.atomic
def conversation_close(*, conversation: Conversation, actor: User) -> Conversation:
    conversation.status = ConversationStatus.CLOSED
    conversation.closed_at = timezone.now()
    conversation.save(update_fields=["status", "closed_at"])
    conversation_mark_read(conversation=conversation, actor=actor)
    audit_record(action="messaging.conversation.closed", actor=actor, target=conversation)
    return conversation


@transaction.atomic
def conversation_reopen(*, conversation: Conversation, actor: User) -> Conversation:
    conversation.status = ConversationStatus.OPEN
    conversation.closed_at = None
    conversation.save(update_fields=["status", "closed_at"])
    audit_record(action="messaging.conversation.reopened", actor=actor, target=conversation)
    return conversation


# =============================================================================
# Inbound texts and keywords
# =============================================================================


@transaction.atomic
def inbound_message_receive(
    *, pharmacy: Pharmacy, from_number: str, to_number: str, body: str, provider_sid: str
) -> Message | None:
    """One text from a patient (or anyone) to one of our numbers. None when a duplicate.

    De-duplicated by MessageSid with a unique constraint: the insert is the claim.
    """
    body = (body or "")[:1600]
    message = Message(
        pharmacy=pharmacy,
        direction=Direction.INBOUND,
        kind=MessageKind.INBOUND,
        to_number=to_number,
        from_number=from_number,
        body=body,
        status=MessageStatus.RECEIVED,
        provider_sid=provider_sid,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return None  # the same MessageSid again: Twilio retried or replayed it

    patients = [p for p in _patients_with_phone(from_number)]
    active = [p for p in patients if p.status == PatientStatus.ACTIVE] or patients
    patient = active[0] if len(active) == 1 else None
    conversation = conversation_for(phone=from_number, pharmacy=pharmacy, patient=patient)
    message.conversation = conversation
    message.patient = patient or conversation.patient
    patient = message.patient
    number = number_state(from_number)
    opted_out = number is not None and number.opted_out_at is not None
    consent = consent_of(patient) if patient else None
    language = patient_language(patient, consent) if patient else "en"
    if rules.normalize(body) in ("ayuda", "parar", "alto", "baja", "cancelar", "si", "sí"):
        language = "es"
    classified = rules.classify(
        body,
        prep_question_open=bool(patient) and registry.prep_question_open(patient),
        opted_out=opted_out,
    )
    message.intent = classified.intent
    message.needs_review = classified.needs_review
    handled = True
    replies: list[Message | None] = []
    if classified.intent == rules.INTENT_OPT_OUT:
        if phone_opt_out(
            phone=from_number,
            kind=ConsentEventKind.OPTED_OUT,
            keyword=classified.keyword,
            message=message,
        ):
            replies.append(
                _reply(
                    kind=MessageKind.OPT_OUT_CONFIRMATION,
                    conversation=conversation,
                    patient=patient,
                    pharmacy=pharmacy,
                    language=language,
                )
            )
    elif classified.intent == rules.INTENT_OPT_IN:
        if phone_opt_in(phone=from_number, keyword=classified.keyword, message=message):
            replies.append(
                _reply(
                    kind=MessageKind.OPT_IN_CONFIRMATION,
                    conversation=conversation,
                    patient=patient,
                    pharmacy=pharmacy,
                    language=language,
                )
            )
    elif classified.intent == rules.INTENT_HELP:
        replies.append(
            _reply(
                kind=MessageKind.HELP_REPLY,
                conversation=conversation,
                patient=patient,
                pharmacy=pharmacy,
                language=language,
            )
        )
    elif classified.intent in (rules.INTENT_CONFIRM, rules.INTENT_CHANGE):
        applied = patient is not None and registry.dispatch_reply(
            patient, classified.intent, message
        )
        message.intent_applied = bool(applied)
        handled = bool(applied)
        if applied and not opted_out:
            replies.append(
                _reply(
                    kind=MessageKind.CONFIRM_ACK
                    if classified.intent == rules.INTENT_CONFIRM
                    else MessageKind.CHANGE_ACK,
                    conversation=conversation,
                    patient=patient,
                    pharmacy=pharmacy,
                    language=language,
                )
            )
    else:
        handled = False
    if handled:
        message.read_at = timezone.now()  # answered automatically: nothing for staff to do
    message.save(
        update_fields=[
            "conversation",
            "patient",
            "intent",
            "intent_applied",
            "needs_review",
            "read_at",
        ]
    )
    _touch_conversation(conversation, inbound=True, unread=not handled)
    audit_record(
        action="messaging.message.received",
        organization=pharmacy.organization,
        target=message,
        metadata={
            "intent": classified.intent,
            "applied": message.intent_applied,
            "known_sender": patient is not None,
        },
    )
    if any(replies):
        enqueue_dispatch(pharmacy.organization)
    return message


@transaction.atomic
def inbound_simulate(*, conversation: Conversation, body: str, actor: User) -> Message | None:
    """Development only: pretend the patient texted `body` to the pharmacy's number."""
    if not settings.MESSAGING_SIMULATOR_ENABLED:
        raise MessagingError("The simulator is off in this environment.", code="forbidden")
    pharmacy = conversation.pharmacy or Pharmacy.objects.exclude(sms_number="").first()
    if pharmacy is None or not pharmacy.sms_number:
        raise MessagingError("No pharmacy has an SMS number to text.", code="no_sender")
    audit_record(action="messaging.message.simulated", actor=actor, target=conversation)
    return inbound_message_receive(
        pharmacy=pharmacy,
        from_number=conversation.phone,
        to_number=pharmacy.sms_number,
        body=body,
        provider_sid="SMsimulated" + uuid.uuid4().hex,
    )


# =============================================================================
# Status callbacks: forward only, idempotent
# =============================================================================

TWILIO_STATUS = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "read": MessageStatus.READ,
    "canceled": MessageStatus.FAILED,
}
# Twilio delivery errors that mean the number itself cannot take texts.
UNDELIVERABLE_NUMBER_CODES = frozenset({"21211", "21614", "30005", "30006"})


@transaction.atomic
def message_status_record(*, provider_sid: str, status: str, error_code: str = "") -> bool:
    """Store one status callback once, and move the message forward if it is further along.

    Callbacks arriving before the send is recorded are kept and applied when it is.
    Returns True when this callback was new.
    """
    status = (status or "").lower()
    try:
        with transaction.atomic():
            StatusCallback.objects.create(
                provider_sid=provider_sid, status=status, error_code=error_code[:16]
            )
    except IntegrityError:
        return False
    message = Message.objects.filter(provider_sid=provider_sid).first()
    if message is not None:
        _advance(message, status, error_code)
    return True


def _advance(message: Message, status: str, error_code: str) -> bool:
    new = TWILIO_STATUS.get(status)
    if new is None:
        return False  # queued, sending, accepted: not further than "sent"
    lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[new]]
    now = timezone.now()
    updates = {"status": new, "status_updated_at": now}
    if new in (MessageStatus.DELIVERED, MessageStatus.READ):
        updates["delivered_at"] = now
    if error_code:
        updates["error_code"] = error_code[:16]
    moved = Message.objects.filter(
        pk=message.pk, status__in=lower, direction=Direction.OUTBOUND
    ).update(**updates)
    if moved and error_code == ERROR_OPTED_OUT:
        phone_opt_out(
            phone=message.to_number,
            kind=ConsentEventKind.PROVIDER_OPT_OUT,
            message=message,
            note="Carrier reported 21610",
        )
    elif moved and error_code in UNDELIVERABLE_NUMBER_CODES:
        phone_mark_invalid(phone=message.to_number, code=error_code, message=message)
    return bool(moved)


def _apply_pending_callbacks(message: Message) -> None:
    pending = list(
        StatusCallback.objects.filter(provider_sid=message.provider_sid).values_list(
            "status", "error_code"
        )
    )
    pending.sort(key=lambda pair: STATUS_RANK.get(TWILIO_STATUS.get(pair[0]), -1))
    for status, error_code in pending:
        _advance(message, status, error_code)


# =============================================================================
# Sending: claim, check, send, record
# =============================================================================


def enqueue_dispatch(organization: Organization) -> None:
    """Queue the organization's dispatcher after commit (at most one waiting at a time)."""
    from messaging.tasks import dispatch_due

    key = f"messaging:dispatch-pending:{organization.public_id}"

    def _queue():
        try:
            if not cache.add(key, 1, timeout=30):
                return  # a dispatcher is already waiting to run: it will see this text
        except Exception:  # the cache is down: queue anyway (a duplicate dispatcher is harmless)
            logger.warning("Cache unavailable; queueing the dispatcher without de-duplication")
        try:
            dispatch_due.delay(organization_id=str(organization.public_id))
        except Exception:  # the broker is down: the beat sweep sends it within a minute
            logger.exception("Could not queue the dispatcher; the beat sweep will send the text")

    transaction.on_commit(_queue)


def dispatch_pending_clear(organization: Organization) -> None:
    try:
        cache.delete(f"messaging:dispatch-pending:{organization.public_id}")
    except Exception:
        logger.warning("Cache unavailable; could not clear the dispatch marker")


@dataclass
class DispatchResult:
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    recovered: int = 0
    more: bool = False
    wait_seconds: float = 0.0
    busy_senders: dict = field(default_factory=dict)


def _may_send(message: Message, patient: Patient | None, consent, number) -> str:
    """'' when this claimed text may go out now, else a SkipReason."""
    if number is not None and number.invalid_at is not None:
        return SkipReason.INVALID_NUMBER
    opted_out = number is not None and number.opted_out_at is not None
    if message.kind in (MessageKind.OPT_OUT_CONFIRMATION, MessageKind.HELP_REPLY):
        return ""  # one confirmation after STOP; HELP is always answered (CTIA)
    if opted_out:
        return SkipReason.OPTED_OUT
    if message.kind in AUTOMATED_KINDS:
        if patient is None:
            return SkipReason.NO_CONSENT
        reason = automated_skip_reason(patient, consent, number, message.pharmacy)
        if reason:
            return reason
        if patient.phone != message.to_number:
            return SkipReason.CONSENT_FOR_OTHER_NUMBER
    if patient is not None and patient.status != PatientStatus.ACTIVE:
        return SkipReason.PATIENT_INACTIVE
    return ""


def _claim_next(now: datetime, busy: set[str]) -> tuple[str, Message | None, datetime | None]:
    """Claim one due text (conditional UPDATE queued -> sending), or say why not.

    Returns ("claimed", message, None), ("busy", None, free_at) for a rate-limited sender,
    ("handled", None, None) when the text was deferred or skipped instead, ("empty", ...).
    """
    numbers = SmsNumber.objects.filter(phone=OuterRef("to_number"))
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(direction=Direction.OUTBOUND, status=MessageStatus.QUEUED, due_at__lte=now)
            .exclude(from_number__in=busy)
            .select_related("patient__home_pharmacy", "pharmacy__sms_config", "conversation")
            .annotate(
                number_opted_out_at=Subquery(numbers.values("opted_out_at")[:1]),
                number_invalid_at=Subquery(numbers.values("invalid_at")[:1]),
            )
            .order_by("due_at", "id")
            .first()
        )
        if message is None:
            return "empty", None, None
        patient = message.patient
        consent = (
            SmsConsent.objects.select_for_update().filter(patient=patient).first()
            if patient
            else None
        )
        number = SmsNumber(
            phone=message.to_number,
            opted_out_at=message.number_opted_out_at,
            invalid_at=message.number_invalid_at,
        )
        reason = _may_send(message, patient, consent, number)
        if reason:
            Message.objects.filter(pk=message.pk, status=MessageStatus.QUEUED).update(
                status=MessageStatus.SKIPPED, skip_reason=reason, due_at=None
            )
            audit_record(
                action="messaging.message.skipped",
                target=message,
                metadata={"kind": message.kind, "reason": reason, "at": "send"},
            )
            return "handled", None, None
        if message.kind in AUTOMATED_KINDS:
            plan = plan_automated(
                patient=patient, consent=consent, exclude_id=message.pk, statuses=GONE_OUT, now=now
            )
            if plan.due_at > now:
                # Outside the window, or the day's/week's texts already went: wait, not drop.
                replan = plan_automated(patient=patient, consent=consent, exclude_id=message.pk)
                Message.objects.filter(pk=message.pk).update(
                    due_at=replan.due_at, slot_date=replan.slot_date, defer_reason=replan.reason
                )
                return "handled", None, None
            slot_date = plan.slot_date
        else:
            slot_date = message.slot_date
            if message.kind == MessageKind.MANUAL and not message.allow_quiet_hours and patient:
                tz = patient_time_zone(patient)
                opens = rules.next_window_start(now, tz, *quiet_window(consent))
                if opens > now:
                    Message.objects.filter(pk=message.pk).update(
                        due_at=opens, defer_reason=DeferReason.HELD_BY_STAFF
                    )
                    return "handled", None, None
        free_at = _reserve_sender(message, now)
        if free_at is not None:
            return "busy", message, free_at
        claimed = Message.objects.filter(pk=message.pk, status=MessageStatus.QUEUED).update(
            status=MessageStatus.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            slot_date=slot_date,
            defer_reason="",
        )
        if claimed != 1:
            return "handled", None, None
        message.status = MessageStatus.SENDING
        message.claimed_at = now
        message.attempts += 1
        return "claimed", message, None


def _reserve_sender(message: Message, now: datetime) -> datetime | None:
    """Take the sender's next send slot; None when taken, else when it frees up."""
    rate = _sender_rate(message.pharmacy)
    if rate <= 0 or not message.from_number:
        return None
    interval = timedelta(seconds=1 / rate)
    clock, _ = SenderClock.objects.get_or_create(
        sender=message.from_number, defaults={"next_free_at": now}
    )
    taken = SenderClock.objects.filter(pk=clock.pk, next_free_at__lte=now).update(
        next_free_at=now + interval
    )
    if taken:
        return None
    return SenderClock.objects.filter(pk=clock.pk).values_list("next_free_at", flat=True).first()


def _outgoing(message: Message) -> OutgoingText:
    config = sms_config(message.pharmacy)
    service = config.messaging_service_sid if config else ""
    return OutgoingText(
        to=message.to_number,
        body=message.body,
        from_number="" if service else message.from_number,
        messaging_service_sid=service,
        status_callback=status_callback_url(),
        message_public_id=str(message.public_id),
    )


def status_callback_url() -> str:
    base = settings.MESSAGING_PUBLIC_BASE_URL
    return f"{base}/webhooks/twilio/status/" if base else ""


def _gateway(message: Message) -> SmsGateway:
    account_sid, token = credentials_for(message.pharmacy)
    return gateway_for(account_sid=account_sid, auth_token=token)


def _send_claimed(message: Message, result: DispatchResult) -> None:
    # Last look before the gateway: a STOP may have landed since the claim.
    number = number_state(message.to_number)
    if (
        number is not None
        and number.opted_out_at is not None
        and message.kind not in (MessageKind.OPT_OUT_CONFIRMATION, MessageKind.HELP_REPLY)
    ):
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.SKIPPED, skip_reason=SkipReason.OPTED_OUT
        )
        result.skipped += 1
        return
    try:
        gateway = _gateway(message)
        sent = gateway.send(_outgoing(message))
    except TransientGatewayError as exc:
        _retry_or_fail(message, exc, result)
        return
    except PermanentGatewayError as exc:
        _fail(message, exc)
        result.failed += 1
        return
    _mark_sent(message, sent.provider_sid)
    result.sent += 1


@transaction.atomic
def _mark_sent(message: Message, provider_sid: str) -> None:
    now = timezone.now()
    moved = Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.SENT,
        provider_sid=provider_sid,
        sent_at=now,
        status_updated_at=now,
        error_code="",
        error_message="",
    )
    if moved:
        message.provider_sid = provider_sid
        if not provider_sid.startswith("SMconsole"):  # the console never calls back
            _apply_pending_callbacks(message)
        _touch_conversation(message.conversation, inbound=False, unread=False)


@transaction.atomic
def _retry_or_fail(message: Message, exc: TransientGatewayError, result: DispatchResult):
    if message.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.FAILED,
            error_code=exc.code[:16],
            error_message=f"Gave up after {message.attempts} attempts: {exc.message}"[:300],
            status_updated_at=timezone.now(),
        )
        audit_record(
            action="messaging.message.failed",
            target=message,
            metadata={"code": exc.code, "attempts": message.attempts, "transient": True},
        )
        result.failed += 1
        return
    backoff = min(
        3600, settings.MESSAGING_RETRY_BACKOFF_SECONDS * 2 ** max(0, message.attempts - 1)
    )
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.QUEUED,
        due_at=timezone.now() + timedelta(seconds=backoff),
        defer_reason=DeferReason.RETRY,
        error_code=exc.code[:16],
        error_message=exc.message[:300],
    )
    result.retried += 1


@transaction.atomic
def _fail(message: Message, exc: PermanentGatewayError) -> None:
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.FAILED,
        error_code=exc.code[:16],
        error_message=exc.message[:300],
        status_updated_at=timezone.now(),
    )
    if exc.code == ERROR_OPTED_OUT:
        phone_opt_out(
            phone=message.to_number,
            kind=ConsentEventKind.PROVIDER_OPT_OUT,
            message=message,
            note="Twilio refused: the recipient opted out (21610)",
        )
    elif exc.code in INVALID_NUMBER_CODES:
        phone_mark_invalid(phone=message.to_number, code=exc.code, message=message)
    audit_record(
        action="messaging.message.failed",
        target=message,
        metadata={"code": exc.code, "attempts": message.attempts, "transient": False},
    )


def recover_stale_claims(*, now: datetime | None = None) -> int:
    """Texts stuck in "sending" (their worker died): sent if the provider has them, else
    queued again. Never both: the provider is asked first."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MESSAGING_CLAIM_TIMEOUT_SECONDS)
    recovered = 0
    stale_ids = list(
        Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:200]
    )
    for pk in stale_ids:
        with transaction.atomic():
            message = (
                Message.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("pharmacy__sms_config", "conversation")
                .filter(pk=pk, status=MessageStatus.SENDING, claimed_at__lt=cutoff)
                .first()
            )
            if message is None:
                continue
            try:
                found = _gateway(message).find_sent(_outgoing(message), since=message.claimed_at)
            except (TransientGatewayError, PermanentGatewayError):
                logger.warning("Could not check stale message %s with the gateway", message.pk)
                continue
            if found is not None:
                _mark_sent(message, found.provider_sid)
            else:
                Message.objects.filter(pk=pk, status=MessageStatus.SENDING).update(
                    status=MessageStatus.QUEUED, due_at=now, claimed_at=None
                )
            recovered += 1
    return recovered


def messages_dispatch_due(
    *, time_budget: float | None = None, max_messages: int | None = None
) -> DispatchResult:
    """Send the organization's due texts until none is left or the budget is spent."""
    organization = current_organization()
    dispatch_pending_clear(organization)
    budget = settings.MESSAGING_BATCH_SECONDS if time_budget is None else time_budget
    deadline = time_module.monotonic() + budget
    result = DispatchResult(recovered=recover_stale_claims())
    busy: dict[str, datetime] = {}
    handled = 0
    while time_module.monotonic() < deadline:
        if max_messages is not None and handled >= max_messages:
            result.more = True
            break
        now = timezone.now()
        busy = {sender: free for sender, free in busy.items() if free > now}
        outcome, message, free_at = _claim_next(now, set(busy))
        if outcome == "claimed":
            handled += 1
            _send_claimed(message, result)
        elif outcome == "handled":
            handled += 1
            result.deferred += 1
        elif outcome == "busy":
            busy[message.from_number] = free_at
        elif busy:
            # Only rate-limited senders have due texts: wait for the first to free up.
            wait = (min(busy.values()) - timezone.now()).total_seconds()
            if time_module.monotonic() + wait >= deadline:
                result.more = True
                result.wait_seconds = max(0.0, wait)
                break
            time_module.sleep(max(0.0, wait))
        else:
            break
    else:
        result.more = True
    result.busy_senders = {k: v.isoformat() for k, v in busy.items()}
    return result


def automated_due_count() -> int:
    return Message.objects.filter(
        direction=Direction.OUTBOUND, status=MessageStatus.QUEUED, due_at__lte=timezone.now()
    ).count()
