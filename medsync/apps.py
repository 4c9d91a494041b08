from django.apps import AppConfig


class MedSyncConfig(AppConfig):
    name = "medsync"
    label = "medsync"
    verbose_name = "MedSync platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from medsync import signals  # noqa: F401 - connects auth signal receivers
