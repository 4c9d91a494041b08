"""Writes of patient records: imports, reconciliation decisions."""

from __future__ import annotations

import codecs
import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from medsync.jobs import enqueue_for_organization
from medsync.models import User
from medsync.services import audit_record
from medsync.tenancy import current_organization
from patients.imports import FileResult, ImportFileInput, RowRejected, file_kind, run_import
from patients.models import ImportBatch, ImportFile, ImportStatus

logger = logging.getLogger(__name__)

MAX_IMPORT_FILE_BYTES = 50 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 5000  # per file; the counts stay exact


def _progress_key(batch: ImportBatch) -> str:
    return f"import-progress:{batch.public_id}"


def import_progress(batch: ImportBatch) -> dict | None:
    """Progress of a running preview or import (kept in Redis, outside the transaction)."""
    return cache.get(_progress_key(batch))


def _progress_reporter(batch: ImportBatch, phase: str):
    def report(filename: str, done: int, total: int) -> None:
        cache.set(
            _progress_key(batch),
            {"phase": phase, "file": filename, "rows": total, "written": done},
            timeout=3600,
        )

    return report


def read_uploads(uploads) -> list[tuple[str, str]]:
    """(name, text) of each uploaded file, checked by count and size before reading any.

    The request itself was refused earlier if it declared more than UPLOAD_MAX_MB or held
    more than UPLOAD_MAX_FILES files (medsync.middleware.UploadLimitMiddleware); these
    checks name the file and hold for any caller.
    """
    uploads = list(uploads)
    if len(uploads) > settings.UPLOAD_MAX_FILES:
        raise ValidationError(
            {"files": [f"Upload at most {settings.UPLOAD_MAX_FILES} files at a time."]}
        )
    total_mb = settings.UPLOAD_MAX_BYTES // 1024 // 1024
    if sum(upload.size for upload in uploads) > settings.UPLOAD_MAX_BYTES:
        raise ValidationError({"files": [f"The files together are larger than {total_mb} MB."]})
    for upload in uploads:
        if upload.size > MAX_IMPORT_FILE_BYTES:
            raise ValidationError(
                {
                    "files": [
                        f"{upload.name} is larger than {MAX_IMPORT_FILE_BYTES // 1024 // 1024} MB."
                    ]
                }
            )
    return [(upload.name, decode_upload(upload.name, upload.read())) for upload in uploads]


