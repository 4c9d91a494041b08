"""Queueing the sync engine's jobs from services and sweeps, by task name.

Services and sweeps run inside the jobs (scheduling.tasks imports the sweeps), so they
must not import the tasks back: they queue a job by its registered name, once the current
transaction commits and never on rollback, for the organization whose scope is active.
"""

from __future__ import annotations

from medsync.jobs import enqueue_for_organization
from medsync.tenancy import current_organization

OPEN_PREP = "scheduling.tasks.open_prep"
OPEN_PREFILL = "scheduling.tasks.open_prefill"
HAND_OVER_MESSAGE_REQUESTS = "scheduling.tasks.hand_over_message_requests"


def enqueue_after_commit(task_name: str) -> None:
    """Queue the per-organization job `task_name` for the active tenant after commit."""
    enqueue_for_organization(task_name, current_organization())
