from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from patients.panels import register_patient_panel
        from reports import tasks  # noqa: F401 - services queue the outcome refresh by name
        from reports.panels import adherence_panel

        register_patient_panel("adherence", adherence_panel, order=20)

        from medsync.dashboard import register_dashboard_card
        from reports.dashboard import candidates_card

        register_dashboard_card("candidates", candidates_card, order=60)

        from medsync.dashboard import register_dashboard_section
        from reports.views.today import today_section

        register_dashboard_section("today", today_section, order=10)