def decode_upload(filename: str, data: bytes) -> str:
    """The text of an uploaded CSV (UTF-8 or Windows-1252), refusing files over the limit."""
    if len(data) > MAX_IMPORT_FILE_BYTES:
        raise ValidationError(
            {"files": [f"{filename} is larger than {MAX_IMPORT_FILE_BYTES // 1024 // 1024} MB."]}
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel "Unicode text"
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({"files": [f"{filename} is not valid UTF-16 text."]}) from None
    if b"\x00" in data:
        raise ValidationError(
            {
                "files": [
                    f"{filename} is not a CSV text file (it holds NUL bytes: a spreadsheet or "
                    "UTF-16 without a byte order mark). Save it as 'CSV UTF-8'."
                ]
            }
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError({"files": [f"{filename} is not a UTF-8 or Windows text file."]})


@transaction.atomic
def import_batch_create(
    *, files: list[tuple[str, str]], source: str, actor: User | None, kinds: list[str] | None = None
) -> ImportBatch:
    """Store the uploaded files as a batch to preview. Nothing is imported yet."""
    if not files:
        raise ValidationError({"files": ["Choose at least one CSV file."]})
    inputs = []
    for index, (filename, text) in enumerate(files):
        kind = kinds[index] if kinds else ""
        upload = ImportFileInput(filename=filename, text=text, kind=kind)
        try:
            upload.kind = file_kind(upload)
        except RowRejected as problem:
            raise ValidationError({"files": [f"{filename}: {problem}"]}) from None
        inputs.append(upload)
    batch = ImportBatch.objects.create(
        status=ImportStatus.PREVIEWING, source=source, uploaded_by=actor
    )
    for upload in inputs:
        ImportFile.objects.create(
            batch=batch, kind=upload.kind, filename=upload.filename[:255], content=upload.text
        )
    audit_record(
        action="patients.import.uploaded",
        actor=actor,
        target=batch,
        metadata={"files": [u.filename for u in inputs], "source": source},
    )
    return batch


def _inputs(batch: ImportBatch) -> list[ImportFileInput]:
    return [
        ImportFileInput(filename=f.filename, text=f.content, kind=f.kind) for f in batch.files.all()
    ]


def _store_results(batch: ImportBatch, results: list[FileResult]) -> None:
    by_name = {f.filename: f for f in batch.files.all()}
    for result in results:
        stored = by_name[result.filename]
        stored.rows_total = result.rows_total
        stored.created = result.created
        stored.updated = result.updated
        stored.unchanged = result.unchanged
        stored.rejected = result.rejected
        stored.errors = [p.as_dict() for p in result.errors[:MAX_REPORTED_PROBLEMS]]
        stored.warnings = [p.as_dict() for p in result.warnings[:MAX_REPORTED_PROBLEMS]]
        stored.save()


def import_batch_preview(*, batch: ImportBatch) -> list[FileResult]:
    """Check every row and record what an import would create, update and reject."""
    claimed = ImportBatch.objects.filter(
        pk=batch.pk, status__in=[ImportStatus.PREVIEWING, ImportStatus.PREVIEWED]
    ).update(status=ImportStatus.PREVIEWING)
    if not claimed:
        return []  # already applying or applied: a late duplicate task does nothing
    try:
        results = run_import(
            current_organization(),
            _inputs(batch),
            apply=False,
            progress=_progress_reporter(batch, "checking"),
        )
    except Exception as exc:
        logger.exception("Import preview %s failed", batch.public_id)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportStatus.FAILED, failure_message=f"Checking failed: {type(exc).__name__}"
        )
        raise
    with transaction.atomic():
        _store_results(batch, results)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportStatus.PREVIEWED, previewed_at=timezone.now()
        )
    cache.delete(_progress_key(batch))
    return results


def import_batch_request_apply(*, batch: ImportBatch, actor: User | None) -> bool:
    """Record that someone confirmed the preview and queue the import, once.

    The conditional UPDATE makes a double click or a second request a no-op.
    """
    requested = ImportBatch.objects.filter(
        pk=batch.pk, status=ImportStatus.PREVIEWED, apply_requested_at__isnull=True
    ).update(apply_requested_at=timezone.now())
    if not requested:
        return False
    enqueue_for_organization(
        "patients.import_apply",
        current_organization(),
        batch_id=str(batch.public_id),
        actor_id=str(actor.public_id) if actor is not None else None,
    )
    audit_record(action="patients.import.confirmed", actor=actor, target=batch)
    return True


def import_batch_apply(*, batch: ImportBatch, actor: User | None) -> list[FileResult] | None:
    """Import the good rows of a previewed batch, exactly once.

    The claim (previewed -> applying) is made inside the import's own transaction, on a row
    lock taken with SKIP LOCKED: a second call, a double click or a redelivered task finds
    nothing to claim and does nothing, and a worker killed mid-import leaves the batch
    "previewed" with nothing written, for `import_batches_recover` to queue again.
    """
    try:
        with transaction.atomic():
            claimed = (
                ImportBatch.objects.select_for_update(skip_locked=True)
                .filter(pk=batch.pk, status=ImportStatus.PREVIEWED)
                .exists()
            )
            if not claimed:
                return None
            ImportBatch.objects.filter(pk=batch.pk).update(status=ImportStatus.APPLYING)
            results = run_import(
                current_organization(),
                _inputs(batch),
                apply=True,
                actor=actor,
                progress=_progress_reporter(batch, "importing"),
            )
            _store_results(batch, results)
            ImportBatch.objects.filter(pk=batch.pk).update(
                status=ImportStatus.APPLIED, applied_at=timezone.now()
            )
            audit_record(
                action="patients.import.applied",
                actor=actor,
                target=batch,
                metadata={
                    r.filename: {
                        "created": r.created,
                        "updated": r.updated,
                        "unchanged": r.unchanged,
                        "rejected": r.rejected,
                    }
                    for r in results
                },
            )
    except Exception as exc:
        logger.exception("Import %s failed", batch.public_id)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportStatus.FAILED,
            failure_message=f"Nothing was imported: {type(exc).__name__}. The error was logged.",
        )
        raise
    finally:
        cache.delete(_progress_key(batch))
    return results


