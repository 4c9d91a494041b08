"""Data migration: load patients/data/drug_catalog.csv into the shared Drug table.

Uses the historical Drug model; the same validation as `manage.py load_drug_catalog`
(all rows or none). Reversing leaves the rows: prescriptions may refer to them.
"""

from django.db import migrations


def load_catalog(apps, schema_editor):
    from patients.catalog import CATALOG_PATH, drug_catalog_apply, drug_catalog_parse

    drug_catalog_apply(
        drug_catalog_parse(CATALOG_PATH), drug_model=apps.get_model("patients", "Drug")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_import_batches"),
    ]

    operations = [
        migrations.RunPython(load_catalog, migrations.RunPython.noop, elidable=True),
    ]
