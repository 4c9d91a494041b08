"""Import jobs and the agreement re-sign sweep: thin tasks that enter the tenant and call a
service."""

from celery import shared_task
from django.utils import timezone

from medsync.jobs import TenantTask, fan_out
from medsync.models import User
from patients.agreement_services import agreement_reminders_open
from patients.models import ImportBatch
from patients.services import import_batch_apply, import_batch_preview, import_batches_recover


@shared_task(base=TenantTask, name="patients.import_preview")
def import_preview(*, organization_id: str, batch_id: str) -> None:
    """Check an uploaded batch in the background (see services.import_batch_preview)."""
    batch = ImportBatch.objects.filter(public_id=batch_id).first()
    if batch is not None:
        import_batch_preview(batch=batch)


@shared_task(base=TenantTask, name="patients.import_apply")
def import_apply(*, organization_id: str, batch_id: str, actor_id: str | None = None) -> None:
    """Import a confirmed batch in the background, exactly once (services.import_batch_apply)."""
    batch = ImportBatch.objects.filter(public_id=batch_id).first()
    actor = User.objects.filter(public_id=actor_id).first() if actor_id else None
    if batch is not None:
        import_batch_apply(batch=batch, actor=actor)


@shared_task(base=TenantTask, name="patients.recover_imports")
def recover_imports(*, organization_id: str) -> int:
    """Queue again the organization's imports whose worker stopped (services)."""
    return import_batches_recover()


@shared_task(name="patients.sweep_imports", acks_late=True)
def sweep_imports() -> int:
    """The beat's entry: one recovery per active organization."""
    return fan_out(recover_imports)


@shared_task(base=TenantTask, name="patients.agreement_reminders")
def agreement_reminders(*, organization_id: str) -> int:
    """Open the yearly re-sign reminders due (agreement_services.agreement_reminders_open)."""
    return agreement_reminders_open(today=timezone.localdate())


@shared_task(name="patients.fan_out_agreement_reminders", acks_late=True)
def fan_out_agreement_reminders() -> int:
    return fan_out(agreement_reminders)
