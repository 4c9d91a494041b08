"""Report jobs: thin tasks that enter the tenant and call a service."""

from __future__ import annotations

from celery import shared_task

from medsync.jobs import TenantTask, fan_out
from reports.models import OutcomeRefresh
from reports.services import outcomes_refresh


@shared_task(base=TenantTask, name="reports.refresh_outcomes")
def refresh_outcomes(*, organization_id: str, refresh_id: str | None = None) -> int:
    """Recompute the cached adherence outcomes (a queued request, or the nightly run).
    Returns the rows written (0 when the request was already claimed)."""
    refresh = None
    if refresh_id is not None:
        refresh = OutcomeRefresh.objects.filter(public_id=refresh_id).first()
        if refresh is None:
            return 0
    done = outcomes_refresh(refresh=refresh)
    return done.rows_written if done is not None else 0


@shared_task(name="reports.fan_out_refresh_outcomes", acks_late=True)
def fan_out_refresh_outcomes() -> int:
    return fan_out(refresh_outcomes)
