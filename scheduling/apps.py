from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # messaging sits below scheduling: it offers plug points, scheduling plugs in.
        from medsync.dashboard import register_dashboard_card
        from medsync.onboarding import register_first_run_step, register_pharmacy_settings_section
        from messaging.registry import register_open_prep_question_check, register_reply_handler
        from patients.panels import register_patient_panel
        from patients.visibility import register_patient_pharmacy_link
        from scheduling import tasks  # noqa: F401 - services and sweeps queue jobs by name
        from scheduling.dashboard import returns_card
        from scheduling.panels import (
            appointments_panel,
            enrollment_setup_step,
            sync_panel,
            sync_settings_section,
        )
        from scheduling.selectors.patients import sync_at_pharmacies
        from scheduling.services import cycle_sms_reply, has_open_prep_question

        register_reply_handler(cycle_sms_reply)
        register_open_prep_question_check(has_open_prep_question)
        register_patient_panel("sync", sync_panel, order=10)
        register_patient_panel("appointments", appointments_panel, order=20)
        _register_vaccine_screening()
        register_patient_pharmacy_link("sync", sync_at_pharmacies)
        register_dashboard_card("returns", returns_card, order=45)
        register_first_run_step("enrollment", enrollment_setup_step, order=50)
        register_pharmacy_settings_section("sync", sync_settings_section, order=10)


def _register_vaccine_screening() -> None:
    """Vaccines due (the clinical record's immunization screening) become offered services."""
    from patients.clinical_selectors import vaccines_due
    from scheduling.selectors.appointments import register_vaccines_due

    def names(patient, today):
        return [
            f"{due.name} (dose {due.dose})" if due.dose > 1 else due.name
            for due in vaccines_due(patient, today)
        ]

    register_vaccines_due(names)
