"""The task base class and the helpers every job uses.

Jobs are sweeps over database state: each is safe to run twice and safe to
miss once. A task receives ids, never objects, and enters its tenant before it
touches a tenant-owned row.
"""

from __future__ import annotations

import logging

from celery import current_app
from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError

from medsync.models import Organization
from medsync.tenancy import tenant_scope

logger = logging.getLogger(__name__)


class TransientJobError(Exception):
    """Raise from a job for a failure worth retrying (a gateway timeout, a lock)."""


class TenantTask(DjangoTask):
    """Base for every per-organization job: `organization_id` (public id) is required.

    The task body runs inside tenant_scope(organization), so every query it
    makes is limited to that organization. Retries are bounded, with backoff,
    and only for named transient failures.
    """

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (TransientJobError, OperationalError, InterfaceError)
    retry_backoff = 5
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 5

    def __call__(self, *args, organization_id: str, **kwargs):
        organization = Organization.objects.filter(public_id=organization_id).first()
        if organization is None or not organization.is_active:
            # Deleted or suspended since the task was queued: nothing to do.
            logger.warning("Skipping %s: organization %s is not active", self.name, organization_id)
            return None
        with tenant_scope(organization):
            return super().__call__(*args, organization_id=organization_id, **kwargs)


def enqueue_for_organization(task: TenantTask | str, organization: Organization, **kwargs) -> None:
    """Queue a tenant job once the current transaction commits; never on rollback.

    Services pass the task's registered name ("patients.import_apply"), so a services
    module never imports its app's tasks module, which imports the services (no circle).
    """
    if isinstance(task, str):
        task = current_app.tasks[task]
    task.delay_on_commit(organization_id=str(organization.public_id), **kwargs)


def fan_out(task: TenantTask, **kwargs) -> int:
    """Queue one run of `task` per active organization. Used by the beat schedule."""
    count = 0
    for public_id in Organization.objects.filter(is_active=True).values_list(
        "public_id", flat=True
    ):
        task.delay_on_commit(organization_id=str(public_id), **kwargs)
        count += 1
    return count
