from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from medsync.dashboard import register_dashboard_card
        from patients import tasks  # noqa: F401 - services queue the import jobs by name
        from patients.clinical_views import clinical_panel
        from patients.dashboard import records_card
        from patients.panels import register_patient_panel

        register_dashboard_card("records", records_card, order=30)
        register_patient_panel("clinical", clinical_panel, order=15)
