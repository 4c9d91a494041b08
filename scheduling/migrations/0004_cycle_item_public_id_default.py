from django.db import migrations


class Migration(migrations.Migration):
    """The cycle sweep streams items with COPY and lets PostgreSQL make their public ids."""

    dependencies = [("scheduling", "0003_lean_indexes")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE scheduling_cycleitem ALTER COLUMN public_id SET DEFAULT gen_random_uuid()",
            reverse_sql="ALTER TABLE scheduling_cycleitem ALTER COLUMN public_id DROP DEFAULT",
        ),
    ]