IMPORT_STALE_AFTER = dt.timedelta(minutes=10)  # a confirmed import nobody is working on
IMPORT_MAX_RECOVERIES = 3


@transaction.atomic
def import_batches_recover(*, stale_after: dt.timedelta = IMPORT_STALE_AFTER) -> int:
    """Queue again the imports whose worker stopped (killed, restarted); safe to run twice.

    A batch being applied is row-locked by its worker, so SKIP LOCKED passes over it. What
    is left and older than `stale_after`: a confirmed batch still "previewed" (its worker
    died mid-import: the transaction rolled back, nothing was written), one still
    "previewing" (died while checking), or one "applying" left by an older release that
    committed the claim apart from the import. Each is queued again, at most
    IMPORT_MAX_RECOVERIES times; then it fails with a message saying nothing was imported.
    Returns how many batches were queued again or failed.
    """
    cutoff = timezone.now() - stale_after
    stale = ImportBatch.objects.select_for_update(skip_locked=True).filter(
        Q(status=ImportStatus.APPLYING)
        | Q(status=ImportStatus.PREVIEWED, apply_requested_at__lte=cutoff)
        | Q(status=ImportStatus.PREVIEWING, created_at__lte=cutoff)
    )
    organization = current_organization()
    count = 0
    for batch in stale:
        count += 1
        if batch.recoveries >= IMPORT_MAX_RECOVERIES:
            batch.status = ImportStatus.FAILED
            batch.failure_message = (
                f"The import stopped {batch.recoveries + 1} times before it finished (the "
                "worker was stopped); nothing was imported. Upload the files again."
            )
            batch.save(update_fields=["status", "failure_message"])
            audit_record(action="patients.import.abandoned", actor=None, target=batch)
            continue
        checking = batch.status == ImportStatus.PREVIEWING
        if not checking:
            batch.status = ImportStatus.PREVIEWED
            batch.apply_requested_at = timezone.now()
        batch.recoveries += 1
        batch.save(update_fields=["status", "apply_requested_at", "recoveries"])
        enqueue_for_organization(
            "patients.import_preview" if checking else "patients.import_apply",
            organization,
            batch_id=str(batch.public_id),
        )
        audit_record(
            action="patients.import.recovered",
            actor=None,
            target=batch,
            metadata={"status": batch.status, "recoveries": batch.recoveries},
        )
    return count


# --- Record writes shared by the API and the pages ------------------------------------------


@transaction.atomic
def record_save(*, instance, actor: User | None, fields: dict, exclude_clean: list[str] = ()):
    """Create or change one patient-record row, validated by the model, and audit it."""
    creating = instance.pk is None
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean(exclude=["organization", *exclude_clean])
    instance.save()
    label = instance._meta.model_name
    audit_record(
        action=f"patients.{label}.{'created' if creating else 'changed'}",
        actor=actor,
        target=instance,
        metadata={"fields": sorted(fields)},
    )
    return instance


@transaction.atomic
def patient_deactivate(*, patient, actor: User | None):
    """DELETE never erases a health record (retention rules): it marks the patient inactive."""
    from patients.models import PatientStatus

    patient.status = PatientStatus.INACTIVE
    patient.save(update_fields=["status", "updated_at"])
    audit_record(action="patients.patient.deactivated", actor=actor, target=patient)
    return patient


