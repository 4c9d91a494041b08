"""Data migration: load the catalog again (upsert by NDC) for the strengths issue 10 added
(lisinopril 10 mg and the other everyday strengths; patients/data/README.md)."""

from django.db import migrations


def load_catalog(apps, schema_editor):
    from patients.catalog import CATALOG_PATH, drug_catalog_apply, drug_catalog_parse

    drug_catalog_apply(
        drug_catalog_parse(CATALOG_PATH), drug_model=apps.get_model("patients", "Drug")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0007_patient_pdc_flags_coverage_cost_sharing_price_list"),
    ]

    operations = [
        migrations.RunPython(load_catalog, migrations.RunPython.noop, elidable=True),
    ]
