"""Cycle items: one composite foreign key (organization, cycle) -> the cycle's
(organization, id) replaces the two single ones. The database then refuses an item whose
cycle belongs to another organization, and each inserted row is one check at commit, not
two (the sweep writes hundreds of thousands)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("medsync", "0002_audit_append_only"),
        ("patients", "0004_import_apply_requested"),
        ("scheduling", "0006_follow_up_side_effects"),
    ]

    operations = [
        migrations.AlterField(
            model_name="cycleitem",
            name="cycle",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="items",
                to="scheduling.synccycle",
            ),
        ),
        migrations.AlterField(
            model_name="cycleitem",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="medsync.organization",
            ),
        ),
        migrations.AddConstraint(
            model_name="synccycle",
            constraint=models.UniqueConstraint(
                fields=("organization", "id"), name="sync_cycle_tenant_key"
            ),
        ),
        migrations.RunSQL(
            sql="""
                ALTER TABLE scheduling_cycleitem
                ADD CONSTRAINT cycle_item_cycle_same_tenant
                FOREIGN KEY (organization_id, cycle_id)
                REFERENCES scheduling_synccycle (organization_id, id)
                DEFERRABLE INITIALLY DEFERRED
            """,
            reverse_sql=(
                "ALTER TABLE scheduling_cycleitem DROP CONSTRAINT cycle_item_cycle_same_tenant"
            ),
        ),
    ]
