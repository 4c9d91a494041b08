"""Platform jobs (beat schedule in medsync/schedule.py)."""

from celery import shared_task
from django.core.management import call_command


@shared_task(name="medsync.tasks.clear_expired_sessions", acks_late=True)
def clear_expired_sessions() -> None:
    # Idempotent: deletes only sessions already past expiry.
    call_command("clearsessions")
