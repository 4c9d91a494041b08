from django.apps import AppConfig


class MedSyncConfig(AppConfig):
    name = "medsync"
    label = "medsync"
    verbose_name = "MedSync platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from medsync import (  # noqa: F401 - connects auth signal receivers
            rls,
            signals,
            tasks,
        )

        # Row-level security (medsync/rls.py): the tenant setting on every connection,
        # policies and grants after every migrate, and migrate only as the schema owner.
        connection_created.connect(rls.install_tenant_setting, dispatch_uid="medsync.rls")
        pre_migrate.connect(rls.refuse_migrate_without_owner, sender=self)
        post_migrate.connect(rls.apply_after_migrate, sender=self)
        checks.register(rls.check_platform_alias, checks.Tags.database)
