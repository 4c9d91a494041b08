"""Messaging jobs: thin, by id, inside the tenant (medsync.jobs.TenantTask).

`dispatch_due` sends an organization's due texts; the beat sweep fans it out every
minute, so a lost or never-queued task only delays texts, it never loses them.
"""

from __future__ import annotations

from celery import shared_task

from medsync.jobs import TenantTask, fan_out
from messaging.services import DISPATCH_TASK, messages_dispatch_due


@shared_task(base=TenantTask, name=DISPATCH_TASK)
def dispatch_due(*, organization_id: str) -> dict:
    result = messages_dispatch_due()
    if result.more:
        # Keep draining; a short countdown only (due times live in Postgres, never ETAs).
        dispatch_due.apply_async(
            kwargs={"organization_id": organization_id},
            countdown=min(30.0, result.wait_seconds),
        )
    return {
        "sent": result.sent,
        "deferred": result.deferred,
        "failed": result.failed,
        "retried": result.retried,
        "recovered": result.recovered,
        "more": result.more,
    }


@shared_task(name="messaging.sweep_due", acks_late=True)
def sweep_due() -> int:
    """Beat: one dispatcher per active organization (texts whose due time came, stale claims)."""
    return fan_out(dispatch_due)
