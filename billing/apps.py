from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.dashboard import claims_card
        from medsync.dashboard import register_dashboard_card

        register_dashboard_card("claims", claims_card, order=40)
