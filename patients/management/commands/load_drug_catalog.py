"""Load or refresh the shared drug catalog from a CSV file (idempotent, all or nothing)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from patients.catalog import CATALOG_PATH, CatalogError, drug_catalog_load


class Command(BaseCommand):
    help = (
        "Upsert the drug catalog by NDC from a CSV (default: patients/data/drug_catalog.csv). "
        "One bad row and nothing is loaded; every bad row is reported with its line number."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "path", nargs="?", default=str(CATALOG_PATH), help="The catalog CSV file."
        )

    def handle(self, *args, **options):
        path = options["path"]
        try:
            counts = drug_catalog_load(path)
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {path}") from exc
        except CatalogError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Drug catalog {path}: {counts.created} created, {counts.updated} updated, "
                f"{counts.unchanged} unchanged ({counts.total} rows)."
            )
        )
