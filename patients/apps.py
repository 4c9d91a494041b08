from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from medsync.dashboard import register_dashboard_card
        from patients import tasks  # noqa: F401 - services queue the import jobs by name
        from patients.dashboard import records_card

        register_dashboard_card("records", records_card, order=30)
