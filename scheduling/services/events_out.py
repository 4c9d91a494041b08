"""Sync events for the pharmacy's own systems (medsync.webhooks): queued, never sent inline.

Payloads carry ids, dates and statuses only; the receiver reads the rest through the API.
They are built only when someone subscribed (a lambda), so no subscription costs one query.
"""

from __future__ import annotations

from medsync import webhooks
from medsync.models import WebhookEvent
from medsync.tenancy import current_organization
from scheduling.models import SyncCycle, SyncEnrollment


def cycle_event_emit(cycle: SyncCycle, event: str, *, status: str = "") -> None:
    webhooks.emit(
        current_organization(),
        event,
        lambda: {
            "cycle": str(cycle.public_id),
            "patient": str(cycle.patient.public_id),
            "pharmacy": str(cycle.pharmacy.public_id),
            "anchor_date": cycle.anchor_date.isoformat(),
            "status": status or cycle.status,
        },
    )


def enrollment_event_emit(enrollment: SyncEnrollment, change: str) -> None:
    webhooks.emit(
        current_organization(),
        WebhookEvent.ENROLLMENT_CHANGED,
        lambda: {
            "enrollment": str(enrollment.public_id),
            "patient": str(enrollment.patient.public_id),
            "pharmacy": str(enrollment.pharmacy.public_id),
            "change": change,
            "status": enrollment.status,
        },
    )


def claim_rejected_emit(item, claim) -> None:
    """A fill's claim came back rejected: the pharmacy system may want to work it too."""
    webhooks.emit(
        current_organization(),
        WebhookEvent.CLAIM_REJECTED,
        lambda: {
            "claim": str(claim.public_id),
            "cycle_item": str(item.public_id),
            "cycle": str(item.cycle.public_id),
            "patient": str(claim.patient.public_id),
            "pharmacy": str(claim.pharmacy.public_id),
            "transaction": claim.transaction,
            "reject_codes": list(claim.reject_codes),
        },
    )
