"""Platform jobs (beat schedule in medsync/schedule.py)."""

from celery import shared_task
from django.core.management import call_command

from medsync.jobs import TenantTask, fan_out
from medsync.tenancy import current_organization
from medsync.webhooks import services
from medsync.webhooks.services import DELIVER_TASK


@shared_task(name="medsync.tasks.clear_expired_sessions", acks_late=True)
def clear_expired_sessions() -> None:
    # Idempotent: deletes only sessions already past expiry.
    call_command("clearsessions")


@shared_task(base=TenantTask, name=DELIVER_TASK)
def webhook_deliver(*, organization_id: str, delivery_id: str) -> str:
    """One attempt of one webhook delivery; a failure queues the next try after its backoff."""
    outcome, wait = services.webhook_deliver(delivery_id=delivery_id)
    if outcome == "retry":
        webhook_deliver.apply_async(
            kwargs={"organization_id": organization_id, "delivery_id": delivery_id},
            countdown=wait,
        )
    return outcome


@shared_task(base=TenantTask, name="medsync.webhooks_requeue_due")
def webhooks_requeue_due(*, organization_id: str) -> int:
    return services.webhooks_due_requeue(organization=current_organization())


@shared_task(name="medsync.tasks.fan_out_webhooks_due")
def fan_out_webhooks_due() -> int:
    return fan_out(webhooks_requeue_due)
