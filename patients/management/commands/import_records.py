"""`manage.py import_records`: the CSV import from the command line (same checks as the page)."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from medsync.management.base import TenantCommand
from patients.services import (
    decode_upload,
    import_batch_apply,
    import_batch_create,
    import_batch_preview,
)


class Command(TenantCommand):
    help = (
        "Import patients, coverage, prescriptions and fills from the pharmacy system's CSV "
        "files (any order; each file's kind is read from its header). Re-importing changes "
        "nothing. Rejected rows are listed with their line numbers; the good rows are imported."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and report; import nothing."
        )
        parser.add_argument("--show", type=int, default=20, help="Rejected rows to list per file.")

    def handle_in_tenant(self, organization, *args, **options):
        uploads = []
        for path in options["files"]:
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            try:
                uploads.append((path.name, decode_upload(path.name, path.read_bytes())))
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        try:
            batch = import_batch_create(files=uploads, source="command", actor=None)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        results = import_batch_preview(batch=batch)
        if not options["dry_run"]:
            results = import_batch_apply(batch=batch, actor=None)
        verb = "Would import" if options["dry_run"] else "Imported"
        for result in results:
            self.stdout.write(
                f"{verb} {result.filename} ({result.kind}, {result.rows_total} rows): "
                f"{result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged, {result.rejected} rejected"
            )
            for problem in result.errors[: options["show"]]:
                self.stdout.write(f"  line {problem.line}: {problem.reason}")
            if result.rejected > options["show"]:
                self.stdout.write(f"  … and {result.rejected - options['show']} more")
            for problem in result.warnings[: options["show"]]:
                self.stdout.write(f"  warning, line {problem.line}: {problem.reason}")
        self.stdout.write(f"Batch {batch.public_id}")
