"""The hand-over: recorded text requests go to messaging, each once; until messaging can
take them they stay pending."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from medsync.exceptions import MedSyncError
from scheduling.models import MessageRequest, MessageRequestStatus
from scheduling.sweeps.runner import SweepResult

logger = logging.getLogger(__name__)


def _messaging_entry_point():
    """messaging's entry point for automated texts, or None when it has none."""
    try:
        from messaging import services as messaging_services
    except ImportError:  # pragma: no cover - messaging is installed with the project
        return None
    return getattr(messaging_services, "automated_message_request", None)


def message_requests_hand_over(*, limit: int = 500, now: dt.datetime | None = None) -> SweepResult:
    """Give recorded text requests to messaging, each once (claimed under SKIP LOCKED, marked
    in the same transaction). Until messaging can take them they stay pending."""
    now = now or timezone.now()
    result = SweepResult()
    request_message = _messaging_entry_point()
    if request_message is None:
        return result
    while True:
        with transaction.atomic():
            batch = list(
                MessageRequest.objects.filter(status=MessageRequestStatus.PENDING)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("patient")
                .order_by("pk")[:limit]
            )
            if not batch:
                break
            for request in batch:
                context = dict(request.context)
                if "anchor_date" in context:
                    context["anchor_date"] = dt.date.fromisoformat(context["anchor_date"])
                try:
                    with transaction.atomic():
                        message = request_message(
                            patient=request.patient,
                            kind=request.kind,
                            dedupe_key=request.dedupe_key,
                            context=context,
                        )
                except NotImplementedError:
                    logger.info("Messaging does not take automated requests yet; kept pending.")
                    MessageRequest.objects.filter(pk__in=[r.pk for r in batch]).update(
                        attempts=F("attempts") + 1
                    )
                    return result
                except MedSyncError as exc:
                    # Refused for good (a bad kind or key): recorded, never retried in a loop.
                    logger.warning("Messaging refused a %s request: %s", request.kind, exc.code)
                    message = None
                status = (
                    MessageRequestStatus.HANDED_OVER
                    if message is not None
                    else MessageRequestStatus.SKIPPED
                )
                MessageRequest.objects.filter(pk=request.pk).update(
                    status=status, handed_over_at=now, attempts=F("attempts") + 1
                )
                result.messages += 1
        if len(batch) < limit:
            break
    return result
