"""The run: check every row of every file, then (when applying) write the good rows.

One code path for the dashboard, the API and `manage.py import_records`:

    results = run_import(organization, files, apply=False)  # preview: what would happen
    results = run_import(organization, files, apply=True)   # the same checks, then the writes

Files are processed in dependency order (KIND_ORDER). During a preview, rows that later files
refer to are taken as if the earlier files were applied. Rows are checked completely before
anything is written, so a rejected row writes nothing; the good rows of a file are applied and
every rejected row is reported with its line number. Natural keys make a re-import change
nothing: MRN; MRN + BIN + PCN + group + member id; pharmacy + rx number; prescription + fill
date. Claiming a batch (exactly once) and storing its results are `patients.services`' job.
"""

from __future__ import annotations

from django.db import transaction

from medsync.models import Organization
from medsync.services import AuditEntry, audit_record_many
from patients.fhir.reading import expand_bundles, merge_bundle_results
from patients.imports.base import BATCH_SIZE, Context, Importer
from patients.imports.columns import KIND_ORDER, file_kind, missing_columns, read_rows
from patients.imports.coverage import CoverageImporter
from patients.imports.fills import FillImporter
from patients.imports.parsers import is_blank
from patients.imports.patients_importer import PatientImporter
from patients.imports.prescriptions import PrescriptionImporter
from patients.imports.prices import PriceListImporter
from patients.imports.results import (
    FileResult,
    ImportFileInput,
    ProgressCallback,
    RowProblem,
    RowRejected,
)

IMPORTERS: dict[str, type[Importer]] = {
    "patients": PatientImporter,
    "coverage": CoverageImporter,
    "prescriptions": PrescriptionImporter,
    "fills": FillImporter,
    "prices": PriceListImporter,
}
PROGRESS_EVERY = 5000  # rows checked between two progress reports


def run_import(
    organization: Organization,
    files: list[ImportFileInput],
    *,
    apply: bool,
    actor=None,
    progress: ProgressCallback | None = None,
) -> list[FileResult]:
    """Check every row of every file; with apply=True, write the good rows.

    Runs inside the caller's tenant scope. With apply=True the whole run is one transaction:
    an unexpected failure rolls everything back, so nothing is ever half-imported.
    """
    files = [ImportFileInput(f.filename, f.text, file_kind(f)) for f in files]
    expanded, bundles = expand_bundles(files)  # a FHIR Bundle becomes the CSV layouts
    ordered = sorted(expanded, key=lambda f: KIND_ORDER.index(f.kind))
    context = Context(organization, apply)
    results: list[FileResult] = []
    with transaction.atomic():
        for upload in ordered:
            results.append(_run_file(context, upload, actor=actor, progress=progress))
        if not apply:
            transaction.set_rollback(True)  # a preview writes nothing, even by accident
    return merge_bundle_results(files, results, bundles)


def _run_file(context: Context, upload: ImportFileInput, *, actor, progress) -> FileResult:
    """Check (and with context.apply, write) one file; its problems go in the result."""
    kind = file_kind(upload)
    result = FileResult(filename=upload.filename, kind=kind)
    try:
        header, rows = read_rows(upload.text)
    except RowRejected as problem:
        result.errors.append(RowProblem(1, str(problem)))
        return result
    missing = missing_columns(kind, header)
    if missing:
        result.errors.append(
            RowProblem(1, f"The header lacks the required column(s): {', '.join(missing)}.")
        )
        return result
    importer = IMPORTERS[kind](context, result)
    importer.load()
    seen: dict[object, int] = {}
    report = (
        (lambda done: progress(upload.filename, done, result.rows_total))
        if progress
        else (lambda done: None)
    )
    for line, row in rows:
        if isinstance(row, RowRejected):  # a malformed record: reported, the rest go on
            result.rows_total += 1
            result.errors.append(RowProblem(line, str(row)))
            continue
        if is_blank(row):
            continue
        result.rows_total += 1
        try:
            parsed = importer.parse(line, row)
            if parsed.key in seen:
                raise RowRejected(f"duplicate of line {seen[parsed.key]} (same natural key).")
            importer.stage(parsed)
            seen[parsed.key] = line
        except RowRejected as problem:
            result.errors.append(RowProblem(line, str(problem)))
        if result.rows_total % PROGRESS_EVERY == 0:
            report(0)
    importer.finish()
    if context.apply:
        importer.write(report)
        _audit_patients_touched(context, importer, kind, actor)
    return result


def _audit_patients_touched(context: Context, importer: Importer, kind: str, actor) -> None:
    """One audit event per patient whose record the file created or changed."""
    patients = {p.pk: p for p in context.patients_by_mrn().values()}
    touched = importer.touched()
    audit_record_many(
        (
            AuditEntry(f"patients.{kind}.imported", target=patients[patient_id], metadata=counts)
            for patient_id, counts in touched.items()
            if patient_id in patients
        ),
        actor=actor,
        organization=context.organization,
        batch_size=BATCH_SIZE,
    )
