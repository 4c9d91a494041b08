"""Every read of the messaging app: what the inbox pages, the API and the dashboard show
(fixed query counts), and the lookups the writes in `messaging.services` decide with
(a patient's time zone, language and window, the sending pharmacy and its Twilio settings,
the state of a number, template wording, when an automated text may go)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from medsync.models import Membership, Pharmacy
from medsync.selectors import limit_to_visible_pharmacies
from messaging import rules
from messaging.defaults import DEFAULT_TEMPLATES
from messaging.gateways import auth_token_from_env
from messaging.models import (
    AUTOMATED_KINDS,
    ConsentEvent,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    MessageTemplate,
    PharmacySmsConfig,
    SkipReason,
    SmsConsent,
    SmsNumber,
)
from patients.models import Drug, Patient, PatientStatus
from patients.visibility import limit_to_visible_patients, visibility_condition

INBOX_VIEWS = {
    "unread": "Unread",
    "mine": "Assigned to me",
    "open": "Open",
    "closed": "Closed",
    "all": "All",
}


def limit_to_visible_conversations(
    queryset: QuerySet, membership: Membership | None, conversation_field: str = ""
) -> QuerySet:
    """Rows of conversations the member may see: at one of their pharmacies, and with a
    patient they may see (or no patient yet: an unknown number texting that pharmacy)."""
    prefix = f"{conversation_field}__" if conversation_field else ""
    queryset = limit_to_visible_pharmacies(queryset, membership, f"{prefix}pharmacy")
    condition = visibility_condition(membership)
    if condition is None:
        return queryset
    visible = Patient.objects.filter(condition).order_by().values("pk")
    return queryset.filter(
        Q(**{f"{prefix}patient__isnull": True}) | Q(**{f"{prefix}patient__in": visible})
    )


def conversations_for_inbox(
    membership: Membership, *, view: str = "unread", query: str = ""
) -> QuerySet[Conversation]:
    """Conversations with their unread counts and last text, newest first (one query)."""
    last = Message.objects.filter(conversation=OuterRef("pk")).exclude(status="skipped")
    conversations = (
        Conversation.objects.select_related("patient", "pharmacy", "assigned_to")
        .annotate(
            unread=Count(
                "messages",
                filter=Q(messages__direction=Direction.INBOUND, messages__read_at__isnull=True),
            ),
            last_body=Subquery(last.order_by("-created_at", "-id").values("body")[:1]),
            last_direction=Subquery(last.order_by("-created_at", "-id").values("direction")[:1]),
        )
        .order_by("-last_message_at", "-id")
    )
    conversations = limit_to_visible_conversations(conversations, membership)
    if view == "unread":
        conversations = conversations.filter(unread__gt=0)
    elif view == "mine":
        conversations = conversations.filter(
            assigned_to=membership.user, status=ConversationStatus.OPEN
        )
    elif view == "open":
        conversations = conversations.filter(
            status=ConversationStatus.OPEN, last_inbound_at__isnull=False
        )
    elif view == "closed":
        conversations = conversations.filter(status=ConversationStatus.CLOSED)
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        match = Q(patient__first_name__icontains=query) | Q(patient__last_name__icontains=query)
        if len(digits) >= 4:
            match |= Q(phone__contains=digits)
        conversations = conversations.filter(match)
    return conversations


def conversation_for_member(membership: Membership, public_id) -> Conversation | None:
    """One conversation the member may see (its pharmacy is visible to them), else None."""
    return (
        limit_to_visible_conversations(Conversation.objects.all(), membership)
        .select_related("patient", "pharmacy", "assigned_to")
        .filter(public_id=public_id)
        .first()
    )


def conversation_messages(conversation: Conversation) -> QuerySet[Message]:
    """The thread of one conversation, oldest first."""
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("sent_by", "read_by", "patient")
        .order_by("created_at", "id")
    )


def unread_total(membership: Membership) -> int:
    """Unread patient texts in the conversations the member may see."""
    conversations = limit_to_visible_conversations(Conversation.objects.all(), membership)
    return Message.objects.filter(
        direction=Direction.INBOUND,
        read_at__isnull=True,
        conversation__in=conversations,
    ).count()


def messages_list(
    *,
    patient=None,
    conversation=None,
    direction: str = "",
    status: str = "",
    membership: Membership | None = None,
):
    """Texts newest first, filtered; with `membership`, only those of conversations the
    member may see (their pharmacies, their patients)."""
    messages = Message.objects.select_related("patient", "conversation", "pharmacy").order_by(
        "-created_at", "-id"
    )
    if patient is not None:
        messages = messages.filter(patient=patient)
    if conversation is not None:
        messages = messages.filter(conversation=conversation)
    if direction:
        messages = messages.filter(direction=direction)
    if status:
        messages = messages.filter(status=status)
    return limit_to_visible_conversations(messages, membership, "conversation")


def patient_for_member(membership: Membership | None, public_id) -> Patient | None:
    """A patient the member may see (for texting them or their settings), else None."""
    patients = Patient.objects.select_related("home_pharmacy").filter(public_id=public_id)
    return limit_to_visible_patients(patients, membership).first()


def patient_sms_state(patient) -> dict:
    """Consent, the number's state and the consent log of one patient."""
    consent = SmsConsent.objects.select_related("recorded_by").filter(patient=patient).first()
    number = SmsNumber.objects.filter(phone=patient.phone).first() if patient.phone else None
    events = list(
        ConsentEvent.objects.filter(
            Q(patient=patient) | Q(patient__isnull=True, phone=patient.phone)
        )
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:50]
    )
    conversation = (
        Conversation.objects.filter(phone=patient.phone).first() if patient.phone else None
    )
    return {"consent": consent, "number": number, "events": events, "conversation": conversation}


