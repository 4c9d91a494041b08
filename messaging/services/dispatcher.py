"""Waking the organization's dispatcher (the `dispatch_due` task) when a text is queued.

Kept apart so every writer that queues a text can call it without importing the sending
code (which itself records opt-outs): no import cycle among the service files. The task is
found by its registered name (messaging/apps.py imports the tasks module), so services never
import `messaging.tasks`, which imports them.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.core.cache import cache
from django.db import transaction

from medsync.models import Organization

logger = logging.getLogger(__name__)

__all__ = ["DISPATCH_TASK", "dispatcher_enqueue", "dispatcher_pending_clear"]

DISPATCH_TASK = "messaging.dispatch_due"


def _pending_key(organization: Organization) -> str:
    return f"messaging:dispatch-pending:{organization.public_id}"


def dispatcher_enqueue(organization: Organization) -> None:
    """Queue the organization's dispatcher after commit (at most one waiting at a time)."""
    key = _pending_key(organization)

    def _queue():
        try:
            if not cache.add(key, 1, timeout=30):
                return  # a dispatcher is already waiting to run: it will see this text
        except Exception:  # the cache is down: queue anyway (a duplicate dispatcher is harmless)
            logger.warning("Cache unavailable; queueing the dispatcher without de-duplication")
        try:
            current_app.tasks[DISPATCH_TASK].delay(organization_id=str(organization.public_id))
        except Exception:  # the broker is down: the beat sweep sends it within a minute
            logger.exception("Could not queue the dispatcher; the beat sweep will send the text")

    transaction.on_commit(_queue)


def dispatcher_pending_clear(organization: Organization) -> None:
    """The dispatcher started: the next queued text may wake another one."""
    try:
        cache.delete(_pending_key(organization))
    except Exception:
        logger.warning("Cache unavailable; could not clear the dispatch marker")
