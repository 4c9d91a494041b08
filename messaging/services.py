"""Every write of the messaging app.

Contract with the sync engine (scheduling imports messaging, never the reverse):

    automated_message_request(*, patient, kind, dedupe_key, context) -> OutboundMessage | None

kind: one of AUTOMATED_KINDS. dedupe_key: e.g. f"cycle:{cycle.public_id}:prep_reminder";
at most one message per (organization, dedupe_key), enforced by a unique constraint.
context: {"anchor_date": date, "pharmacy_id": <Pharmacy pk or public id>} (optional keys).
Consent, opt-out, quiet hours and the 1/day 3/week limits are respected: a message that
may not go now is stored with a later due time (deferred, never dropped). Returns the row,
or None when the patient has no consent (the reason is recorded as a skipped request).
Sending is enqueued on commit.
"""

from __future__ import annotations

KIND_PREP_REMINDER = "prep_reminder"
KIND_READY_FOR_PICKUP = "ready_for_pickup"
KIND_MISSED_PICKUP = "missed_pickup"
KIND_RTS_WARNING = "rts_warning"
AUTOMATED_KINDS = (KIND_PREP_REMINDER, KIND_READY_FOR_PICKUP, KIND_MISSED_PICKUP, KIND_RTS_WARNING)


def automated_message_request(*, patient, kind: str, dedupe_key: str, context: dict):
    """See the module docstring. (Implementation lands in the next commits.)"""
    raise NotImplementedError