def templates_by_key() -> dict[tuple[str, str], MessageTemplate]:
    """The organization's own wordings by (kind, language)."""
    return {(t.kind, t.language): t for t in MessageTemplate.objects.select_related("updated_by")}


def assignable_members() -> QuerySet[Membership]:
    """Who a conversation can be assigned to."""
    return Membership.objects.select_related("user").order_by("user__email")


# --- The patient's side: time zone, language, window, consent, number -------------------------


def patient_time_zone(patient: Patient) -> ZoneInfo:
    """The patient's local time: their home pharmacy's zone (else the first active one's)."""
    pharmacy = patient.home_pharmacy
    if pharmacy is None:
        pharmacy = Pharmacy.objects.filter(is_active=True).order_by("id").first()
    return ZoneInfo(pharmacy.time_zone if pharmacy else settings.MESSAGING_DEFAULT_TIME_ZONE)


def patient_language(patient: Patient, consent: SmsConsent | None) -> str:
    """The language texts go out in: chosen in the consent, else the patient's (en or es)."""
    if consent is not None and consent.language:
        return consent.language
    language = (patient.preferred_language or "en").lower()[:2]
    return language if language in ("en", "es") else "en"


def quiet_window(consent: SmsConsent | None) -> tuple[time, time]:
    """(opens, closes) local times of the patient's send window (the default without consent)."""
    if consent is None:
        return time(settings.MESSAGING_QUIET_HOURS_START), time(settings.MESSAGING_QUIET_HOURS_END)
    return consent.quiet_start, consent.quiet_end


def number_state(phone: str) -> SmsNumber | None:
    """Opt-out and invalid marks of a phone number (None when it never had any)."""
    return SmsNumber.objects.filter(phone=phone).first() if phone else None


def patients_with_phone(phone: str) -> list[Patient]:
    """Every patient of the organization who gave this number (a household may share one)."""
    return list(Patient.objects.filter(phone=phone).select_related("home_pharmacy"))


def consent_of(patient: Patient) -> SmsConsent | None:
    """The patient's SMS consent row (None when never recorded)."""
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


# --- The pharmacy's side: which one sends, from what, with which credentials ------------------

_MISSING = object()


def _pharmacy_from_hint(value) -> Pharmacy | None:
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
    for candidate in (_pharmacy_from_hint(hint), patient.home_pharmacy):
        if candidate is not None and candidate.is_active:
            return candidate
    return Pharmacy.objects.filter(is_active=True).exclude(sms_number="").order_by("id").first()


