"""Queueing the sync engine's jobs from services and sweeps, by task name.

Services and sweeps run inside the jobs (scheduling.tasks imports the sweeps), so they
must not import the tasks back: they queue a job by its registered name, once the current
transaction commits and never on rollback, for the organization whose scope is active.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction

from medsync.tenancy import current_organization

OPEN_PREP = "scheduling.tasks.open_prep"
OPEN_PREFILL = "scheduling.tasks.open_prefill"
HAND_OVER_MESSAGE_REQUESTS = "scheduling.tasks.hand_over_message_requests"


def enqueue_after_commit(task_name: str) -> None:
    """Queue the per-organization job `task_name` for the active tenant after commit."""
    organization_id = str(current_organization().public_id)
    transaction.on_commit(
        lambda: current_app.send_task(task_name, kwargs={"organization_id": organization_id})
    )
