"""Tasks that only the test worker loads (`--include=tests.worker_tasks`).

They exercise the real TenantTask base: what they record is what the tenant
scope let them see, so a leak between organizations would show in the rows.
"""

from celery import shared_task

from medsync.jobs import TenantTask
from medsync.models import Pharmacy
from medsync.services import audit_record
from medsync.tenancy import current_organization


@shared_task(base=TenantTask, name="tests.record_visible_pharmacies")
def record_visible_pharmacies(*, organization_id: str, label: str = "") -> None:
    names = sorted(Pharmacy.objects.values_list("name", flat=True))
    audit_record(
        action="tests.pharmacies.seen",
        metadata={
            "label": label,
            "names": names,
            "scope_organization": str(current_organization().public_id),
            "asked_for": organization_id,
        },
    )
