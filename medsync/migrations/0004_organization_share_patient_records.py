from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("medsync", "0003_mfa_settings_sessions_token_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="share_patient_records",
            field=models.BooleanField(
                default=False,
                help_text="On: staff limited to some pharmacies still open every patient of the "
                "organization. Off: they see patients of their pharmacies only.",
                verbose_name="share patient records across our pharmacies",
            ),
        ),
    ]
