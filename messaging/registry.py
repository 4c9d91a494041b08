"""Plug points for apps above messaging (scheduling) to act on patients' SMS replies.

Imports flow down: messaging never imports scheduling. Scheduling registers its
callables here from its AppConfig.ready():

    from messaging.registry import register_open_prep_question_check, register_reply_handler

    register_reply_handler(apply_sms_reply)          # (patient, intent, message) -> bool
    register_open_prep_question_check(has_open_prep)  # (patient) -> bool

Intents passed to reply handlers: "confirm" (C, "confirm", or "yes" while a prep
question is open) and "change" (X, "change"). A handler returns True when it applied
the reply to an open cycle. When no handler applies it, the reply lands in the staff
inbox as unread with the intent noted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction

if TYPE_CHECKING:
    from patients.models import Patient

logger = logging.getLogger(__name__)

INTENT_CONFIRM = "confirm"
INTENT_CHANGE = "change"
REPLY_INTENTS = frozenset({INTENT_CONFIRM, INTENT_CHANGE})

ReplyHandler = Callable[["Patient", str, Any], bool]
OpenPrepQuestionCheck = Callable[["Patient"], bool]

_reply_handlers: list[ReplyHandler] = []
_open_prep_checks: list[OpenPrepQuestionCheck] = []


def register_reply_handler(handler: ReplyHandler) -> ReplyHandler:
    """Register `handler(patient, intent, message) -> bool`. Idempotent; usable as a decorator."""
    if not callable(handler):
        raise TypeError("A reply handler must be callable.")
    if handler not in _reply_handlers:
        _reply_handlers.append(handler)
    return handler


def register_open_prep_question_check(fn: OpenPrepQuestionCheck) -> OpenPrepQuestionCheck:
    """Register `fn(patient) -> bool`: is a prep question open (so "yes" means confirm)?"""
    if not callable(fn):
        raise TypeError("An open prep question check must be callable.")
    if fn not in _open_prep_checks:
        _open_prep_checks.append(fn)
    return fn


def unregister_reply_handler(handler: ReplyHandler) -> None:
    if handler in _reply_handlers:
        _reply_handlers.remove(handler)


def unregister_open_prep_question_check(fn: OpenPrepQuestionCheck) -> None:
    if fn in _open_prep_checks:
        _open_prep_checks.remove(fn)


def reply_handlers() -> tuple[ReplyHandler, ...]:
    return tuple(_reply_handlers)


def open_prep_question_checks() -> tuple[OpenPrepQuestionCheck, ...]:
    return tuple(_open_prep_checks)


def has_reply_handler() -> bool:
    return bool(_reply_handlers)


def dispatch_reply(patient: Patient, intent: str, message: Any) -> bool:
    """Offer a confirm/change reply to the registered handlers; True once one applied it.

    Runs inside the caller's transaction; a handler that raises is logged (without
    PHI) and treated as "not applied", so the reply still reaches the staff inbox.
    """
    if intent not in REPLY_INTENTS:
        raise ValueError(f"Unknown reply intent {intent!r}.")
    for handler in tuple(_reply_handlers):
        try:
            with transaction.atomic():  # a savepoint: a failing handler leaves no half-write
                if handler(patient, intent, message):
                    return True
        except Exception:  # one bad handler must not lose the reply
            logger.exception("Reply handler %r failed for intent %s", handler, intent)
    return False


def prep_question_open(patient: Patient) -> bool:
    """True when any registered check says the patient has an open prep question."""
    for fn in tuple(_open_prep_checks):
        try:
            if fn(patient):
                return True
        except Exception:
            logger.exception("Open prep question check %r failed", fn)
    return False
