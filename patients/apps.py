from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from medsync.dashboard import register_dashboard_card
        from medsync.onboarding import register_first_run_step
        from medsync.webhooks import register_inbound_handler
        from patients import tasks  # noqa: F401 - services queue the import jobs by name
        from patients.clinical_views import clinical_panel
        from patients.dashboard import records_card, records_setup_step
        from patients.inbound import fill_pushed, prescription_pushed
        from patients.panels import register_patient_panel

        register_dashboard_card("records", records_card, order=30)
        register_patient_panel("clinical", clinical_panel, order=15)
        register_first_run_step("records", records_setup_step, order=40)
        register_inbound_handler("prescription.created", prescription_pushed)
        register_inbound_handler("fill.created", fill_pushed)