def sms_config(pharmacy: Pharmacy | None) -> PharmacySmsConfig | None:
    """The pharmacy's Twilio settings (read once per pharmacy instance: one request or job)."""
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
    variable (TWILIO_AUTH_TOKEN_...) that holds it. A pharmacy that names its own account
    or variable fails closed: a missing variable is no token (the send fails as a
    configuration error), never the global token of another account.
    """
    config = sms_config(pharmacy)
    account_sid = (config.account_sid if config else "") or settings.TWILIO_ACCOUNT_SID
    if config is not None and (config.auth_token_env or config.account_sid):
        return account_sid, auth_token_from_env(config.auth_token_env)
    if pharmacy is not None and pharmacy.twilio_auth_token_env:  # the settings page's variable
        return account_sid, auth_token_from_env(pharmacy.twilio_auth_token_env)
    return account_sid, settings.TWILIO_AUTH_TOKEN


def sender_rate(pharmacy: Pharmacy | None) -> float:
    """Texts per second one sender may send (the pharmacy's setting, else the default)."""
    config = sms_config(pharmacy)
    if config is not None and config.max_per_second is not None:
        return float(config.max_per_second)
    return float(settings.MESSAGING_SENDER_RATE)


def status_callback_url() -> str:
    """Where Twilio reports delivery ('' without a public base URL: no callbacks)."""
    base = settings.MESSAGING_PUBLIC_BASE_URL
    return f"{base}/webhooks/twilio/status/" if base else ""


# --- Templates: wording, checks, rendering ----------------------------------------------------


def template_body(kind: str, language: str) -> str:
    """The organization's wording of a kind of text, else the built-in one."""
    override = MessageTemplate.objects.filter(kind=kind, language=language).first()
    if override is not None:
        return override.body
    return DEFAULT_TEMPLATES.get((kind, language)) or DEFAULT_TEMPLATES[(kind, "en")]


def longest_pharmacy_name() -> int:
    """The longest active pharmacy name a template must fit (capped at the render limit)."""
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
    """Validate a wording against this organization's pharmacy names and drug catalog."""
    return rules.check_template(
        body,
        language=language,
        automated=kind in AUTOMATED_KINDS,
        pharmacy_name_max=longest_pharmacy_name(),
        forbidden_words=phi_words_in(body),
    )


def template_values(
    *, patient: Patient | None, pharmacy: Pharmacy | None, language: str, context: dict
) -> dict[str, str]:
    """The variables of one text, formatted for the patient's language."""
    values = {
        "first_name": rules.clip(patient.first_name if patient else "", rules.FIRST_NAME_MAX),
        "pharmacy_name": rules.clip(pharmacy.name if pharmacy else "", rules.PHARMACY_NAME_MAX),
        "pharmacy_phone": rules.format_phone(pharmacy.phone if pharmacy else ""),
        "reply_options": rules.REPLY_OPTIONS.get(language, rules.REPLY_OPTIONS["en"]),
        "anchor_date": "",
        "pickup_by": "",
        "appointment_time": "",
        "link": str(context.get("link") or ""),
    }
    starts = context.get("appointment_time")
    if isinstance(starts, str) and starts:
        starts = datetime.fromisoformat(starts)
    if isinstance(starts, datetime):
        zone = ZoneInfo(pharmacy.time_zone) if pharmacy and pharmacy.time_zone else None
        local = starts.astimezone(zone) if zone and starts.tzinfo else starts
        values["appointment_time"] = rules.format_datetime(local, language)
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
    """The text of one message, in one SMS."""
    return rules.render_fitted(template_body(kind, language), values)


# --- When an automated text may go ------------------------------------------------------------

# Statuses that mean the text went (or is going) out: they count toward the limits.
GONE_OUT = (
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.READ,
)
PLANNED = (MessageStatus.QUEUED, *GONE_OUT)


def _automated_counts(
    patient: Patient, statuses, exclude_id: int | None, since: date
) -> dict[date, int]:
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


def automated_send_slot(
    *,
    patient: Patient,
    consent: SmsConsent | None,
    exclude_id: int | None = None,
    statuses=PLANNED,
    now: datetime | None = None,
    not_before: datetime | None = None,
) -> rules.SendSlot:
    """The first moment an automated text to this patient may go: inside their window,
    within the daily and weekly limits counting their other texts in `statuses`."""
    now = now or timezone.now()
    tz = patient_time_zone(patient)
    window_start, window_end = quiet_window(consent)
    today = now.astimezone(tz).date()
    return rules.first_send_slot(
        start=max(now, not_before) if not_before else now,
        counts=_automated_counts(
            patient, statuses, exclude_id, today - timedelta(days=rules.WEEK_DAYS)
        ),
        tz=tz,
        window_start=window_start,
        window_end=window_end,
        daily=settings.MESSAGING_DAILY_LIMIT,
        weekly=settings.MESSAGING_WEEKLY_LIMIT,
    )
