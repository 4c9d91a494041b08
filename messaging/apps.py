from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging (SMS)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from medsync.dashboard import register_dashboard_card
        from medsync.onboarding import register_test_text_sender
        from messaging import (
            checks,  # noqa: F401 - registers the system checks
            tasks,  # noqa: F401 - the dispatcher is queued by its task name
        )
        from messaging.panels import texting_panel, texts_card
        from messaging.services.pharmacy_settings import pharmacy_test_text_send
        from patients.panels import register_patient_panel

        register_patient_panel("texting", texting_panel, order=60)
        register_dashboard_card("texts", texts_card, order=40)
        register_test_text_sender(pharmacy_test_text_send)