PATIENT_VIEWED = "patients.patient.viewed"


def patient_viewed(*, patient, actor: User | None, via: str) -> None:
    """Record that a person opened a patient's record (HIPAA access log): the one writer."""
    audit_record(action=PATIENT_VIEWED, actor=actor, target=patient, metadata={"via": via})


# --- Medication reconciliation ------------------------------------------------------------------


def prescription_suggestion(prescription, *, today=None):
    """The sync suggestion for a stored prescription (facts gathered for the pure rules)."""
    from patients.reconciliation import RxFacts, suggest_sync_decision

    drug = prescription.drug
    facts = RxFacts(
        sig_text=prescription.sig_text,
        therapy_type=prescription.therapy_type,
        status=prescription.status,
        dea_schedule=drug.dea_schedule,
        generic_name=drug.generic_name,
        is_antibiotic=drug.is_antibiotic,
        is_specialty=drug.is_specialty,
        unit_of_use=drug.unit_of_use,
        refills_remaining=prescription.refills_remaining,
        expiration_date=prescription.expiration_date,
        state=prescription.pharmacy.state,
    )
    return suggest_sync_decision(facts, today=today or timezone.localdate())


@transaction.atomic
def prescription_sync_decide(
    *, prescription, decision: str, reason: str = "", note: str = "", actor: User
):
    """A pharmacist confirms or overrides the suggested sync decision.

    Overriding the suggestion needs a note saying why; who and when are kept.
    """
    from patients.models import ExclusionReason, SyncDecision

    errors = {}
    if decision not in {SyncDecision.SYNCED, SyncDecision.EXCLUDED}:
        errors["decision"] = ["Choose synced or excluded."]
    if decision == SyncDecision.EXCLUDED and reason not in ExclusionReason.values:
        errors["reason"] = ["Say why it is excluded."]
    suggestion = prescription_suggestion(prescription)
    overrides = decision != suggestion.decision or (
        decision == SyncDecision.EXCLUDED and reason != suggestion.reason
    )
    if overrides and not note.strip():
        errors["note"] = [
            f"You are overriding the suggestion ({suggestion.explanation}): add a note why."
        ]
    if errors:
        raise ValidationError(errors)
    prescription.sync_decision = decision
    prescription.sync_exclusion_reason = reason if decision == SyncDecision.EXCLUDED else ""
    prescription.sync_decision_note = note.strip()[:500]
    prescription.sync_decided_by = actor
    prescription.sync_decided_at = timezone.now()
    prescription.save(
        update_fields=[
            "sync_decision",
            "sync_exclusion_reason",
            "sync_decision_note",
            "sync_decided_by",
            "sync_decided_at",
            "updated_at",
        ]
    )
    audit_record(
        action="patients.prescription.sync_decided",
        actor=actor,
        target=prescription,
        metadata={
            "decision": decision,
            "reason": prescription.sync_exclusion_reason,
            "suggested": suggestion.decision,
            "suggested_reason": suggestion.reason,
            "override": overrides,
            "patient": str(prescription.patient.public_id),
        },
    )
    return prescription


@transaction.atomic
def patient_reconcile_accept_suggestions(*, patient, actor: User) -> int:
    """Accept the suggestion for every active prescription not yet reconciled."""
    from patients.models import PrescriptionStatus, SyncDecision

    decided = 0
    for prescription in patient.prescriptions.select_related("drug", "pharmacy").filter(
        status=PrescriptionStatus.ACTIVE, sync_decision=SyncDecision.UNDECIDED
    ):
        suggestion = prescription_suggestion(prescription)
        prescription_sync_decide(
            prescription=prescription,
            decision=suggestion.decision,
            reason=suggestion.reason,
            actor=actor,
        )
        decided += 1
    return decided
