"""Sending texts: claim a due one, check it may still go, send it, record the outcome;
status callbacks from the provider.

A claim is a conditional UPDATE queued -> sending (one worker wins); each sender's
throughput is a SenderClock row taken the same way. Status callbacks only move a status
forward and are stored once, so a repeat or an early callback changes nothing twice.
"""

from __future__ import annotations

import logging
import time as time_module
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from medsync.services import audit_record
from medsync.tenancy import current_organization
from messaging import rules
from messaging.gateways import (
    ERROR_OPTED_OUT,
    INVALID_NUMBER_CODES,
    OutgoingText,
    PermanentGatewayError,
    SmsGateway,
    TransientGatewayError,
    gateway_for,
)
from messaging.models import (
    AUTOMATED_KINDS,
    STATUS_RANK,
    ConsentEventKind,
    DeferReason,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    SenderClock,
    SkipReason,
    SmsConsent,
    SmsNumber,
    StatusCallback,
)
from messaging.selectors import (
    GONE_OUT,
    automated_send_slot,
    automated_skip_reason,
    credentials_for,
    number_state,
    patient_time_zone,
    quiet_window,
    sender_rate,
    sms_config,
    status_callback_url,
)
from messaging.services import dispatcher
from messaging.services.consent import phone_mark_invalid, phone_opt_out
from messaging.services.conversations import conversation_touch
from patients.models import Patient, PatientStatus

logger = logging.getLogger(__name__)

__all__ = [
    "DispatchResult",
    "message_claim_next",
    "message_gateway",
    "message_mark_sent",
    "message_outgoing",
    "message_status_record",
    "messages_dispatch_due",
    "stale_claims_recover",
]

# Kinds answered even right after STOP (one confirmation) and HELP (always, CTIA).
_ALWAYS_ANSWERED = (MessageKind.OPT_OUT_CONFIRMATION, MessageKind.HELP_REPLY)


@dataclass
class DispatchResult:
    """What one dispatcher run did (returned by the task, for logs and the bench)."""

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
    if message.kind in _ALWAYS_ANSWERED:
        return ""
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


def message_claim_next(
    *, now: datetime, busy: set[str]
) -> tuple[str, Message | None, datetime | None]:
    """Claim one due text (conditional UPDATE queued -> sending), or say why not.

    Returns ("claimed", message, None), ("busy", message, free_at) for a rate-limited
    sender, ("handled", None, None) when the text was deferred or skipped instead,
    ("empty", None, None) when nothing is due.
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
            slot = automated_send_slot(
                patient=patient, consent=consent, exclude_id=message.pk, statuses=GONE_OUT, now=now
            )
            if slot.due_at > now:
                # Outside the window, or the day's/week's texts already went: wait, not drop.
                later = automated_send_slot(patient=patient, consent=consent, exclude_id=message.pk)
                Message.objects.filter(pk=message.pk).update(
                    due_at=later.due_at, slot_date=later.slot_date, defer_reason=later.defer_reason
                )
                return "handled", None, None
            slot_date = slot.slot_date
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
        free_at = _sender_slot_take(message, now)
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


def _sender_slot_take(message: Message, now: datetime) -> datetime | None:
    """Take the sender's next send slot; None when taken, else when it frees up."""
    rate = sender_rate(message.pharmacy)
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


def message_outgoing(message: Message) -> OutgoingText:
    """What the gateway is given for one text (From, or the messaging service)."""
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


def message_gateway(message: Message) -> SmsGateway:
    """The gateway with the sending pharmacy's credentials."""
    account_sid, token = credentials_for(message.pharmacy)
    return gateway_for(account_sid=account_sid, auth_token=token)


def _send_claimed(message: Message, result: DispatchResult) -> None:
    # Last look before the gateway: a STOP may have landed since the claim.
    number = number_state(message.to_number)
    if (
        number is not None
        and number.opted_out_at is not None
        and message.kind not in _ALWAYS_ANSWERED
    ):
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.SKIPPED, skip_reason=SkipReason.OPTED_OUT
        )
        result.skipped += 1
        return
    try:
        gateway = message_gateway(message)
        sent = gateway.send(message_outgoing(message))
    except TransientGatewayError as exc:
        _retry_or_fail(message, exc, result)
        return
    except PermanentGatewayError as exc:
        _fail(message, exc)
        result.failed += 1
        return
    message_mark_sent(message=message, provider_sid=sent.provider_sid)
    result.sent += 1


@transaction.atomic
def message_mark_sent(*, message: Message, provider_sid: str) -> None:
    """The provider took the text: sent, with its id (and any callback that came first)."""
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
        conversation_touch(message.conversation, inbound=False, unread=False)


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
    backoff = rules.retry_backoff_seconds(
        message.attempts, base=settings.MESSAGING_RETRY_BACKOFF_SECONDS
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


def stale_claims_recover(*, now: datetime | None = None) -> int:
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
                found = message_gateway(message).find_sent(
                    message_outgoing(message), since=message.claimed_at
                )
            except (TransientGatewayError, PermanentGatewayError):
                logger.warning("Could not check stale message %s with the gateway", message.pk)
                continue
            if found is not None:
                message_mark_sent(message=message, provider_sid=found.provider_sid)
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
    dispatcher.dispatcher_pending_clear(organization)
    budget = settings.MESSAGING_BATCH_SECONDS if time_budget is None else time_budget
    deadline = time_module.monotonic() + budget
    result = DispatchResult(recovered=stale_claims_recover())
    busy: dict[str, datetime] = {}
    handled = 0
    while time_module.monotonic() < deadline:
        if max_messages is not None and handled >= max_messages:
            result.more = True
            break
        now = timezone.now()
        busy = {sender: free for sender, free in busy.items() if free > now}
        outcome, message, free_at = message_claim_next(now=now, busy=set(busy))
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


# --- Status callbacks: forward only, idempotent -----------------------------------------------

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
